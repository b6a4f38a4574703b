//! Auto-PGD (Croce & Hein, ICML 2020): PGD without a step size to tune. The step starts at 2ε and
//! is halved, per example, at checkpoints where the loss has stopped rising; a halving restarts the
//! example from its best point so far; steps carry momentum 0.75. APGD-CE ascends the
//! cross-entropy, APGD-T the targeted DLR loss (scale-free, so logits that are merely large do not
//! hide a weak gradient). Success is measured on every iterate: an example counts as broken as soon
//! as one point in the ball is misclassified.

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::gradient::Norm;
use super::surface::{Goal, Surface};
use super::{Adversarials, Error, positive};
use crate::config::{Invalid, at_least_one, ensure};

/// The loss APGD ascends.
#[derive(Debug, Clone)]
pub enum ApgdLoss {
    /// Cross-entropy with the true label (APGD-CE).
    CrossEntropy,
    /// The targeted DLR loss `-(z_y - z_t) / (z_π1 - (z_π3 + z_π4) / 2)` towards `targets`
    /// `[batch]` (APGD-T; needs at least four classes).
    TargetedDlr(Tensor<1, Int>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApgdConfig {
    pub norm: Norm,
    /// Radius of the ball around the start (per coordinate for L∞, Euclidean for L2).
    pub epsilon: f64,
    /// Iterations (AutoAttack's standard: 100).
    pub iterations: usize,
    /// A checkpoint halves the step where fewer than this share of its steps raised the loss.
    pub rho: f64,
}

impl ApgdConfig {
    /// AutoAttack's standard setting: 100 iterations, ρ = 0.75.
    pub fn new(norm: Norm, epsilon: f64) -> ApgdConfig {
        ApgdConfig { norm, epsilon, iterations: 100, rho: 0.75 }
    }

    pub fn check(&self) -> Result<(), Invalid> {
        positive(self.epsilon, "epsilon")?;
        at_least_one(self.iterations, "iterations")?;
        ensure(self.rho > 0.0 && self.rho < 1.0, "rho", || format!("{} is not a share in (0, 1)", self.rho))
    }
}

/// The iterations after which the step size is checked: the first after 22% of the iterations,
/// then each interval 3% shorter than the last, but at least 6% (the paper's p_j schedule).
pub fn checkpoints(iterations: usize) -> Vec<usize> {
    let (first, shrink, least) = (share(0.22, iterations), share(0.03, iterations), share(0.06, iterations));
    let (mut at, mut interval, mut all) = (0, first, Vec::new());
    while at + interval <= iterations {
        at += interval;
        all.push(at);
        interval = interval.saturating_sub(shrink).max(least);
    }
    all
}

fn share(p: f64, n: usize) -> usize {
    ((p * n as f64) as usize).max(1)
}

impl ApgdLoss {
    /// Per-example loss `[batch]` to maximise, for true labels `labels`.
    pub fn per_example(&self, logits: Tensor<2>, labels: &Tensor<1, Int>) -> Tensor<1> {
        let [batch, _] = logits.dims();
        let label =
            |t: &Tensor<1, Int>, z: &Tensor<2>| z.clone().gather(1, t.clone().reshape([batch, 1])).reshape([batch]);
        match self {
            ApgdLoss::CrossEntropy => label(labels, &log_softmax(logits, 1)).neg(),
            ApgdLoss::TargetedDlr(targets) => {
                let sorted = logits.clone().sort_descending(1);
                let column = |k: usize| sorted.clone().narrow(1, k, 1).reshape([batch]);
                let scale = column(0) - (column(2) + column(3)).mul_scalar(0.5) + 1e-12;
                (label(labels, &logits) - label(targets, &logits)).neg() / scale
            }
        }
    }
}

/// Auto-PGD from `start` (`[batch, width]` activations of the surface's layer) against the true
/// `labels`: returns, per example, a misclassified point of the ball if any iterate was one (else
/// the point of highest loss), measured by the model.
pub fn apgd(
    surface: &Surface,
    start: Tensor<2>,
    labels: &Tensor<1, Int>,
    kind: &ApgdLoss,
    config: &ApgdConfig,
) -> Result<Adversarials, Error> {
    config.check()?;
    let [batch, width] = start.dims();
    let device = start.device();
    let eps = config.epsilon;
    let rows = |mask: Tensor<1, Bool>| mask.reshape([batch, 1]).expand([batch, width]);
    let norm = |d: Tensor<2>| -> Tensor<2> {
        match config.norm {
            Norm::Linf => d.abs().max_dim(1),
            Norm::L2 => d.square().sum_dim(1).sqrt(),
        }
        .add_scalar(1e-12)
    };
    let project = |z: Tensor<2>| -> Tensor<2> {
        let r = z - start.clone();
        let r = match config.norm {
            Norm::Linf => r.clamp(-eps, eps),
            Norm::L2 => r.clone() * norm(r).recip().mul_scalar(eps).clamp_max(1.0),
        };
        surface.bounds.project(start.clone() + r)
    };
    let direction = |g: Tensor<2>| match config.norm {
        Norm::Linf => g.sign(),
        Norm::L2 => g.clone() / norm(g),
    };
    let evaluate = |z: Tensor<2>| surface.value_grad_logits(z, |_, logits| kind.per_example(logits, labels));
    let wrong = |logits: Tensor<2>| logits.argmax(1).reshape([batch]).not_equal(labels.clone());

    // A random start on the ball's surface (in the box).
    let t = match config.norm {
        Norm::Linf => Tensor::<2>::random([batch, width], Distribution::Uniform(-1.0, 1.0), &device),
        Norm::L2 => Tensor::<2>::random([batch, width], Distribution::Normal(0.0, 1.0), &device),
    };
    let mut x = surface.bounds.project(start.clone() + t.clone().div(norm(t)).mul_scalar(eps));
    let (mut value, mut grad, logits) = evaluate(x.clone());
    let mut broken = wrong(logits);
    let mut adversarial = x.clone();
    let (mut best, mut best_grad, mut best_value) = (x.clone(), grad.clone(), value.clone());
    let mut step = Tensor::<2>::full([batch, 1], 2.0 * eps, &device);
    let mut previous = x.clone();
    let checks = checkpoints(config.iterations);
    let (mut last_check, mut rises) = (0, Tensor::<1>::zeros([batch], &device));
    let mut best_at_last_check = best_value.clone();
    let mut halved_at_last_check = Tensor::<1, Bool>::full([batch], true, &device);
    for i in 0..config.iterations {
        let momentum = if i == 0 { 1.0 } else { 0.75 };
        let moved = x.clone() - previous;
        previous = x.clone();
        let ascent = project(x.clone() + step.clone() * direction(grad));
        x = project(x.clone() + (ascent - x.clone()).mul_scalar(momentum) + moved.mul_scalar(1.0 - momentum));
        let (new_value, new_grad, logits) = evaluate(x.clone());
        grad = new_grad;
        let now_wrong = wrong(logits);
        adversarial = adversarial.mask_where(rows(now_wrong.clone()), x.clone());
        broken = broken.bool_or(now_wrong);
        rises = rises + new_value.clone().greater(value).float();
        value = new_value;
        let improved = value.clone().greater(best_value.clone());
        best = best.mask_where(rows(improved.clone()), x.clone());
        best_grad = best_grad.mask_where(rows(improved.clone()), grad.clone());
        best_value = best_value.mask_where(improved, value.clone());
        if checks.contains(&(i + 1)) {
            let interval = (i + 1 - last_check) as f64;
            let oscillating = rises.clone().lower_equal_elem(config.rho * interval);
            let stalled =
                halved_at_last_check.bool_not().bool_and(best_at_last_check.greater_equal(best_value.clone()));
            let halve = oscillating.bool_or(stalled);
            step = step.clone().mask_where(halve.clone().reshape([batch, 1]), step.mul_scalar(0.5));
            x = x.mask_where(rows(halve.clone()), best.clone());
            grad = grad.mask_where(rows(halve.clone()), best_grad.clone());
            (halved_at_last_check, best_at_last_check) = (halve, best_value.clone());
            (last_check, rises) = (i + 1, Tensor::zeros([batch], &device));
        }
    }
    // Examples never broken keep their point of highest loss.
    let adversarial = best.mask_where(rows(broken), adversarial);
    let goal = Goal { labels: labels.clone(), targets: None };
    Ok(Adversarials::measure(surface, start, adversarial, &goal, Vec::new(), vec![config.iterations; batch]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_the_papers_schedule() {
        assert_eq!(checkpoints(100), vec![22, 41, 57, 70, 80, 87, 93, 99]);
        assert_eq!(checkpoints(10), (2..=10).collect::<Vec<_>>());
        assert_eq!(checkpoints(1), vec![1]);
    }
}
