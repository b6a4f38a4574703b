//! The Square attack (Andriushchenko et al., ECCV 2020), L∞ and L2: a score-based random search
//! that needs no gradient, so it is the ensemble's check against gradient masking. Each query
//! changes the perturbation inside one random square window (the same window for the whole batch,
//! as AutoAttack's implementation does) and keeps the change for the examples where it lowers the
//! margin `z_y - max_{i≠y} z_i`; the window shrinks on a fixed schedule. An example stops being
//! queried once misclassified.
//!
//! - L∞ starts from vertical stripes of ±ε and sets the window to ±ε per channel.
//! - L2 starts from a grid of 5×5 blocks, each a pair of concentric-square bumps of opposite sign,
//!   scaled to norm ε; a query moves the perturbation's mass from a second window into the first,
//!   where it adds such a bump to what was there, and rescales the whole to norm ε.

use burn::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::gradient::Norm;
use super::surface::{Goal, Surface};
use super::{Adversarials, Error, positive};
use crate::config::{Invalid, at_least_one, ensure};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SquareConfig {
    pub norm: Norm,
    /// The radius (per coordinate for L∞, Euclidean for L2).
    pub epsilon: f64,
    /// Queries per example (AutoAttack: 5,000).
    pub queries: usize,
    /// The first window's share of the image's area (AutoAttack: 0.8).
    pub p_init: f64,
    pub seed: u64,
}

impl SquareConfig {
    /// AutoAttack's setting at radius `epsilon`: 5,000 queries, p_init = 0.8.
    pub fn new(norm: Norm, epsilon: f64) -> SquareConfig {
        SquareConfig { norm, epsilon, queries: 5000, p_init: 0.8, seed: 0 }
    }

    pub fn check(&self) -> Result<(), Invalid> {
        positive(self.epsilon, "epsilon")?;
        at_least_one(self.queries, "queries")?;
        ensure(self.p_init > 0.0 && self.p_init <= 1.0, "p_init", || {
            format!("{} is not a share in (0, 1]", self.p_init)
        })
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

/// `z` clamped into the surface's box.
fn into_box(surface: &Surface, z: Tensor<2>) -> Tensor<2> {
    let z = z.clamp_min(surface.bounds.lo);
    if surface.bounds.hi.is_finite() { z.clamp_max(surface.bounds.hi) } else { z }
}

/// Square from the input images `x` (`[batch, C·H·W]`, layer 0 of `surface`, images of `shape`
/// `[C, H, W]`) against `labels`.
pub fn square(
    surface: &Surface,
    x: Tensor<2>,
    labels: &Tensor<1, Int>,
    shape: [usize; 3],
    config: &SquareConfig,
) -> Result<Adversarials, Error> {
    config.check()?;
    let [_, width] = x.dims();
    if shape.iter().product::<usize>() != width {
        return Err(Error::Shape { shape, width });
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let side = |i: usize, least: usize| {
        let side = (window_share(config.p_init, i, config.queries) * (shape[1] * shape[2]) as f64).sqrt().round();
        (side as usize).max(least).min(shape[1].min(shape[2]))
    };
    Ok(match config.norm {
        Norm::Linf => {
            let start =
                into_box(surface, x.clone() + stripes(x.dims()[0], shape, config.epsilon, &mut rng, &x.device()));
            // The ball ∩ box of the rows queried, made again when broken rows are dropped.
            let mut ball: Option<(usize, Tensor<2>, Tensor<2>)> = None;
            let eps = config.epsilon;
            search(surface, x, labels, start, config.queries, |i, x, best| {
                let n = x.dims()[0];
                if ball.as_ref().is_none_or(|(rows, _, _)| *rows != n) {
                    ball = Some((n, into_box(surface, x.clone() - eps), into_box(surface, x.clone() + eps)));
                }
                let (_, lo, hi) = ball.as_ref().expect("made above");
                let window = linf_window(shape, side(i, 1), eps, &mut rng, &x.device());
                (best.clone() + window).max_pair(lo.clone()).min_pair(hi.clone())
            })
        }
        Norm::L2 => {
            let start =
                l2_point(surface, x.clone(), l2_start(x.dims()[0], shape, &mut rng, &x.device()), config.epsilon);
            search(surface, x, labels, start, config.queries, |i, x, best| {
                // The paper's windows have odd sides of at least 3 (a bump and its negative).
                let s = side(i, 3);
                let s = if s % 2 == 0 && s < shape[1].min(shape[2]) { s + 1 } else { s };
                let delta = l2_move(best.clone() - x.clone(), shape, s, config.epsilon, &mut rng);
                l2_point(surface, x.clone(), delta, config.epsilon)
            })
        }
    })
}

/// The random search from `start`: `propose(i, x, best)` makes query `i`'s candidates for the
/// examples not yet broken (their images `x` and best points `best`).
fn search(
    surface: &Surface,
    x: Tensor<2>,
    labels: &Tensor<1, Int>,
    start: Tensor<2>,
    queries: usize,
    mut propose: impl FnMut(usize, &Tensor<2>, &Tensor<2>) -> Tensor<2>,
) -> Adversarials {
    let [batch, width] = x.dims();
    let device = x.device();
    let (mut x_left, mut best, mut labels_left) = (x.clone(), start, labels.clone());
    let mut best_margin = margin(surface, best.clone(), &labels_left);
    let mut left: Vec<usize> = (0..batch).collect();
    let mut found = vec![0f32; batch * width];
    let mut asked = vec![1usize; batch];
    for i in 0..=queries {
        // Examples misclassified now are done: keep their points and stop querying them.
        let broken: Vec<bool> = best_margin.clone().lower_equal_elem(0.0).into_data().iter::<bool>().collect();
        if broken.iter().any(|&b| b) || i == queries {
            let rows: Vec<f32> = best.clone().into_data().iter::<f32>().collect();
            for (k, &example) in left.iter().enumerate().filter(|(k, _)| broken[*k] || i == queries) {
                found[example * width..(example + 1) * width].copy_from_slice(&rows[k * width..(k + 1) * width]);
            }
            let keep: Vec<usize> = (0..left.len()).filter(|&k| !broken[k]).collect();
            if keep.is_empty() || i == queries {
                break;
            }
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(keep.iter().map(|&k| k as i64).collect::<Vec<_>>(), [keep.len()]),
                &device,
            );
            (x_left, best) = (x_left.select(0, index.clone()), best.select(0, index.clone()));
            (labels_left, best_margin) = (labels_left.select(0, index.clone()), best_margin.select(0, index));
            left = keep.iter().map(|&k| left[k]).collect();
        }
        let candidate = propose(i, &x_left, &best);
        let candidate_margin = margin(surface, candidate.clone(), &labels_left);
        let better = candidate_margin.clone().lower(best_margin.clone());
        let n = left.len();
        best = best.mask_where(better.clone().reshape([n, 1]).expand([n, width]), candidate);
        best_margin = best_margin.mask_where(better, candidate_margin);
        for &example in &left {
            asked[example] += 1;
        }
    }
    let adversarial = Tensor::<2>::from_data(TensorData::new(found, [batch, width]), &device);
    let goal = Goal { labels: labels.clone(), targets: None };
    Adversarials::measure(surface, x, adversarial, &goal, Vec::new(), asked)
}

fn sign(rng: &mut StdRng) -> f32 {
    if rng.random::<bool>() { 1.0 } else { -1.0 }
}

/// L∞'s start `[batch, C·H·W]`: vertical stripes of ±`eps`, one sign per example, channel and
/// column.
fn stripes(batch: usize, [c, h, w]: [usize; 3], eps: f64, rng: &mut StdRng, device: &Device) -> Tensor<2> {
    let mut values = vec![0f32; batch * c * h * w];
    for image in values.chunks_mut(c * h * w) {
        for plane in image.chunks_mut(h * w) {
            let signs: Vec<f32> = (0..w).map(|_| eps as f32 * sign(rng)).collect();
            for row in plane.chunks_mut(w) {
                row.copy_from_slice(&signs);
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [batch, c * h * w]), device)
}

/// An L∞ query's change `[1, C·H·W]`: ±2·`eps` per channel inside a random `side`-square window
/// (the ball's projection then sets the window to ±`eps`).
fn linf_window([c, h, w]: [usize; 3], side: usize, eps: f64, rng: &mut StdRng, device: &Device) -> Tensor<2> {
    let (top, left) = (rng.random_range(0..=h - side), rng.random_range(0..=w - side));
    let mut window = vec![0f32; c * h * w];
    for plane in window.chunks_mut(h * w) {
        let s = 2.0 * eps as f32 * sign(rng);
        for row in plane.chunks_mut(w).skip(top).take(side) {
            row[left..left + side].fill(s);
        }
    }
    Tensor::from_data(TensorData::new(window, [1, c * h * w]), device)
}

/// A bump on an `rows × cols` rectangle: concentric squares around its centre, the k-th ring from
/// the centre weighing `Σ_{j ≥ k} 1/(j+1)²`, scaled to unit L2 norm.
fn bump(rows: usize, cols: usize) -> Vec<f32> {
    let (cr, cc) = (rows / 2, cols / 2);
    let rings = cr.max(cc) + 1;
    let mut values: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let ring = (i / cols).abs_diff(cr).max((i % cols).abs_diff(cc));
            (ring..rings).map(|j| 1.0 / ((j + 1) * (j + 1)) as f32).sum()
        })
        .collect();
    unit(&mut values);
    values
}

/// Scales `values` to unit L2 norm.
fn unit(values: &mut [f32]) {
    let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
    values.iter_mut().for_each(|v| *v /= norm);
}

/// L2's pattern on an `s × s` window: a bump on the top half and its negative on the bottom half
/// (transposed half of the time), of unit L2 norm.
fn pattern(s: usize, rng: &mut StdRng) -> Vec<f32> {
    let mut values = bump(s / 2, s);
    values.extend(bump(s - s / 2, s).iter().map(|v| -v));
    unit(&mut values);
    if rng.random::<bool>() {
        values = (0..s * s).map(|i| values[(i % s) * s + i / s]).collect();
    }
    values
}

/// L2's start direction `[batch, C·H·W]` (not yet scaled): the image tiled with blocks of side
/// `H/5`, each the pattern with a random sign per example and channel.
fn l2_start(batch: usize, [c, h, w]: [usize; 3], rng: &mut StdRng, device: &Device) -> Tensor<2> {
    let s = (h.min(w) / 5).max(1);
    let block = if s >= 2 { pattern(s, rng) } else { vec![1.0] };
    let (top, left) = (h.saturating_sub(5 * s) / 2, w.saturating_sub(5 * s) / 2);
    let mut values = vec![0f32; batch * c * h * w];
    for plane in values.chunks_mut(h * w) {
        let fits = |start: usize, size: usize| (start..).step_by(s).take_while(move |&at| at + s <= size);
        for by in fits(top, h) {
            for bx in fits(left, w) {
                let flip = sign(rng);
                for (y, row) in block.chunks(s).enumerate() {
                    for (x, v) in row.iter().enumerate() {
                        plane[(by + y) * w + bx + x] += flip * v;
                    }
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(values, [batch, c * h * w]), device)
}

/// The image `x` plus the perturbation `delta` scaled to L2 norm `eps`, in the box.
fn l2_point(surface: &Surface, x: Tensor<2>, delta: Tensor<2>, eps: f64) -> Tensor<2> {
    let norm = delta.clone().square().sum_dim(1).sqrt().add_scalar(1e-12);
    into_box(surface, x + delta / norm * eps)
}

/// An L2 query's perturbation from the current one `delta` (`[n, C·H·W]`): window 1 gets its own
/// direction plus the pattern with a random sign per example and channel, window 2 is emptied, and
/// window 1's new content per channel has the norm the two windows had, plus an equal share of
/// what the whole perturbation lacks of `eps`.
fn l2_move(delta: Tensor<2>, [c, h, w]: [usize; 3], s: usize, eps: f64, rng: &mut StdRng) -> Tensor<2> {
    let [n, _] = delta.dims();
    let device = delta.device();
    let (y1, x1) = (rng.random_range(0..=h - s), rng.random_range(0..=w - s));
    let (y2, x2) = (rng.random_range(0..=h - s), rng.random_range(0..=w - s));
    let image_norm = delta.clone().square().sum_dim(1).sqrt().reshape([n, 1, 1, 1]);
    let delta = delta.reshape([n, c, h, w]);
    let plane_norm = |t: Tensor<4>| t.square().sum_dim(3).sum_dim(2).sqrt();
    let window1 = delta.clone().slice([0..n, 0..c, y1..y1 + s, x1..x1 + s]);
    let mut union = vec![0f32; h * w];
    for (y, x) in [(y1, x1), (y2, x2)] {
        for row in union.chunks_mut(w).skip(y).take(s) {
            row[x..x + s].fill(1.0);
        }
    }
    let union = Tensor::<4>::from_data(TensorData::new(union, [1, 1, h, w]), &device);
    let windows_norm = plane_norm(delta.clone() * union);
    let signs: Vec<f32> = (0..n * c).map(|_| sign(rng)).collect();
    let signs = Tensor::<4>::from_data(TensorData::new(signs, [n, c, 1, 1]), &device);
    let pattern = Tensor::<4>::from_data(TensorData::new(pattern(s, rng), [1, 1, s, s]), &device);
    let moved = pattern * signs + window1.clone() / plane_norm(window1).add_scalar(1e-12);
    let lacking = (image_norm.square().neg().add_scalar(eps * eps)).clamp_min(0.0) / c as f64;
    let scale = (lacking + windows_norm.square()).sqrt();
    let moved = moved.clone() / plane_norm(moved).add_scalar(1e-12) * scale;
    delta
        .slice_assign([0..n, 0..c, y2..y2 + s, x2..x2 + s], Tensor::zeros([n, c, s, s], &device))
        .slice_assign([0..n, 0..c, y1..y1 + s, x1..x1 + s], moved)
        .reshape([n, c * h * w])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_shrinks_on_the_papers_schedule() {
        let at = |i| window_share(0.8, i, 10_000);
        assert_eq!((at(0), at(10), at(11), at(50), at(51), at(9000)), (0.8, 0.8, 0.4, 0.4, 0.2, 0.8 / 512.0));
        assert_eq!(window_share(0.8, 2500, 5000), 0.8 / 128.0, "rescaled to the queries given");
    }

    #[test]
    fn the_bump_peaks_in_the_centre_and_has_unit_norm() {
        let b = bump(3, 5);
        let norm: f32 = b.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-6);
        // Centre (1, 2): rings 0..3 of weight 1 + 1/4 + 1/9; a corner (0, 0) is in ring 2: 1/9.
        assert!((b[7] / b[0] - (1.0 + 0.25 + 1.0 / 9.0) / (1.0 / 9.0)).abs() < 1e-4);
        assert!(b.iter().all(|&v| v <= b[7]));
    }

    #[test]
    fn the_pattern_is_a_bump_over_its_negative() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..4 {
            let p = pattern(5, &mut rng);
            assert!((p.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-6);
            assert_eq!(p.iter().filter(|v| **v > 0.0).count(), 2 * 5, "the top (or left) 2 of 5 rows are positive");
            // Transposed or not, the centre of the top (or left) half is positive, the other negative.
            let (top, left) = (p[2], p[5 * 2]);
            assert!((top > 0.0 && p[3 * 5 + 2] < 0.0) || (left > 0.0 && p[2 * 5 + 3] < 0.0), "{p:?}");
        }
    }
}
