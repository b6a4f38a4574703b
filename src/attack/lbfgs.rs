//! A batched box-constrained quasi-Newton solver: projected L-BFGS with an active set. Every row of
//! the batch is its own problem with its own curvature history, step length and convergence flag,
//! and all rows are solved together in tensor operations.
//!
//! Each iteration: the variables held at a bound by their gradient are fixed; the L-BFGS two-loop
//! recursion (history of `history` pairs, initial scaling `sᵀy / yᵀy`) turns the free gradient into
//! a direction; a projected backtracking line search (Armijo condition along the projection arc)
//! picks each row's step; pairs that fail the curvature condition `sᵀy > 0` are not stored. A row
//! stops when its projected gradient's largest entry is below `tolerance`, its value stops
//! decreasing (relative change below `value_tolerance`), or no step decreases it.

use std::collections::VecDeque;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::{Invalid, at_least_one, ensure};

/// A box `[lo, hi]` for every coordinate (`hi` may be infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxBounds {
    pub lo: f32,
    pub hi: f32,
}

impl BoxBounds {
    /// `z` clipped into the box.
    pub fn project(&self, z: Tensor<2>) -> Tensor<2> {
        if self.hi.is_finite() { z.clamp(self.lo, self.hi) } else { z.clamp_min(self.lo) }
    }

    /// Masks of the coordinates of `z` at the lower and at the upper bound.
    fn at_bounds(&self, z: &Tensor<2>) -> (Tensor<2, Bool>, Tensor<2, Bool>) {
        let lo = z.clone().lower_equal_elem(self.lo);
        let hi = if self.hi.is_finite() {
            z.clone().greater_equal_elem(self.hi)
        } else {
            z.clone().lower_elem(f32::NEG_INFINITY)
        };
        (lo, hi)
    }
}

/// A batch of independent problems: row i's value depends on row i of `z` only.
pub trait Objective {
    /// Values `[batch]`.
    fn value(&self, z: Tensor<2>) -> Tensor<1>;
    /// Values `[batch]` and gradients `[batch, n]`.
    fn value_and_grad(&self, z: Tensor<2>) -> (Tensor<1>, Tensor<2>);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LbfgsConfig {
    /// Curvature pairs kept.
    pub history: usize,
    pub max_iterations: usize,
    /// Stop when the projected gradient's largest entry is below this.
    pub tolerance: f64,
    /// Stop when the value's relative decrease in an iteration is below this.
    pub value_tolerance: f64,
    /// Halvings of the step the line search tries.
    pub line_search_steps: usize,
}

impl LbfgsConfig {
    pub fn check(&self) -> Result<(), Invalid> {
        at_least_one(self.history, "history")?;
        at_least_one(self.max_iterations, "iterations")?;
        at_least_one(self.line_search_steps, "line_search_steps")?;
        for (value, field) in [(self.tolerance, "tolerance"), (self.value_tolerance, "value_tolerance")] {
            ensure(value.is_finite() && value >= 0.0, field, || format!("{value} is not a tolerance (finite, ≥ 0)"))?;
        }
        Ok(())
    }
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig { history: 5, max_iterations: 100, tolerance: 1e-5, value_tolerance: 1e-7, line_search_steps: 12 }
    }
}

/// The solver's answer for every row.
pub struct Solution {
    pub z: Tensor<2>,
    pub value: Tensor<1>,
    pub iterations: Vec<usize>,
    pub converged: Vec<bool>,
}

/// Per-row dot product `[batch, 1]`.
fn dot(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    (a * b).sum_dim(1)
}

fn to_bools(t: Tensor<1, Bool>) -> Vec<bool> {
    t.into_data().iter::<bool>().collect()
}

/// Minimises every row of `objective` from `z0` inside `bounds`.
pub fn minimize(objective: &impl Objective, z0: Tensor<2>, bounds: BoxBounds, config: &LbfgsConfig) -> Solution {
    let [batch, _] = z0.dims();
    let device = z0.device();
    let mut z = bounds.project(z0);
    let (f, mut g) = objective.value_and_grad(z.clone());
    let mut f = f.reshape([batch, 1]);
    // (s, y, rho) pairs, oldest first; rows whose pair was rejected hold rho = 0 there.
    let mut pairs: VecDeque<(Tensor<2>, Tensor<2>, Tensor<2>)> = VecDeque::new();
    let mut gamma: Option<Tensor<2>> = None;
    let mut active = vec![true; batch];
    let mut iterations = vec![0; batch];
    let mut converged = vec![false; batch];
    let ones = Tensor::<2>::ones([batch, 1], &device);

    for _ in 0..config.max_iterations {
        // Variables a bound holds: at the lower bound with the gradient pushing down, or the upper.
        let (at_lo, at_hi) = bounds.at_bounds(&z);
        let fixed = at_lo.bool_and(g.clone().greater_elem(0.0)).bool_or(at_hi.bool_and(g.clone().lower_elem(0.0)));
        let free = fixed.bool_not().float();
        let g_free = g.clone() * free.clone();
        let projected = (bounds.project(z.clone() - g.clone()) - z.clone()).abs().max_dim(1).reshape([batch]);
        let small = to_bools(projected.lower_equal_elem(config.tolerance));
        for i in 0..batch {
            if active[i] && small[i] {
                active[i] = false;
                converged[i] = true;
            }
        }
        if !active.iter().any(|&a| a) {
            break;
        }
        let active_mask =
            Tensor::<1, Bool>::from_data(TensorData::new(active.clone(), [batch]), &device).reshape([batch, 1]);

        // Two-loop recursion on the free gradient.
        let mut q = g_free.clone();
        let mut alphas = Vec::with_capacity(pairs.len());
        for (s, y, rho) in pairs.iter().rev() {
            let a = rho.clone() * dot(s.clone(), q.clone());
            q = q - y.clone() * a.clone();
            alphas.push(a);
        }
        let scale =
            gamma.clone().unwrap_or_else(|| ones.clone() / dot(g_free.clone(), g_free.clone()).sqrt().clamp_min(1e-12));
        let mut r = q * scale.clone();
        for ((s, y, rho), a) in pairs.iter().zip(alphas.into_iter().rev()) {
            let b = rho.clone() * dot(y.clone(), r.clone());
            r = r + s.clone() * (a - b);
        }
        let mut d = r.neg() * free;
        // Not a descent direction (possible with the active set): fall back to the scaled gradient.
        let ascent = dot(d.clone(), g.clone()).greater_equal_elem(0.0);
        d = d.mask_where(ascent.expand([batch, g_free.dims()[1]]), g_free.clone().neg() * scale);

        // Projected backtracking line search, each row with its own step.
        let mut step = ones.clone();
        let mut accepted = active_mask.clone().bool_not(); // inactive rows never move
        let mut z_new = z.clone();
        let mut f_new = f.clone();
        for _ in 0..config.line_search_steps {
            let candidate = bounds.project(z.clone() + d.clone() * step.clone());
            let f_candidate = objective.value(candidate.clone()).reshape([batch, 1]);
            let decrease = dot(g.clone(), candidate.clone() - z.clone()).mul_scalar(1e-4);
            let ok = f_candidate.clone().lower_equal(f.clone() + decrease).bool_and(accepted.clone().bool_not());
            z_new = z_new.mask_where(ok.clone().expand(z.dims()), candidate);
            f_new = f_new.mask_where(ok.clone(), f_candidate);
            accepted = accepted.bool_or(ok);
            if accepted.clone().all().into_scalar::<bool>() {
                break;
            }
            step = step.clone().mask_where(accepted.clone().bool_not(), step.mul_scalar(0.5));
        }
        let moved = accepted.bool_and(active_mask.clone());

        let (f2, g2) = objective.value_and_grad(z_new.clone());
        let f2 = f2.reshape([batch, 1]);
        let s = z_new.clone() - z.clone();
        let y = g2.clone() - g.clone();
        let sy = dot(s.clone(), y.clone());
        let yy = dot(y.clone(), y.clone());
        let good = sy
            .clone()
            .greater(yy.clone().mul_scalar(1e-10))
            .bool_and(sy.clone().greater_elem(0.0))
            .bool_and(moved.clone());
        let goodf = good.clone().float();
        let rho = (sy.clone().clamp_min(1e-30).recip()) * goodf.clone();
        pairs.push_back((s * goodf.clone(), y * goodf, rho));
        if pairs.len() > config.history {
            pairs.pop_front();
        }
        let new_gamma = sy / yy.clamp_min(1e-30);
        gamma = Some(match gamma {
            Some(old) => old.mask_where(good.clone(), new_gamma),
            None => new_gamma.mask_where(
                good.clone().bool_not(),
                ones.clone() / dot(g_free.clone(), g_free).sqrt().clamp_min(1e-12),
            ),
        });

        // Rows that moved: take the new point; a tiny relative decrease ends them.
        let tiny =
            (f.clone() - f2.clone()).lower_equal(f.clone().abs().clamp_min(1.0).mul_scalar(config.value_tolerance));
        z = z.mask_where(moved.clone().expand(z_new.dims()), z_new);
        g = g.mask_where(moved.clone().expand(g2.dims()), g2);
        f = f.mask_where(moved.clone(), f2);
        let moved_host = to_bools(moved.reshape([batch]));
        let tiny_host = to_bools(tiny.reshape([batch]));
        for i in 0..batch {
            if !active[i] {
                continue;
            }
            if moved_host[i] {
                iterations[i] += 1;
                if tiny_host[i] {
                    active[i] = false;
                    converged[i] = true;
                }
            } else {
                // No step decreases the value: a (numerical) minimum along this direction.
                active[i] = false;
                converged[i] = true;
            }
        }
        if !active.iter().any(|&a| a) {
            break;
        }
    }
    Solution { z, value: f.reshape([batch]), iterations, converged }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Row i: `Σ_j w_ij (z_j - c_ij)²` — a separable convex quadratic whose box-constrained
    /// minimum is `clamp(c, lo, hi)`.
    struct Quadratic {
        weights: Tensor<2>,
        centers: Tensor<2>,
    }

    impl Objective for Quadratic {
        fn value(&self, z: Tensor<2>) -> Tensor<1> {
            let [b, _] = z.dims();
            ((z - self.centers.clone()).square() * self.weights.clone()).sum_dim(1).reshape([b])
        }
        fn value_and_grad(&self, z: Tensor<2>) -> (Tensor<1>, Tensor<2>) {
            let grad = (z.clone() - self.centers.clone()) * self.weights.clone() * 2.0;
            (self.value(z), grad)
        }
    }

    #[test]
    fn finds_the_box_constrained_minimum_of_convex_quadratics() {
        let device = crate::DeviceChoice::Cpu.device().unwrap();
        device.seed(7);
        let weights = Tensor::<2>::random([16, 50], burn::tensor::Distribution::Uniform(0.1, 10.0), &device);
        let centers = Tensor::<2>::random([16, 50], burn::tensor::Distribution::Uniform(-0.5, 1.5), &device);
        let q = Quadratic { weights, centers: centers.clone() };
        let bounds = BoxBounds { lo: 0.0, hi: 1.0 };
        let z0 = Tensor::<2>::full([16, 50], 0.5, &device);
        let sol = minimize(&q, z0, bounds, &LbfgsConfig::default());
        let expected = centers.clamp(0.0, 1.0);
        let best = q.value(expected.clone());
        let gap = ((sol.value.clone() - best.clone()) / best.clone().clamp_min(1e-6)).max().into_scalar::<f32>();
        assert!(gap < 1e-5, "relative value gap {gap}");
        // A row stops when its float32 value no longer decreases (relative change ~1e-7), so a
        // coordinate is pinned down only as far as its term `w·e²` shows in the value: the same
        // relative 1e-5 bounds every weighted squared error (a flat coordinate, w = 0.1, in a row
        // worth 10 may still be off by ~3e-3; a steep one, w = 10, by ~3e-4).
        let weighted = ((sol.z.clone() - expected).square() * q.weights.clone()).max_dim(1).reshape([16]);
        let excess = (weighted / best.clamp_min(1.0)).max().into_scalar::<f32>();
        assert!(excess < 1e-5, "largest weighted squared error {excess} of the row's value");
        assert!(sol.converged.iter().all(|&c| c));
        let lo = sol.z.clone().min().into_scalar::<f32>();
        let hi = sol.z.max().into_scalar::<f32>();
        assert!(lo >= 0.0 && hi <= 1.0, "bounds violated: [{lo}, {hi}]");
    }
}
