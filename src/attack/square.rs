//! The Square attack (Andriushchenko et al., ECCV 2020), L∞: a score-based random search that needs
//! no gradient, so it is the ensemble's check against gradient masking. It starts from vertical
//! stripes of ±ε and, at each query, changes one random square window (the same window and
//! per-channel signs for the whole batch, as the reference does) to ±ε, keeping the change where it
//! lowers the margin `z_y - max_{i≠y} z_i`; the window shrinks on a fixed schedule. An example stops
//! being queried once misclassified.

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::Adversarials;
use super::surface::{Goal, Surface};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SquareConfig {
    /// L∞ radius.
    pub epsilon: f64,
    /// Queries per example (AutoAttack: 5,000).
    pub queries: usize,
    /// The first window's share of the image's area (AutoAttack: 0.8).
    pub p_init: f64,
    pub seed: u64,
}

impl SquareConfig {
    /// AutoAttack's setting at radius `epsilon`: 5,000 queries, p_init = 0.8.
    pub fn new(epsilon: f64) -> SquareConfig {
        SquareConfig { epsilon, queries: 5000, p_init: 0.8, seed: 0 }
    }
}

/// The window's share of the image's area at query `i` of `queries` (the paper's schedule for
/// 10,000 queries, rescaled).
fn window_share(p_init: f64, i: usize, queries: usize) -> f64 {
    let i = i * 10_000 / queries.max(1);
    let halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].iter().filter(|&&at| i > at).count();
    p_init / f64::from(1u32 << halvings)
}

/// The margin of the true label over the best other one `[batch]` (negative: misclassified).
fn margin(surface: &Surface, z: Tensor<2>, labels: &Tensor<1, Int>) -> Tensor<1> {
    let logits = surface.logits(z);
    let [batch, classes] = logits.dims();
    let correct = logits.clone().gather(1, labels.clone().reshape([batch, 1]));
    let others = logits.mask_fill(labels.clone().one_hot::<2>(classes).bool(), f32::NEG_INFINITY).max_dim(1);
    (correct - others).reshape([batch])
}

/// Square from the input images `x` (`[batch, C·H·W]`, layer 0 of `surface`, images of `shape`
/// `[C, H, W]`) against `labels`.
pub fn square(
    surface: &Surface,
    x: Tensor<2>,
    labels: &Tensor<1, Int>,
    shape: [usize; 3],
    config: &SquareConfig,
) -> Adversarials {
    let [batch, width] = x.dims();
    let [c, h, w] = shape;
    assert_eq!(c * h * w, width, "images of shape {shape:?} are {} values", c * h * w);
    let (device, eps) = (x.device(), config.epsilon);
    let mut rng = StdRng::seed_from_u64(config.seed);
    let sign = |rng: &mut StdRng| if rng.random::<bool>() { 1.0f32 } else { -1.0 };
    // Vertical stripes: one sign per example, channel and column.
    let mut stripes = vec![0f32; batch * width];
    for (row, channel, column) in
        (0..batch).flat_map(|b| (0..c).flat_map(move |ch| (0..w).map(move |col| (b, ch, col))))
    {
        let s = eps as f32 * sign(&mut rng);
        for y in 0..h {
            stripes[row * width + channel * h * w + y * w + column] = s;
        }
    }
    let stripes = Tensor::<2>::from_data(TensorData::new(stripes, [batch, width]), &device);
    let (mut lo, mut hi) = ((x.clone() - eps).clamp_min(surface.bounds.lo), x.clone() + eps);
    if surface.bounds.hi.is_finite() {
        hi = hi.clamp_max(surface.bounds.hi);
    }
    let mut best = (x.clone() + stripes).max_pair(lo.clone()).min_pair(hi.clone());
    let mut labels_left = labels.clone();
    let mut best_margin = margin(surface, best.clone(), &labels_left);
    let mut left: Vec<usize> = (0..batch).collect();
    let mut found = vec![0f32; batch * width];
    let mut queries = vec![1usize; batch];
    for i in 0..=config.queries {
        // Examples misclassified now are done: keep their points and stop querying them.
        let broken: Vec<bool> = best_margin.clone().lower_equal_elem(0.0).into_data().iter::<bool>().collect();
        if broken.iter().any(|&b| b) || i == config.queries {
            let rows: Vec<f32> = best.clone().into_data().iter::<f32>().collect();
            for (k, &example) in left.iter().enumerate().filter(|(k, _)| broken[*k] || i == config.queries) {
                found[example * width..(example + 1) * width].copy_from_slice(&rows[k * width..(k + 1) * width]);
            }
            let keep: Vec<usize> = (0..left.len()).filter(|&k| !broken[k]).collect();
            if keep.is_empty() || i == config.queries {
                break;
            }
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(keep.iter().map(|&k| k as i64).collect::<Vec<_>>(), [keep.len()]),
                &device,
            );
            (best, lo, hi) = (best.select(0, index.clone()), lo.select(0, index.clone()), hi.select(0, index.clone()));
            (labels_left, best_margin) = (labels_left.select(0, index.clone()), best_margin.select(0, index));
            left = keep.iter().map(|&k| left[k]).collect();
        }
        let side = ((window_share(config.p_init, i, config.queries) * (h * w) as f64).sqrt().round() as usize)
            .clamp(1, h.min(w));
        let (top, start) = (rng.random_range(0..=h - side), rng.random_range(0..=w - side));
        let mut window = vec![0f32; width];
        for channel in 0..c {
            let s = 2.0 * eps as f32 * sign(&mut rng);
            for y in top..top + side {
                window[channel * h * w + y * w + start..channel * h * w + y * w + start + side].fill(s);
            }
        }
        let window = Tensor::<2>::from_data(TensorData::new(window, [1, width]), &device);
        let candidate = (best.clone() + window).max_pair(lo.clone()).min_pair(hi.clone());
        let candidate_margin = margin(surface, candidate.clone(), &labels_left);
        let better = candidate_margin.clone().lower(best_margin.clone());
        let n = left.len();
        best = best.mask_where(better.clone().reshape([n, 1]).expand([n, width]), candidate);
        best_margin = best_margin.mask_where(better, candidate_margin);
        for &example in &left {
            queries[example] += 1;
        }
    }
    let adversarial = Tensor::<2>::from_data(TensorData::new(found, [batch, width]), &device);
    let goal = Goal { labels: labels.clone(), targets: None };
    Adversarials::measure(surface, x, adversarial, &goal, Vec::new(), queries)
}

#[cfg(test)]
mod tests {
    use super::window_share;

    #[test]
    fn the_window_shrinks_on_the_papers_schedule() {
        let at = |i| window_share(0.8, i, 10_000);
        assert_eq!((at(0), at(10), at(11), at(50), at(51), at(9000)), (0.8, 0.8, 0.4, 0.4, 0.2, 0.8 / 512.0));
        assert_eq!(window_share(0.8, 2500, 5000), 0.8 / 128.0, "rescaled to the queries given");
    }
}
