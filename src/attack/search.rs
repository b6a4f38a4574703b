//! The paper's attack: for each example, the smallest perturbation `r` that makes the model answer
//! the goal, found by minimising `c·|r|² + loss(x + r)` inside the box with the batched L-BFGS
//! solver, and a per-example search over `c`: bracket (×10 / ÷10 from `initial_c`), then bisect in
//! log space. The largest `c` that still succeeds gives the least distortion; of all successful
//! solutions each example keeps its least distorted one.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::lbfgs::{LbfgsConfig, Objective, minimize};
use super::surface::{Goal, Surface, distortion};
use super::{Adversarials, Error, bools, floats, positive};
use crate::config::{Invalid, at_least_one, ensure};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LbfgsAttackConfig {
    pub solver: LbfgsConfig,
    /// The first `c` every example tries.
    pub initial_c: f64,
    /// Values of `c` each example tries (bracketing and bisection together).
    pub search_steps: usize,
    pub min_c: f64,
    pub max_c: f64,
    /// Start each value of c from the previous value's solution instead of from the clean input.
    pub warm_start: bool,
}

impl Default for LbfgsAttackConfig {
    fn default() -> Self {
        LbfgsAttackConfig {
            solver: LbfgsConfig::default(),
            initial_c: 1.0,
            search_steps: 10,
            min_c: 1e-4,
            max_c: 1e4,
            warm_start: true,
        }
    }
}

impl LbfgsAttackConfig {
    /// The defaults with `search_steps` values of c and at most `iterations` solver iterations
    /// for each.
    pub fn new(search_steps: usize, iterations: usize) -> LbfgsAttackConfig {
        let mut config = LbfgsAttackConfig { search_steps, ..Default::default() };
        config.solver.max_iterations = iterations;
        config
    }

    /// The solver's settings, at least one value of c, and `min_c ≤ initial_c ≤ max_c`, all positive.
    pub fn check(&self) -> Result<(), Invalid> {
        self.solver.check()?;
        at_least_one(self.search_steps, "search_steps")?;
        positive(self.min_c, "min_c")?;
        positive(self.max_c, "max_c")?;
        positive(self.initial_c, "initial_c")?;
        ensure(self.min_c <= self.initial_c && self.initial_c <= self.max_c, "initial_c", || {
            format!("{} is outside [min_c, max_c] = [{}, {}]", self.initial_c, self.min_c, self.max_c)
        })
    }
}

/// `c·|z - origin|² + goal.loss(logits(z))` for each row, `c` a column `[batch, 1]`.
struct PenalisedLoss<'a> {
    surface: &'a Surface<'a>,
    origin: Tensor<2>,
    c: Tensor<2>,
    goal: &'a Goal,
}

impl PenalisedLoss<'_> {
    fn of(&self, z: Tensor<2>, logits: Tensor<2>) -> Tensor<1> {
        let [batch, _] = z.dims();
        let penalty = ((z - self.origin.clone()).square().sum_dim(1) * self.c.clone()).reshape([batch]);
        penalty + self.goal.loss(logits)
    }
}

impl Objective for PenalisedLoss<'_> {
    fn value(&self, z: Tensor<2>) -> Tensor<1> {
        self.of(z.clone(), self.surface.logits(z))
    }

    fn value_and_grad(&self, z: Tensor<2>) -> (Tensor<1>, Tensor<2>) {
        self.surface.value_and_grad(z, |z, logits| self.of(z, logits))
    }
}

/// Per-example search state over `c`.
struct CSearch {
    c: f64,
    largest_success: Option<f64>,
    smallest_failure: Option<f64>,
}

impl CSearch {
    fn next(&mut self, success: bool, config: &LbfgsAttackConfig) {
        if success {
            self.largest_success = Some(self.largest_success.map_or(self.c, |c| c.max(self.c)));
        } else {
            self.smallest_failure = Some(self.smallest_failure.map_or(self.c, |c| c.min(self.c)));
        }
        self.c = match (self.largest_success, self.smallest_failure) {
            (Some(lo), Some(hi)) => (lo * hi).sqrt(),
            (Some(lo), None) => lo * 10.0,
            (None, Some(hi)) => hi / 10.0,
            (None, None) => self.c,
        }
        .clamp(config.min_c, config.max_c);
    }
}

/// Minimal adversarial perturbations of `start` (layer activations, inside the surface's box).
pub fn lbfgs(
    surface: &Surface,
    start: Tensor<2>,
    goal: &Goal,
    config: &LbfgsAttackConfig,
) -> Result<Adversarials, Error> {
    config.check()?;
    let [batch, width] = start.dims();
    let device = start.device();
    let mut searches: Vec<CSearch> =
        (0..batch).map(|_| CSearch { c: config.initial_c, largest_success: None, smallest_failure: None }).collect();
    let mut best = start.clone();
    let mut best_distortion = vec![f32::INFINITY; batch];
    let mut success = vec![false; batch];
    let mut best_c = vec![f64::NAN; batch];
    let mut iterations = vec![0; batch];
    let mut last = start.clone();

    for _ in 0..config.search_steps {
        let c: Vec<f32> = searches.iter().map(|s| s.c as f32).collect();
        let c_column = Tensor::<2>::from_data(TensorData::new(c, [batch, 1]), &device);
        let objective = PenalisedLoss { surface, origin: start.clone(), c: c_column, goal };
        let solution = minimize(
            &objective,
            if config.warm_start { last.clone() } else { start.clone() },
            surface.bounds,
            &config.solver,
        );
        let reached = bools(goal.reached(surface.logits(solution.z.clone())));
        let dist = floats(distortion(solution.z.clone(), start.clone()));
        let improves: Vec<bool> = (0..batch).map(|i| reached[i] && dist[i] < best_distortion[i]).collect();
        let mask = Tensor::<1, Bool>::from_data(TensorData::new(improves.clone(), [batch]), &device)
            .reshape([batch, 1])
            .expand([batch, width]);
        best = best.mask_where(mask, solution.z.clone());
        for i in 0..batch {
            iterations[i] += solution.iterations[i];
            if improves[i] {
                best_distortion[i] = dist[i];
                best_c[i] = searches[i].c;
                success[i] = true;
            }
            searches[i].next(reached[i], config);
        }
        last = solution.z;
    }
    // Examples that never succeeded report their last (strongest) attempt.
    let failed =
        Tensor::<1, Bool>::from_data(TensorData::new(success.iter().map(|s| !s).collect::<Vec<_>>(), [batch]), &device);
    let adversarial = best.mask_where(failed.reshape([batch, 1]).expand([batch, width]), last);
    Ok(Adversarials::measure(surface, start, adversarial, goal, best_c, iterations))
}
