//! One optimizer step: the clean batch and every pool's rows through one pass, the mean
//! cross-entropy (mixed with a bound's loss when training for certificates) plus the
//! regularizers, backward, update, max-norm.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::certified::CertifiedLoss;
use crate::bounds::LipschitzPenalty;
use crate::data::Batch;
use crate::model::{Layered, cross_entropy, kl_divergence, regularize};
use crate::pool::LayerBatch;

/// What one optimizer step gives back.
pub struct StepOutput<M> {
    pub model: M,
    /// The batch's loss (cross-entropy plus regularizers), detached, without autodiff.
    pub loss: Tensor<1>,
    /// The logits the loss was computed from, detached, without autodiff.
    pub logits: Tensor<2>,
    /// The loss's terms, each named and detached, without autodiff: the cross-entropy, then the
    /// weight decay and the Lipschitz penalty where the step has them.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// What regularises a step besides the cross-entropy: terms added to the loss, and the max-norm
/// constraint applied to the weights after the update.
#[derive(Default)]
pub struct Regularizers<'a> {
    /// The paper's weight decay `λ/N · Σ w²` (λ; 0: none).
    pub weight_decay: f64,
    /// The Lipschitz-bound penalty, if the run has one and it applies at this step
    /// (`LipschitzPenalty::if_due`).
    pub lipschitz: Option<&'a mut LipschitzPenalty>,
    /// Each unit's incoming weights are scaled back to this L2 norm after the update
    /// (`regularize::with_max_norm`).
    pub max_norm: Option<f64>,
    /// TRADES' robustness term for the batch's examples, if the run trains with it.
    pub trades: Option<Trades>,
    /// The bound loss at this step (`[certified]`: IBP's or GloRo's), if the run trains for
    /// certificates and its warm-up is over (`CertifiedLoss::at`).
    pub certified: Option<&'a mut CertifiedLoss>,
}

/// Why a step failed: a penalty or a certified loss asked of a model that cannot give it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Penalty(#[from] crate::bounds::Error),
    #[error("certified training: {0}")]
    Certified(#[from] crate::certify::Error),
}

/// TRADES' robustness term (Zhang et al. 2019): `beta · mean KL(p(x) ‖ p(x'))` over the batch's
/// examples `x` and their adversarial versions `x'`, differentiated through both.
pub struct Trades {
    /// The adversarial versions of the batch's inputs, row for row.
    pub adversarial: Tensor<2>,
    pub beta: f64,
}

/// One optimizer step on `batch` and the pool examples `adversarial`: the mean cross-entropy over
/// all of them (a layer-k pool example joins the pass at layer k, `Layered::forward_joined`, so it
/// trains the layers above k) plus the regularizers, backward, update. `model` must live on an
/// autodiff device. The returned logits are the clean batch's. Fails only when a Lipschitz
/// penalty is asked of a model that lists no affine maps, or a certified loss of one without
/// interval bounds.
pub fn train_step<M: Layered + Module>(
    model: M,
    optim: &mut ModuleOptimizer,
    batch: Batch,
    adversarial: &[LayerBatch],
    learning_rate: f64,
    regularizers: Regularizers,
) -> Result<StepOutput<M>, Error> {
    let batch = batch.autodiff();
    let clean = batch.len();
    let bounded = regularizers.certified.map(|loss| (loss, batch.inputs.clone(), batch.labels.clone()));
    // The clean rows and every pool's rows (each entering at its layer) go through one pass; the
    // loss is their mean, so each example weighs the same.
    let mut entries = vec![(0, batch.inputs)];
    // TRADES' rows enter after the clean ones (entries of one layer keep their order).
    if let Some(trades) = &regularizers.trades {
        entries.push((0, trades.adversarial.clone().autodiff()));
    }
    let mut labels = vec![batch.labels];
    let mut order: Vec<&LayerBatch> = adversarial.iter().collect();
    order.sort_by_key(|pool| pool.layer);
    for pool in order {
        entries.push((pool.layer, pool.inputs.clone().autodiff()));
        labels.push(pool.labels.clone().autodiff());
    }
    let mut all_logits = model.forward_joined(entries);
    let logits = all_logits.clone().narrow(0, 0, clean);
    let mut trades_term = None;
    if let Some(trades) = &regularizers.trades {
        let rows = all_logits.dims()[0];
        let perturbed = all_logits.clone().narrow(0, clean, clean);
        trades_term = Some(kl_divergence(logits.clone(), perturbed).mean().mul_scalar(trades.beta));
        all_logits = match rows - 2 * clean {
            0 => logits.clone(),
            pools => Tensor::cat(vec![logits.clone(), all_logits.narrow(0, 2 * clean, pools)], 0),
        };
    }
    let labels = if labels.len() == 1 { labels.pop().expect("one") } else { Tensor::cat(labels, 0) };
    let mut loss = cross_entropy(all_logits, labels);
    let mut terms = vec![("cross-entropy", loss.clone().detach().inner())];
    if let Some((certified, inputs, labels)) = bounded {
        let bound = certified.bound_loss(&model, inputs, labels, logits.clone())?;
        terms.push(("certified bound", bound.clone().detach().inner()));
        let kappa = certified.kappa();
        loss = loss.mul_scalar(kappa) + bound.mul_scalar(1.0 - kappa);
    }
    if let Some(term) = trades_term {
        terms.push(("TRADES", term.clone().detach().inner()));
        loss = loss + term;
    }
    if regularizers.weight_decay > 0.0
        && let Some(decay) = regularize::weight_decay(&model, regularizers.weight_decay)
    {
        terms.push(("weight decay", decay.clone().detach().inner()));
        loss = loss + decay;
    }
    if let Some(penalty) = regularizers.lipschitz {
        let penalty = penalty.penalty(&model)?;
        terms.push(("Lipschitz penalty", penalty.clone().detach().inner()));
        loss = loss + penalty;
    }
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let mut model = optim.step(learning_rate, model, grads);
    if let Some(limit) = regularizers.max_norm {
        model = regularize::with_max_norm(model, limit);
    }
    Ok(StepOutput { model, loss: loss.detach().inner(), logits: logits.detach().inner(), terms })
}
