//! The perturbation bank's config: owned here, checked when the bank is built (and against the
//! run's length), read from a recipe's `[bank]` section.

use serde::{Deserialize, Serialize};

use crate::config::{Invalid, at_least_one, ensure};

/// A perturbation bank (Zheng et al. 2020's accumulated perturbations, ATTA): one stored L∞
/// perturbation per training image. Each time the epoch's permutation draws an image, its
/// perturbation takes `steps` signed-gradient steps on the current weights, the step trains on the
/// renewed example, and the perturbation goes back into the bank, so it deepens over the epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankConfig {
    /// The L∞ radius of every perturbation (pixels in [0, 1]).
    pub epsilon: f64,
    /// Signed-gradient steps that renew a perturbation each time its image is drawn.
    #[serde(default = "defaults::steps")]
    pub steps: usize,
    /// A renewing step's length (default: a quarter of the radius).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f64>,
    /// Share of each batch's rows replaced by their banked adversarial versions (1: all).
    #[serde(default = "defaults::ratio")]
    pub ratio: f64,
    /// Epochs over which the radius grows linearly from 0 to `epsilon`, step by step (0: none).
    #[serde(default)]
    pub ramp_epochs: f64,
    /// Every N epochs every perturbation starts again from uniform noise in the ball (0: never).
    #[serde(default)]
    pub reset_every: usize,
    /// Attacker threads that deepen banked perturbations on the newest model snapshot, beside the
    /// trainer (0: none).
    #[serde(default)]
    pub attackers: usize,
    /// The attackers' PGD steps from a banked perturbation (step 2.5·ε/steps).
    #[serde(default = "defaults::attack_steps")]
    pub attack_steps: usize,
    /// Perturbations an attacker deepens at once.
    #[serde(default = "defaults::attack_batch")]
    pub attack_batch: usize,
    /// Optimizer steps between the snapshots the attackers read.
    #[serde(default = "defaults::snapshot_every")]
    pub snapshot_every: usize,
}

mod defaults {
    pub fn steps() -> usize {
        1
    }
    pub fn ratio() -> f64 {
        1.0
    }
    pub fn attack_steps() -> usize {
        7
    }
    pub fn attack_batch() -> usize {
        128
    }
    pub fn snapshot_every() -> usize {
        20
    }
}

impl BankConfig {
    /// A bank at radius `epsilon`: one step of ε/4 per use, every row adversarial, no ramp, no reset,
    /// no attackers.
    pub fn new(epsilon: f64) -> BankConfig {
        BankConfig {
            epsilon,
            steps: defaults::steps(),
            step_size: None,
            ratio: defaults::ratio(),
            ramp_epochs: 0.0,
            reset_every: 0,
            attackers: 0,
            attack_steps: defaults::attack_steps(),
            attack_batch: defaults::attack_batch(),
            snapshot_every: defaults::snapshot_every(),
        }
    }

    /// A renewing step's length.
    pub fn step(&self) -> f64 {
        self.step_size.unwrap_or(0.25 * self.epsilon)
    }

    /// The radius after `step` of a run with `steps_per_epoch` steps an epoch.
    pub fn epsilon_at(&self, step: u64, steps_per_epoch: usize) -> f64 {
        crate::config::ramped(self.epsilon, self.ramp_epochs, step, steps_per_epoch)
    }

    /// Checks every field, and the fields against a run of `epochs` epochs: the perturbations must
    /// be able to reach the radius's edge from the centre within the run, the ramp must end in it.
    pub fn check(&self, epochs: usize) -> Result<(), Invalid> {
        crate::config::pixel_radius(self.epsilon, "epsilon")?;
        at_least_one(self.steps, "steps")?;
        if let Some(size) = self.step_size {
            ensure(size.is_finite() && size > 0.0, "step_size", || format!("{size} is not a positive step"))?;
        }
        ensure(self.ratio > 0.0 && self.ratio <= 1.0, "ratio", || format!("{} is not a share in (0, 1]", self.ratio))?;
        ensure(self.ramp_epochs.is_finite() && self.ramp_epochs >= 0.0, "ramp_epochs", || {
            format!("{} is not a number of epochs", self.ramp_epochs)
        })?;
        ensure(self.ramp_epochs <= epochs as f64, "ramp_epochs", || {
            format!("{} is more than the run's {epochs} epochs: ε would never be reached", self.ramp_epochs)
        })?;
        ensure(self.attackers <= super::config::MAX_ATTACKERS, "attackers", || {
            format!("{} is more than {} threads", self.attackers, super::config::MAX_ATTACKERS)
        })?;
        for (field, value) in [
            ("attack_steps", self.attack_steps),
            ("attack_batch", self.attack_batch),
            ("snapshot_every", self.snapshot_every),
        ] {
            at_least_one(value, field)?;
        }
        // Between resets (or over the run) an image is drawn once an epoch.
        let uses = if self.reset_every > 0 { self.reset_every.min(epochs) } else { epochs };
        let reach = (uses * self.steps) as f64 * self.step();
        let field = if self.step_size.is_some() { "step_size" } else { "steps" };
        ensure(reach >= self.epsilon, field, || {
            format!(
                "{} step(s) of {} in each of {uses} epochs move a perturbation at most {reach:.3}, short of \
                 epsilon = {}: take longer steps or more of them",
                self.steps,
                self.step(),
                self.epsilon
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bank_that_cannot_reach_its_radius_is_refused_by_the_field_that_sets_its_pace() {
        let slow = BankConfig { step_size: Some(0.01), ..BankConfig::new(0.3) };
        assert_eq!(slow.check(12).unwrap_err().field, "step_size");
        assert!(slow.check(30).is_ok());
        let reset = BankConfig { reset_every: 2, ..BankConfig::new(0.3) };
        assert_eq!(reset.check(12).unwrap_err().field, "steps");
        assert!(BankConfig { steps: 2, ..reset }.check(12).is_ok());
    }

    #[test]
    fn the_radius_ramps_like_fresh_training() {
        let bank = BankConfig { ramp_epochs: 2.0, ..BankConfig::new(0.3) };
        assert!((bank.epsilon_at(9, 10) - 0.15).abs() < 1e-12);
        assert_eq!(bank.epsilon_at(100, 10), 0.3);
    }
}
