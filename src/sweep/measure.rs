//! What a sweep measures on each finished run, and the measuring: every figure its latest
//! checkpoint does not keep (`figures.json`, experiments/figures.rs) is measured and kept at once;
//! figures it keeps are read back.

use std::path::Path;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::Error;
use super::compare::{CertifiedFigure, RunFigures};
use crate::attack::{LbfgsAttackConfig, Norm, PgdConfig, RobustnessConfig, TargetKind};
use crate::bounds::{Lanczos, network_bounds};
use crate::certify::CertifyConfig;
use crate::experiments::attack::{AttackMethod, AttackOptions, run_attack};
use crate::experiments::certify::certify;
use crate::experiments::figures::{self, Measure, Settings};
use crate::experiments::loaded::ImageSet;
use crate::experiments::robustness::{Event, robustness};
use crate::recipe::runs::Progress;
use crate::recipe::{self, Recipe};
use crate::train::Checkpoint;
use crate::train::metrics::read_metrics;

/// The figures measured on every run of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// Test images for the L-BFGS distortion (the first N each model classifies correctly).
    pub distortion_images: usize,
    /// Test images for the robust accuracy (the first N).
    pub robust_images: usize,
    /// L∞ radii of the robust accuracy.
    pub radii: Vec<f64>,
    /// The ensemble (its radius is set per radius).
    pub ensemble: RobustnessConfig,
}

/// The L-BFGS search's seed: every run is attacked with the same random targets.
const DISTORTION_SEED: u64 = 1;

impl Measures {
    /// Every setting checked, before the first run trains.
    pub fn check(&self) -> Result<(), crate::Error> {
        if self.distortion_images == 0 {
            return Err(crate::experiments::attack::Error::Zero.into());
        }
        if self.robust_images == 0 {
            return Err(crate::attack::robustness::Error::NoImages.into());
        }
        for &epsilon in &self.radii {
            self.at(epsilon).check().map_err(crate::attack::robustness::Error::from)?;
        }
        Ok(())
    }

    fn at(&self, epsilon: f64) -> RobustnessConfig {
        RobustnessConfig { epsilon, ..self.ensemble.clone() }
    }

    fn distortion(&self) -> Measure {
        Measure::Distortion {
            images: self.distortion_images,
            seed: DISTORTION_SEED,
            attack: LbfgsAttackConfig::default(),
        }
    }

    /// The certified accuracies a recipe that trains for certificates is measured for: L∞ at the
    /// sweep's radii, L2 at the recipe's radius.
    fn certified(&self, recipe: &Recipe) -> Vec<Measure> {
        let Some(trained_for) = &recipe.certified else { return Vec::new() };
        let radii = match trained_for.norm {
            Norm::Linf => self.radii.clone(),
            Norm::L2 => vec![trained_for.epsilon],
        };
        let norm = trained_for.norm;
        radii
            .into_iter()
            .map(|epsilon| Measure::CertifiedAccuracy { images: self.robust_images, norm, epsilon })
            .collect()
    }
}

/// The run's figures from what its latest checkpoint keeps, or `None` if one is missing.
pub fn kept_figures(run_dir: &Path, recipe: &Recipe, measures: &Measures) -> Option<RunFigures> {
    let summary = read_metrics(run_dir).ok()?;
    let checkpoint = Checkpoint::open(run_dir).ok()?;
    let get = |m: &Measure| figures::find_value(&checkpoint, m);
    let robust = |epsilon: f64| {
        figures::find(&checkpoint, &Settings::new(&measures.at(epsilon), measures.robust_images))
            .map(|report| report.robust_accuracy)
    };
    Some(RunFigures {
        seed: recipe.seed,
        test_error: summary.test_error,
        mean_distortion: get(&measures.distortion())?,
        robust_accuracy: measures.radii.iter().map(|&e| robust(e)).collect::<Option<_>>()?,
        lipschitz_bound: get(&Measure::LipschitzBound)?,
        train_seconds: summary.history.iter().map(|m| m.seconds).sum(),
        certified: measures
            .certified(recipe)
            .into_iter()
            .map(|m| {
                let accuracy = get(&m)?;
                let Measure::CertifiedAccuracy { norm, epsilon, .. } = m else { return None };
                Some(CertifiedFigure { norm, epsilon, accuracy })
            })
            .collect::<Option<_>>()?,
    })
}

/// Measures what the finished run in `run_dir` (trained from `recipe`) does not keep yet beside its
/// latest checkpoint, keeps it, and returns the run's figures.
pub fn measure(
    run_dir: &Path,
    recipe: &Recipe,
    measures: &Measures,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<RunFigures, crate::Error> {
    if let Some(figures) = kept_figures(run_dir, recipe, measures) {
        return Ok(figures);
    }
    let loaded = recipe::open(run_dir, device, None)?;
    let checkpoint = &loaded.checkpoint;
    // Asked to stop (SIGINT, SIGTERM): between two figures, each kept as soon as it is measured.
    let stop = || match crate::train::interrupt::pending() {
        Some(signal) => Err(Error::Interrupted { run: recipe.name.clone(), signal }),
        None => Ok(()),
    };
    let keep = |m: Measure, value: f64| figures::keep_value(checkpoint, m, value);
    progress.message(&format!("{}: measuring robustness", recipe.name));
    let distortion = measures.distortion();
    if figures::find_value(checkpoint, &distortion).is_none() {
        let lbfgs = AttackOptions {
            method: AttackMethod::Lbfgs,
            layer: 0,
            images: ImageSet::Test,
            n: measures.distortion_images,
            target: TargetKind::Random,
            batch_size: 100,
            seed: DISTORTION_SEED,
            lbfgs: LbfgsAttackConfig::default(),
            pgd: PgdConfig::default(),
        };
        let attacked = run_attack(&loaded, &lbfgs, device, |done| progress.attacked(done, measures.distortion_images))?;
        keep(distortion, attacked.summary.mean_distortion)?;
    }
    // Radii kept already are read back.
    for &epsilon in &measures.radii {
        stop()?;
        robustness(&loaded, &measures.ensemble, &[epsilon], measures.robust_images, true, device, |event| {
            if let Event::Advance(advance) = event {
                progress.ensemble(advance)
            }
        })?;
    }
    stop()?;
    if figures::find_value(checkpoint, &Measure::LipschitzBound).is_none() {
        let bound = network_bounds(&loaded.model, &[], &Lanczos::default())?.network.unwrap_or(f64::NAN);
        keep(Measure::LipschitzBound, bound)?;
    }
    let certified: Vec<(Norm, f64)> = measures
        .certified(recipe)
        .into_iter()
        .filter(|m| figures::find_value(checkpoint, m).is_none())
        .filter_map(|m| match m {
            Measure::CertifiedAccuracy { norm, epsilon, .. } => Some((norm, epsilon)),
            _ => None,
        })
        .collect();
    stop()?;
    if let Some(&(norm, _)) = certified.first() {
        let radii = certified.iter().map(|&(_, e)| e).collect();
        let run = certify(&loaded, &CertifyConfig::new(norm, radii), measures.robust_images, device)?;
        for r in run.certification.radii {
            let m = Measure::CertifiedAccuracy { images: measures.robust_images, norm, epsilon: r.epsilon };
            keep(m, r.certified_accuracy)?;
        }
    }
    kept_figures(run_dir, recipe, measures).ok_or_else(|| {
        let path = checkpoint.dir.join(figures::FIGURES_FILE);
        Error::Io { path, reason: "the figures just kept cannot be read back".into() }.into()
    })
}
