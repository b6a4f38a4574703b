//! Training for certificates, read from a recipe's `[certified]` section: `κ·CE(z(x), y) + (1 − κ)·B`
//! after `warmup_epochs` of clean training, ε growing linearly over `ramp_epochs` and κ falling
//! from 1 to `kappa` with it. L∞: B is interval bound propagation's loss (Gowal et al. 2018),
//! `CE(−m̲(x, ε), y)` with `m̲` the interval lower bounds of the margins `logit_y − logit_j`
//! (`certify::margin_lower_bounds`). L2: B is GloRo's (Leino et al. 2021), the cross-entropy over
//! the logits with a ⊥ class whose logit is `max_j≠y z_j + ε·K·‖w_y − w_j‖`
//! (`certify::gloro_logits`), K the layers' bound below the logits by warm-started power
//! iteration. The certificate at the end always comes from `blindspot certify` (sound bounds).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::attack::Norm;
use crate::bounds::PowerIteration;
use crate::certify;
use crate::config::{Invalid, ensure};
use crate::model::{Layered, cross_entropy};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedConfig {
    /// The certificate trained for: `linf` (interval bounds) or `l2` (GloRo's Lipschitz margins).
    #[serde(default = "defaults::norm")]
    pub norm: Norm,
    /// The radius the bounds are trained at (IBP trains a little above the radius it certifies:
    /// Gowal et al. train at 0.4 for 0.3; GloRo at 1.58 or a little more for 1.58).
    pub epsilon: f64,
    /// Clean epochs before the radius starts to grow.
    #[serde(default)]
    pub warmup_epochs: f64,
    /// Epochs over which ε grows linearly from 0 (and κ falls from 1) after the warm-up.
    #[serde(default)]
    pub ramp_epochs: f64,
    /// The clean cross-entropy's weight once ramped (the bound's is 1 − κ).
    #[serde(default = "defaults::kappa")]
    pub kappa: f64,
}

mod defaults {
    pub fn norm() -> crate::attack::Norm {
        crate::attack::Norm::Linf
    }
    pub fn kappa() -> f64 {
        0.5
    }
}

/// The loss's settings at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CertifiedTerm {
    pub epsilon: f64,
    /// The clean cross-entropy's weight.
    pub kappa: f64,
}

impl CertifiedConfig {
    /// IBP training at L∞ radius `epsilon`, no warm-up or ramp, κ = 0.5.
    pub fn linf(epsilon: f64) -> CertifiedConfig {
        CertifiedConfig { norm: Norm::Linf, epsilon, warmup_epochs: 0.0, ramp_epochs: 0.0, kappa: defaults::kappa() }
    }

    /// Checks the settings for a run of `epochs` epochs.
    pub fn check(&self, epochs: usize) -> Result<(), Invalid> {
        let finite = self.epsilon.is_finite() && self.epsilon > 0.0;
        match self.norm {
            Norm::Linf => ensure(finite && self.epsilon <= 1.0, "epsilon", || {
                format!("{} is not an L∞ radius in (0, 1]", self.epsilon)
            })?,
            Norm::L2 => ensure(finite, "epsilon", || format!("{} is not a positive radius", self.epsilon))?,
        }
        for (value, field) in [(self.warmup_epochs, "warmup_epochs"), (self.ramp_epochs, "ramp_epochs")] {
            ensure(value.is_finite() && value >= 0.0, field, || format!("{value} is not a number of epochs ≥ 0"))?;
        }
        ensure((0.0..=1.0).contains(&self.kappa), "kappa", || format!("{} is not a weight in [0, 1]", self.kappa))?;
        let (warmup, ramp) = (self.warmup_epochs, self.ramp_epochs);
        ensure(warmup + ramp <= epochs as f64, "ramp_epochs", || {
            format!(
                "warmup_epochs {warmup} + ramp_epochs {ramp} is more than the run's {epochs} epochs: ε would never be reached"
            )
        })
    }

    /// The term at `step` (steps done so far) of epochs of `steps_per_epoch` steps; `None` during
    /// the warm-up.
    pub fn at(&self, step: u64, steps_per_epoch: usize) -> Option<CertifiedTerm> {
        let per_epoch = steps_per_epoch as f64;
        let since = (step as f64 + 1.0) - self.warmup_epochs * per_epoch;
        if since <= 0.0 {
            return None;
        }
        let ramp = self.ramp_epochs * per_epoch;
        let progress = if ramp <= 0.0 { 1.0 } else { (since / ramp).min(1.0) };
        Some(CertifiedTerm { epsilon: self.epsilon * progress, kappa: 1.0 - (1.0 - self.kappa) * progress })
    }
}

/// The bound loss of a run that trains for certificates, and what it keeps between steps (the
/// power-iteration vectors of the L2 bound).
pub struct CertifiedLoss {
    config: CertifiedConfig,
    steps_per_epoch: usize,
    power: PowerIteration,
    /// This step's term (`at`).
    term: Option<CertifiedTerm>,
}

impl CertifiedLoss {
    /// The loss of `config` over epochs of `steps_per_epoch` steps; power-iteration vectors on
    /// `device` (without autodiff).
    pub fn new(config: &CertifiedConfig, steps_per_epoch: usize, device: &Device) -> CertifiedLoss {
        CertifiedLoss {
            config: config.clone(),
            steps_per_epoch,
            power: PowerIteration::new(Vec::new(), 0x610F, device),
            term: None,
        }
    }

    /// The loss at optimizer step `step`, or `None` during the warm-up: what a training step's
    /// `Regularizers::certified` takes.
    pub fn at(&mut self, step: u64) -> Option<&mut CertifiedLoss> {
        self.term = self.config.at(step, self.steps_per_epoch);
        self.term.is_some().then_some(self)
    }

    /// The clean cross-entropy's weight κ at this step.
    pub fn kappa(&self) -> f64 {
        self.term.map_or(1.0, |t| t.kappa)
    }

    /// The bound's cross-entropy for the clean `inputs` (`[batch, pixels]`, on the autodiff device),
    /// their `labels` and the model's `logits` of them.
    pub fn bound_loss(
        &mut self,
        model: &dyn Layered,
        inputs: Tensor<2>,
        labels: Tensor<1, Int>,
        logits: Tensor<2>,
    ) -> Result<Tensor<1>, certify::Error> {
        let epsilon = self.term.map_or(0.0, |t| t.epsilon);
        match self.config.norm {
            Norm::Linf => {
                let margins = certify::margin_lower_bounds(model, inputs, labels.clone(), epsilon)?;
                Ok(cross_entropy(margins.neg(), labels))
            }
            Norm::L2 => {
                let maps = model.affine_maps().ok_or(certify::Error::NoAffineMaps)?;
                let (weight, _) = model.logit_map().ok_or(certify::Error::NoLogitMap)?;
                let below = &maps[..maps.len().saturating_sub(1)];
                let mut bound = Tensor::<1>::ones([1], &logits.device());
                for (i, sigma) in self.power.sigmas(below, 2) {
                    bound = bound * sigma.mul_scalar(below[i].after);
                }
                Ok(cross_entropy(certify::gloro_logits(logits, labels.clone(), weight, bound, epsilon), labels))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_radius_grows_after_the_warm_up_and_the_clean_weight_falls_with_it() {
        let config = CertifiedConfig { warmup_epochs: 1.0, ramp_epochs: 2.0, ..CertifiedConfig::linf(0.4) };
        assert_eq!(config.at(0, 10), None);
        assert_eq!(config.at(9, 10), None);
        let first = config.at(10, 10).unwrap();
        assert!((first.epsilon - 0.02).abs() < 1e-12 && (first.kappa - 0.975).abs() < 1e-12, "{first:?}");
        let done = config.at(29, 10).unwrap();
        assert!((done.epsilon - 0.4).abs() < 1e-12 && (done.kappa - 0.5).abs() < 1e-12, "{done:?}");
        assert_eq!(config.at(500, 10), Some(done));
    }

    #[test]
    fn settings_that_cannot_work_name_their_key() {
        let bad = [
            (CertifiedConfig { norm: Norm::L2, epsilon: -1.0, ..CertifiedConfig::linf(0.3) }, "epsilon"),
            (CertifiedConfig::linf(1.58), "epsilon"),
            (CertifiedConfig::linf(0.0), "epsilon"),
            (CertifiedConfig::linf(f64::NAN), "epsilon"),
            (CertifiedConfig { warmup_epochs: -1.0, ..CertifiedConfig::linf(0.3) }, "warmup_epochs"),
            (CertifiedConfig { ramp_epochs: f64::INFINITY, ..CertifiedConfig::linf(0.3) }, "ramp_epochs"),
            (CertifiedConfig { kappa: 1.5, ..CertifiedConfig::linf(0.3) }, "kappa"),
        ];
        for (config, field) in bad {
            assert_eq!(config.check(10).unwrap_err().field, field, "{config:?}");
        }
        let long = CertifiedConfig { warmup_epochs: 4.0, ramp_epochs: 7.0, ..CertifiedConfig::linf(0.3) };
        assert_eq!(long.check(10).unwrap_err().field, "ramp_epochs");
        assert!(long.check(11).is_ok());
        assert!(CertifiedConfig { norm: Norm::L2, ..CertifiedConfig::linf(1.58) }.check(10).is_ok());
    }
}
