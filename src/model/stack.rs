//! A model as a sequence of layers. Layer k's output is the paper's "layer k" (k = 0 is the input):
//! `activation(k, x)` computes it and `forward_from(k, h)` runs the rest of the network from it.

use burn::prelude::*;
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

    fn layer_interval(&self, k: usize, lower: Tensor<2>, upper: Tensor<2>) -> Option<(Tensor<2>, Tensor<2>)> {
        Some(self.layers[k - 1].interval(lower, upper))
    }

    /// The last layer's map, when it is dense without a nonlinearity (every zoo model's is).
    fn logit_map(&self) -> Option<(Tensor<2>, Tensor<1>)> {
        match self.layers.last()? {
            Layer::Dense(d) if d.nonlinearity == Nonlinearity::Identity => {
                let weight = d.linear.weight.val();
                let bias = match &d.linear.bias {
                    Some(b) => b.val(),
                    None => Tensor::zeros([weight.dims()[1]], &weight.device()),
                };
                Some((weight, bias))
            }
            _ => None,
        }
    }

    fn activation(&self, k: usize, x: Tensor<2>) -> Tensor<2> {
        self.layers[..k].iter().fold(x, |h, layer| layer.forward(h))
    }

    fn forward_from(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        self.layers[k..].iter().fold(h, |h, layer| layer.forward(h))
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

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
