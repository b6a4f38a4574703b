//! Bounds a certificate can rest on. Lanczos's Ritz values grow towards the largest eigenvalue from
//! below, so the Lipschitz table's figure may fall short of the operator norm by its tolerance (and
//! by f32 rounding). [`certified_bound`] raises it by a small margin to `t` and proves `t ≥ σ_max` of
//! every matrix the bound covers (a dense layer's weight; each output frequency's matrix of a
//! convolution, built again here in f64 from exact phases): a Hermitian matrix `t²I − MMᴴ` is
//! positive definite exactly when its Cholesky factorisation runs with positive pivots, computed in
//! f64 on the host, where rounding (about 1e-13 relative) is far below the margin (1e-4 relative, ten
//! times more each time a proof fails). Should none up to twice the estimate prove, the Frobenius
//! norm (never below σ_max) is the bound.

use burn::prelude::*;

use super::Error;
use super::conv::{Boundary, ConvGeometry, Frequencies};
use super::spectral::Lanczos;
use super::table::affine_bound;
use crate::model::Affine;

/// An upper bound on `map`'s operator norm (L2) proven from above (see the module's note).
pub fn certified_bound(map: &Affine, lanczos: &Lanczos) -> Result<f64, Error> {
    let estimate = affine_bound(map, lanczos)?;
    let (matrices, stride) = host_matrices(map)?;
    // A stride-Δ convolution's norm is σ_max over the frequency matrices divided by Δ.
    let scale = stride as f64;
    let grams: Vec<HostMatrix> = matrices.iter().map(HostMatrix::gram).collect();
    for margin in [1e-4, 1e-3, 1e-2, 1e-1, 1.0] {
        let t = estimate * (1.0 + margin);
        let square = (t * scale).powi(2);
        if t > 0.0 && grams.iter().all(|g| g.dominated_by(square)) {
            return Ok(t);
        }
    }
    Ok(matrices.iter().map(HostMatrix::frobenius).fold(0.0, f64::max) / scale)
}

/// The matrices whose largest singular value bounds `map` (times the stride), in f64.
fn host_matrices(map: &Affine) -> Result<(Vec<HostMatrix>, usize), Error> {
    match map {
        Affine::Dense { weight } => {
            let [inputs, outputs] = weight.dims();
            let re = host_values(weight.clone().detach().inner().reshape([inputs * outputs]));
            Ok((vec![HostMatrix { rows: inputs, cols: outputs, im: vec![0.0; re.len()], re }], 1))
        }
        Affine::Conv { weight, input: [_, h, w], stride, padding } => {
            let geometry =
                ConvGeometry { input: [*h, *w], stride: *stride, padding: *padding, boundary: Boundary::Zero };
            let [outputs, inputs, kh, kw] = weight.dims();
            let taps = host_values(weight.clone().detach().inner().reshape([outputs * inputs * kh * kw]));
            let frequencies = Frequencies::of([kh, kw], &geometry)?;
            Ok((frequency_matrices(&taps, [outputs, inputs, kh, kw], &frequencies), *stride))
        }
    }
}

fn host_values(t: Tensor<1>) -> Vec<f64> {
    t.into_data().iter::<f32>().map(f64::from).collect()
}

/// Each kept output frequency's matrix (rows: output channels d; columns `a·inputs + c` for alias a
/// and input channel c) of the kernel `taps` (`[out, in, kh, kw]`, row-major):
/// `W_dc(ξ) = Σ_u w_dcu e^{−iθ_u(ξ)}`, `θ_u(ξ) = 2π(ξ1·u1/n1 + ξ2·u2/n2)`, as `conv.rs` builds them on
/// the device.
fn frequency_matrices(
    taps: &[f64],
    [outputs, inputs, kh, kw]: [usize; 4],
    frequencies: &Frequencies,
) -> Vec<HostMatrix> {
    let [n1, n2] = frequencies.period;
    let aliases = frequencies.stride * frequencies.stride;
    let xi = frequencies.inputs();
    let angle = |m: usize, n: usize| 2.0 * std::f64::consts::PI * (m % n) as f64 / n as f64;
    xi.chunks(aliases)
        .map(|group| {
            let cols = aliases * inputs;
            let mut m =
                HostMatrix { rows: outputs, cols, re: vec![0.0; outputs * cols], im: vec![0.0; outputs * cols] };
            for (a, &[x1, x2]) in group.iter().enumerate() {
                for (u1, u2) in (0..kh).flat_map(|u1| (0..kw).map(move |u2| (u1, u2))) {
                    let theta = angle(x1 * u1, n1) + angle(x2 * u2, n2);
                    let (c_, s_) = (theta.cos(), -theta.sin());
                    for d in 0..outputs {
                        for c in 0..inputs {
                            let w = taps[((d * inputs + c) * kh + u1) * kw + u2];
                            let at = d * cols + a * inputs + c;
                            m.re[at] += w * c_;
                            m.im[at] += w * s_;
                        }
                    }
                }
            }
            m
        })
        .collect()
}

/// A complex matrix on the host, row-major.
struct HostMatrix {
    rows: usize,
    cols: usize,
    re: Vec<f64>,
    im: Vec<f64>,
}

impl HostMatrix {
    /// The smaller of `MMᴴ` and `MᴴM` (the same nonzero eigenvalues: σ²).
    fn gram(&self) -> HostMatrix {
        if self.rows <= self.cols { self.times_adjoint() } else { self.adjoint().times_adjoint() }
    }

    fn adjoint(&self) -> HostMatrix {
        let (mut re, mut im) = (vec![0.0; self.re.len()], vec![0.0; self.re.len()]);
        for i in 0..self.rows {
            for j in 0..self.cols {
                re[j * self.rows + i] = self.re[i * self.cols + j];
                im[j * self.rows + i] = -self.im[i * self.cols + j];
            }
        }
        HostMatrix { rows: self.cols, cols: self.rows, re, im }
    }

    /// `MMᴴ`: entry (i, j) is `Σ_k m_ik · conj(m_jk)`.
    fn times_adjoint(&self) -> HostMatrix {
        let n = self.rows;
        let (mut re, mut im) = (vec![0.0; n * n], vec![0.0; n * n]);
        for i in 0..n {
            let (ri, ii) = (&self.re[i * self.cols..(i + 1) * self.cols], &self.im[i * self.cols..(i + 1) * self.cols]);
            for j in 0..=i {
                let (rj, ij) =
                    (&self.re[j * self.cols..(j + 1) * self.cols], &self.im[j * self.cols..(j + 1) * self.cols]);
                let (mut sr, mut si) = (0.0, 0.0);
                for k in 0..self.cols {
                    sr += ri[k] * rj[k] + ii[k] * ij[k];
                    si += ii[k] * rj[k] - ri[k] * ij[k];
                }
                re[i * n + j] = sr;
                im[i * n + j] = si;
                re[j * n + i] = sr;
                im[j * n + i] = -si;
            }
        }
        HostMatrix { rows: n, cols: n, re, im }
    }

    fn frobenius(&self) -> f64 {
        self.re.iter().chain(&self.im).map(|x| x * x).sum::<f64>().sqrt()
    }

    /// Whether `s·I − self` (self Hermitian) is positive definite: its Cholesky factorisation
    /// `L·Lᴴ` runs with positive pivots.
    fn dominated_by(&self, s: f64) -> bool {
        let n = self.rows;
        let (mut lr, mut li) = (vec![0.0f64; n * n], vec![0.0f64; n * n]);
        for j in 0..n {
            let mut pivot = s - self.re[j * n + j];
            for k in 0..j {
                pivot -= lr[j * n + k].powi(2) + li[j * n + k].powi(2);
            }
            // A NaN pivot proves nothing either.
            if pivot.is_nan() || pivot <= 0.0 {
                return false;
            }
            let diagonal = pivot.sqrt();
            lr[j * n + j] = diagonal;
            for i in j + 1..n {
                // a_ij of sI − G is −g_ij; subtract Σ_k l_ik · conj(l_jk).
                let (mut sr, mut si) = (-self.re[i * n + j], -self.im[i * n + j]);
                for k in 0..j {
                    let (ar, ai, br, bi) = (lr[i * n + k], li[i * n + k], lr[j * n + k], li[j * n + k]);
                    sr -= ar * br + ai * bi;
                    si -= ai * br - ar * bi;
                }
                lr[i * n + j] = sr / diagonal;
                li[i * n + j] = si / diagonal;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(rows: usize, cols: usize, values: &[f64]) -> HostMatrix {
        HostMatrix { rows, cols, re: values.to_vec(), im: vec![0.0; values.len()] }
    }

    #[test]
    fn cholesky_tells_which_side_of_the_top_eigenvalue_a_number_is() {
        // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
        let g = real(2, 2, &[2.0, 1.0, 1.0, 2.0]);
        assert!(g.dominated_by(3.0 + 1e-9));
        assert!(!g.dominated_by(3.0 - 1e-9));
        // A Hermitian matrix with an imaginary off-diagonal: [[1, i], [−i, 1]] has eigenvalues 0 and 2.
        let h = HostMatrix { rows: 2, cols: 2, re: vec![1.0, 0.0, 0.0, 1.0], im: vec![0.0, 1.0, -1.0, 0.0] };
        assert!(h.dominated_by(2.0 + 1e-9));
        assert!(!h.dominated_by(2.0 - 1e-9));
    }

    #[test]
    fn the_gram_matrix_of_a_wide_or_tall_matrix_holds_its_singular_values() {
        // [[3, 0, 0], [0, 4, 0]]: σ = 4, 3; both orientations give a 2 × 2 Gram matrix with top 16.
        let m = real(2, 3, &[3.0, 0.0, 0.0, 0.0, 4.0, 0.0]);
        for g in [m.gram(), m.adjoint().gram()] {
            assert_eq!((g.rows, g.cols), (2, 2));
            assert!(g.dominated_by(16.0 + 1e-9) && !g.dominated_by(16.0 - 1e-9));
        }
        assert!((m.frobenius() - 5.0).abs() < 1e-12);
    }
}
