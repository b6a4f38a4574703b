//! The Lipschitz-bound regularizer: each chosen layer's largest singular value, estimated by power
//! iteration with persistent vectors through the layer's own forward and transpose operations
//! (matrix products, or `conv2d` / `conv_transpose2d` with the layer's stride and zero padding, so it
//! runs wherever the model runs), and penalised as a differentiable function of the weights.

use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::model::{Layer, LayerSpec, ModelSpec, Stack};
use crate::recipe::{LipschitzSection, PenaltyMode};

/// A layer's weight, with or without autodiff.
enum Weight {
    Dense(Tensor<2>),
    Conv(Tensor<4>),
}

impl Weight {
    fn of(layer: &Layer) -> Weight {
        match layer {
            Layer::Dense(d) => Weight::Dense(d.linear.weight.val()),
            Layer::Conv(c) => Weight::Conv(c.conv.weight.val()),
        }
    }

    fn device(&self) -> Device {
        match self {
            Weight::Dense(w) => w.device(),
            Weight::Conv(w) => w.device(),
        }
    }

    /// The same values without autodiff (for the power-iteration steps that are not differentiated).
    fn detached(&self) -> Weight {
        match self {
            Weight::Dense(w) => Weight::Dense(w.clone().detach().inner()),
            Weight::Conv(w) => Weight::Conv(w.clone().detach().inner()),
        }
    }
}

/// A layer's linear map `x ↦ A x` on flat `[1, inputs]` vectors, and its transpose.
#[derive(Debug, Clone, Copy)]
pub struct Operator {
    /// A convolution's `[channels, height, width]` input, stride, padding; `None` for a dense layer.
    conv: Option<([usize; 3], usize, usize)>,
}

impl Operator {
    pub fn of(spec: &LayerSpec) -> Operator {
        match spec {
            LayerSpec::Dense { .. } => Operator { conv: None },
            LayerSpec::Conv { input, stride, padding, .. } => Operator { conv: Some((*input, *stride, *padding)) },
        }
    }

    fn apply(&self, weight: &Weight, x: Tensor<2>) -> Tensor<2> {
        match (weight, self.conv) {
            (Weight::Dense(w), _) => x.matmul(w.clone()),
            (Weight::Conv(w), Some(([c, h, wd], s, p))) => {
                let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
                conv2d(x.reshape([1, c, h, wd]), w.clone(), None, options).flatten(1, 3)
            }
            (Weight::Conv(_), None) => unreachable!("a convolution's operator has its geometry"),
        }
    }

    fn transpose(&self, weight: &Weight, y: Tensor<2>) -> Tensor<2> {
        match (weight, self.conv) {
            (Weight::Dense(w), _) => y.matmul(w.clone().transpose()),
            (Weight::Conv(w), Some(([_, h, wd], s, p))) => {
                let [outputs, _, k, _] = w.dims();
                let (oh, ow) = ((h + 2 * p - k) / s + 1, (wd + 2 * p - k) / s + 1);
                let pad_out = [(h + 2 * p - k) % s, (wd + 2 * p - k) % s];
                let options = ConvTransposeOptions::new([s, s], [p, p], pad_out, [1, 1], 1);
                conv_transpose2d(y.reshape([1, outputs, oh, ow]), w.clone(), None, options).flatten(1, 3)
            }
            (Weight::Conv(_), None) => unreachable!("a convolution's operator has its geometry"),
        }
    }
}

/// `‖x‖²` of a row vector `[1, n]` as `[1, 1]` (one matrix product: the penalty runs every step, and
/// on small layers the number of operations is its cost).
fn squared_norm(x: Tensor<2>) -> Tensor<2> {
    x.clone().matmul(x.transpose())
}

fn normalized(x: Tensor<2>) -> Tensor<2> {
    x.clone() / squared_norm(x).sqrt().clamp_min(1e-30)
}

/// A pseudo-random unit row vector `[1, n]` drawn from `rng`.
fn random_unit(rng: &mut StdRng, n: usize, device: &Device) -> Tensor<2> {
    let values: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    normalized(Tensor::<2>::from_data(TensorData::new(values, [1, n]), device))
}

/// One persistent power-iteration vector per chosen layer, and the section's penalty.
pub struct LipschitzPenalty {
    section: LipschitzSection,
    /// (0-based layer, its operator, its unit vector `[1, inputs]` without autodiff).
    layers: Vec<(usize, Operator, Tensor<2>)>,
}

impl LipschitzPenalty {
    /// Fixed pseudo-random start vectors on `device` (a device without autodiff).
    pub fn new(spec: &ModelSpec, section: &LipschitzSection, device: &Device) -> LipschitzPenalty {
        let mut rng = StdRng::seed_from_u64(0x11F5);
        let chosen: Vec<usize> = if section.layers.is_empty() {
            (0..spec.layers.len()).collect()
        } else {
            section.layers.iter().map(|k| k - 1).collect()
        };
        let layers = chosen
            .into_iter()
            .map(|k| (k, Operator::of(&spec.layers[k]), random_unit(&mut rng, spec.layers[k].inputs(), device)))
            .collect();
        LipschitzPenalty { section: section.clone(), layers }
    }

    /// The penalty if it applies at optimizer step `step` (every `every` steps), else `None`: what
    /// a training step's `Regularizers::lipschitz` takes.
    pub fn if_due(&mut self, step: u64) -> Option<&mut LipschitzPenalty> {
        step.is_multiple_of(self.section.every as u64).then_some(self)
    }

    /// The penalty for `model` (on an autodiff device): advances each layer's power iteration by the
    /// section's iterations on the current weights, then `every · weight · mode(σ_1, …)` where
    /// σ_k = ‖A_k v_k‖ is differentiable in the weights.
    pub fn penalty(&mut self, model: &Stack) -> Tensor<1> {
        let device = Weight::of(&model.layers[0]).device();
        let mut total: Option<Tensor<1>> = None;
        for (k, operator, v) in &mut self.layers {
            let weight = Weight::of(&model.layers[*k]);
            let fixed = weight.detached();
            let mut x = v.clone();
            for _ in 1..self.section.iterations {
                x = normalized(operator.transpose(&fixed, operator.apply(&fixed, x)));
            }
            let y = operator.apply(&weight, x.autodiff());
            *v = normalized(operator.transpose(&fixed, y.clone().detach().inner()));
            let sigma = squared_norm(y).sqrt().reshape([1]);
            let term = match self.section.mode {
                PenaltyMode::Sum => sigma,
                PenaltyMode::LogProduct => sigma.log(),
                PenaltyMode::Hinge => relu(sigma.sub_scalar(self.section.target)).square(),
            };
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
        let weight = self.section.weight * self.section.every as f64;
        total.map_or_else(|| Tensor::zeros([1], &device), |t| t.mul_scalar(weight))
    }
}

/// A layer's largest singular value by `iterations` steps of power iteration through its forward and
/// transpose operations (zero padding: the exact operator's norm, approached from below).
pub fn power_iteration_estimate(spec: &LayerSpec, layer: &Layer, iterations: usize) -> f64 {
    let operator = Operator::of(spec);
    let weight = Weight::of(layer).detached();
    let mut x = random_unit(&mut StdRng::seed_from_u64(7), spec.inputs(), &weight.device());
    for _ in 0..iterations {
        x = normalized(operator.transpose(&weight, operator.apply(&weight, x)));
    }
    let y = operator.apply(&weight, x);
    f64::from(squared_norm(y).sqrt().into_scalar::<f32>())
}
