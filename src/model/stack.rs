//! A model as a sequence of layers. Layer k's output is the paper's "layer k" (k = 0 is the input):
//! `activation(k, x)` computes it and `forward_from(k, h)` runs the rest of the network from it.

use burn::prelude::*;
use burn::tensor::activation::log_softmax;
use serde::{Deserialize, Serialize};

use super::layer::{Layer, LayerSpec, Nonlinearity};
use super::layered::{AffineMap, Layered};

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
    /// The device its weights live on (and its forward passes run on).
    pub fn device(&self) -> Device {
        self.devices().into_iter().next().expect("a model has at least one layer with weights")
    }

    /// The nonlinearity of each layer.
    pub fn nonlinearities(&self) -> Vec<Nonlinearity> {
        self.layers.iter().map(Layer::nonlinearity).collect()
    }
}

impl Layered for Stack {
    fn depth(&self) -> usize {
        self.layers.len()
    }

    fn layer(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        self.layers[k - 1].forward(h)
    }

    /// Pixels [0, 1]; above, the layer's nonlinearity's box.
    fn activation_box(&self, k: usize) -> (f32, f32) {
        match k {
            0 => (0.0, 1.0),
            k => self.layers[k - 1].nonlinearity().output_box(),
        }
    }

    fn classes(&self) -> usize {
        self.layers.last().map_or(0, Layer::units)
    }

    fn affine_maps(&self) -> Option<Vec<AffineMap>> {
        Some(self.layers.iter().enumerate().map(|(k, layer)| layer.affine_map(k + 1)).collect())
    }

    fn activation(&self, k: usize, x: Tensor<2>) -> Tensor<2> {
        self.layers[..k].iter().fold(x, |h, layer| layer.forward(h))
    }

    fn forward_from(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        self.layers[k..].iter().fold(h, |h, layer| layer.forward(h))
    }
}

/// Mean cross-entropy of `logits` `[batch, classes]` against `labels` `[batch]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [batch, _] = logits.dims();
    let picked = log_softmax(logits, 1).gather(1, labels.reshape([batch, 1]));
    picked.mean().neg()
}

/// Per-example `KL(p ‖ q)` `[batch]` of the class distributions `p = softmax(p_logits)` and
/// `q = softmax(q_logits)` `[batch, classes]` (TRADES' robustness term).
pub fn kl_divergence(p_logits: Tensor<2>, q_logits: Tensor<2>) -> Tensor<1> {
    let [batch, _] = p_logits.dims();
    let log_p = log_softmax(p_logits, 1);
    let log_q = log_softmax(q_logits, 1);
    (log_p.clone().exp() * (log_p - log_q)).sum_dim(1).reshape([batch])
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    #[test]
    #[allow(deprecated)]
    fn kl_divergence_is_zero_for_equal_distributions_and_matches_its_formula() {
        let device = Device::libtorch();
        let p = Tensor::<2>::from_floats([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]], &device);
        let q = Tensor::<2>::from_floats([[1.0, 2.0, 0.5], [3.0, 0.0, 0.0]], &device);
        let kl: Vec<f32> = kl_divergence(p.clone() + 7.0, p.clone()).into_data().iter::<f32>().collect();
        assert!(kl.iter().all(|v| v.abs() < 1e-6), "shifted logits, same distribution: {kl:?}");
        let kl: Vec<f32> = kl_divergence(p, q).into_data().iter::<f32>().collect();
        // Row 2: p uniform over 3, q ∝ (e³, 1, 1): KL = Σ (1/3) log((1/3) / q_j).
        let z = 3f32.exp() + 2.0;
        let expected = (1.0 / 3.0) * ((z / 3.0 / 3f32.exp()).ln() + 2.0 * (z / 3.0).ln());
        assert!(kl[0].abs() < 1e-6 && (kl[1] - expected).abs() < 1e-5, "{kl:?} vs {expected}");
    }

    #[test]
    #[allow(deprecated)]
    fn a_joined_pass_equals_one_pass_per_entry() {
        let device = Device::libtorch();
        device.seed(3);
        let spec = crate::model::zoo::spec("fc100-100-10", [1, 28, 28], 10).unwrap();
        let model = spec.init(&device);
        let rows = |n: usize, width: usize| Tensor::<2>::random([n, width], Distribution::Uniform(0.0, 1.0), &device);
        let (clean, hidden2, hidden1, more_inputs) = (rows(5, 784), rows(3, 100), rows(4, 100), rows(2, 784));
        let joined = model.forward_joined(vec![
            (0, clean.clone()),
            (2, hidden2.clone()),
            (1, hidden1.clone()),
            (0, more_inputs.clone()),
        ]);
        let expected = Tensor::cat(
            vec![
                model.forward(clean),
                model.forward(more_inputs),
                model.forward_from(1, hidden1),
                model.forward_from(2, hidden2),
            ],
            0,
        );
        assert_eq!(joined.dims(), [14, 10]);
        let gap: f32 = (joined - expected).abs().max().into_scalar();
        assert!(gap < 1e-5, "joined pass differs by {gap}");
    }

    #[test]
    #[allow(deprecated)]
    fn max_norm_caps_long_units_of_dense_and_conv_layers_and_keeps_gradients() {
        let device = Device::libtorch().autodiff();
        device.seed(5);
        // The convnet: two convolutions, then dense layers; every weight stretched 50x so units are long
        // (as trainable leaves, the way an optimizer step leaves them).
        let spec = crate::model::zoo::spec("convnet", [1, 28, 28], 10).unwrap();
        let mut model = spec.init(&device);
        for layer in model.layers.iter_mut() {
            match layer {
                Layer::Dense(d) => {
                    d.linear.weight = d.linear.weight.clone().map(|w| w.mul_scalar(50.0).detach().require_grad())
                }
                Layer::Conv(c) => {
                    c.conv.weight = c.conv.weight.clone().map(|w| w.mul_scalar(50.0).detach().require_grad())
                }
            }
        }
        let model = crate::model::regularize::with_max_norm(model, 1.0);
        for (k, layer) in model.layers.iter().enumerate() {
            let norms: Vec<f32> = layer.unit_norms().into_data().to_vec().unwrap();
            assert_eq!(norms.len(), layer.units(), "layer {k}: one norm per unit");
            assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-4), "layer {k}: {norms:?}");
        }
        // The capped weights are still parameters that receive gradients.
        let x = Tensor::<2>::random([2, 784], Distribution::Uniform(0.0, 1.0), &device);
        let grads = model.forward(x).sum().backward();
        match &model.layers[0] {
            Layer::Conv(c) => assert!(c.conv.weight.grad(&grads).is_some(), "no gradient for the capped kernel"),
            Layer::Dense(_) => unreachable!("the convnet starts with a convolution"),
        }
    }
}
