//! Line charts: several named series of (x, y) points on one pair of axes, with a legend; a
//! logarithmic y axis where values span decades (Lipschitz bounds).

use std::path::Path;

use plotters::prelude::*;

use super::canvas::{self, FONT};

/// One line of a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// A logarithmic y axis (every y must then be positive; others are left out).
    pub log_y: bool,
    /// Start the y axis at 0 (else it fits the data).
    pub y_from_zero: bool,
    /// Start the x axis at 0 (else it fits the data).
    pub x_from_zero: bool,
    /// Mark each point (for short series such as a handful of radii).
    pub markers: bool,
    /// Where the legend goes (where the lines are not).
    pub legend: Corner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Corner {
    #[default]
    UpperRight,
    LowerLeft,
    LowerRight,
}

/// Okabe and Ito's colour-blind-safe palette, then plotters' own.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Ticks for a log axis from `lo` to `hi`: 1, 2, 5 times powers of ten (every power alone when
/// they are many, every integer multiple when they are few).
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let within = |multiples: &[f64]| {
        let mut ticks = Vec::new();
        let mut power = 10f64.powf(lo.log10().floor());
        while power <= hi {
            ticks.extend(multiples.iter().map(|m| m * power).filter(|t| (lo..=hi).contains(t)));
            power *= 10.0;
        }
        ticks
    };
    let ticks = within(&[1.0, 2.0, 5.0]);
    if ticks.len() > 10 {
        within(&[1.0])
    } else if ticks.len() < 4 {
        within(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else {
        ticks
    }
}

/// A tick label: at most three decimals, no trailing zeros (20, 2.5, 0.075).
fn tick(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".into() } else { text.to_string() }
}

fn colour(k: usize) -> RGBColor {
    if k < PALETTE.len() {
        PALETTE[k]
    } else {
        let c = Palette99::pick(k).to_rgba();
        RGBColor(c.0, c.1, c.2)
    }
}

impl LineChart {
    /// The points drawn: all of them, or the positive ones on a log axis.
    fn drawn(&self, s: &Series) -> Vec<(f64, f64)> {
        s.points.iter().copied().filter(|&(x, y)| x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0)).collect()
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let points: Vec<(f64, f64)> = self.series.iter().flat_map(|s| self.drawn(s)).collect();
        let fold = |f: fn(&(f64, f64)) -> f64| {
            points.iter().map(f).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let (mut x, mut y) = (fold(|p| p.0), fold(|p| p.1));
        if !x.0.is_finite() {
            x = (0.0, 1.0);
            y = if self.log_y { (1.0, 10.0) } else { (0.0, 1.0) };
        }
        if self.x_from_zero {
            x.0 = x.0.min(0.0);
        }
        if x.1 <= x.0 {
            x = (x.0 - 0.5, x.0 + 0.5);
        }
        // Room for the last marker.
        if self.markers {
            x.1 += 0.03 * (x.1 - x.0);
        }
        if self.log_y {
            // Headroom above and below for the legend.
            y = (y.0 / 2.5, y.1 * 1.6);
            if y.1 / y.0 < 10.0 {
                let mid = (y.0 * y.1).sqrt();
                y = (mid / 10f64.sqrt(), mid * 10f64.sqrt());
            }
        } else {
            if self.y_from_zero {
                y.0 = y.0.min(0.0);
            }
            let share = if self.markers { 0.08 } else { 0.05 };
            let pad = if y.1 > y.0 { share * (y.1 - y.0) } else { 0.5 };
            y = (if self.y_from_zero { y.0 } else { y.0 - pad }, y.1 + pad);
        }
        (x, y)
    }

    /// Writes the chart as a `width` × `height` PNG file.
    pub fn write(&self, path: &Path, width: u32, height: u32) -> Result<(), canvas::Error> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        canvas::render(path, width, height, |root| {
            let mut builder = ChartBuilder::on(root);
            builder.caption(&self.title, (FONT, 22)).margin(14).x_label_area_size(46).y_label_area_size(72);
            if self.log_y {
                let y = (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
                self.draw_on(&mut builder.build_cartesian_2d(x0..x1, y)?)
            } else {
                self.draw_on(&mut builder.build_cartesian_2d(x0..x1, y0..y1)?)
            }
        })
    }

    /// The mesh, the lines and the legend, on a linear or a log y axis.
    fn draw_on<'a, Y>(
        &self,
        chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    ) -> Result<(), Box<dyn std::error::Error>>
    where
        Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    {
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .label_style((FONT, 15))
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(205, 205, 205))
            .draw()?;
        for (k, s) in self.series.iter().enumerate() {
            let c = colour(k);
            let points = self.drawn(s);
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3)));
            if self.markers {
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
            }
        }
        if self.series.len() > 1 || self.series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .position(match self.legend {
                    Corner::UpperRight => SeriesLabelPosition::UpperRight,
                    Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
                    Corner::LowerRight => SeriesLabelPosition::LowerRight,
                })
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font((FONT, 15))
                .draw()?;
        }
        Ok(())
    }
}
