//! Fast gradient attacks: FGSM (one signed-gradient step) and PGD (projected gradient descent in an
//! L∞ or L2 ball, optionally from a random start), on any layer's activations.

use burn::prelude::*;
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use super::surface::{Goal, Surface};
use super::{Adversarials, Error, positive};
use crate::config::{Invalid, at_least_one};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    Linf,
    L2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PgdConfig {
    pub norm: Norm,
    /// Radius of the ball around the start (per coordinate for L∞, Euclidean for L2).
    pub epsilon: f64,
    pub step_size: f64,
    pub steps: usize,
    pub random_start: bool,
}

impl Default for PgdConfig {
    fn default() -> Self {
        PgdConfig { norm: Norm::Linf, epsilon: 0.1, step_size: 0.01, steps: 40, random_start: true }
    }
}

impl PgdConfig {
    /// Madry et al.'s L∞ PGD: `steps` steps of 2.5·ε/steps from a random start in the ε-ball
    /// (at least one step). The one step rule of pools, `attack --method pgd`, `compare` and
    /// `plot robustness`.
    pub fn linf(epsilon: f64, steps: usize) -> PgdConfig {
        let steps = steps.max(1);
        PgdConfig { norm: Norm::Linf, epsilon, step_size: 2.5 * epsilon / steps as f64, steps, random_start: true }
    }

    /// The radius and the step positive and finite, at least one step.
    pub fn check(&self) -> Result<(), Invalid> {
        positive(self.epsilon, "epsilon")?;
        positive(self.step_size, "step_size")?;
        at_least_one(self.steps, "steps")
    }
}

/// The fast gradient sign method: one step of `epsilon` along the sign of the goal's gradient.
pub fn fgsm(surface: &Surface, start: Tensor<2>, goal: &Goal, epsilon: f64) -> Result<Adversarials, Error> {
    pgd(
        surface,
        start,
        goal,
        &PgdConfig { norm: Norm::Linf, epsilon, step_size: epsilon, steps: 1, random_start: false },
    )
}

/// Projected gradient descent on the goal's loss inside the `epsilon`-ball and the surface's box.
pub fn pgd(surface: &Surface, start: Tensor<2>, goal: &Goal, config: &PgdConfig) -> Result<Adversarials, Error> {
    let z = pgd_points(surface, start.clone(), goal, config)?;
    let batch = start.dims()[0];
    Ok(Adversarials::measure(surface, start, z, goal, Vec::new(), vec![config.steps; batch]))
}

/// [`pgd`]'s points alone, unmeasured: nothing is read back from the device (what adversarial
/// training takes inside its steps).
pub fn pgd_points(surface: &Surface, start: Tensor<2>, goal: &Goal, config: &PgdConfig) -> Result<Tensor<2>, Error> {
    config.check()?;
    let [batch, width] = start.dims();
    let eps = config.epsilon;
    let mut z = start.clone();
    if config.random_start {
        let noise = match config.norm {
            Norm::Linf => Tensor::<2>::random([batch, width], Distribution::Uniform(-eps, eps), &start.device()),
            Norm::L2 => {
                let d = Tensor::<2>::random([batch, width], Distribution::Normal(0.0, 1.0), &start.device());
                let radius =
                    Tensor::<2>::random([batch, 1], Distribution::Uniform(0.0, 1.0), &start.device()).mul_scalar(eps);
                d.clone() / d.square().sum_dim(1).sqrt().clamp_min(1e-12) * radius
            }
        };
        z = project(surface, &start, z + noise, config);
    }
    Ok(descend(surface, start, z, config, |logits| goal.loss(logits)))
}

/// `config.steps` gradient steps from `z` that lower `objective` (per example `[batch]`, of the
/// logits), signed for L∞ and normalized for L2, each projected onto the ball of radius
/// `config.epsilon` around `center` and the surface's box.
pub fn descend(
    surface: &Surface,
    center: Tensor<2>,
    mut z: Tensor<2>,
    config: &PgdConfig,
    objective: impl Fn(Tensor<2>) -> Tensor<1>,
) -> Tensor<2> {
    for _ in 0..config.steps {
        z = descent_step(surface, &center, z, config, &objective).0;
    }
    z
}

/// One of [`descend`]'s steps from `z`, and the logits at `z` (before the step), which its
/// gradient computed anyway.
pub fn descent_step(
    surface: &Surface,
    center: &Tensor<2>,
    z: Tensor<2>,
    config: &PgdConfig,
    objective: impl Fn(Tensor<2>) -> Tensor<1>,
) -> (Tensor<2>, Tensor<2>) {
    let (_, grad, logits) = surface.value_grad_logits(z.clone(), |_, logits| objective(logits));
    let step = match config.norm {
        Norm::Linf => grad.sign(),
        Norm::L2 => grad.clone() / grad.square().sum_dim(1).sqrt().clamp_min(1e-12),
    };
    (project(surface, center, z - step.mul_scalar(config.step_size), config), logits)
}

/// `z` moved into the ball of radius `config.epsilon` around `center`, then into the surface's box.
pub fn project(surface: &Surface, center: &Tensor<2>, z: Tensor<2>, config: &PgdConfig) -> Tensor<2> {
    let (eps, r) = (config.epsilon, z - center.clone());
    let r = match config.norm {
        Norm::Linf => r.clamp(-eps, eps),
        Norm::L2 => {
            let norm = r.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
            r.clone() * (norm.recip().mul_scalar(eps)).clamp_max(1.0)
        }
    };
    surface.bounds.project(center.clone() + r)
}
