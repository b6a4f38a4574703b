//! The paper's bound for a (strided) convolution, by Parseval. On a periodic `N1 × N2` input a
//! convolution is diagonal in frequency: output frequency η of a stride-Δ convolution collects the Δ²
//! input frequencies `ξ = η + a·N/Δ` that alias onto it, so with `W_dc(ξ)` the 2-D DFT of kernel (d, c)
//! zero-padded to `N1 × N2`, the operator's norm is
//!
//! ```text
//!     max over η of  σ_max( [ W_dc(η + a·N/Δ) ] (rows d; columns (c, a)) ) / Δ
//! ```
//!
//! exactly (the DFT is unitary up to the 1/√N scalings, which leave the 1/Δ). A zero-padded
//! convolution is a restriction of the periodic one on an input padded to a multiple of Δ, so the same
//! number bounds it from above.

use burn::prelude::*;

use super::Error;
use super::conv_taps::TapOperator;
use super::spectral::{HermitianOperator, Lanczos, Matrices, NormalOperator, largest_eigenvalues};

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
    fn of(kernel: [usize; 2], geometry: &ConvGeometry) -> Result<Frequencies, Error> {
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
    let operator: Box<dyn HermitianOperator> = match method {
        ConvMethod::Matrices => Box::new(NormalOperator::of(&frequency_matrices(weight, &frequencies))),
        ConvMethod::Taps => Box::new(TapOperator::new(weight, &frequencies)),
    };
    let largest = largest_eigenvalues(operator.as_ref(), lanczos).into_iter().fold(0.0, f64::max).sqrt();
    Ok(largest / frequencies.stride as f64)
}

/// Every kept output frequency's matrix `[kept, outputs, inputs·Δ²]`: column `c·Δ² + a1·Δ + a2` holds
/// the kernels' DFT at input frequency `(a1·o1 + e1, a2·o2 + e2)`, which aliases onto `(e1, e2)`.
fn frequency_matrices(weight: &Tensor<4>, frequencies: &Frequencies) -> Matrices {
    let [outputs, inputs, kh, kw] = weight.dims();
    let [n1, n2] = frequencies.period;
    let [o1, o2] = frequencies.outputs();
    let s = frequencies.stride;
    let device = weight.device();

    // The 2-D DFT of every kernel zero-padded to n1 × n2, on the kernel's device, as two products
    // with DFT matrices (the kernel is small, so this is cheaper than padding and transforming):
    // along the columns v, then along the rows u. e^{-iθ} = cos θ − i sin θ.
    let (cos2, sin2) = dft_matrix(n2, kw, &device);
    let (cos1, sin1) = dft_matrix(n1, kh, &device);
    let flat = weight.clone().reshape([outputs * inputs * kh, kw]);
    let (a_re, a_im) = (flat.clone().matmul(cos2.transpose()), flat.matmul(sin2.transpose()).neg());
    let rows_first =
        |a: Tensor<2>| a.reshape([outputs * inputs, kh, n2]).swap_dims(0, 1).reshape([kh, outputs * inputs * n2]);
    let (a_re, a_im) = (rows_first(a_re), rows_first(a_im));
    let re = cos1.clone().matmul(a_re.clone()) + sin1.clone().matmul(a_im.clone());
    let im = cos1.matmul(a_im) - sin1.matmul(a_re);

    let kept: Vec<i64> = frequencies.kept.iter().map(|&e| e as i64).collect();
    let count = kept.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(kept, [count]), &device);
    let arrange = |t: Tensor<2>| {
        t.reshape([s, o1, outputs, inputs, s, o2])
            .permute([1, 5, 2, 3, 0, 4])
            .reshape([o1 * o2, outputs, inputs * s * s])
            .select(0, index.clone())
    };
    Matrices { re: arrange(re), im: Some(arrange(im)) }
}

/// The real and imaginary-negated parts of the `n × k` DFT matrix restricted to its first k columns:
/// `cos(2π·x·u/n)` and `sin(2π·x·u/n)`, rows x < n, columns u < k.
fn dft_matrix(n: usize, k: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let angle = |x: usize, u: usize| 2.0 * std::f64::consts::PI * ((x * u) % n) as f64 / n as f64;
    let part = |f: fn(f64) -> f64| {
        let values: Vec<f32> = (0..n).flat_map(|x| (0..k).map(move |u| f(angle(x, u)) as f32)).collect();
        Tensor::<2>::from_data(TensorData::new(values, [n, k]), device)
    };
    (part(f64::cos), part(f64::sin))
}
