//! Adversarial attacks as plain functions of (surface, inputs, goal, config): the paper's minimal
//! L-BFGS perturbations, FGSM and PGD, Auto-PGD (APGD-CE, APGD-T), Square, Gaussian noise and magnified
//! perturbations. Every attack works on any layer's activations (a [`Surface`]) and runs wherever
//! its tensors live; [`robustness()`] runs them as AutoAttack's ensemble.

pub mod apgd;
pub mod gradient;
pub mod lbfgs;
pub mod noise;
pub mod robustness;
pub mod search;
pub mod square;
pub mod surface;
pub mod target;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Invalid;

pub use apgd::{ApgdConfig, ApgdLoss, apgd};
pub use gradient::{Norm, PgdConfig, descend, descent_step, fgsm, pgd, pgd_points, project};
pub use lbfgs::{BoxBounds, LbfgsConfig};
pub use noise::{gaussian, magnify};
pub use robustness::{EnsembleAttack, RobustnessConfig, RobustnessReport, robustness};
pub use search::{LbfgsAttackConfig, lbfgs};
pub use square::{SquareConfig, square};
pub use surface::{Goal, Surface, distortion};
pub use target::TargetKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] crate::model::layered::Error),
    #[error("target label {target} is not a class 0-{}", classes - 1)]
    Target { target: usize, classes: usize },
    #[error("images of shape {shape:?} do not have the surface's {width} values")]
    Shape { shape: [usize; 3], width: usize },
    #[error(transparent)]
    NonFinite(#[from] crate::model::NonFinite),
    /// A setting the attack cannot work with (its config's `check`).
    #[error(transparent)]
    Config(#[from] Invalid),
}

/// Checks a radius (or a noise's size): finite and positive.
pub(crate) fn positive(value: f64, field: &'static str) -> Result<(), Invalid> {
    crate::config::ensure(value.is_finite() && value > 0.0, field, || format!("{value} is not a positive finite size"))
}

/// What an attack made, measured by the model (success is checked, never assumed).
#[derive(Debug, Clone)]
pub struct Adversarials {
    /// The starting activations `[batch, width]`.
    pub start: Tensor<2>,
    /// The perturbed activations, inside the surface's box.
    pub adversarial: Tensor<2>,
    /// Whether the model's answer on the adversarial reaches the goal.
    pub success: Vec<bool>,
    /// `sqrt(mean(r²))` per example.
    pub distortion: Vec<f32>,
    /// The model's answer on the adversarial.
    pub predicted: Vec<i64>,
    /// L-BFGS: the `c` of the kept solution (NaN where none succeeded; empty for other attacks).
    pub c: Vec<f64>,
    /// Solver iterations (L-BFGS: over all values of c; PGD: steps).
    pub iterations: Vec<usize>,
}

impl Adversarials {
    /// Measures `adversarial` against `start` with the surface's model.
    pub fn measure(
        surface: &Surface,
        start: Tensor<2>,
        adversarial: Tensor<2>,
        goal: &Goal,
        c: Vec<f64>,
        iterations: Vec<usize>,
    ) -> Adversarials {
        let logits = surface.logits(adversarial.clone());
        let predicted = logits.clone().argmax(1).flatten::<1>(0, 1).into_data().iter::<i64>().collect();
        Adversarials {
            success: bools(goal.reached(logits)),
            distortion: floats(distortion(adversarial.clone(), start.clone())),
            predicted,
            start,
            adversarial,
            c,
            iterations,
        }
    }

    pub fn len(&self) -> usize {
        self.success.len()
    }

    pub fn is_empty(&self) -> bool {
        self.success.is_empty()
    }

    pub fn success_rate(&self) -> f64 {
        self.success.iter().filter(|&&s| s).count() as f64 / self.len().max(1) as f64
    }

    /// Distortions of the successful examples.
    pub fn successful_distortions(&self) -> Vec<f32> {
        self.success.iter().zip(&self.distortion).filter(|(s, _)| **s).map(|(_, d)| *d).collect()
    }
}

/// Summary figures of an attack over many examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    pub examples: usize,
    pub success_rate: f64,
    /// Over successful examples.
    pub mean_distortion: f64,
    pub median_distortion: f64,
    pub seconds_per_example: f64,
    /// Mean solver iterations per example (L-BFGS: summed over the values of c).
    pub mean_iterations: f64,
}

impl AttackSummary {
    pub fn of(results: &[&Adversarials], seconds: f64) -> AttackSummary {
        let examples: usize = results.iter().map(|r| r.len()).sum();
        let successes: usize = results.iter().map(|r| r.success.iter().filter(|&&s| s).count()).sum();
        let mut d: Vec<f32> = results.iter().flat_map(|r| r.successful_distortions()).collect();
        d.sort_by(f32::total_cmp);
        let mean = if d.is_empty() { f64::NAN } else { d.iter().map(|&x| x as f64).sum::<f64>() / d.len() as f64 };
        let median = if d.is_empty() { f64::NAN } else { d[d.len() / 2] as f64 };
        AttackSummary {
            examples,
            success_rate: successes as f64 / examples.max(1) as f64,
            mean_distortion: mean,
            median_distortion: median,
            seconds_per_example: seconds / examples.max(1) as f64,
            mean_iterations: results.iter().flat_map(|r| r.iterations.iter()).sum::<usize>() as f64
                / examples.max(1) as f64,
        }
    }
}

pub(crate) fn bools(t: Tensor<1, Bool>) -> Vec<bool> {
    t.into_data().iter::<bool>().collect()
}

pub(crate) fn floats(t: Tensor<1>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}
