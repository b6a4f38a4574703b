//! Interval bound propagation (Gowal et al. 2018) through the zoo's layers: a box of inputs
//! `[lower, upper]` goes through the affine map as its centre and radius (`W·c + b ± |W|·r`), then
//! through the nonlinearity and max-pooling bound by bound, both being monotone. Dropout is the
//! identity at inference.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use super::layer::{Conv, Dense, Layer};

impl Layer {
    /// Bounds on the layer's outputs `[batch, outputs]` for every input between `lower` and `upper`
    /// (`[batch, inputs]`, elementwise).
    pub fn interval(&self, lower: Tensor<2>, upper: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let centre = (lower.clone() + upper.clone()).mul_scalar(0.5);
        let radius = (upper - lower).mul_scalar(0.5);
        match self {
            Layer::Dense(d) => dense_interval(d, centre, radius),
            Layer::Conv(c) => conv_interval(c, centre, radius),
        }
    }
}

fn dense_interval(d: &Dense, centre: Tensor<2>, radius: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let mid = d.linear.forward(centre);
    let spread = radius.matmul(d.linear.weight.val().abs());
    (d.nonlinearity.apply(mid.clone() - spread.clone()), d.nonlinearity.apply(mid + spread))
}

fn conv_interval(c: &Conv, centre: Tensor<2>, radius: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [batch, _] = centre.dims();
    let [ch, h, w] = c.input;
    let image = |t: Tensor<2>| t.reshape([batch, ch, h, w]);
    let mid = c.conv.forward(image(centre));
    let spread = conv2d(image(radius), c.conv.weight.val().abs(), None, options(&c.conv));
    let bound = |t: Tensor<4>| {
        let t = c.nonlinearity.apply(t);
        let t = match &c.pool {
            Some(pool) => pool.forward(t),
            None => t,
        };
        t.reshape([batch as i32, -1])
    };
    (bound(mid.clone() - spread.clone()), bound(mid + spread))
}

/// The convolution's own options (stride, padding, dilation, groups): the zoo's convolutions pad
/// explicitly (or not at all); `Same` pads as burn does at stride 1.
fn options(conv: &Conv2d) -> ConvOptions<2> {
    let split = |k: usize| ((k - 1) / 2, k - 1 - (k - 1) / 2);
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => [(top, bottom), (left, right)],
        PaddingConfig2d::Valid => [(0, 0), (0, 0)],
        PaddingConfig2d::Same => conv.kernel_size.map(split),
    };
    ConvOptions::new_with_padding(conv.stride, padding, conv.dilation, conv.groups)
}
