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
    /// An image of `shape` (`[channels, height, width]`, values in [0, 1]) in gray: the mean of
    /// its channels.
    pub fn image(shape: [usize; 3], values: &[f32], caption: String) -> Cell {
        Cell { width: shape[2], height: shape[1], pixels: gray(shape, values), caption }
    }

    /// A perturbation of an image of `shape` shown on mid-gray: 0.5 + r · (0.5 / max|r|) (r the
    /// mean over channels), so its shape is visible whatever its size.
    pub fn difference(shape: [usize; 3], r: &[f32], caption: String) -> Cell {
        let r = gray(shape, r);
        let peak = r.iter().fold(1e-12f32, |m, v| m.max(v.abs()));
        let pixels = r.iter().map(|v| 0.5 + 0.5 * v / peak).collect();
        Cell { width: shape[2], height: shape[1], pixels, caption }
    }
}

/// The mean over channels of `[channels, height, width]` values.
fn gray([channels, height, width]: [usize; 3], values: &[f32]) -> Vec<f32> {
    let plane = height * width;
    (0..plane).map(|i| (0..channels).map(|c| values[c * plane + i]).sum::<f32>() / channels as f32).collect()
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

/// Where everything goes, in canvas pixels.
struct Layout {
    /// Left edge of the first column (after the row labels).
    left: i32,
    /// Top edge of the first row (after the title and the column headings).
    top: i32,
    /// Distance from one column's left edge to the next's.
    column_pitch: i32,
    /// Distance from one row's top edge to the next's.
    row_pitch: i32,
    /// Height of an image at its scale.
    image_height: i32,
    width: u32,
    height: u32,
}

impl Figure {
    fn layout(&self) -> Layout {
        let scale = self.scale.max(1);
        let image_width = (self.rows.iter().flatten().map(|c| c.width).max().unwrap_or(1) * scale) as i32;
        let image_height = (self.rows.iter().flatten().map(|c| c.height).max().unwrap_or(1) * scale) as i32;
        let widest = |texts: &mut dyn Iterator<Item = &String>| {
            texts.map(|t| canvas::text_width(t, TEXT as u32)).max().unwrap_or(0)
        };
        let labels = widest(&mut self.row_labels.iter());
        let left = GAP + if labels == 0 { 0 } else { labels + GAP };
        let texts = widest(&mut self.rows.iter().flatten().map(|c| &c.caption).chain(&self.columns));
        let column_pitch = image_width.max(texts + 4) + GAP;
        let title = if self.title.is_empty() { 0 } else { TITLE + GAP };
        let headings = if self.columns.iter().all(String::is_empty) { 0 } else { TEXT + GAP };
        let top = GAP + title + headings;
        let row_pitch = image_height + TEXT + 2 * GAP;
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0) as i32;
        let title_width = canvas::text_width(&self.title, TITLE as u32) + 2 * GAP;
        let width = (left + cols * column_pitch).max(title_width).max(1) as u32;
        let height = (top + self.rows.len() as i32 * row_pitch + GAP).max(1) as u32;
        Layout { left, top, column_pitch, row_pitch, image_height, width, height }
    }

    /// The canvas size in pixels.
    pub fn size(&self) -> (u32, u32) {
        let layout = self.layout();
        (layout.width, layout.height)
    }

    /// Writes the figure as a PNG file: dark ink on white paper, the MNIST convention reversed.
    pub fn write(&self, path: &Path) -> Result<(), canvas::Error> {
        let l = self.layout();
        let scale = self.scale.max(1) as i32;
        canvas::render(path, l.width, l.height, |root| {
            let text = |size: i32| (FONT, size).into_font().color(&BLACK);
            if !self.title.is_empty() {
                root.draw(&Text::new(self.title.clone(), (GAP, GAP), text(TITLE)))?;
            }
            for (c, heading) in self.columns.iter().enumerate() {
                let at = (l.left + c as i32 * l.column_pitch, l.top - TEXT - GAP);
                root.draw(&Text::new(heading.clone(), at, text(TEXT)))?;
            }
            for (r, row) in self.rows.iter().enumerate() {
                let y0 = l.top + r as i32 * l.row_pitch;
                if let Some(label) = self.row_labels.get(r) {
                    root.draw(&Text::new(label.clone(), (GAP, y0 + l.image_height / 2 - TEXT / 2), text(TEXT)))?;
                }
                for (c, cell) in row.iter().enumerate() {
                    let x0 = l.left + c as i32 * l.column_pitch;
                    for y in 0..cell.height {
                        for x in 0..cell.width {
                            let v = cell.pixels[y * cell.width + x].clamp(0.0, 1.0);
                            let ink = (255.0 * (1.0 - v)).round() as u8;
                            let (px, py) = (x0 + x as i32 * scale, y0 + y as i32 * scale);
                            root.draw(&Rectangle::new(
                                [(px, py), (px + scale, py + scale)],
                                RGBColor(ink, ink, ink).filled(),
                            ))?;
                        }
                    }
                    root.draw(&Text::new(cell.caption.clone(), (x0, y0 + l.image_height + GAP / 2), text(TEXT)))?;
                }
            }
            Ok(())
        })
    }
}
