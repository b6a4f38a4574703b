//! `results.json`: the figures measured on a run, kept in its folder, each keyed by what produced
//! it (the measurement and its settings, the checkpoint's epoch and step, blindspot's version), so
//! that a repeated measurement is read back and a changed setting measures only what it changes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use crate::attack::{LbfgsAttackConfig, Norm, RobustnessConfig};
use crate::train::checkpoint::write_atomic;

pub const RESULTS_FILE: &str = "results.json";

/// What a figure measures, with every setting that changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "figure", rename_all = "snake_case")]
pub enum Measure {
    /// Mean minimal L-BFGS distortion over the first `images` test images the model classifies right.
    Distortion { images: usize, seed: u64, attack: LbfgsAttackConfig },
    /// Accuracy under the ensemble (at its radius) on the first `images` test images.
    RobustAccuracy { images: usize, ensemble: RobustnessConfig },
    /// Certified accuracy on the first `images` test images.
    CertifiedAccuracy { images: usize, norm: Norm, epsilon: f64 },
    /// The network's upper Lipschitz bound (exact layer bounds, Lanczos's defaults).
    LipschitzBound,
}

/// The checkpoint a figure was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    pub epoch: usize,
    pub step: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub measure: Measure,
    pub checkpoint: Made,
    /// blindspot's version that measured it.
    pub blindspot: String,
    /// `null` for a figure that is not a number (a network without a Lipschitz bound).
    pub value: Option<f64>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    figures: Vec<Figure>,
}

/// A run's kept figures.
#[derive(Debug)]
pub struct Kept {
    path: PathBuf,
    figures: Vec<Figure>,
}

impl Kept {
    /// The figures kept in `run_dir` (none when the file is missing; an unreadable file is measured
    /// again and replaced: it holds nothing that cannot be measured again).
    pub fn read(run_dir: &Path) -> Kept {
        let path = run_dir.join(RESULTS_FILE);
        let figures = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str::<File>(&text).ok())
            .map(|f| f.figures)
            .unwrap_or_default();
        Kept { path, figures }
    }

    pub fn get(&self, measure: &Measure, made: Made) -> Option<f64> {
        self.figures
            .iter()
            .find(|f| f.measure == *measure && f.checkpoint == made && f.blindspot == env!("CARGO_PKG_VERSION"))
            .map(|f| f.value.unwrap_or(f64::NAN))
    }

    /// The error of a file that does not give back what was just kept in it.
    pub fn unreadable(&self) -> Error {
        Error::io(&self.path, "the figures just kept cannot be read back")
    }

    /// Keeps `value` (replacing an earlier figure of the same key) and writes the file at once, so a
    /// killed measurement keeps what it finished.
    pub fn put(&mut self, measure: Measure, made: Made, value: f64) -> Result<(), Error> {
        let value = value.is_finite().then_some(value);
        self.figures.retain(|f| !(f.measure == measure && f.checkpoint == made));
        self.figures.push(Figure { measure, checkpoint: made, blindspot: env!("CARGO_PKG_VERSION").into(), value });
        let file = File { figures: self.figures.clone() };
        let json = serde_json::to_string_pretty(&file).map_err(|e| Error::io(&self.path, e))?;
        write_atomic(&self.path, json.as_bytes()).map_err(|e| Error::io(&self.path, e))
    }
}
