//! One layer of a model: an affine map (dense or convolution), its nonlinearity, optional max-pooling,
//! and dropout on the layer's input. Layers read and write flat activations `[batch, features]`:
//! a convolution reshapes to `[batch, c, h, w]` inside, so `activation(k, x)` and `forward_from(k, h)`
//! look the same for every layer, which the per-layer attacks and pools rely on.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use serde::{Deserialize, Serialize};

/// The nonlinearity after a layer's affine map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nonlinearity {
    /// None: the layer's output is its affine map (the logits of the last layer).
    Identity,
    Sigmoid,
    Relu,
}

impl Nonlinearity {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Nonlinearity::Identity => x,
            Nonlinearity::Sigmoid => sigmoid(x),
            Nonlinearity::Relu => relu(x),
        }
    }

    /// The box the layer's outputs live in: sigmoid [0, 1], ReLU [0, ∞), identity unbounded.
    pub fn output_box(self) -> (f32, f32) {
        match self {
            Nonlinearity::Identity => (f32::NEG_INFINITY, f32::INFINITY),
            Nonlinearity::Sigmoid => (0.0, 1.0),
            Nonlinearity::Relu => (0.0, f32::INFINITY),
        }
    }

    /// Its Lipschitz constant: sigmoid 1/4, ReLU and identity 1.
    pub fn lipschitz(self) -> f32 {
        match self {
            Nonlinearity::Sigmoid => 0.25,
            Nonlinearity::Identity | Nonlinearity::Relu => 1.0,
        }
    }
}

/// A layer's shape and options: what a checkpoint's recipe records and `Layer::new` builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LayerSpec {
    Dense {
        inputs: usize,
        outputs: usize,
        nonlinearity: Nonlinearity,
        /// Dropout probability on the layer's input during training.
        dropout: f64,
    },
    Conv {
        /// Input shape `[channels, height, width]`.
        input: [usize; 3],
        channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        nonlinearity: Nonlinearity,
        /// Max-pooling `[kernel, stride]` after the nonlinearity, if any.
        pool: Option<[usize; 2]>,
        dropout: f64,
    },
}

impl LayerSpec {
    /// Number of input features (flattened).
    pub fn inputs(&self) -> usize {
        match self {
            LayerSpec::Dense { inputs, .. } => *inputs,
            LayerSpec::Conv { input, .. } => input.iter().product(),
        }
    }

    /// Output shape `[channels, height, width]` (dense layers: `[outputs, 1, 1]`).
    pub fn output_shape(&self) -> [usize; 3] {
        match self {
            LayerSpec::Dense { outputs, .. } => [*outputs, 1, 1],
            LayerSpec::Conv { input: [_, h, w], channels, kernel, stride, padding, pool, .. } => {
                let conv = |n: usize| (n + 2 * padding - kernel) / stride + 1;
                let (h, w) = (conv(*h), conv(*w));
                match pool {
                    Some([k, s]) => [*channels, (h - k) / s + 1, (w - k) / s + 1],
                    None => [*channels, h, w],
                }
            }
        }
    }

    /// Number of output features (flattened).
    pub fn outputs(&self) -> usize {
        self.output_shape().iter().product()
    }

    pub fn nonlinearity(&self) -> Nonlinearity {
        match self {
            LayerSpec::Dense { nonlinearity, .. } | LayerSpec::Conv { nonlinearity, .. } => *nonlinearity,
        }
    }

    pub fn dropout(&self) -> f64 {
        match self {
            LayerSpec::Dense { dropout, .. } | LayerSpec::Conv { dropout, .. } => *dropout,
        }
    }

    pub fn set_dropout(&mut self, p: f64) {
        match self {
            LayerSpec::Dense { dropout, .. } | LayerSpec::Conv { dropout, .. } => *dropout = p,
        }
    }
}

/// A dense layer: `nonlinearity(W · dropout(x) + b)`.
#[derive(Module, Debug)]
pub struct Dense {
    pub linear: Linear,
    pub dropout: Dropout,
    #[module(skip)]
    pub nonlinearity: Nonlinearity,
}

/// A convolutional layer: `pool(nonlinearity(conv(dropout(x))))`, on flat activations.
#[derive(Module, Debug)]
pub struct Conv {
    pub conv: Conv2d,
    pub pool: Option<MaxPool2d>,
    pub dropout: Dropout,
    #[module(skip)]
    pub nonlinearity: Nonlinearity,
    #[module(skip)]
    pub input: [usize; 3],
}

/// One layer of a [`Stack`](super::Stack).
#[derive(Module, Debug)]
// One value per layer of a model: the size difference between variants costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
pub enum Layer {
    Dense(Dense),
    Conv(Conv),
}

impl Layer {
    pub fn new(spec: &LayerSpec, device: &Device) -> Layer {
        let dropout = DropoutConfig::new(spec.dropout()).init();
        match *spec {
            LayerSpec::Dense { inputs, outputs, nonlinearity, .. } => {
                Layer::Dense(Dense { linear: LinearConfig::new(inputs, outputs).init(device), dropout, nonlinearity })
            }
            LayerSpec::Conv { input, channels, kernel, stride, padding, nonlinearity, pool, .. } => Layer::Conv(Conv {
                conv: Conv2dConfig::new([input[0], channels], [kernel, kernel])
                    .with_stride([stride, stride])
                    .with_padding(PaddingConfig2d::Explicit(padding, padding, padding, padding))
                    .init(device),
                pool: pool.map(|[k, s]| MaxPool2dConfig::new([k, k]).with_strides([s, s]).init()),
                dropout,
                nonlinearity,
                input,
            }),
        }
    }

    /// `[batch, inputs]` -> `[batch, outputs]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Layer::Dense(d) => d.nonlinearity.apply(d.linear.forward(d.dropout.forward(x))),
            Layer::Conv(c) => {
                let [batch, _] = x.dims();
                let [ch, h, w] = c.input;
                let x = c.dropout.forward(x).reshape([batch, ch, h, w]);
                let y = c.nonlinearity.apply(c.conv.forward(x));
                let y = match &c.pool {
                    Some(pool) => pool.forward(y),
                    None => y,
                };
                y.reshape([batch as i32, -1])
            }
        }
    }

    pub fn nonlinearity(&self) -> Nonlinearity {
        match self {
            Layer::Dense(d) => d.nonlinearity,
            Layer::Conv(c) => c.nonlinearity,
        }
    }

    /// The layer's weight (not its bias).
    pub fn weight_squared_sum(&self) -> Tensor<1> {
        match self {
            Layer::Dense(d) => d.linear.weight.val().square().sum(),
            Layer::Conv(c) => c.conv.weight.val().square().sum(),
        }
    }

    /// Max-norm: each unit's incoming weight vector (a dense layer's column, a convolution's kernel for
    /// one output channel) scaled back to L2 norm `limit` if longer; biases untouched. A constraint on
    /// the parameters, not part of the loss: applied after an optimizer step, outside autodiff.
    pub fn with_max_norm(self, limit: f64) -> Layer {
        match self {
            Layer::Dense(mut d) => {
                d.linear.weight = d.linear.weight.map(|w| cap_norms(w, limit, dense_unit_squares));
                Layer::Dense(d)
            }
            Layer::Conv(mut c) => {
                c.conv.weight = c.conv.weight.map(|w| cap_norms(w, limit, conv_unit_squares));
                Layer::Conv(c)
            }
        }
    }

    /// The L2 norm of each unit's incoming weight vector `[units]`: what `with_max_norm` caps.
    pub fn unit_norms(&self) -> Tensor<1> {
        match self {
            Layer::Dense(d) => dense_unit_squares(d.linear.weight.val()).sqrt().flatten(0, 1),
            Layer::Conv(c) => conv_unit_squares(c.conv.weight.val()).sqrt().flatten(0, 3),
        }
    }

    /// The number of units N of the paper's per-layer weight decay `λ/N · Σ w²`: output features of
    /// a dense layer, output channels of a convolution.
    pub fn units(&self) -> usize {
        match self {
            Layer::Dense(d) => d.linear.weight.val().dims()[1],
            Layer::Conv(c) => c.conv.weight.val().dims()[0],
        }
    }
}

/// Each unit's squared norm of a dense weight `[inputs, outputs]`: its columns, `[1, outputs]`.
fn dense_unit_squares(weight: Tensor<2>) -> Tensor<2> {
    weight.square().sum_dim(0)
}

/// Each unit's squared norm of a convolution weight `[out, in, kh, kw]`: one kernel per output channel,
/// `[out, 1, 1, 1]`.
fn conv_unit_squares(weight: Tensor<4>) -> Tensor<4> {
    weight.square().sum_dim(1).sum_dim(2).sum_dim(3)
}

/// `weight` scaled unit by unit to norm at most `limit`, where `squared_norms(weight)` gives each
/// unit's squared norm in a shape that broadcasts against it. Computed without autodiff; the result
/// keeps the parameter's autodiff state (as burn's optimizers restore it after an update).
fn cap_norms<const D: usize>(
    weight: Tensor<D>,
    limit: f64,
    squared_norms: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    let (autodiff, require_grad) = (weight.is_autodiff(), weight.is_require_grad());
    let strategy = weight.gradient_checkpointing_strategy();
    let weight = weight.inner();
    let scale = squared_norms(weight.clone()).sqrt().clamp_min(1e-12).recip().mul_scalar(limit).clamp_max(1.0);
    let capped = weight * scale;
    if !autodiff {
        return capped;
    }
    let mut capped = capped.autodiff();
    if let Some(strategy) = strategy {
        capped = capped.with_gradient_checkpointing_strategy(strategy);
    }
    if require_grad { capped.require_grad() } else { capped }
}
