//! The largest eigenvalue over a batch of Hermitian positive semi-definite operators (σ² of the
//! matrices a bound needs: a dense layer's one, a convolution's one per frequency), by Lanczos
//! iteration, batched on the device.
//!
//! Every row of the batch runs its own three-term Lanczos recursion (`α`, `β`) in the same tensor
//! operations; every few steps the host reads the tridiagonal matrices and takes their largest
//! eigenvalues (Ritz values, which grow towards the operator's largest eigenvalue) by Sturm-sequence
//! bisection. Far fewer operator applications than power iteration (about 20 to 50 against hundreds
//! for random-initialised layers, whose top singular values are close together).
//!
//! A bound needs only the largest eigenvalue of the whole batch, so rows that cannot reach it are
//! dropped as soon as that shows (see `CATCH_UP`), and only the rows left must converge: on an
//! AlexNet-shaped stack this halves the Lanczos work of the convolutions.
//!
//! No re-orthogonalisation: in floating point the basis loses orthogonality once a Ritz value has
//! converged, which only adds copies ("ghosts") of converged values, never a larger one (Paige's
//! analysis of the finite-precision recursion), so the largest stays right; checked against dense
//! eigenvalues to ~1e-6 over 200 steps, and in the tests against SVDs.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// When Lanczos stops: no Ritz value of a row still in the running has more than `tolerance` times
/// the largest left to grow, as extrapolated from its growth over the last two spans of five steps,
/// or `max_iterations` steps have run (or the space is exhausted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lanczos {
    pub max_iterations: usize,
    pub tolerance: f64,
}

impl Default for Lanczos {
    fn default() -> Self {
        Lanczos { max_iterations: 300, tolerance: 1e-5 }
    }
}

/// Steps between two reads of the Ritz values, and the span over which their growth is judged.
const CHECK_EVERY: usize = 5;

/// Batches this small (the rows left of a convolution's, a dense layer's one) are read after every
/// step, so they stop at the first step that meets the tolerance.
const EACH_STEP_ROWS: usize = 32;

/// A row leaves the batch when its Ritz value, grown by `CATCH_UP` times what it grew over the last
/// `CHECK_EVERY` steps, still stays below the batch's largest. Once a Ritz value settles it
/// converges faster than geometrically, so what it has left to grow is below its last growth; the
/// factor 4 covers the rows that stall and move again. Measured on three random AlexNet-shaped stacks
/// (every row run to convergence): no dropped row ever ended above the largest, and the largest came
/// out the same.
const CATCH_UP: f64 = 4.0;

/// A batch of complex vectors `[batch, n]`: `re + i·im` (`im` absent: real vectors).
#[derive(Debug, Clone)]
pub struct Vectors {
    pub re: Tensor<2>,
    pub im: Option<Tensor<2>>,
}

impl Vectors {
    /// `Re⟨self, other⟩` per row `[batch, 1]` (the whole inner product for a Hermitian form).
    fn real_dot(&self, other: &Vectors) -> Tensor<2> {
        let mut dot = (self.re.clone() * other.re.clone()).sum_dim(1);
        if let (Some(a), Some(b)) = (&self.im, &other.im) {
            dot = dot + (a.clone() * b.clone()).sum_dim(1);
        }
        dot
    }

    /// Each row times its own factor `[batch, 1]`.
    fn scaled(&self, factor: &Tensor<2>) -> Vectors {
        Vectors { re: self.re.clone() * factor.clone(), im: self.im.as_ref().map(|m| m.clone() * factor.clone()) }
    }

    fn minus(&self, other: &Vectors) -> Vectors {
        let im = match (&self.im, &other.im) {
            (Some(a), Some(b)) => Some(a.clone() - b.clone()),
            (None, Some(b)) => Some(b.clone().neg()),
            (a, None) => a.clone(),
        };
        Vectors { re: self.re.clone() - other.re.clone(), im }
    }

    fn norm(&self) -> Tensor<2> {
        self.real_dot(self).sqrt()
    }

    /// The rows `index`.
    fn select(&self, index: &Tensor<1, Int>) -> Vectors {
        let pick = |t: &Tensor<2>| t.clone().select(0, index.clone());
        Vectors { re: pick(&self.re), im: self.im.as_ref().map(pick) }
    }
}

/// A batch of independent Hermitian positive semi-definite operators on `Vectors` of width `dim`.
pub trait HermitianOperator {
    fn batch(&self) -> usize;
    fn dim(&self) -> usize;
    fn complex(&self) -> bool;
    fn device(&self) -> Device;
    /// Row i of the answer is operator i applied to row i of `v`.
    fn apply(&self, v: &Vectors) -> Vectors;
    /// Keeps only the operators `rows` (indices into the current batch, increasing).
    fn retain(&mut self, rows: &[usize]);
}

/// The largest eigenvalue over all operators of the batch.
pub fn largest_eigenvalue(operator: &mut dyn HermitianOperator, config: &Lanczos) -> f64 {
    let (batch, n) = (operator.batch(), operator.dim());
    if batch == 0 || n == 0 {
        return 0.0;
    }
    let steps = config.max_iterations.max(1).min(n);
    let mut recursion = Recursion::start(batch, n, operator.complex(), &operator.device());
    let mut tridiagonals = vec![Tridiagonal::default(); batch];
    // Bisection to a thousandth of the tolerance: fine enough to judge convergence, half the work of
    // full precision.
    let precision = config.tolerance * 1e-3;

    for step in 1..=steps {
        recursion.step(operator);
        let each_step = step > CHECK_EVERY && tridiagonals.len() <= EACH_STEP_ROWS;
        if !(each_step || step.is_multiple_of(CHECK_EVERY) || step == steps) {
            continue;
        }
        recursion.read_coefficients(&mut tridiagonals);
        let values: Vec<f64> = tridiagonals.iter_mut().map(|t| t.ritz(step, precision)).collect();
        let largest = values.iter().fold(1e-30f64, |m, &v| m.max(v));
        if step == steps {
            return largest;
        }
        if step <= CHECK_EVERY {
            continue;
        }
        let tolerance = config.tolerance * largest;
        if tridiagonals.iter_mut().all(|t| t.remaining_growth(step, precision) <= tolerance) {
            return largest;
        }
        let growth: Vec<f64> = tridiagonals.iter_mut().map(|t| t.growth(step - CHECK_EVERY, step, precision)).collect();
        let keep: Vec<usize> = (0..values.len()).filter(|&i| values[i] + CATCH_UP * growth[i] >= largest).collect();
        if keep.len() < values.len() {
            operator.retain(&keep);
            recursion.retain(&keep);
            tridiagonals = keep.iter().map(|&i| std::mem::take(&mut tridiagonals[i])).collect();
        }
    }
    unreachable!("the loop returns at its last step")
}

/// `rows` as an index tensor for `select`.
pub(super) fn row_index(rows: &[usize], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), [rows.len()]), device)
}

/// One row's tridiagonal matrix so far, on the host, and the Ritz values taken of it.
#[derive(Debug, Clone, Default)]
struct Tridiagonal {
    alpha: Vec<f64>,
    beta: Vec<f64>,
    /// The largest Ritz value after each step, where computed.
    ritz: Vec<Option<f64>>,
}

impl Tridiagonal {
    /// The largest Ritz value after `steps` steps: the top eigenvalue of the leading `steps × steps` matrix.
    fn ritz(&mut self, steps: usize, precision: f64) -> f64 {
        if self.ritz.len() < steps {
            self.ritz.resize(steps, None);
        }
        *self.ritz[steps - 1]
            .get_or_insert_with(|| top_eigenvalue(&self.alpha[..steps], &self.beta[..steps], precision))
    }

    /// How much the largest Ritz value grew from step `from` to step `to` (it only grows: each
    /// tridiagonal matrix contains the previous one).
    fn growth(&mut self, from: usize, to: usize, precision: f64) -> f64 {
        (self.ritz(to, precision) - self.ritz(from, precision)).max(0.0)
    }

    /// The growth still to come after `step` (past the first span), extrapolated geometrically from
    /// the growths over the last two spans, g1 then g: g·r/(1 − r) with r = g/g1 once growth at least
    /// halves per span, else g itself.
    fn remaining_growth(&mut self, step: usize, precision: f64) -> f64 {
        let g = self.growth(step - CHECK_EVERY, step, precision);
        if step <= 2 * CHECK_EVERY {
            return g;
        }
        let g1 = self.growth(step - 2 * CHECK_EVERY, step - CHECK_EVERY, precision);
        if g1 > 2.0 * g { g * g / (g1 - g) } else { g }
    }
}

/// The batch's Lanczos vectors and coefficients on the device.
struct Recursion {
    q: Vectors,
    /// The previous vector and the β that couples it to `q`.
    previous: Option<(Vectors, Tensor<2>)>,
    /// The largest |α| so far per row, the scale β is judged against.
    scale: Tensor<2>,
    /// The `(α, β)` of the steps since the last read, `[batch, 1]` each.
    pending: Vec<(Tensor<2>, Tensor<2>)>,
}

impl Recursion {
    fn start(batch: usize, n: usize, complex: bool, device: &Device) -> Recursion {
        let q = start_vectors(batch, n, complex, device);
        let q = q.scaled(&q.norm().recip());
        Recursion { q, previous: None, scale: Tensor::zeros([batch, 1], device), pending: Vec::new() }
    }

    fn step(&mut self, operator: &dyn HermitianOperator) {
        let q = &self.q;
        let mut w = operator.apply(q);
        let alpha = q.real_dot(&w);
        w = w.minus(&q.scaled(&alpha));
        if let Some((p, beta)) = &self.previous {
            w = w.minus(&p.scaled(beta));
        }
        // A vanishing β means the Krylov space is exhausted (an invariant subspace): the row's
        // tridiagonal matrix is complete, so its next vector is zero and its β is 0.
        self.scale = self.scale.clone().max_pair(alpha.clone().abs());
        let beta = w.norm();
        let alive = beta.clone().greater(self.scale.clone().mul_scalar(1e-6)).float();
        let beta = beta * alive.clone();
        let next = w.scaled(&(alive / beta.clone().clamp_min(1e-30)));
        self.pending.push((alpha, beta.clone()));
        self.previous = Some((std::mem::replace(&mut self.q, next), beta));
    }

    /// Moves the `(α, β)` of the steps since the last read to the host, appended per row.
    fn read_coefficients(&mut self, tridiagonals: &mut [Tridiagonal]) {
        let steps = self.pending.len();
        let (a, b): (Vec<_>, Vec<_>) = self.pending.drain(..).unzip();
        let host = |parts: Vec<Tensor<2>>| -> Vec<f64> {
            Tensor::cat(parts, 1).into_data().convert::<f32>().iter::<f32>().map(f64::from).collect()
        };
        let (a, b) = (host(a), host(b));
        for (i, t) in tridiagonals.iter_mut().enumerate() {
            t.alpha.extend_from_slice(&a[i * steps..(i + 1) * steps]);
            t.beta.extend_from_slice(&b[i * steps..(i + 1) * steps]);
        }
    }

    /// Keeps only `rows` (read the coefficients first: nothing may be pending).
    fn retain(&mut self, rows: &[usize]) {
        debug_assert!(self.pending.is_empty());
        let index = row_index(rows, &self.scale.device());
        self.q = self.q.select(&index);
        self.previous = self.previous.take().map(|(p, beta)| (p.select(&index), beta.select(0, index.clone())));
        self.scale = self.scale.clone().select(0, index);
    }
}

/// The largest eigenvalue of the symmetric tridiagonal matrix with diagonal `alpha` and off-diagonal
/// `beta` (its last entry, the next step's coupling, is not part of the matrix), by bisection on the
/// Sturm count (the number of eigenvalues below x is the number of negative pivots of T − xI), to
/// `precision` relative to its size (an upper estimate: never below the eigenvalue).
fn top_eigenvalue(alpha: &[f64], beta: &[f64], precision: f64) -> f64 {
    let k = alpha.len();
    let off = |j: usize| if j + 1 < k { beta[j].abs() } else { 0.0 };
    let radius = |j: usize| off(j) + if j > 0 { off(j - 1) } else { 0.0 };
    let mut lo = (0..k).map(|j| alpha[j] - radius(j)).fold(f64::INFINITY, f64::min);
    let mut hi = (0..k).map(|j| alpha[j] + radius(j)).fold(f64::NEG_INFINITY, f64::max);
    let below = |x: f64| {
        let mut count = 0;
        let mut pivot = 1.0;
        for j in 0..k {
            let coupling = if j > 0 { beta[j - 1] * beta[j - 1] / pivot } else { 0.0 };
            pivot = alpha[j] - x - coupling;
            if pivot == 0.0 {
                pivot = -f64::EPSILON * (x.abs() + 1.0);
            }
            if pivot < 0.0 {
                count += 1;
            }
        }
        count
    };
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= precision * hi.abs().max(lo.abs()) {
            break;
        }
        if below(mid) == k { hi = mid } else { lo = mid }
    }
    hi
}

/// Fixed pseudo-random start vectors `[batch, n]` (the same every call, so bounds are reproducible
/// and the device's random stream is left alone).
fn start_vectors(batch: usize, n: usize, complex: bool, device: &Device) -> Vectors {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    let mut draw = || {
        let values: Vec<f32> = (0..batch * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::<2>::from_data(TensorData::new(values, [batch, n]), device)
    };
    let re = draw();
    Vectors { re, im: complex.then(draw) }
}

/// A batch of complex matrices `[batch, rows, cols]`: `re + i·im` (`im` absent: real matrices).
#[derive(Debug, Clone)]
pub struct Matrices {
    pub re: Tensor<3>,
    pub im: Option<Tensor<3>>,
}

impl Matrices {
    pub fn real(re: Tensor<3>) -> Matrices {
        Matrices { re, im: None }
    }

    /// `self · other` (batched). A complex product reads each real matrix once: `re · [b | d]` and
    /// `im · [b | d]` give all four real products (matrix-vector products are bound by memory traffic).
    fn matmul(&self, other: &Matrices) -> Matrices {
        match (&self.im, &other.im) {
            (None, None) => Matrices { re: self.re.clone().matmul(other.re.clone()), im: None },
            (None, Some(b)) => {
                Matrices { re: self.re.clone().matmul(other.re.clone()), im: Some(self.re.clone().matmul(b.clone())) }
            }
            (Some(a), None) => {
                Matrices { re: self.re.clone().matmul(other.re.clone()), im: Some(a.clone().matmul(other.re.clone())) }
            }
            (Some(a), Some(b)) => {
                let n = other.re.dims()[2];
                let both = Tensor::cat(vec![other.re.clone(), b.clone()], 2);
                let from_re = self.re.clone().matmul(both.clone());
                let from_im = a.clone().matmul(both);
                let re = from_re.clone().narrow(2, 0, n) - from_im.clone().narrow(2, n, n);
                let im = from_re.narrow(2, n, n) + from_im.narrow(2, 0, n);
                Matrices { re, im: Some(im) }
            }
        }
    }

    /// `MᴴM`. For M = A + iB that is `AᵀA + BᵀB + i(AᵀB − (AᵀB)ᵀ)`: three real products, not four.
    fn gram(&self) -> Matrices {
        match &self.im {
            None => Matrices::real(self.re.clone().swap_dims(1, 2).matmul(self.re.clone())),
            Some(b) => {
                let stacked = Tensor::cat(vec![self.re.clone(), b.clone()], 1);
                let cross = self.re.clone().swap_dims(1, 2).matmul(b.clone());
                Matrices {
                    re: stacked.clone().swap_dims(1, 2).matmul(stacked),
                    im: Some(cross.clone() - cross.swap_dims(1, 2)),
                }
            }
        }
    }

    /// The matrices `index` of the batch.
    fn select(&self, index: &Tensor<1, Int>) -> Matrices {
        let pick = |t: &Tensor<3>| t.clone().select(0, index.clone());
        Matrices { re: pick(&self.re), im: self.im.as_ref().map(pick) }
    }

    /// The conjugate transpose `Mᴴ`.
    fn adjoint(&self) -> Matrices {
        Matrices { re: self.re.clone().swap_dims(1, 2), im: self.im.as_ref().map(|m| m.clone().swap_dims(1, 2).neg()) }
    }

    /// `self · v` for vectors `[batch, cols]`.
    fn apply(&self, v: &Vectors) -> Vectors {
        let column = |t: &Tensor<2>| t.clone().unsqueeze_dim::<3>(2);
        let v = Matrices { re: column(&v.re), im: v.im.as_ref().map(column) };
        let out = self.matmul(&v);
        Vectors { re: out.re.squeeze_dim(2), im: out.im.map(|m| m.squeeze_dim(2)) }
    }
}

/// `MᴴM` (or `MMᴴ`, which has the same largest eigenvalue) of a batch of explicit matrices: the Gram
/// matrix of the smaller side when building it costs less than the matrix-vector products it saves,
/// else two products per application.
// One value per bound computed: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
pub(super) enum NormalOperator {
    Gram(Matrices),
    /// `M` with at least as many rows as columns, and `Mᴴ` (formed once: a view for real matrices, a
    /// negated copy of the imaginary part for complex ones): applied as `Mᴴ(Mv)`.
    Product {
        m: Matrices,
        adjoint: Matrices,
    },
}

impl NormalOperator {
    pub(super) fn of(m: &Matrices) -> NormalOperator {
        let [_, rows, cols] = m.re.dims();
        if rows.min(cols) <= 1024 {
            NormalOperator::Gram(if cols <= rows { m.gram() } else { m.adjoint().gram() })
        } else {
            let m = if cols <= rows { m.clone() } else { m.adjoint() };
            NormalOperator::Product { adjoint: m.adjoint(), m }
        }
    }

    fn matrix(&self) -> &Matrices {
        match self {
            NormalOperator::Gram(m) | NormalOperator::Product { m, .. } => m,
        }
    }
}

impl HermitianOperator for NormalOperator {
    fn batch(&self) -> usize {
        self.matrix().re.dims()[0]
    }
    fn dim(&self) -> usize {
        self.matrix().re.dims()[2]
    }
    fn complex(&self) -> bool {
        self.matrix().im.is_some()
    }
    fn device(&self) -> Device {
        self.matrix().re.device()
    }
    fn apply(&self, v: &Vectors) -> Vectors {
        match self {
            NormalOperator::Gram(g) => g.apply(v),
            NormalOperator::Product { m, adjoint } => adjoint.apply(&m.apply(v)),
        }
    }
    fn retain(&mut self, rows: &[usize]) {
        let index = row_index(rows, &self.device());
        match self {
            NormalOperator::Gram(g) => *g = g.select(&index),
            NormalOperator::Product { m, adjoint } => {
                *m = m.select(&index);
                *adjoint = adjoint.select(&index);
            }
        }
    }
}

/// The largest singular value over all matrices in `m` (`[batch, rows, cols]`).
pub fn largest_singular_value(m: &Matrices, config: &Lanczos) -> f64 {
    let [batch, rows, cols] = m.re.dims();
    if batch == 0 || rows == 0 || cols == 0 {
        return 0.0;
    }
    largest_eigenvalue(&mut NormalOperator::of(m), config).max(0.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_finds_the_top_eigenvalue_of_a_tridiagonal_matrix() {
        // tridiag(-1, 2, -1) of size k has eigenvalues 2 − 2·cos(jπ/(k+1)), j = 1..k.
        for k in [1, 2, 7, 40] {
            let (alpha, beta) = (vec![2.0; k], vec![-1.0; k]);
            let want = 2.0 + 2.0 * (std::f64::consts::PI / (k as f64 + 1.0)).cos();
            let got = top_eigenvalue(&alpha, &beta, 0.0);
            assert!((got - want).abs() < 1e-12, "k {k}: {got} vs {want}");
        }
        // A decoupled block (β = 0) keeps its own eigenvalues: diag(1, 5) ⊕ ...
        assert!((top_eigenvalue(&[1.0, 5.0, 3.0], &[0.0, 0.0, 0.0], 0.0) - 5.0).abs() < 1e-12);
    }

    /// A batch of diagonal operators, counting the rows it is applied to.
    struct Diagonal {
        entries: Tensor<2>,
        calls: std::cell::Cell<usize>,
        rows_applied: std::cell::Cell<usize>,
    }

    impl HermitianOperator for Diagonal {
        fn batch(&self) -> usize {
            self.entries.dims()[0]
        }
        fn dim(&self) -> usize {
            self.entries.dims()[1]
        }
        fn complex(&self) -> bool {
            false
        }
        fn device(&self) -> Device {
            self.entries.device()
        }
        fn apply(&self, v: &Vectors) -> Vectors {
            self.calls.set(self.calls.get() + 1);
            self.rows_applied.set(self.rows_applied.get() + self.batch());
            Vectors { re: v.re.clone() * self.entries.clone(), im: None }
        }
        fn retain(&mut self, rows: &[usize]) {
            self.entries = self.entries.clone().select(0, row_index(rows, &self.device()));
        }
    }

    #[test]
    fn rows_that_cannot_reach_the_largest_eigenvalue_leave_the_batch() {
        // Row i's eigenvalues spread evenly over [0, top_i], top_i from 1 to 2: gaps of 0.5% at the top
        // keep Lanczos busy for tens of steps, long after most rows are clearly below the largest.
        let (batch, n) = (50, 200);
        let tops: Vec<f32> = (0..batch).map(|i| 1.0 + i as f32 / (batch - 1) as f32).collect();
        let entries: Vec<f32> =
            tops.iter().flat_map(|&top| (0..n).map(move |j| top * (j + 1) as f32 / n as f32)).collect();
        let device = crate::DeviceChoice::Cpu.device().unwrap();
        let mut operator = Diagonal {
            entries: Tensor::from_data(TensorData::new(entries, [batch, n]), &device),
            calls: 0.into(),
            rows_applied: 0.into(),
        };
        let largest = largest_eigenvalue(&mut operator, &Lanczos::default());
        assert!((largest - 2.0).abs() < 2e-5, "{largest}");
        let (calls, rows) = (operator.calls.get(), operator.rows_applied.get());
        assert!(calls > 2 * CHECK_EVERY, "converged too soon to show anything: {calls} steps");
        assert!(rows * 3 < calls * batch, "{rows} row applications in {calls} steps of {batch} rows");
    }
}
