//! PNG figures: grids of grayscale images with short captions (digits and a few symbols, drawn
//! with a built-in 3×5 pixel font), e.g. the paper's original | adversarial | magnified difference.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot write PNG: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// One cell: a grayscale image with values in [0, 1] (row-major) and a caption under it.
#[derive(Debug, Clone)]
pub struct Cell {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
    pub caption: String,
}

impl Cell {
    /// A perturbation shown on mid-gray: 0.5 + r · (0.5 / max|r|), so its shape is visible
    /// whatever its size.
    pub fn difference(width: usize, height: usize, r: &[f32], caption: String) -> Cell {
        let peak = r.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
        let pixels = r.iter().map(|v| 0.5 + 0.5 * v / peak).collect();
        Cell { width, height, pixels, caption }
    }
}

/// Rows of cells, drawn at `scale` pixels per image pixel.
pub struct Figure {
    pub rows: Vec<Vec<Cell>>,
    pub scale: usize,
}

const GAP: usize = 4;
const CAPTION: usize = 7; // caption band height at font scale 1, with margins

/// 3×5 glyphs, one row a byte (3 low bits, left to right).
fn glyph(c: char) -> [u8; 5] {
    match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '-' => [0, 0, 7, 0, 0],
        '>' => [4, 2, 1, 2, 4],
        'x' => [0, 5, 2, 5, 0],
        '.' => [0, 0, 0, 0, 2],
        '?' => [7, 1, 2, 0, 2],
        'u' => [0, 5, 5, 5, 7],
        'r' => [0, 6, 5, 4, 4],
        _ => [0; 5],
    }
}

impl Figure {
    /// Writes the figure as an 8-bit grayscale PNG.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let fail = |reason: String| Error::Write { path: path.to_path_buf(), reason };
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let cell_w = self.rows.iter().flatten().map(|c| c.width).max().unwrap_or(1) * self.scale;
        let cell_h = self.rows.iter().flatten().map(|c| c.height).max().unwrap_or(1) * self.scale;
        let font = self.scale.saturating_sub(1).max(1);
        let band = CAPTION * font;
        let width = GAP + cols * (cell_w + GAP);
        let height = GAP + self.rows.len() * (cell_h + band + GAP);
        let mut image = vec![255u8; width * height];
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let x0 = GAP + c * (cell_w + GAP);
                let y0 = GAP + r * (cell_h + band + GAP);
                for y in 0..cell.height * self.scale {
                    for x in 0..cell.width * self.scale {
                        let v = cell.pixels[(y / self.scale) * cell.width + x / self.scale].clamp(0.0, 1.0);
                        // MNIST convention: ink dark on white paper.
                        image[(y0 + y) * width + x0 + x] = (255.0 * (1.0 - v)).round() as u8;
                    }
                }
                let mut cx = x0;
                for ch in cell.caption.chars() {
                    for (gy, bits) in glyph(ch).iter().enumerate() {
                        for gx in 0..3 {
                            if bits >> (2 - gx) & 1 == 1 {
                                for dy in 0..font {
                                    for dx in 0..font {
                                        let (px, py) = (cx + gx * font + dx, y0 + cell_h + font + gy * font + dy);
                                        if px < width && py < height {
                                            image[py * width + px] = 0;
                                        }
                                    }
                                }
                            }
                        }
                    }
                    cx += 4 * font;
                }
            }
        }
        let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width as u32, height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| fail(e.to_string()))?;
        writer.write_image_data(&image).map_err(|e| fail(e.to_string()))?;
        writer.finish().map_err(|e| fail(e.to_string()))
    }
}
