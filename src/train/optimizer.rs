//! How parameters move: the optimizer and the learning-rate schedule a recipe names.

use std::f64::consts::PI;

use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};

use super::config::{OptimizerConfig, OptimizerKind, Schedule};

/// A fresh optimizer as `section` describes it. Weight decay is not the optimizer's business: the
/// paper's per-layer `λ/N · Σ w²` is part of the loss.
pub fn build(section: &OptimizerConfig) -> ModuleOptimizer {
    match section.kind {
        OptimizerKind::Sgd => {
            let momentum = (section.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(section.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(section.nesterov)
            });
            SgdConfig::new().with_momentum(momentum).init()
        }
        OptimizerKind::Adam => AdamConfig::new().init(),
    }
}

/// The learning rate of step `step` (0-based) of a run of `total` steps.
pub fn learning_rate(section: &OptimizerConfig, step: u64, total: u64) -> f64 {
    let peak = section.learning_rate;
    let last = peak * section.final_fraction;
    let total = total.max(1) as f64;
    let t = step as f64;
    let cosine = |progress: f64| last + (peak - last) * 0.5 * (1.0 + (PI * progress.clamp(0.0, 1.0)).cos());
    match section.schedule {
        Schedule::Constant => peak,
        Schedule::Cosine => cosine(t / total),
        Schedule::OneCycle => {
            let warm = (section.warmup * total).max(1.0);
            if t < warm {
                // From peak/25 up to the peak, as PyTorch's OneCycleLR starts.
                let start = peak / 25.0;
                start + (peak - start) * (t / warm)
            } else {
                cosine((t - warm) / (total - warm).max(1.0))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(schedule: Schedule) -> OptimizerConfig {
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            learning_rate: 1.0,
            momentum: 0.9,
            nesterov: true,
            schedule,
            warmup: 0.25,
            final_fraction: 0.0,
        }
    }

    #[test]
    fn schedules_have_their_shape() {
        let c = section(Schedule::Constant);
        assert_eq!(learning_rate(&c, 0, 100), 1.0);
        assert_eq!(learning_rate(&c, 99, 100), 1.0);
        let o = section(Schedule::OneCycle);
        assert!((learning_rate(&o, 0, 100) - 0.04).abs() < 1e-12);
        assert!((learning_rate(&o, 25, 100) - 1.0).abs() < 1e-12);
        assert!(learning_rate(&o, 99, 100) < 0.01);
        let rates: Vec<f64> = (25..100).map(|s| learning_rate(&o, s, 100)).collect();
        assert!(rates.windows(2).all(|w| w[1] <= w[0]));
        let cos = section(Schedule::Cosine);
        assert!((learning_rate(&cos, 50, 100) - 0.5).abs() < 1e-12);
    }
}
