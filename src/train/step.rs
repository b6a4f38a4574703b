//! One optimizer step: the clean batch and every pool's rows through one pass, the mean
//! cross-entropy (mixed with a bound's loss when training for certificates) plus the
//! regularizers, backward, update, max-norm.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
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
    train_step_split(model, optim, batch, adversarial, learning_rate, regularizers, &[])
}

/// [`train_step`] with the batch split across `devices` (the first is the model's): each device
/// gets a copy of the weights and an equal share of the clean rows and of every pool's rows (TRADES'
/// rows with their clean rows), its loss weighted by its share, so that the weighted losses add up
/// to the whole batch's; the gradients are moved to the first device and summed there, and one
/// optimizer step follows. The model's own terms (weight decay, the Lipschitz penalty) are counted
/// once, on the first device. Empty or one device: the model's device alone. A certified loss needs
/// one device (its bound keeps state on the model's device).
pub fn train_step_split<M: Layered + Module>(
    model: M,
    optim: &mut ModuleOptimizer,
    batch: Batch,
    adversarial: &[LayerBatch],
    learning_rate: f64,
    regularizers: Regularizers,
    devices: &[Device],
) -> Result<StepOutput<M>, Error> {
    let Regularizers { weight_decay, mut lipschitz, max_norm, trades, mut certified } = regularizers;
    let clean = batch.len();
    let shards = devices.len().clamp(1, clean.max(1));
    let home = model.devices().into_iter().next().unwrap_or_default();
    let home_inner = home.clone().without_autodiff();
    let pool_rows: usize = adversarial.iter().map(|p| p.labels.dims()[0]).sum();
    let rows = clean + pool_rows;
    // Pools enter in the order of their layers (entries of one layer keep their order).
    let mut order: Vec<&LayerBatch> = adversarial.iter().collect();
    order.sort_by_key(|pool| pool.layer);
    let mut accumulated = GradientsAccumulator::<M>::new();
    let mut single = None;
    let mut loss_sum: Option<Tensor<1>> = None;
    let mut logits_parts = Vec::with_capacity(shards);
    let mut terms: Vec<(&'static str, Tensor<1>)> = Vec::new();
    for (shard, target) in
        devices.iter().take(shards).enumerate().chain((devices.is_empty()).then_some((0, &home_inner)))
    {
        let (device, local) = match shard {
            0 => (home_inner.clone(), model.clone()),
            _ => (target.clone(), model.clone().fork(&target.clone().autodiff())),
        };
        // This shard's rows of a tensor (on the model's device, with or without autodiff), on its device.
        let share = |of: usize| part(of, shards, shard);
        let moved_2 = |t: Tensor<2>, (start, len): (usize, usize)| {
            let t = t.without_autodiff().narrow(0, start, len);
            if shard == 0 { t } else { t.to_device(&device) }.autodiff()
        };
        let moved_labels = |t: Tensor<1, Int>, (start, len): (usize, usize)| {
            let t = t.narrow(0, start, len);
            if shard == 0 { t } else { t.to_device(&device) }.autodiff()
        };
        let own = share(clean);
        let inputs = moved_2(batch.inputs.clone(), own);
        let labels = moved_labels(batch.labels.clone(), own);
        let here = own.1;
        // The clean rows and every pool's rows (each entering at its layer) go through one pass;
        // the loss is their mean, so each example weighs the same.
        let mut entries = vec![(0, inputs.clone())];
        // TRADES' rows enter after the clean ones.
        if let Some(trades) = &trades {
            entries.push((0, moved_2(trades.adversarial.clone(), own)));
        }
        let mut label_parts = vec![labels.clone()];
        let mut shard_rows = here;
        for pool in &order {
            let rows_of_pool = share(pool.labels.dims()[0]);
            if rows_of_pool.1 == 0 {
                continue;
            }
            entries.push((pool.layer, moved_2(pool.inputs.clone(), rows_of_pool)));
            label_parts.push(moved_labels(pool.labels.clone(), rows_of_pool));
            shard_rows += rows_of_pool.1;
        }
        let mut all_logits = local.forward_joined(entries);
        let logits = all_logits.clone().narrow(0, 0, here);
        let weigh = |t: Tensor<1>, n: usize, of: usize| if n == of { t } else { t.mul_scalar(n as f64 / of as f64) };
        let mut trades_term = None;
        if let Some(trades) = &trades {
            let shard_all = all_logits.dims()[0];
            let perturbed = all_logits.clone().narrow(0, here, here);
            let kl = kl_divergence(logits.clone(), perturbed).mean().mul_scalar(trades.beta);
            trades_term = Some(weigh(kl, here, clean));
            all_logits = match shard_all - 2 * here {
                0 => logits.clone(),
                pools => Tensor::cat(vec![logits.clone(), all_logits.narrow(0, 2 * here, pools)], 0),
            };
        }
        let shard_labels =
            if label_parts.len() == 1 { label_parts.pop().expect("one") } else { Tensor::cat(label_parts, 0) };
        let mut loss = weigh(cross_entropy(all_logits, shard_labels), shard_rows, rows);
        let mut shard_terms = vec![("cross-entropy", loss.clone().detach().inner())];
        if let Some(certified) = certified.as_deref_mut() {
            let bound = weigh(certified.bound_loss(&local, inputs, labels, logits.clone())?, here, clean);
            shard_terms.push(("certified bound", bound.clone().detach().inner()));
            let kappa = certified.kappa();
            loss = loss.mul_scalar(kappa) + bound.mul_scalar(1.0 - kappa);
        }
        if let Some(term) = trades_term {
            shard_terms.push(("TRADES", term.clone().detach().inner()));
            loss = loss + term;
        }
        if shard == 0 {
            if weight_decay > 0.0
                && let Some(decay) = regularize::weight_decay(&local, weight_decay)
            {
                shard_terms.push(("weight decay", decay.clone().detach().inner()));
                loss = loss + decay;
            }
            if let Some(penalty) = lipschitz.take() {
                let penalty = penalty.penalty(&local)?;
                shard_terms.push(("Lipschitz penalty", penalty.clone().detach().inner()));
                loss = loss + penalty;
            }
        }
        let grads = GradientsParams::from_grads(loss.backward(), &local);
        if shards == 1 {
            single = Some(grads);
        } else {
            accumulated.accumulate(&model, if shard == 0 { grads } else { grads.to_device(&home, &local) });
        }
        let home_of = |t: Tensor<1>| if shard == 0 { t } else { t.to_device(&home_inner) };
        loss_sum = Some(match loss_sum {
            None => home_of(loss.detach().inner()),
            Some(sum) => sum + home_of(loss.detach().inner()),
        });
        logits_parts.push(if shard == 0 {
            logits.detach().inner()
        } else {
            logits.detach().inner().to_device(&home_inner)
        });
        for (name, value) in shard_terms {
            match terms.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sum)) => *sum = sum.clone() + home_of(value),
                None => terms.push((name, home_of(value))),
            }
        }
    }
    let grads = single.unwrap_or_else(|| accumulated.grads());
    let mut model = optim.step(learning_rate, model, grads);
    if let Some(limit) = max_norm {
        model = regularize::with_max_norm(model, limit);
    }
    let logits = if logits_parts.len() == 1 { logits_parts.pop().expect("one") } else { Tensor::cat(logits_parts, 0) };
    let loss = loss_sum.expect("at least one shard");
    Ok(StepOutput { model, loss, logits, terms })
}

/// Share `shard` of `n` rows split into `shards` as equal as can be: (first row, rows).
fn part(n: usize, shards: usize, shard: usize) -> (usize, usize) {
    let (base, extra) = (n / shards, n % shards);
    (shard * base + shard.min(extra), base + usize::from(shard < extra))
}
