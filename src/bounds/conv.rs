//! The paper's bound for a (strided) convolution, by Parseval. On a periodic `N1 × N2` input a
//! convolution is diagonal in frequency: output frequency η of a stride-Δ convolution collects the Δ²
//! input frequencies `ξ = η + a·N/Δ` that alias onto it, so with `W_dc(ξ)` the 2-D DFT of kernel (d, c)
//! zero-padded to `N1 × N2`, the operator's norm is
//!
//! ```text
//!     max over η of  σ_max( [ W_dc(η + a·N/Δ) ] (rows d; columns (a, c)) ) / Δ
//! ```
//!
//! exactly (the DFT is unitary up to the 1/√N scalings, which leave the 1/Δ). A zero-padded
//! convolution is a restriction of the periodic one on an input padded to a multiple of Δ, so the same
//! number bounds it from above.

use burn::prelude::*;

use super::Error;
use super::conv_taps::TapOperator;
use super::spectral::{HermitianOperator, Lanczos, Matrices, NormalOperator, largest_eigenvalue};

/// How the convolution treats the border of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundary {
    /// The input is periodic (circular padding): the bound is the operator norm.
    Circular,
    /// Zero padding (what the models use): the bound is an upper bound of the operator norm.
    Zero,
}

/// The shape of a convolution's input and how it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Input height and width.
    pub input: [usize; 2],
    pub stride: usize,
    /// Zero padding on every side (ignored for a circular boundary).
    pub padding: usize,
    pub boundary: Boundary,
}

impl ConvGeometry {
    /// The periodic signal size the bound is computed on.
    fn period(&self, kernel: [usize; 2]) -> Result<[usize; 2], Error> {
        let s = self.stride;
        match self.boundary {
            Boundary::Circular => {
                let ok = (0..2).all(|i| self.input[i].is_multiple_of(s) && kernel[i] <= self.input[i]);
                if !ok {
                    return Err(Error::Geometry(format!(
                        "a circular convolution needs an input ({}x{}) divisible by the stride {s} and no smaller \
                         than the kernel ({}x{})",
                        self.input[0], self.input[1], kernel[0], kernel[1]
                    )));
                }
                Ok(self.input)
            }
            Boundary::Zero => Ok([0, 1].map(|i| (self.input[i] + 2 * self.padding).max(kernel[i]).div_ceil(s) * s)),
        }
    }
}

/// How the frequency matrices are handled. Both give the same bound; they differ in cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvMethod {
    /// Build every frequency's matrix by DFT (and its Gram matrix): for kernels with many taps and
    /// few channels.
    Matrices,
    /// Never build them: apply them through the kernel's taps, one matrix product over all frequencies
    /// per step (see `conv_taps`): for small kernels between many channels.
    Taps,
}

/// The output frequencies one bound needs, on the periodic signal it is computed on.
#[derive(Debug, Clone)]
pub(super) struct Frequencies {
    /// The period `[n1, n2]` (a multiple of the stride).
    pub period: [usize; 2],
    pub stride: usize,
    /// Output frequencies `e1·o2 + e2` (`o = n / stride`), one of each conjugate pair `η, −η`: a real
    /// kernel's spectrum at `−η` holds the conjugates of η's columns (permuted), so the same norm.
    pub kept: Vec<usize>,
}

impl Frequencies {
    pub(super) fn of(kernel: [usize; 2], geometry: &ConvGeometry) -> Result<Frequencies, Error> {
        if geometry.stride == 0 {
            return Err(Error::Geometry("the stride must be at least 1".into()));
        }
        let period = geometry.period(kernel)?;
        let s = geometry.stride;
        let (o1, o2) = (period[0] / s, period[1] / s);
        let kept = (0..o1 * o2)
            .filter(|&e| {
                let (e1, e2) = (e / o2, e % o2);
                e <= ((o1 - e1) % o1) * o2 + (o2 - e2) % o2
            })
            .collect();
        Ok(Frequencies { period, stride: s, kept })
    }

    /// Output frequencies per axis.
    pub fn outputs(&self) -> [usize; 2] {
        self.period.map(|n| n / self.stride)
    }

    /// The Δ² input frequencies that alias onto each kept output, in order: `(a1·o1 + e1, a2·o2 + e2)`
    /// for kept output `(e1, e2)` and alias `a = a1·Δ + a2` (entry `k·Δ² + a` for the k-th kept output).
    pub(super) fn inputs(&self) -> Vec<[usize; 2]> {
        let [o1, o2] = self.outputs();
        let s = self.stride;
        let aliases = |e: usize| (0..s * s).map(move |a| [(a / s) * o1 + e / o2, (a % s) * o2 + e % o2]);
        self.kept.iter().flat_map(|&e| aliases(e)).collect()
    }

    /// `cos θ_u(ξ)` and `sin θ_u(ξ)` `[taps, frequencies]`, `θ_u(ξ) = 2π(ξ1·u1/n1 + ξ2·u2/n2)`, for the
    /// kernel's taps u (row `u1·kw + u2`) and the input frequencies ξ of `inputs` (columns, in order).
    pub fn phases(&self, kernel: [usize; 2], device: &Device) -> (Tensor<2>, Tensor<2>) {
        let xi = self.inputs();
        // e^{iθ} = e^{iα}·e^{iβ} with α = 2π(ξ1·u1 mod n1)/n1 and β alike: a small table per axis on the
        // host (residues stepped by addition from one tap to the next), multiplied out on the device.
        let axis_table = |axis: usize| -> (Tensor<2>, Tensor<2>) {
            let (n, taps) = (self.period[axis], kernel[axis]);
            let circle: Vec<(f64, f64)> =
                (0..n).map(|m| 2.0 * std::f64::consts::PI * m as f64 / n as f64).map(|t| (t.cos(), t.sin())).collect();
            let (mut cos, mut sin) = (Vec::with_capacity(taps * xi.len()), Vec::with_capacity(taps * xi.len()));
            let mut residues = vec![0; xi.len()];
            for _ in 0..taps {
                for (r, x) in residues.iter_mut().zip(&xi) {
                    let (c, s) = circle[*r];
                    cos.push(c as f32);
                    sin.push(s as f32);
                    *r = (*r + x[axis]) % n;
                }
            }
            let table = |values: Vec<f32>| Tensor::<2>::from_data(TensorData::new(values, [taps, xi.len()]), device);
            (table(cos), table(sin))
        };
        let [kh, kw] = kernel;
        let ((cos1, sin1), (cos2, sin2)) = (axis_table(0), axis_table(1));
        let rows = |t: Tensor<2>| t.reshape([kh, 1, xi.len()]);
        let columns = |t: Tensor<2>| t.reshape([1, kw, xi.len()]);
        let (cos1, sin1, cos2, sin2) = (rows(cos1), rows(sin1), columns(cos2), columns(sin2));
        let cos = cos1.clone() * cos2.clone() - sin1.clone() * sin2.clone();
        let sin = sin1 * cos2 + cos1 * sin2;
        (cos.reshape([kh * kw, xi.len()]), sin.reshape([kh * kw, xi.len()]))
    }
}

/// The upper bound of the convolution with `weight` `[out, in, kh, kw]` (burn's layout), by the
/// cheaper method for its shape.
pub fn conv_bound(weight: &Tensor<4>, geometry: &ConvGeometry, lanczos: &Lanczos) -> Result<f64, Error> {
    let [outputs, inputs, kh, kw] = weight.dims();
    // Per frequency and step, the taps cost kh·kw·outputs·columns multiply-adds in one large matrix
    // product; a Gram matrix costs small² in batched matrix-vector products (tens of times slower per
    // operation on a CPU) after building it.
    let columns = inputs * geometry.stride * geometry.stride;
    let small = outputs.min(columns);
    let method =
        if kh * kw * outputs * columns <= 32 * small * small { ConvMethod::Taps } else { ConvMethod::Matrices };
    conv_bound_by(weight, geometry, lanczos, method)
}

/// The upper bound of the convolution with `weight` by the given method.
pub fn conv_bound_by(
    weight: &Tensor<4>,
    geometry: &ConvGeometry,
    lanczos: &Lanczos,
    method: ConvMethod,
) -> Result<f64, Error> {
    let [_, _, kh, kw] = weight.dims();
    let frequencies = Frequencies::of([kh, kw], geometry)?;
    // Each frequency's MᴴM, built (with its Gram matrix) or applied through the taps.
    let mut operator: Box<dyn HermitianOperator> = match method {
        ConvMethod::Matrices => Box::new(NormalOperator::of(&frequency_matrices(weight, &frequencies))),
        ConvMethod::Taps => Box::new(TapOperator::new(weight, &frequencies)),
    };
    let largest = largest_eigenvalue(operator.as_mut(), lanczos).max(0.0).sqrt();
    Ok(largest / frequencies.stride as f64)
}

/// Every kept output frequency's matrix `[kept, outputs, Δ²·inputs]` (column `a·inputs + c` for alias a
/// and input channel c), as one product of the phase table with the stacked taps: `W(ξ) = Σ_u e^{-iθ_u(ξ)} w_u`.
/// The product comes out as the transposes `[kept, Δ²·inputs, outputs]`; the matrices are views of them.
fn frequency_matrices(weight: &Tensor<4>, frequencies: &Frequencies) -> Matrices {
    let [outputs, inputs, kh, kw] = weight.dims();
    let (cos, sin) = frequencies.phases([kh, kw], &weight.device());
    let taps = weight.clone().permute([2, 3, 1, 0]).reshape([kh * kw, inputs * outputs]);
    let columns = frequencies.stride * frequencies.stride * inputs;
    let matrices = |phase: Tensor<2>| {
        phase.transpose().matmul(taps.clone()).reshape([frequencies.kept.len(), columns, outputs]).swap_dims(1, 2)
    };
    // e^{-iθ} = cos θ − i sin θ.
    Matrices { re: matrices(cos), im: Some(matrices(sin.neg())) }
}
