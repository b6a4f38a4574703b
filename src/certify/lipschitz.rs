//! L2 certificates from Lipschitz margins, in GloRo's per-pair form: with `K` a proven upper bound on
//! the Lipschitz constant of the network below the logits (layer `depth() − 1`'s output) and `W` the
//! logits' weight, `logit_y − logit_j` moves by at most `K·‖w_y − w_j‖·‖δ‖` under a perturbation δ:
//! tighter than `√2` times the whole network's bound, which is what is left for a model whose last
//! layer is not one dense map.

use burn::prelude::*;

use super::Error;
use crate::bounds::{Lanczos, certified_bound};
use crate::model::Layered;

/// For each ordered pair of classes (y, j), a proven upper bound on the Lipschitz constant (L2) of
/// `logit_y − logit_j`.
#[derive(Debug, Clone, PartialEq)]
pub struct PairBounds {
    classes: usize,
    /// Row-major `[classes, classes]`; the diagonal is 0.
    bounds: Vec<f64>,
    /// The proven bound of the whole network's logits (the product over every map).
    pub network: f64,
}

impl PairBounds {
    /// The pair bounds of `model`, each map's bound proven from above (`lanczos` gives the estimates).
    pub fn of(model: &dyn Layered, lanczos: &Lanczos) -> Result<PairBounds, Error> {
        let maps = model.affine_maps().ok_or(Error::NoAffineMaps)?;
        let bounds = maps.iter().map(|m| certified_bound(&m.map, lanczos)).collect::<Result<Vec<f64>, _>>()?;
        let network = model.network_bound(&maps, &bounds);
        let classes = model.classes();
        let pairs = match model.logit_map() {
            Some((weight, _)) => {
                let (depth, last) = (model.depth(), maps.last().map_or(0, |m| m.layer));
                if last != depth {
                    return Err(Error::LogitMap { last, depth });
                }
                let n = maps.len() - 1;
                let below = model.network_bound(&maps[..n], &bounds[..n]);
                column_distances(&weight).into_iter().map(|d| below * d).collect()
            }
            // ‖e_y − e_j‖ = √2.
            None => vec![std::f64::consts::SQRT_2 * network; classes * classes],
        };
        let bounds = pairs.iter().enumerate().map(|(i, &b)| if i / classes == i % classes { 0.0 } else { b }).collect();
        Ok(PairBounds { classes, bounds, network })
    }

    /// The bound of `logit_y − logit_j`.
    pub fn pair(&self, y: usize, j: usize) -> f64 {
        self.bounds[y * self.classes + j]
    }

    /// Each point's certified L2 radius from its logits `[batch, classes]` and labels: the smallest
    /// `(logit_y − logit_j) / bound(y, j)` over the other classes j; 0 for a point classified wrong.
    /// Certified at ε when the radius exceeds ε.
    pub fn radii(&self, logits: Tensor<2>, labels: &[u8]) -> Vec<f64> {
        let rows: Vec<f64> = logits.into_data().iter::<f32>().map(f64::from).collect();
        rows.chunks(self.classes)
            .zip(labels)
            .map(|(z, &y)| {
                let y = y as usize;
                let radius = (0..self.classes)
                    .filter(|&j| j != y)
                    .map(|j| (z[y] - z[j]) / self.pair(y, j))
                    .fold(f64::INFINITY, f64::min);
                radius.max(0.0)
            })
            .collect()
    }
}

/// `‖w_y − w_j‖` for every pair of columns of `weight` (`[inputs, classes]`), row-major.
fn column_distances(weight: &Tensor<2>) -> Vec<f64> {
    let [inputs, classes] = weight.dims();
    let w: Vec<f64> = weight.clone().into_data().iter::<f32>().map(f64::from).collect();
    let mut distances = vec![0.0; classes * classes];
    for y in 0..classes {
        for j in 0..classes {
            distances[y * classes + j] =
                (0..inputs).map(|i| (w[i * classes + y] - w[i * classes + j]).powi(2)).sum::<f64>().sqrt();
        }
    }
    distances
}

/// GloRo's logits (Leino et al. 2021): `logits` `[batch, classes]` with a ⊥ class appended whose
/// logit is `max over j ≠ y of (z_j + ε·K·‖w_y − w_j‖)`, for labels y, the logits' weight `weight`
/// `[inputs, classes]` and `below` `[1]` the Lipschitz bound of the layers under the logits.
/// Cross-entropy over them (label y) trains for L2 certificates at ε: a point whose ⊥ logit stays
/// below `z_y` is certified when `below` is an upper bound. Differentiable in all of them.
pub fn gloro_logits(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    weight: Tensor<2>,
    below: Tensor<1>,
    epsilon: f64,
) -> Tensor<2> {
    let [_, classes] = logits.dims();
    // ‖w_y − w_j‖² = ‖w_y‖² + ‖w_j‖² − 2·w_y·w_j, from the columns' Gram matrix.
    let gram = weight.clone().transpose().matmul(weight.clone());
    let norms = (weight.clone() * weight).sum_dim(0);
    let squared = norms.clone().transpose() + norms - gram.mul_scalar(2.0);
    // Clamped before the root: the diagonal's zeros would give infinite gradients.
    let distances = squared.clamp_min(1e-12).sqrt();
    let spread = distances.select(0, labels.clone()) * below.reshape([1, 1]).mul_scalar(epsilon);
    let own = labels.one_hot::<2>(classes).bool();
    let bottom = (logits.clone() + spread).mask_fill(own, f32::NEG_INFINITY).max_dim(1);
    Tensor::cat(vec![logits, bottom], 1)
}
