//! An RGB canvas that figures and charts draw on with plotters, its text set in DejaVu Sans
//! (vendored in `assets/fonts/`, Bitstream Vera licence), written out as a PNG file.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: cannot write PNG: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("{path}: cannot draw the figure: {reason}")]
    Draw { path: PathBuf, reason: String },
}

/// The font family every figure's text uses (registered from the vendored file on first use).
pub const FONT: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The file is compiled in and known to parse; a failure would leave text undrawn, which
        // the figure tests catch.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS);
    });
}

/// The width in pixels of `text` set in the figures' font at `size` pixels.
pub fn text_width(text: &str, size: u32) -> i32 {
    register_font();
    (FONT, size).into_font().box_size(text).map_or(0, |(w, _)| w as i32)
}

/// Draws on a white `width` × `height` RGB canvas with `draw`, then writes it to `path` as PNG.
/// `draw` gets the whole canvas as a plotters drawing area; its errors are reported as one line.
pub fn render<F>(path: &Path, width: u32, height: u32, draw: F) -> Result<(), Error>
where
    F: FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), Box<dyn std::error::Error>>,
{
    register_font();
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        let drawn = draw(&root).and_then(|()| root.present().map_err(Into::into));
        drawn.map_err(|e| Error::Draw { path: path.to_path_buf(), reason: e.to_string() })?;
    }
    write_rgb(path, width, height, &rgb)
}

/// Writes interleaved 8-bit RGB pixels as a PNG file.
pub fn write_rgb(path: &Path, width: u32, height: u32, rgb: &[u8]) -> Result<(), Error> {
    let fail = |reason: String| Error::Write { path: path.to_path_buf(), reason };
    let file = std::fs::File::create(path).map_err(|e| fail(e.to_string()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().map_err(|e| fail(e.to_string()))?;
    writer.write_image_data(rgb).map_err(|e| fail(e.to_string()))?;
    writer.finish().map_err(|e| fail(e.to_string()))
}
