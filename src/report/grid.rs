//! Image grids: rows of grayscale images with captions, an optional title, column headings and
//! row labels, e.g. the paper's original | adversarial | magnified difference. Text is real text
//! (see `canvas`), readable at a glance.

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{self, FONT};

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

/// Rows of cells, drawn at `scale` canvas pixels per image pixel.
#[derive(Debug, Clone, Default)]
pub struct Figure {
    pub title: String,
    /// A heading over each column (may be empty).
    pub columns: Vec<String>,
    /// A label left of each row (may be empty).
    pub row_labels: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub scale: usize,
}

const GAP: i32 = 8;
const TEXT: i32 = 15; // caption and heading size in pixels
const TITLE: i32 = 18;

impl Figure {
    fn cell_size(&self) -> (i32, i32) {
        let scale = self.scale.max(1);
        let w = self.rows.iter().flatten().map(|c| c.width).max().unwrap_or(1) * scale;
        let h = self.rows.iter().flatten().map(|c| c.height).max().unwrap_or(1) * scale;
        (w as i32, h as i32)
    }

    /// Width of the row-label band: enough for the longest label at the caption size.
    fn label_width(&self) -> i32 {
        let longest = self.row_labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as i32;
        if longest == 0 { 0 } else { longest * TEXT * 11 / 20 + GAP }
    }

    /// The canvas size in pixels.
    pub fn size(&self) -> (u32, u32) {
        let (cw, ch) = self.cell_size();
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0) as i32;
        let cell_w = cw.max(self.widest_text() + 4);
        let title = self.title.chars().count() as i32 * TITLE / 2 + 2 * GAP;
        let width = (GAP + self.label_width() + cols * (cell_w + GAP)).max(title);
        let height = self.top() + self.rows.len() as i32 * (ch + TEXT + 2 * GAP) + GAP;
        (width.max(1) as u32, height.max(1) as u32)
    }

    fn widest_text(&self) -> i32 {
        let captions = self.rows.iter().flatten().map(|c| c.caption.chars().count());
        let headings = self.columns.iter().map(|c| c.chars().count());
        captions.chain(headings).max().unwrap_or(0) as i32 * TEXT * 6 / 10
    }

    /// Height above the first row: title and column headings.
    fn top(&self) -> i32 {
        let title = if self.title.is_empty() { 0 } else { TITLE + GAP };
        let headings = if self.columns.iter().all(String::is_empty) { 0 } else { TEXT + GAP };
        GAP + title + headings
    }

    /// Writes the figure as a PNG file: dark ink on white paper, the MNIST convention reversed.
    pub fn write(&self, path: &Path) -> Result<(), canvas::Error> {
        let (width, height) = self.size();
        let (cw, ch) = self.cell_size();
        let cell_w = cw.max(self.widest_text() + 4);
        let scale = self.scale.max(1) as i32;
        canvas::render(path, width, height, |root| {
            let text = |size: i32| (FONT, size).into_font().color(&BLACK);
            if !self.title.is_empty() {
                root.draw(&Text::new(self.title.clone(), (GAP, GAP), text(TITLE)))?;
            }
            let x0 = GAP + self.label_width();
            for (c, heading) in self.columns.iter().enumerate() {
                let y = self.top() - TEXT - GAP;
                root.draw(&Text::new(heading.clone(), (x0 + c as i32 * (cell_w + GAP), y), text(TEXT)))?;
            }
            for (r, row) in self.rows.iter().enumerate() {
                let y0 = self.top() + r as i32 * (ch + TEXT + 2 * GAP);
                if let Some(label) = self.row_labels.get(r) {
                    root.draw(&Text::new(label.clone(), (GAP, y0 + ch / 2 - TEXT / 2), text(TEXT)))?;
                }
                for (c, cell) in row.iter().enumerate() {
                    let left = x0 + c as i32 * (cell_w + GAP);
                    for y in 0..cell.height {
                        for x in 0..cell.width {
                            let v = cell.pixels[y * cell.width + x].clamp(0.0, 1.0);
                            let ink = (255.0 * (1.0 - v)).round() as u8;
                            let (px, py) = (left + x as i32 * scale, y0 + y as i32 * scale);
                            root.draw(&Rectangle::new(
                                [(px, py), (px + scale, py + scale)],
                                RGBColor(ink, ink, ink).filled(),
                            ))?;
                        }
                    }
                    root.draw(&Text::new(cell.caption.clone(), (left, y0 + ch + GAP / 2), text(TEXT)))?;
                }
            }
            Ok(())
        })
    }
}
