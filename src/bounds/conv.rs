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
use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

use super::Error;
use super::spectral::{Matrices, PowerIteration, largest_singular_values};

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

/// The upper bound of the convolution with `weight` `[out, in, kh, kw]` (burn's layout).
pub fn conv_bound(weight: &Tensor<4>, geometry: &ConvGeometry, power: &PowerIteration) -> Result<f64, Error> {
    let [outputs, inputs, kh, kw] = weight.dims();
    if geometry.stride == 0 {
        return Err(Error::Geometry("the stride must be at least 1".into()));
    }
    let [n1, n2] = geometry.period([kh, kw])?;
    let s = geometry.stride;
    let (o1, o2) = (n1 / s, n2 / s);
    let aliases = s * s;
    let columns = inputs * aliases;

    // Real kernels have conjugate-symmetric spectra: frequency -η holds the conjugates of η's columns
    // (permuted), so only one of each pair is kept.
    let mut kept = vec![usize::MAX; o1 * o2];
    let mut count = 0;
    for e1 in 0..o1 {
        for e2 in 0..o2 {
            let mirror = ((o1 - e1) % o1) * o2 + (o2 - e2) % o2;
            if e1 * o2 + e2 <= mirror {
                kept[e1 * o2 + e2] = count;
                count += 1;
            }
        }
    }

    let host: Vec<f32> = weight.to_data().iter::<f32>().collect();
    let mut re = vec![0f32; count * outputs * columns];
    let mut im = vec![0f32; count * outputs * columns];
    let mut planner = FftPlanner::<f32>::new();
    let (row_fft, column_fft) = (planner.plan_fft_forward(n2), planner.plan_fft_forward(n1));
    let mut grid = vec![Complex32::new(0.0, 0.0); n1 * n2];
    let mut column = vec![Complex32::new(0.0, 0.0); n1];
    for d in 0..outputs {
        for c in 0..inputs {
            // The 2-D DFT of kernel (d, c) zero-padded to n1 × n2: rows first (only the kernel's rows
            // are non-zero), then every column.
            grid.fill(Complex32::new(0.0, 0.0));
            let kernel = &host[(d * inputs + c) * kh * kw..][..kh * kw];
            for u in 0..kh {
                for v in 0..kw {
                    grid[u * n2 + v].re = kernel[u * kw + v];
                }
                row_fft.process(&mut grid[u * n2..(u + 1) * n2]);
            }
            for x2 in 0..n2 {
                for x1 in 0..n1 {
                    column[x1] = grid[x1 * n2 + x2];
                }
                column_fft.process(&mut column);
                for x1 in 0..n1 {
                    let f = kept[(x1 % o1) * o2 + x2 % o2];
                    if f == usize::MAX {
                        continue;
                    }
                    let alias = (x1 / o1) * s + x2 / o2;
                    let at = (f * outputs + d) * columns + c * aliases + alias;
                    re[at] = column[x1].re;
                    im[at] = column[x1].im;
                }
            }
        }
    }
    let device = weight.device();
    let shape = [count, outputs, columns];
    let matrices = Matrices {
        re: Tensor::<3>::from_data(TensorData::new(re, shape), &device),
        im: Some(Tensor::<3>::from_data(TensorData::new(im, shape), &device)),
    };
    let largest = largest_singular_values(&matrices, power).into_iter().fold(0.0, f64::max);
    Ok(largest / s as f64)
}
