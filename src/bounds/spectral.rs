//! The largest singular value of each matrix of a batch of complex matrices, by power iteration on
//! `MᴴM` (or on the smaller Gram matrix when that is cheaper), batched on the device.

use burn::prelude::*;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// When power iteration stops: no estimate (of σ²) changed by more than `tolerance` times the largest
/// between two checks ten iterations apart, or `max_iterations` have run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerIteration {
    pub max_iterations: usize,
    pub tolerance: f64,
}

impl Default for PowerIteration {
    fn default() -> Self {
        PowerIteration { max_iterations: 2000, tolerance: 1e-5 }
    }
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
    /// `im · [b | d]` give all four real products (power iteration is bound by memory traffic).
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

    /// `Re(⟨a, b⟩)` per batch entry for column vectors `[batch, n, 1]`.
    fn real_dot(&self, other: &Matrices) -> Tensor<1> {
        let mut dot = (self.re.clone() * other.re.clone()).sum_dim(1);
        if let (Some(a), Some(b)) = (&self.im, &other.im) {
            dot = dot + (a.clone() * b.clone()).sum_dim(1);
        }
        dot.flatten(0, 2)
    }

    /// Each column vector `[batch, n, 1]` scaled to unit length.
    fn normalized(&self) -> Matrices {
        let norm = self.real_dot(self).sqrt().clamp_min(1e-30).reshape([-1, 1, 1]);
        Matrices { re: self.re.clone() / norm.clone(), im: self.im.as_ref().map(|m| m.clone() / norm) }
    }
}

/// The largest singular value of every matrix in `m` (`[batch, rows, cols]`).
pub fn largest_singular_values(m: &Matrices, power: &PowerIteration) -> Vec<f64> {
    let [batch, rows, cols] = m.re.dims();
    if batch == 0 || rows == 0 || cols == 0 {
        return vec![0.0; batch];
    }
    // The Hermitian operator whose top eigenvalue is σ²: the Gram matrix of the smaller side when
    // building it costs less than the matrix-vector products it saves, else MᴴM applied as two products.
    let small = rows.min(cols);
    let operator: Box<dyn Fn(&Matrices) -> Matrices> = if small <= 1024 {
        let gram = if cols <= rows { m.adjoint().matmul(m) } else { m.matmul(&m.adjoint()) };
        Box::new(move |v| gram.matmul(v))
    } else {
        let adjoint = m.adjoint();
        let m = m.clone();
        Box::new(move |v| adjoint.matmul(&m.matmul(v)))
    };
    let start = start_vectors(batch, small, m.im.is_some(), &m.re.device());
    eigenvalues(operator.as_ref(), start, power).into_iter().map(|l| l.max(0.0).sqrt()).collect()
}

/// Power iteration for the top eigenvalue of a positive semi-definite Hermitian operator, from `v`.
fn eigenvalues(operator: &dyn Fn(&Matrices) -> Matrices, start: Matrices, power: &PowerIteration) -> Vec<f64> {
    let mut v = start.normalized();
    let mut previous: Option<Vec<f64>> = None;
    for iteration in 1..=power.max_iterations.max(1) {
        let w = operator(&v);
        if iteration % 10 == 0 || iteration == power.max_iterations {
            let estimate: Vec<f64> = v.real_dot(&w).into_data().iter::<f32>().map(f64::from).collect();
            // Converged when no estimate moved by more than `tolerance` of the largest: that one is the
            // bound, and the others only matter if they could overtake it.
            let largest = estimate.iter().fold(1e-30f64, |m, &e| m.max(e.abs()));
            let converged = previous
                .as_ref()
                .is_some_and(|p| p.iter().zip(&estimate).all(|(a, b)| (a - b).abs() <= power.tolerance * largest));
            if converged || iteration == power.max_iterations {
                return estimate;
            }
            previous = Some(estimate);
        }
        v = w.normalized();
    }
    unreachable!("the loop returns at max_iterations")
}

/// Fixed pseudo-random start vectors `[batch, n, 1]` (the same every call, so bounds are reproducible
/// and the device's random stream is left alone).
fn start_vectors(batch: usize, n: usize, complex: bool, device: &Device) -> Matrices {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED);
    let mut draw = || {
        let values: Vec<f32> = (0..batch * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        Tensor::<3>::from_data(TensorData::new(values, [batch, n, 1]), device)
    };
    let re = draw();
    Matrices { re, im: complex.then(draw) }
}
