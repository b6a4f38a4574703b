//! Figures kept beside the weights they measure: `figures.json` in a checkpoint folder holds each
//! robustness report with the settings that produced it (the ensemble's config, the images, the
//! program's version), and single figures (a distortion, a certified accuracy, a bound) keyed by
//! what they measure with every setting, so a later measurement with the same settings reads them
//! instead of measuring again. A checkpoint folder's weights never change, so its figures stay true; a new checkpoint
//! starts with none.

use serde::{Deserialize, Serialize};

use crate::attack::{LbfgsAttackConfig, Norm, RobustnessConfig, RobustnessReport};
use crate::train::Checkpoint;
use crate::train::checkpoint::write_atomic;

pub const FIGURES_FILE: &str = "figures.json";

/// What a robustness report depends on besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The first N test images.
    pub images: usize,
    pub config: RobustnessConfig,
    /// blindspot's version: a new version's attacks may measure differently.
    pub version: String,
}

impl Settings {
    pub fn new(config: &RobustnessConfig, images: usize) -> Settings {
        Settings { images, config: config.clone(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// A single figure, with every setting that changes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "figure", rename_all = "snake_case")]
pub enum Measure {
    /// Mean minimal L-BFGS distortion over the first `images` test images the model classifies right.
    Distortion { images: usize, seed: u64, attack: LbfgsAttackConfig },
    /// Certified accuracy on the first `images` test images.
    CertifiedAccuracy { images: usize, norm: Norm, epsilon: f64 },
    /// The network's upper Lipschitz bound (exact layer bounds, Lanczos's defaults).
    LipschitzBound,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Figures {
    robustness: Vec<Kept>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    values: Vec<KeptValue>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeptValue {
    measure: Measure,
    version: String,
    /// `null` for a figure that is not a number (a network without a Lipschitz bound).
    value: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    settings: Settings,
    report: RobustnessReport,
}

fn read(checkpoint: &Checkpoint) -> Figures {
    // Unreadable or foreign figures count as none: they are measured again and replaced.
    std::fs::read_to_string(checkpoint.dir.join(FIGURES_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// The report kept for `settings` beside `checkpoint`'s weights, if one is.
pub fn find(checkpoint: &Checkpoint, settings: &Settings) -> Option<RobustnessReport> {
    read(checkpoint).robustness.into_iter().find(|k| &k.settings == settings).map(|k| k.report)
}

/// Keeps `report`, measured with `settings`, beside `checkpoint`'s weights (replacing one of the same
/// settings).
pub fn keep(
    checkpoint: &Checkpoint,
    settings: Settings,
    report: &RobustnessReport,
) -> Result<(), crate::train::checkpoint::Error> {
    let mut figures = read(checkpoint);
    figures.robustness.retain(|k| k.settings != settings);
    figures.robustness.push(Kept { settings, report: report.clone() });
    write(checkpoint, &figures)
}

/// The figure kept for `measure` beside `checkpoint`'s weights by this version, if one is (NaN for a
/// figure that is not a number).
pub fn find_value(checkpoint: &Checkpoint, measure: &Measure) -> Option<f64> {
    read(checkpoint)
        .values
        .into_iter()
        .find(|k| &k.measure == measure && k.version == env!("CARGO_PKG_VERSION"))
        .map(|k| k.value.unwrap_or(f64::NAN))
}

/// Keeps `value`, a figure of `measure`, beside `checkpoint`'s weights (replacing an earlier one).
pub fn keep_value(
    checkpoint: &Checkpoint,
    measure: Measure,
    value: f64,
) -> Result<(), crate::train::checkpoint::Error> {
    let mut figures = read(checkpoint);
    figures.values.retain(|k| k.measure != measure);
    let value = value.is_finite().then_some(value);
    figures.values.push(KeptValue { measure, version: env!("CARGO_PKG_VERSION").into(), value });
    write(checkpoint, &figures)
}

fn write(checkpoint: &Checkpoint, figures: &Figures) -> Result<(), crate::train::checkpoint::Error> {
    let text = serde_json::to_string_pretty(figures).expect("figures serialise");
    write_atomic(&checkpoint.dir.join(FIGURES_FILE), text.as_bytes())
}
