//! The largest eigenvalue of each of a batch of Hermitian positive semi-definite operators (σ² of the
//! matrices a bound needs), by Lanczos iteration, batched on the device.
//!
//! Every row of the batch runs its own three-term Lanczos recursion (`α`, `β`) in the same tensor
//! operations; every few steps the host reads the tridiagonal matrices and takes their largest
//! eigenvalues (Ritz values, which grow towards the operator's largest eigenvalue) by Sturm-sequence
//! bisection. Far fewer operator applications than power iteration (about 20 to 50 against hundreds
//! for random-initialised layers, whose top singular values are close together).
//!
//! No re-orthogonalisation: in floating point the basis loses orthogonality once a Ritz value has
//! converged, which only adds copies ("ghosts") of converged values, never a larger one (Paige's
//! analysis of the finite-precision recursion), so the largest stays right; checked against dense
//! eigenvalues to ~1e-6 over 200 steps, and in the tests against SVDs.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// When Lanczos stops: no Ritz value moved by more than `tolerance` times the largest between two
/// checks five steps apart, or `max_iterations` steps have run (or the space is exhausted).
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

/// Steps between two reads of the Ritz values.
const CHECK_EVERY: usize = 5;

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
}

/// A batch of independent Hermitian positive semi-definite operators on `Vectors` of width `dim`.
pub trait HermitianOperator {
    fn batch(&self) -> usize;
    fn dim(&self) -> usize;
    fn complex(&self) -> bool;
    fn device(&self) -> Device;
    /// Row i of the answer is operator i applied to row i of `v`.
    fn apply(&self, v: &Vectors) -> Vectors;
}

/// The largest eigenvalue of every operator of the batch.
pub fn largest_eigenvalues(operator: &dyn HermitianOperator, config: &Lanczos) -> Vec<f64> {
    let (batch, n) = (operator.batch(), operator.dim());
    if batch == 0 || n == 0 {
        return vec![0.0; batch];
    }
    let steps = config.max_iterations.max(1).min(n);
    let mut q = start_vectors(batch, n, operator.complex(), &operator.device());
    q = q.scaled(&q.norm().recip());
    let mut previous: Option<(Vectors, Tensor<2>)> = None;
    let mut pending: Vec<(Tensor<2>, Tensor<2>)> = Vec::new();
    let (mut alphas, mut betas) = (vec![Vec::new(); batch], vec![Vec::new(); batch]);
    let mut ritz: Option<Vec<f64>> = None;
    let mut scale = Tensor::<2>::zeros([batch, 1], &operator.device());

    for step in 1..=steps {
        let mut w = operator.apply(&q);
        let alpha = q.real_dot(&w);
        w = w.minus(&q.scaled(&alpha));
        if let Some((p, beta)) = &previous {
            w = w.minus(&p.scaled(beta));
        }
        // A vanishing β means the Krylov space is exhausted (an invariant subspace): the row's
        // tridiagonal matrix is complete, so its next vector is zero and its β is 0.
        scale = scale.max_pair(alpha.clone().abs());
        let beta = w.norm();
        let alive = beta.clone().greater(scale.clone().mul_scalar(1e-6)).float();
        let beta = beta * alive.clone();
        let next = w.scaled(&(alive / beta.clone().clamp_min(1e-30)));
        pending.push((alpha, beta.clone()));
        previous = Some((std::mem::replace(&mut q, next), beta));

        if step % CHECK_EVERY == 0 || step == steps {
            read_coefficients(&mut pending, &mut alphas, &mut betas);
            // Bisection to a thousandth of the tolerance: fine enough to judge convergence, half the work
            // of full precision.
            let precision = config.tolerance * 1e-3;
            let values: Vec<f64> = (0..batch).map(|i| top_eigenvalue(&alphas[i], &betas[i], precision)).collect();
            let largest = values.iter().fold(1e-30f64, |m, &v| m.max(v));
            let converged = ritz
                .as_ref()
                .is_some_and(|r| r.iter().zip(&values).all(|(a, b)| (a - b).abs() <= config.tolerance * largest));
            if converged || step == steps {
                return values;
            }
            ritz = Some(values);
        }
    }
    unreachable!("the loop returns at its last step")
}

/// Moves the `(α, β)` of the steps since the last read to the host, appended per row.
fn read_coefficients(pending: &mut Vec<(Tensor<2>, Tensor<2>)>, alphas: &mut [Vec<f64>], betas: &mut [Vec<f64>]) {
    let steps = pending.len();
    let (a, b): (Vec<_>, Vec<_>) = pending.drain(..).unzip();
    let host = |parts: Vec<Tensor<2>>| -> Vec<f64> {
        Tensor::cat(parts, 1).into_data().convert::<f32>().iter::<f32>().map(f64::from).collect()
    };
    let (a, b) = (host(a), host(b));
    for i in 0..alphas.len() {
        alphas[i].extend_from_slice(&a[i * steps..(i + 1) * steps]);
        betas[i].extend_from_slice(&b[i * steps..(i + 1) * steps]);
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
            NormalOperator::Gram(if cols <= rows { m.adjoint().matmul(m) } else { m.matmul(&m.adjoint()) })
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
}

/// The largest singular value of every matrix in `m` (`[batch, rows, cols]`).
pub fn largest_singular_values(m: &Matrices, config: &Lanczos) -> Vec<f64> {
    let [batch, rows, cols] = m.re.dims();
    if batch == 0 || rows == 0 || cols == 0 {
        return vec![0.0; batch];
    }
    largest_eigenvalues(&NormalOperator::of(m), config).into_iter().map(|l| l.max(0.0).sqrt()).collect()
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
}
