//! A convolution's frequency matrices applied without building them. Frequency ξ's matrix is a sum
//! over the kernel's taps u, `W(ξ) = Σ_u e^{-2πi⟨ξ, u/N⟩} w_u` with `w_u` the real `out × in` matrix
//! of tap u, so for vectors `v_ξ` at every frequency at once
//!
//! ```text
//!     W(ξ) v_ξ  = Σ_u e^{-iθ_u(ξ)} (w_u v_ξ)        Wᴴ(ξ) y_ξ = Σ_u w_uᵀ (e^{+iθ_u(ξ)} y_ξ)
//! ```
//!
//! where `w_u v_ξ` for all taps and frequencies is one matrix product of the stacked taps
//! `[taps·out, in]` with the vectors `[in, frequencies]` (real and imaginary parts side by side). With
//! stride Δ, output frequency η's vector holds one block per input frequency aliasing onto it, and
//! its products are summed over those aliases (the adjoint copies them back).

use burn::prelude::*;

use super::conv::Frequencies;
use super::spectral::{HermitianOperator, Vectors, row_index};

/// `MᴴM` for every kept output frequency's matrix M `[out, in·Δ²]` of a convolution.
pub struct TapOperator {
    /// The taps stacked `[taps·out, in]`.
    taps: Tensor<2>,
    /// `cos θ_u(ξ)` and `sin θ_u(ξ)` `[taps, 1, frequencies]`, ξ running over the input frequencies
    /// that alias onto the kept outputs: kept output k, alias a at column `k·Δ² + a`.
    cos: Tensor<3>,
    sin: Tensor<3>,
    outputs: usize,
    inputs: usize,
    aliases: usize,
    kept: usize,
}

impl TapOperator {
    pub(super) fn new(weight: &Tensor<4>, frequencies: &Frequencies) -> TapOperator {
        let [outputs, inputs, kh, kw] = weight.dims();
        let device = weight.device();
        let taps = weight.clone().permute([2, 3, 0, 1]).reshape([kh * kw * outputs, inputs]);
        let (cos, sin) = frequencies.phases([kh, kw], &device);
        let count = cos.dims()[1];
        let s = frequencies.stride;
        TapOperator {
            taps,
            cos: cos.reshape([kh * kw, 1, count]),
            sin: sin.reshape([kh * kw, 1, count]),
            outputs,
            inputs,
            aliases: s * s,
            kept: frequencies.kept.len(),
        }
    }

    /// Per-frequency vectors `[kept, in·Δ²]` (column `c·Δ² + a`) as columns `[in, kept·Δ²]`.
    fn as_columns(&self, t: &Tensor<2>) -> Tensor<2> {
        t.clone()
            .reshape([self.kept, self.inputs, self.aliases])
            .swap_dims(0, 1)
            .reshape([self.inputs, self.kept * self.aliases])
    }

    fn as_vectors(&self, t: Tensor<2>) -> Tensor<2> {
        t.reshape([self.inputs, self.kept, self.aliases])
            .swap_dims(0, 1)
            .reshape([self.kept, self.inputs * self.aliases])
    }

    /// `M v` for every kept frequency: `[out, kept]` real and imaginary parts.
    fn forward(&self, re: Tensor<2>, im: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let count = self.kept * self.aliases;
        let taps = self.cos.dims()[0];
        let products = self.taps.clone().matmul(Tensor::cat(vec![re, im], 1)).reshape([taps, self.outputs, 2 * count]);
        let (p_re, p_im) = (products.clone().narrow(2, 0, count), products.narrow(2, count, count));
        // e^{-iθ}·p = (cos·p_re + sin·p_im) + i(cos·p_im − sin·p_re), summed over taps and aliases.
        let z_re = (self.cos.clone() * p_re.clone() + self.sin.clone() * p_im.clone()).sum_dim(0);
        let z_im = (self.cos.clone() * p_im - self.sin.clone() * p_re).sum_dim(0);
        let per_output = |z: Tensor<3>| {
            z.reshape([self.outputs, self.kept, self.aliases]).sum_dim(2).reshape([self.outputs, self.kept])
        };
        (per_output(z_re), per_output(z_im))
    }

    /// `Mᴴ y` for every kept frequency, as columns `[in, kept·Δ²]`.
    fn adjoint(&self, re: Tensor<2>, im: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let count = self.kept * self.aliases;
        let taps = self.cos.dims()[0];
        let spread = |y: Tensor<2>| {
            y.reshape([1, self.outputs, self.kept, 1]).expand([1, self.outputs, self.kept, self.aliases]).reshape([
                1,
                self.outputs,
                count,
            ])
        };
        let (y_re, y_im) = (spread(re), spread(im));
        // e^{+iθ}·y = (cos·y_re − sin·y_im) + i(cos·y_im + sin·y_re), per tap.
        let q_re = self.cos.clone() * y_re.clone() - self.sin.clone() * y_im.clone();
        let q_im = self.cos.clone() * y_im + self.sin.clone() * y_re;
        let stacked = Tensor::cat(vec![q_re, q_im], 2).reshape([taps * self.outputs, 2 * count]);
        let x = self.taps.clone().transpose().matmul(stacked);
        (x.clone().narrow(1, 0, count), x.narrow(1, count, count))
    }
}

impl HermitianOperator for TapOperator {
    fn batch(&self) -> usize {
        self.kept
    }
    fn dim(&self) -> usize {
        self.inputs * self.aliases
    }
    fn complex(&self) -> bool {
        true
    }
    fn device(&self) -> Device {
        self.taps.device()
    }
    fn apply(&self, v: &Vectors) -> Vectors {
        let im = v.im.clone().unwrap_or_else(|| v.re.zeros_like());
        let (y_re, y_im) = self.forward(self.as_columns(&v.re), self.as_columns(&im));
        let (x_re, x_im) = self.adjoint(y_re, y_im);
        Vectors { re: self.as_vectors(x_re), im: Some(self.as_vectors(x_im)) }
    }
    fn retain(&mut self, rows: &[usize]) {
        // Kept output k's aliases are the phase columns k·Δ² .. (k + 1)·Δ².
        let columns: Vec<usize> = rows.iter().flat_map(|&k| k * self.aliases..(k + 1) * self.aliases).collect();
        let index = row_index(&columns, &self.taps.device());
        self.cos = self.cos.clone().select(2, index.clone());
        self.sin = self.sin.clone().select(2, index);
        self.kept = rows.len();
    }
}
