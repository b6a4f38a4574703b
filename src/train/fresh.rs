//! Fresh adversarial examples, made from the current weights inside every training step: Madry et
//! al. (2018)'s PGD adversarial training and Wong et al. (2020)'s fast FGSM from a random start.
//! The standard way to train for a threat model, beside the paper's pools of examples that
//! attacker threads made from older weights; with TRADES' loss (Zhang et al. 2019) as an option. Owned here, checked when a trainer is built, read
//! from a recipe's `[fresh]` section.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use burn::tensor::Distribution;

use super::step::Trades;
use crate::attack::{Goal, PgdConfig, Surface, descend, pgd_points};
use crate::config::{Invalid, at_least_one, ensure};
use crate::data::Batch;
use crate::model::{Layered, kl_divergence};

/// How the fresh examples are made (L∞, in the input's units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreshMethod {
    /// `steps` steps of projected gradient ascent on the cross-entropy from a random start in the
    /// ε-ball (Madry et al.); step 2.5·ε/steps unless `step_size` says otherwise.
    Pgd,
    /// One signed-gradient step of 1.25·ε (or `step_size`) from a random start, projected back
    /// onto the ε-ball (Wong et al.'s "fast is better than free").
    FgsmRs,
}

/// What the step learns from the fresh examples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FreshLoss {
    /// The examples replace their clean versions in the batch's cross-entropy (Madry et al.).
    #[default]
    CrossEntropy,
    /// The clean batch's cross-entropy plus β · KL(p(x) ‖ p(x')), the examples x' made by
    /// maximizing that KL from a start 0.001·N(0, 1) away (Zhang et al. 2019's TRADES).
    Trades,
}

/// Adversarial training with examples made fresh in every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreshConfig {
    pub method: FreshMethod,
    /// The L∞ radius the examples are made in (pixels in [0, 1]).
    pub epsilon: f64,
    /// PGD's steps (10 when absent); FGSM takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<usize>,
    /// The step length (default: PGD 2.5·ε/steps, FGSM 1.25·ε).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size: Option<f64>,
    /// Share of each batch's examples replaced by their adversarial versions (1: all, Madry's way).
    #[serde(default = "defaults::ratio")]
    pub ratio: f64,
    /// Epochs over which ε grows linearly from 0 to `epsilon`, step by step (0: full ε at once).
    #[serde(default)]
    pub ramp_epochs: f64,
    #[serde(default)]
    pub loss: FreshLoss,
    /// TRADES' β, the weight of the KL term (6 when absent, the paper's MNIST choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
}

/// TRADES' β when a config names none.
pub const DEFAULT_BETA: f64 = 6.0;

mod defaults {
    pub fn ratio() -> f64 {
        1.0
    }
}

/// PGD's steps when a config names none.
pub const DEFAULT_PGD_STEPS: usize = 10;

impl FreshConfig {
    /// `method` at radius `epsilon`, every example replaced, no ramp.
    pub fn new(method: FreshMethod, epsilon: f64) -> FreshConfig {
        FreshConfig {
            method,
            epsilon,
            steps: None,
            step_size: None,
            ratio: 1.0,
            ramp_epochs: 0.0,
            loss: FreshLoss::CrossEntropy,
            beta: None,
        }
    }

    /// Checks every field that does not depend on the run (the trainer checks the ramp against
    /// its epochs).
    pub fn check(&self) -> Result<(), Invalid> {
        crate::config::pixel_radius(self.epsilon, "epsilon")?;
        match (self.method, self.steps) {
            (FreshMethod::Pgd, Some(steps)) => at_least_one(steps, "steps")?,
            (FreshMethod::FgsmRs, Some(_)) => {
                return Err(Invalid {
                    field: "steps",
                    message: "fgsm-rs takes one step: drop steps or use pgd".into(),
                });
            }
            _ => {}
        }
        if let Some(size) = self.step_size {
            ensure(size.is_finite() && size > 0.0, "step_size", || format!("{size} is not a positive step"))?;
        }
        ensure(self.ratio > 0.0 && self.ratio <= 1.0, "ratio", || format!("{} is not a share in (0, 1]", self.ratio))?;
        ensure(self.ramp_epochs.is_finite() && self.ramp_epochs >= 0.0, "ramp_epochs", || {
            format!("{} is not a number of epochs", self.ramp_epochs)
        })?;
        match (self.loss, self.beta) {
            (FreshLoss::CrossEntropy, Some(_)) => {
                Err(Invalid { field: "beta", message: "beta weighs TRADES' term: it needs loss = \"trades\"".into() })
            }
            (FreshLoss::Trades, _) if self.ratio < 1.0 => Err(Invalid {
                field: "ratio",
                message: format!("{} < 1: TRADES keeps every clean example and adds its KL term", self.ratio),
            }),
            (FreshLoss::Trades, Some(beta)) if !(beta.is_finite() && beta > 0.0) => {
                Err(Invalid { field: "beta", message: format!("{beta} is not a positive weight") })
            }
            _ => Ok(()),
        }
    }

    /// The attack at radius `epsilon`.
    fn attack(&self, epsilon: f64) -> PgdConfig {
        let (steps, step_size) = match self.method {
            FreshMethod::Pgd => {
                let steps = self.steps.unwrap_or(DEFAULT_PGD_STEPS);
                (steps, self.step_size.map_or(2.5 * epsilon / steps as f64, |s| s * epsilon / self.epsilon))
            }
            FreshMethod::FgsmRs => (1, self.step_size.map_or(1.25 * epsilon, |s| s * epsilon / self.epsilon)),
        };
        PgdConfig { step_size, steps, ..PgdConfig::linf(epsilon, steps) }
    }

    /// The radius after `step` of a run with `steps_per_epoch` steps an epoch.
    pub fn epsilon_at(&self, step: u64, steps_per_epoch: usize) -> f64 {
        crate::config::ramped(self.epsilon, self.ramp_epochs, step, steps_per_epoch)
    }

    /// What a step trains on: `batch` with its first `ratio` share of examples replaced by
    /// adversarial versions (cross-entropy), or the clean batch and TRADES' term for it, the
    /// examples made at radius `epsilon` from `model` (an inference copy: `model.valid()`) on the
    /// batch's device. Nothing is read back from the device. Fails only for a model without layers.
    pub fn apply(
        &self,
        model: &dyn Layered,
        batch: Batch,
        epsilon: f64,
    ) -> Result<(Batch, Option<Trades>), crate::attack::Error> {
        let surface = Surface::new(model, 0)?;
        let attack = self.attack(epsilon);
        if self.loss == FreshLoss::Trades {
            let x = batch.inputs.clone();
            let clean = surface.logits(x.clone());
            let noise = Tensor::<2>::random(x.dims(), Distribution::Normal(0.0, 0.001), &x.device());
            let start = surface.bounds.project(x.clone() + noise);
            // Maximize KL(p(x) ‖ p(x')): descend on its negative.
            let adversarial =
                descend(&surface, x, start, &attack, |logits| kl_divergence(clean.clone().autodiff(), logits).neg());
            let beta = self.beta.unwrap_or(DEFAULT_BETA);
            return Ok((batch, Some(Trades { adversarial, beta })));
        }
        let n = batch.len();
        let k = ((self.ratio * n as f64).round() as usize).clamp(1, n);
        let labels = batch.labels.clone().narrow(0, 0, k);
        let start = batch.inputs.clone().narrow(0, 0, k);
        let adversarial = pgd_points(&surface, start, &Goal { labels, targets: None }, &attack)?;
        let inputs =
            if k == n { adversarial } else { Tensor::cat(vec![adversarial, batch.inputs.narrow(0, k, n - k)], 0) };
        Ok((Batch { inputs, labels: batch.labels }, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epsilon_ramps_linearly_over_its_epochs_then_stays() {
        let config = FreshConfig { ramp_epochs: 2.0, ..FreshConfig::new(FreshMethod::Pgd, 0.3) };
        let at = |step| config.epsilon_at(step, 10);
        assert!((at(0) - 0.015).abs() < 1e-12 && (at(9) - 0.15).abs() < 1e-12 && (at(19) - 0.3).abs() < 1e-12);
        assert_eq!(at(500), 0.3);
        assert_eq!(FreshConfig::new(FreshMethod::Pgd, 0.3).epsilon_at(0, 10), 0.3);
    }

    #[test]
    fn the_step_rules_are_madrys_and_wongs() {
        let pgd = FreshConfig { steps: Some(5), ..FreshConfig::new(FreshMethod::Pgd, 0.3) }.attack(0.3);
        assert_eq!((pgd.steps, pgd.random_start), (5, true));
        assert!((pgd.step_size - 0.15).abs() < 1e-12);
        let fgsm = FreshConfig::new(FreshMethod::FgsmRs, 0.3).attack(0.15);
        assert_eq!(fgsm.steps, 1);
        assert!((fgsm.step_size - 0.1875).abs() < 1e-12 && (fgsm.epsilon - 0.15).abs() < 1e-12);
    }
}
