//! Training for certificates, read from a recipe's `[certified]` section: L∞ by interval bound
//! propagation's loss (Gowal et al. 2018), `κ·CE(z(x), y) + (1 − κ)·CE(−m̲(x, ε), y)` with `m̲` the
//! interval lower bounds of the margins `logit_y − logit_j` (`certify::margin_lower_bounds`), after
//! `warmup_epochs` of clean training ε growing linearly over `ramp_epochs` and κ falling from 1 to
//! `kappa` with it. The certificate at the end always comes from `blindspot certify`.

use serde::{Deserialize, Serialize};

use crate::attack::Norm;
use crate::config::{Invalid, ensure};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifiedConfig {
    /// The certificate trained for: `linf` (interval bounds).
    #[serde(default = "defaults::norm")]
    pub norm: Norm,
    /// The radius the bounds are trained at (IBP trains a little above the radius it certifies:
    /// Gowal et al. train at 0.4 for 0.3).
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
        ensure(self.norm == Norm::Linf, "norm", || {
            "only linf (interval bound propagation) trains for certificates so far; l2 is certified by `certify --norm l2` on any model"
                .into()
        })?;
        ensure(self.epsilon.is_finite() && self.epsilon > 0.0 && self.epsilon <= 1.0, "epsilon", || {
            format!("{} is not an L∞ radius in (0, 1]", self.epsilon)
        })?;
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
            (CertifiedConfig { norm: Norm::L2, ..CertifiedConfig::linf(0.3) }, "norm"),
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
    }
}
