//! What a sweep measures on each finished run, and the measuring: every figure a run's kept file
//! lacks is measured and kept at once; figures it holds are read back.

use std::path::Path;

use burn::prelude::Device;
use serde::{Deserialize, Serialize};

use super::compare::{CertifiedFigure, RunFigures};
use super::kept::{Kept, Made, Measure};
use crate::attack::{LbfgsAttackConfig, Norm, PgdConfig, RobustnessConfig, TargetKind};
use crate::bounds::{Lanczos, network_bounds};
use crate::certify::CertifyConfig;
use crate::experiments::attack::{AttackMethod, AttackOptions, run_attack};
use crate::experiments::certify::certify;
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

    fn robust(&self, epsilon: f64) -> Measure {
        Measure::RobustAccuracy { images: self.robust_images, ensemble: self.at(epsilon) }
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

/// The checkpoint a finished run's figures are measured on (its latest).
pub fn made(run_dir: &Path) -> Result<Made, crate::Error> {
    let checkpoint = Checkpoint::open(run_dir)?;
    Ok(Made { epoch: checkpoint.state.epoch, step: checkpoint.state.step })
}

/// The run's figures from what its folder keeps, or `None` if one is missing.
pub fn kept_figures(run_dir: &Path, recipe: &Recipe, measures: &Measures) -> Option<RunFigures> {
    let summary = read_metrics(run_dir).ok()?;
    let made = made(run_dir).ok()?;
    let kept = Kept::read(run_dir);
    let get = |m: &Measure| kept.get(m, made);
    Some(RunFigures {
        seed: recipe.seed,
        test_error: summary.test_error,
        mean_distortion: get(&measures.distortion())?,
        robust_accuracy: measures.radii.iter().map(|&e| get(&measures.robust(e))).collect::<Option<_>>()?,
        lipschitz_bound: get(&Measure::LipschitzBound)?,
        train_seconds: summary.history.iter().map(|m| m.seconds).sum(),
        certified: measures
            .certified(recipe)
            .into_iter()
            .map(|m| {
                let accuracy = get(&m)?;
                let Measure::CertifiedAccuracy { norm, epsilon, .. } = m else { unreachable!("certified measures") };
                Some(CertifiedFigure { norm, epsilon, accuracy })
            })
            .collect::<Option<_>>()?,
    })
}

/// Measures what the finished run in `run_dir` (trained from `recipe`) does not keep yet, keeps it,
/// and returns the run's figures.
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
    let made = made(run_dir)?;
    let mut kept = Kept::read(run_dir);
    let loaded = recipe::open(run_dir, device, None)?;
    progress.message(&format!("{}: measuring robustness", recipe.name));
    let distortion = measures.distortion();
    if kept.get(&distortion, made).is_none() {
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
        kept.put(distortion, made, attacked.summary.mean_distortion)?;
    }
    let missing: Vec<f64> =
        measures.radii.iter().copied().filter(|&e| kept.get(&measures.robust(e), made).is_none()).collect();
    if !missing.is_empty() {
        let robust =
            robustness(&loaded, &measures.ensemble, &missing, measures.robust_images, true, device, |event| {
                if let Event::Advance(advance) = event {
                    progress.ensemble(advance)
                }
            })?;
        for (&epsilon, r) in missing.iter().zip(&robust.radii) {
            kept.put(measures.robust(epsilon), made, r.robust_accuracy)?;
        }
    }
    if kept.get(&Measure::LipschitzBound, made).is_none() {
        let bound = network_bounds(&loaded.model, &[], &Lanczos::default())?.network.unwrap_or(f64::NAN);
        kept.put(Measure::LipschitzBound, made, bound)?;
    }
    let certified: Vec<(Norm, f64)> = measures
        .certified(recipe)
        .into_iter()
        .filter(|m| kept.get(m, made).is_none())
        .filter_map(|m| match m {
            Measure::CertifiedAccuracy { norm, epsilon, .. } => Some((norm, epsilon)),
            _ => None,
        })
        .collect();
    if let Some(&(norm, _)) = certified.first() {
        let radii = certified.iter().map(|&(_, e)| e).collect();
        let run = certify(&loaded, &CertifyConfig::new(norm, radii), measures.robust_images, device)?;
        for r in run.certification.radii {
            let m = Measure::CertifiedAccuracy { images: measures.robust_images, norm, epsilon: r.epsilon };
            kept.put(m, made, r.certified_accuracy)?;
        }
    }
    kept_figures(run_dir, recipe, measures).ok_or_else(|| kept.unreadable().into())
}
