//! L∞ certificates by interval bound propagation: the box `[x − ε, x + ε]` (clipped to the model's
//! input box) goes through the layers (`Layered::layer_interval`); when the last layer is one dense
//! map (`Layered::logit_map`) it is folded into the margins, `(c·(w_y − w_j) + b_y − b_j) −
//! r·|w_y − w_j|` over the penultimate box's centre c and radius r, which is tighter than the
//! logits' own bounds (`lower_y − upper_j`). Differentiable: the same bounds make IBP's training loss.

use burn::prelude::*;

use super::Error;
use crate::model::Layered;

/// Lower bounds `[batch, classes]` on each point's margins `logit_y − logit_j` over the L∞ ball of
/// radius `epsilon` around its row of `x` (inputs `[batch, pixels]`, labels y `[batch]`); the label's
/// own column is 0. A point is certified when every other column is positive.
pub fn margin_lower_bounds(
    model: &dyn Layered,
    x: Tensor<2>,
    labels: Tensor<1, Int>,
    epsilon: f64,
) -> Result<Tensor<2>, Error> {
    let (low, high) = model.activation_box(0);
    let clip = |t: Tensor<2>| {
        let t = if low.is_finite() { t.clamp_min(low) } else { t };
        if high.is_finite() { t.clamp_max(high) } else { t }
    };
    let (mut lower, mut upper) = (clip(x.clone().sub_scalar(epsilon)), clip(x.add_scalar(epsilon)));
    let depth = model.depth();
    let logit_map = model.logit_map();
    let through = if logit_map.is_some() { depth - 1 } else { depth };
    for k in 1..=through {
        (lower, upper) = model.layer_interval(k, lower, upper).ok_or(Error::NoInterval { layer: k })?;
    }
    let [batch, _] = lower.dims();
    let classes = model.classes();
    let own = labels.clone().one_hot::<2>(classes).bool();
    let margins = match logit_map {
        Some((weight, bias)) => {
            let centre = (lower.clone() + upper.clone()).mul_scalar(0.5);
            let radius = (upper - lower).mul_scalar(0.5);
            let logits = centre.matmul(weight.clone()) + bias.unsqueeze_dim(0);
            let label_logit = logits.clone().gather(1, labels.clone().reshape([batch, 1]));
            // |w_y − w_j| per point: [batch, inputs, classes].
            let own_column = weight.clone().transpose().select(0, labels).unsqueeze_dim::<3>(2);
            let spread = (own_column - weight.unsqueeze_dim::<3>(0)).abs() * radius.unsqueeze_dim::<3>(2);
            label_logit - logits - spread.sum_dim(1).reshape([batch, classes])
        }
        None => lower.gather(1, labels.reshape([batch, 1])) - upper,
    };
    Ok(margins.mask_fill(own, 0.0))
}

/// Which rows of `x` no perturbation within L∞ radius `epsilon` can move off their label (host-side
/// `labels`), by [`margin_lower_bounds`].
pub fn certified_linf(model: &dyn Layered, x: Tensor<2>, labels: &[u8], epsilon: f64) -> Result<Vec<bool>, Error> {
    let device = x.device();
    let classes = model.classes();
    let ids = labels.iter().map(|&y| y as i64).collect::<Vec<_>>();
    let label_tensor = Tensor::<1, Int>::from_data(TensorData::new(ids, [labels.len()]), &device);
    let margins = margin_lower_bounds(model, x, label_tensor, epsilon)?;
    let values: Vec<f32> = crate::model::finite(margins)?.into_data().iter::<f32>().collect();
    Ok(values
        .chunks(classes)
        .zip(labels)
        .map(|(m, &y)| m.iter().enumerate().all(|(j, &v)| j == y as usize || v > 0.0))
        .collect())
}
