//! Figures kept beside the weights they measure: `figures.json` in a checkpoint folder holds each
//! robustness report with the settings that produced it (the ensemble's config, the images, the
//! program's version), so a later measurement with the same settings reads it instead of attacking
//! again. A checkpoint folder's weights never change, so its figures stay true; a new checkpoint
//! starts with none.

use serde::{Deserialize, Serialize};

use crate::attack::{RobustnessConfig, RobustnessReport};
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

#[derive(Debug, Default, Serialize, Deserialize)]
struct Figures {
    robustness: Vec<Kept>,
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
    let text = serde_json::to_string_pretty(&figures).expect("figures serialise");
    write_atomic(&checkpoint.dir.join(FIGURES_FILE), text.as_bytes())
}
