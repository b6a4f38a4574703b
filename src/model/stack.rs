//! A model as a sequence of layers. Layer k's output is the paper's "layer k" (k = 0 is the input):
//! `activation(k, x)` computes it and `forward_from(k, h)` runs the rest of the network from it.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::layer::{Layer, LayerSpec, Nonlinearity};

/// A model's architecture: its name, input shape and layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub arch: String,
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    pub layers: Vec<LayerSpec>,
}

impl ModelSpec {
    pub fn inputs(&self) -> usize {
        self.input.iter().product()
    }

    pub fn classes(&self) -> usize {
        self.layers.last().map_or(0, LayerSpec::outputs)
    }

    /// Builds the model with freshly initialised weights (the device's RNG decides them).
    pub fn init(&self, device: &Device) -> Stack {
        Stack { layers: self.layers.iter().map(|spec| Layer::new(spec, device)).collect() }
    }
}

#[derive(Module, Debug)]
pub struct Stack {
    pub layers: Vec<Layer>,
}

impl Stack {
    /// Number of layers; the logits are layer `depth()`'s output.
    pub fn depth(&self) -> usize {
        self.layers.len()
    }

    /// Logits `[batch, classes]` of flat inputs `[batch, pixels]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_from(0, x)
    }

    /// Layer k's output (k = 0: the input itself), `k <= depth()`.
    pub fn activation(&self, k: usize, x: Tensor<2>) -> Tensor<2> {
        self.layers[..k].iter().fold(x, |h, layer| layer.forward(h))
    }

    /// The logits, computed from layer k's output `h` by the layers above k.
    pub fn forward_from(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        self.layers[k..].iter().fold(h, |h, layer| layer.forward(h))
    }

    /// The box layer k's outputs live in (layer 0: pixels in [0, 1]).
    pub fn activation_box(&self, k: usize) -> (f32, f32) {
        match k {
            0 => (0.0, 1.0),
            k => self.layers[k - 1].nonlinearity().output_box(),
        }
    }

    /// The paper's weight decay `Σ_layers λ/N_layer · Σ w²` (a scalar tensor).
    pub fn weight_decay(&self, lambda: f64) -> Tensor<1> {
        let terms = self.layers.iter().map(|l| l.weight_squared_sum().div_scalar(l.units() as f64));
        terms.reduce(|a, b| a + b).expect("a model has at least one layer").mul_scalar(lambda)
    }

    /// The nonlinearity of each layer.
    pub fn nonlinearities(&self) -> Vec<Nonlinearity> {
        self.layers.iter().map(Layer::nonlinearity).collect()
    }
}

/// Mean cross-entropy of `logits` `[batch, classes]` against `labels` `[batch]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, labels.reshape([batch, 1]));
    picked.mean().neg()
}
