//! `blindspot robustness`: a checkpoint's clean and robust accuracy on the first test images,
//! under the attack ensemble at each radius.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::figures::{self, Settings};
use super::loaded::LoadedModel;
use crate::attack::robustness::{self, Advance, RobustnessConfig, RobustnessReport};
use crate::model::Layered;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustnessRun {
    pub model: String,
    pub checkpoint: String,
    pub epoch: usize,
    /// One report per radius, in the order asked.
    pub radii: Vec<RobustnessReport>,
}

/// What `robustness` tells as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A batch attacked at a radius.
    Advance(&'a Advance),
    /// A radius measured.
    Measured(&'a RobustnessReport),
}

/// The ensemble `config` describes at each of `radii` (its own epsilon is replaced), on the first
/// `n` test images. Each report is kept beside the checkpoint's weights ([`figures`]); with `reuse`
/// a radius whose report is kept there with the same settings is read instead of measured.
/// (Figures that cannot be written, in a read-only folder, are only measured again next time.)
pub fn robustness<M: Layered>(
    loaded: &LoadedModel<M>,
    config: &RobustnessConfig,
    radii: &[f64],
    n: usize,
    reuse: bool,
    device: &Device,
    mut progress: impl FnMut(Event),
) -> Result<RobustnessRun, robustness::Error> {
    // Every radius and the image count are checked before the first radius runs.
    for &epsilon in radii {
        RobustnessConfig { epsilon, ..config.clone() }.check()?;
    }
    if n == 0 {
        return Err(robustness::Error::NoImages);
    }
    if n > loaded.test.len() {
        return Err(robustness::Error::TooMany { asked: n, available: loaded.test.len() });
    }
    let images = loaded.test.head(n);
    let mut reports = Vec::new();
    for &epsilon in radii {
        let config = RobustnessConfig { epsilon, ..config.clone() };
        let settings = Settings::new(&config, n);
        let report = match figures::find(&loaded.checkpoint, &settings).filter(|_| reuse) {
            Some(kept) => kept,
            None => {
                let report = robustness::robustness(&loaded.model, &images, &config, device, &mut |advance| {
                    progress(Event::Advance(advance))
                })?;
                figures::keep(&loaded.checkpoint, settings, &report).ok();
                report
            }
        };
        progress(Event::Measured(&report));
        reports.push(report);
    }
    Ok(RobustnessRun {
        model: loaded.name.clone(),
        checkpoint: loaded.checkpoint.dir.display().to_string(),
        epoch: loaded.checkpoint.state.epoch,
        radii: reports,
    })
}
