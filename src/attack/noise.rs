//! The paper's baselines: Gaussian noise of a given standard deviation, and found perturbations
//! magnified to a given size (the lower part of Table 4). Both are clipped to the box.

use burn::prelude::*;
use burn::tensor::Distribution;

use super::surface::{Goal, Surface};
use super::{Adversarials, Error, positive};

/// `start` plus Gaussian noise of standard deviation `stddev`, clipped to the box.
pub fn gaussian(surface: &Surface, start: Tensor<2>, goal: &Goal, stddev: f64) -> Result<Adversarials, Error> {
    positive(stddev, "stddev")?;
    let noise = Tensor::<2>::random(start.dims(), Distribution::Normal(0.0, stddev), &start.device());
    let noisy = surface.bounds.project(start.clone() + noise);
    let batch = start.dims()[0];
    Ok(Adversarials::measure(surface, start, noisy, goal, Vec::new(), vec![0; batch]))
}

/// The perturbation `adversarial - start` of each example rescaled to a root-mean-square of
/// `stddev` (the paper's "magnified to stddev 0.1"), added back to `start` and clipped to the box.
pub fn magnify(
    surface: &Surface,
    start: Tensor<2>,
    adversarial: Tensor<2>,
    goal: &Goal,
    stddev: f64,
) -> Result<Adversarials, Error> {
    positive(stddev, "stddev")?;
    let r = adversarial - start.clone();
    let rms = r.clone().square().mean_dim(1).sqrt().clamp_min(1e-12);
    let magnified = surface.bounds.project(start.clone() + r * rms.recip().mul_scalar(stddev));
    let batch = start.dims()[0];
    Ok(Adversarials::measure(surface, start, magnified, goal, Vec::new(), vec![0; batch]))
}
