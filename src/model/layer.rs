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

use super::layered::AffineMap;
use super::regularize::unit_squares;

/// The nonlinearity after a layer's affine map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Nonlinearity {
    /// None: the layer's output is its affine map (the logits of the last layer).
    Identity,
    Sigmoid,
    Relu,
    /// GroupSort of pairs (Anil et al. 2019; GloRo's MinMax): the channels in adjacent pairs, each
    /// pair sorted to `[min, max]`. Lipschitz 1 and gradient-norm preserving; every output is
    /// monotone in the inputs, so interval bounds go through it bound by bound. Needs an even width.
    MinMax,
}

impl Nonlinearity {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Nonlinearity::Identity => x,
            Nonlinearity::Sigmoid => sigmoid(x),
            Nonlinearity::Relu => relu(x),
            Nonlinearity::MinMax => min_max(x),
        }
    }

    /// The box the layer's outputs live in: sigmoid [0, 1], ReLU [0, ∞), identity and MinMax unbounded.
    pub fn output_box(self) -> (f32, f32) {
        match self {
            Nonlinearity::Identity | Nonlinearity::MinMax => (f32::NEG_INFINITY, f32::INFINITY),
            Nonlinearity::Sigmoid => (0.0, 1.0),
            Nonlinearity::Relu => (0.0, f32::INFINITY),
        }
    }

    /// Its Lipschitz constant: sigmoid 1/4, ReLU, MinMax and identity 1.
    pub fn lipschitz(self) -> f32 {
        match self {
            Nonlinearity::Sigmoid => 0.25,
            Nonlinearity::Identity | Nonlinearity::Relu | Nonlinearity::MinMax => 1.0,
        }
    }
}

/// Each pair of channels (dim 1) sorted: `[a, b]` becomes `[min(a, b), max(a, b)]`.
fn min_max<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    let rest: usize = dims[2..].iter().product();
    let pairs = x.reshape([dims[0], dims[1] / 2, 2, rest]);
    let (a, b) = (pairs.clone().narrow(2, 0, 1), pairs.narrow(2, 1, 1));
    Tensor::cat(vec![a.clone().min_pair(b.clone()), a.max_pair(b)], 2).reshape(dims)
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

    /// The layer's affine map (its weight and, for a convolution, the geometry) and the Lipschitz
    /// constant of what follows it: the nonlinearity's times the max-pooling's.
    pub fn affine_map(&self, layer: usize) -> AffineMap {
        let after = f64::from(self.nonlinearity().lipschitz());
        match self {
            Layer::Dense(d) => AffineMap::dense(layer, &d.linear, after),
            Layer::Conv(c) => {
                let pool = c.pool.as_ref().map_or(1.0, |p| pool_lipschitz(p.kernel_size[0], p.stride[0]));
                AffineMap::conv(layer, &c.conv, c.input, after * pool)
                    .expect("the zoo's convolutions are square with symmetric padding")
            }
        }
    }

    /// The L2 norm of each unit's incoming weight vector `[units]`: what max-norm caps.
    pub fn unit_norms(&self) -> Tensor<1> {
        match self {
            Layer::Dense(d) => unit_squares(d.linear.weight.val()).sqrt().flatten(0, 1),
            Layer::Conv(c) => unit_squares(c.conv.weight.val()).sqrt().flatten(0, 3),
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

/// The Lipschitz constant (L2) of max-pooling with windows of `kernel` and stride `stride`: 1 only
/// without overlap; an input in m = ⌈k/s⌉ windows per axis can move m² outputs, so its constant is
/// m (the paper counts 1).
pub fn pool_lipschitz(kernel: usize, stride: usize) -> f64 {
    kernel.div_ceil(stride).max(1) as f64
}
