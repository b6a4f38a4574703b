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

use super::Error;
use super::config::{PenaltyConfig, PenaltyMode};
use crate::model::{Affine, AffineMap, Layered};

/// `A x` for flat row vectors `x` `[1, inputs]` (matrix products, or `conv2d` with the map's
/// stride and zero padding).
fn apply(map: &Affine, x: Tensor<2>) -> Tensor<2> {
    match map {
        Affine::Dense { weight } => x.matmul(weight.clone()),
        Affine::Conv { weight, input: [c, h, w], stride: s, padding: p } => {
            let options = ConvOptions::new([*s, *s], [*p, *p], [1, 1], 1);
            conv2d(x.reshape([1, *c, *h, *w]), weight.clone(), None, options).flatten(1, 3)
        }
    }
}

/// `Aᵀ y` for flat row vectors `y` `[1, outputs]` (`conv_transpose2d` for a convolution).
fn transpose(map: &Affine, y: Tensor<2>) -> Tensor<2> {
    match map {
        Affine::Dense { weight } => y.matmul(weight.clone().transpose()),
        Affine::Conv { weight, input: [_, h, wd], stride: s, padding: p } => {
            let (s, p) = (*s, *p);
            let [outputs, _, k, _] = weight.dims();
            let (oh, ow) = ((h + 2 * p - k) / s + 1, (wd + 2 * p - k) / s + 1);
            let pad_out = [(h + 2 * p - k) % s, (wd + 2 * p - k) % s];
            let options = ConvTransposeOptions::new([s, s], [p, p], pad_out, [1, 1], 1);
            conv_transpose2d(y.reshape([1, outputs, oh, ow]), weight.clone(), None, options).flatten(1, 3)
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

/// Persistent power-iteration vectors for some of a model's affine maps: each call advances them
/// on the current weights and gives each map's σ₁ estimate, differentiable in the weights. The
/// estimates approach σ₁ from below: right for a penalty or a training loss, never for a
/// certificate (`bounds::certified_bound` is).
pub struct PowerIteration {
    /// The layers whose maps are iterated (empty: all).
    layers: Vec<usize>,
    seed: u64,
    device: Device,
    /// (index into the model's `affine_maps()`, its unit vector `[1, inputs]` without autodiff),
    /// made at the first use: reading the maps reads the weights, which burn initialises lazily, so
    /// vectors built beside a fresh model must not read them before the training does.
    vectors: Option<Vec<(usize, Tensor<2>)>>,
}

impl PowerIteration {
    /// Vectors for the maps of `layers` (1-based; empty: all), pseudo-random from `seed` at the first
    /// use, on `device` (without autodiff).
    pub fn new(layers: Vec<usize>, seed: u64, device: &Device) -> PowerIteration {
        PowerIteration { layers, seed, device: device.clone(), vectors: None }
    }

    /// Each chosen map's σ₁ estimate `[1]` after `iterations` steps (all but the last on the weights
    /// as constants, the last differentiated), with its index into `maps`.
    pub fn sigmas(&mut self, maps: &[AffineMap], iterations: usize) -> Vec<(usize, Tensor<1>)> {
        let (layers, device, seed) = (&self.layers, &self.device, self.seed);
        let vectors = self.vectors.get_or_insert_with(|| {
            let mut rng = StdRng::seed_from_u64(seed);
            maps.iter()
                .enumerate()
                .filter(|(_, m)| layers.is_empty() || layers.contains(&m.layer))
                .map(|(i, m)| (i, random_unit(&mut rng, m.map.inputs(), device)))
                .collect()
        });
        vectors
            .iter_mut()
            .map(|(i, v)| {
                let map = &maps[*i].map;
                let fixed = map.detached();
                let mut x = v.clone();
                for _ in 1..iterations {
                    x = normalized(transpose(&fixed, apply(&fixed, x)));
                }
                let y = apply(map, x.autodiff());
                *v = normalized(transpose(&fixed, y.clone().detach().inner()));
                (*i, squared_norm(y).sqrt().reshape([1]))
            })
            .collect()
    }
}

/// The Lipschitz-bound penalty: the config's function of the chosen maps' σ₁ estimates.
pub struct LipschitzPenalty {
    config: PenaltyConfig,
    device: Device,
    power: PowerIteration,
}

impl LipschitzPenalty {
    /// A penalty on the maps of `model` in the config's layers, its power-iteration vectors on
    /// `device` (a device without autodiff), fixed pseudo-random at the first use.
    pub fn new(model: &dyn Layered, config: &PenaltyConfig, device: &Device) -> Result<LipschitzPenalty, Error> {
        config.check()?;
        config.check_layers(model.depth())?;
        let power = PowerIteration::new(config.layers.clone(), 0x11F5, device);
        Ok(LipschitzPenalty { config: config.clone(), device: device.clone(), power })
    }

    /// The penalty if it applies at optimizer step `step` (every `every` steps), else `None`: what
    /// a training step's `Regularizers::lipschitz` takes.
    pub fn if_due(&mut self, step: u64) -> Option<&mut LipschitzPenalty> {
        step.is_multiple_of(self.config.every as u64).then_some(self)
    }

    /// The penalty for `model` (on an autodiff device): advances each map's power iteration by the
    /// config's iterations on the current weights, then `every · weight · mode(σ_1, …)` where
    /// σ_k = ‖A_k v_k‖ is differentiable in the weights. An error when the model lists no maps.
    pub fn penalty(&mut self, model: &dyn Layered) -> Result<Tensor<1>, Error> {
        let maps = model.affine_maps().ok_or(Error::Model(crate::model::layered::Error::NoAffineMaps))?;
        let config = &self.config;
        let mut total: Option<Tensor<1>> = None;
        for (_, sigma) in self.power.sigmas(&maps, config.iterations) {
            let term = match config.mode {
                PenaltyMode::Sum => sigma,
                PenaltyMode::LogProduct => sigma.log(),
                PenaltyMode::Hinge => relu(sigma.sub_scalar(config.target)).square(),
            };
            total = Some(match total {
                Some(t) => t + term,
                None => term,
            });
        }
        let weight = config.weight * config.every as f64;
        let device = maps.first().map_or_else(|| self.device.clone(), |m| m.map.device());
        Ok(total.map_or_else(|| Tensor::zeros([1], &device), |t| t.mul_scalar(weight)))
    }
}

/// An affine map's largest singular value by `iterations` steps of power iteration through its
/// forward and transpose operations (zero padding: the exact operator's norm, approached from below).
pub fn power_iteration_estimate(map: &Affine, iterations: usize) -> f64 {
    let map = map.detached();
    let mut x = random_unit(&mut StdRng::seed_from_u64(7), map.inputs(), &map.device());
    for _ in 0..iterations {
        x = normalized(transpose(&map, apply(&map, x)));
    }
    let y = apply(&map, x);
    f64::from(squared_norm(y).sqrt().into_scalar::<f32>())
}
