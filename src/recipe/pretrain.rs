//! The zoo's own start for the paper's AE400-10 (a recipe's `[pretrain]`), greedy pretraining: the first layer is trained as a sparse autoencoder
//! (sigmoid units, sigmoid reconstruction, squared error + KL sparsity penalty + weight decay), then
//! the softmax layer is trained on its frozen features. The training loop then fine-tunes both.

use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use serde::{Deserialize, Serialize};

use crate::config::{Invalid, ensure};
use crate::data::{DeviceImages, shuffled_batches};
use crate::model::{Layer, Layered, Stack, cross_entropy, regularize};
use crate::train::TrainConfig;

/// Greedy pretraining of the first layer as a sparse autoencoder (the paper's AE400-10), then of the
/// softmax layer on its frozen features; `[train]` then fine-tunes everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    pub autoencoder_epochs: usize,
    pub classifier_epochs: usize,
    #[serde(default = "defaults::learning_rate")]
    pub learning_rate: f64,
    /// Target mean activation ρ of the hidden units.
    #[serde(default = "defaults::sparsity_target")]
    pub sparsity_target: f64,
    /// Weight β of the KL sparsity penalty.
    #[serde(default = "defaults::sparsity_weight")]
    pub sparsity_weight: f64,
}

mod defaults {
    pub fn learning_rate() -> f64 {
        1e-3
    }
    pub fn sparsity_target() -> f64 {
        0.05
    }
    pub fn sparsity_weight() -> f64 {
        3.0
    }
}

impl PretrainConfig {
    /// Checks every field: pretraining that trains nothing, rates and weights out of range.
    pub fn check(&self) -> Result<(), Invalid> {
        ensure(self.autoencoder_epochs + self.classifier_epochs > 0, "autoencoder_epochs", || {
            "0 autoencoder and 0 classifier epochs pretrain nothing: give epochs or drop the section".into()
        })?;
        ensure(self.learning_rate.is_finite() && self.learning_rate > 0.0, "learning_rate", || {
            format!("{} is not a positive learning rate", self.learning_rate)
        })?;
        ensure(self.sparsity_target > 0.0 && self.sparsity_target < 1.0, "sparsity_target", || {
            format!("{} is not in (0, 1)", self.sparsity_target)
        })?;
        ensure(self.sparsity_weight.is_finite() && self.sparsity_weight >= 0.0, "sparsity_weight", || {
            format!("{} is not a non-negative weight", self.sparsity_weight)
        })
    }
}

/// Why a model cannot be pretrained.
#[derive(Debug, thiserror::Error)]
#[error("autoencoder pretraining needs a model whose first layer is dense")]
pub struct NotDense;

#[derive(Module, Debug)]
struct Autoencoder {
    encoder: Linear,
    decoder: Linear,
}

impl Autoencoder {
    /// Reconstruction `[batch, pixels]` and hidden activations `[batch, units]`.
    fn forward(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let hidden = sigmoid(self.encoder.forward(x));
        (sigmoid(self.decoder.forward(hidden.clone())), hidden)
    }
}

/// `Σ_j KL(ρ ‖ ρ̂_j)` for the mean activations ρ̂ of a batch.
fn sparsity_penalty(hidden: Tensor<2>, rho: f64) -> Tensor<1> {
    let rho_hat = hidden.mean_dim(0).clamp(1e-6, 1.0 - 1e-6);
    let a = rho_hat.clone().recip().mul_scalar(rho).log().mul_scalar(rho);
    let b = rho_hat.neg().add_scalar(1.0).recip().mul_scalar(1.0 - rho).log().mul_scalar(1.0 - rho);
    (a + b).sum()
}

/// Pretrains `model` (a one-hidden-layer sigmoid stack) on `train`; returns it with both layers set.
pub fn pretrain(
    mut model: Stack,
    train: &DeviceImages,
    p: &PretrainConfig,
    config: &TrainConfig,
    seed: u64,
    device: &Device,
) -> Result<Stack, NotDense> {
    let Some(Layer::Dense(first)) = model.layers.first() else { return Err(NotDense) };
    let [inputs, units] = first.linear.weight.val().dims();
    let mut ae = Autoencoder { encoder: first.linear.clone(), decoder: LinearConfig::new(units, inputs).init(device) };
    let (lambda, batch_size) = (config.weight_decay, config.batch_size);
    let mut optim = AdamConfig::new().init();
    for epoch in 0..p.autoencoder_epochs {
        for idx in shuffled_batches(train.len(), batch_size, seed ^ (0xAE00 + epoch as u64)) {
            let x = train.batch(&idx).inputs.autodiff();
            let (reconstruction, hidden) = ae.forward(x.clone());
            let mut loss = (reconstruction - x).square().sum_dim(1).mean().mul_scalar(0.5)
                + sparsity_penalty(hidden, p.sparsity_target).mul_scalar(p.sparsity_weight);
            if lambda > 0.0 {
                let decay = ae.encoder.weight.val().square().sum().div_scalar(units as f64)
                    + ae.decoder.weight.val().square().sum().div_scalar(inputs as f64);
                loss = loss + decay.mul_scalar(lambda);
            }
            let grads = GradientsParams::from_grads(loss.backward(), &ae);
            ae = optim.step(p.learning_rate, ae, grads);
        }
    }
    if let Layer::Dense(first) = &mut model.layers[0] {
        first.linear = ae.encoder;
    }
    // The softmax layer on frozen features: no gradient reaches layer 1 through `detach`.
    let mut optim = AdamConfig::new().init();
    for epoch in 0..p.classifier_epochs {
        for idx in shuffled_batches(train.len(), batch_size, seed ^ (0xC1A5 + epoch as u64)) {
            let batch = train.batch(&idx).autodiff();
            let features = model.activation(1, batch.inputs).detach();
            let mut loss = cross_entropy(model.forward_from(1, features), batch.labels);
            if lambda > 0.0 {
                let decay = regularize::weight_decay(&model.layers[1], lambda).expect("a dense layer has a weight");
                loss = loss + decay;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(p.learning_rate, model, grads);
        }
    }
    Ok(model)
}
