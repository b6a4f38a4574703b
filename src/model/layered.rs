//! The model trait every attack, pool, bound, penalty and the trainer work on: a network seen as a
//! chain of layers over flat activations `[batch, features]`, where layer 0 is the input and layer
//! `depth()` the logits. The zoo's [`Stack`](super::Stack) implements it, and so can any burn
//! module: `layer(k, h)`, the boxes and the class count are all a model must say; the rest follows.

use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;

/// A network as a chain of layers. Activations are flat rows: a convolutional model reshapes
/// inside `layer`, so attacks and pools treat every layer alike.
pub trait Layered: Send + Sync {
    /// Number of layers above the input; layer `depth()`'s output is the logits.
    fn depth(&self) -> usize;

    /// Layer `k`'s output (1 ≤ k ≤ `depth()`) from layer `k - 1`'s output `h` (k = 1: the input).
    fn layer(&self, k: usize, h: Tensor<2>) -> Tensor<2>;

    /// The box layer `k`'s outputs live in (k = 0: the input's, pixels in [0, 1]): what attacks
    /// at that layer project onto. Unbounded sides are infinite.
    fn activation_box(&self, k: usize) -> (f32, f32);

    /// Number of classes (the logits' width).
    fn classes(&self) -> usize;

    /// The affine maps (dense or convolution) whose operator norms bound the network's Lipschitz
    /// constant, in order, with the constant of what follows each; `None` when the model does not
    /// list them (the Lipschitz table, the penalty and the paper's weight decay are then off).
    fn affine_maps(&self) -> Option<Vec<AffineMap>> {
        None
    }

    /// The network's upper Lipschitz bound from each map's operator bound (`bounds[i]` belongs to
    /// `affine_maps()[i]`). The default is a chain's: the product of bound × after. A model with
    /// skip connections composes its own (a residual block `x + g(x)` bounds as `1 + L(g)`). Given
    /// the first maps only, it bounds the network up to the output of the last one given (with what
    /// follows it): the L2 certificate asks so for all maps but the logits'.
    fn network_bound(&self, maps: &[AffineMap], bounds: &[f64]) -> f64 {
        maps.iter().zip(bounds).map(|(m, b)| b * m.after).product()
    }

    /// Interval bound propagation through layer `k` (1 ≤ k ≤ `depth()`): elementwise bounds on
    /// layer k's outputs over every input between `lower` and `upper` (rows of layer k − 1's
    /// outputs). Sound up to float rounding, as auto_LiRPA's. `None` when the model cannot bound
    /// layer k so (the L∞ certificate then names the layer).
    fn layer_interval(&self, _k: usize, _lower: Tensor<2>, _upper: Tensor<2>) -> Option<(Tensor<2>, Tensor<2>)> {
        None
    }

    /// The last layer as `h W + b` of layer `depth() − 1`'s output `h` (`W` `[inputs, classes]`,
    /// `b` `[classes]`), when it is exactly that map. Certificates then bound each difference of two
    /// logits directly, which is tighter than bounding each logit on its own.
    fn logit_map(&self) -> Option<(Tensor<2>, Tensor<1>)> {
        None
    }

    /// Layer `k`'s output (k = 0: the input itself), `k <= depth()`.
    fn activation(&self, k: usize, x: Tensor<2>) -> Tensor<2> {
        (1..=k).fold(x, |h, j| self.layer(j, h))
    }

    /// The logits, computed from layer `k`'s output `h` by the layers above `k`.
    fn forward_from(&self, k: usize, h: Tensor<2>) -> Tensor<2> {
        (k + 1..=self.depth()).fold(h, |h, j| self.layer(j, h))
    }

    /// Logits `[batch, classes]` of flat inputs `[batch, pixels]`.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_from(0, x)
    }

    /// The logits of rows that enter the network at different layers, in one pass: each entry is
    /// a layer k and rows of layer k's output (k = 0: inputs), and the rows entering at layer k join
    /// those coming from below before the layers above k run. The logits' rows follow the entries
    /// sorted by layer (entries of one layer keep their order), so a layer-0 first entry's rows
    /// come first. One pass instead of one per entry: on a GPU a small model's step costs what its
    /// kernel launches cost.
    fn forward_joined(&self, mut entries: Vec<(usize, Tensor<2>)>) -> Tensor<2> {
        entries.sort_by_key(|(k, _)| *k);
        let mut entries = entries.into_iter().peekable();
        let mut h: Option<Tensor<2>> = None;
        for k in 0..=self.depth() {
            let mut joining: Vec<Tensor<2>> = h.into_iter().collect();
            while let Some((_, rows)) = entries.next_if(|(layer, _)| *layer == k) {
                joining.push(rows);
            }
            let joined = match joining.len() {
                0 => None,
                1 => joining.pop(),
                _ => Some(Tensor::cat(joining, 0)),
            };
            h = match joined {
                Some(x) if k < self.depth() => Some(self.layer(k + 1, x)),
                x => x,
            };
        }
        h.expect("at least one entry")
    }
}

/// One affine map of a model, as the Lipschitz table and penalty see it.
#[derive(Debug, Clone)]
pub struct AffineMap {
    /// The layer (1 = the first) the map belongs to.
    pub layer: usize,
    pub map: Affine,
    /// The Lipschitz constant (L2) of what follows the map up to the next one: its nonlinearity
    /// (sigmoid 1/4, ReLU 1) times its pooling's.
    pub after: f64,
}

impl AffineMap {
    /// Layer `layer`'s `linear`, followed by something of Lipschitz constant `after`.
    pub fn dense(layer: usize, linear: &Linear, after: f64) -> AffineMap {
        AffineMap { layer, map: Affine::Dense { weight: linear.weight.val() }, after }
    }

    /// Layer `layer`'s `conv` over inputs of shape `input` (`[channels, height, width]`), followed
    /// by something of Lipschitz constant `after`. Symmetric padding only (explicit, valid or
    /// same with an odd kernel), no dilation, no groups: anything else is an error.
    pub fn conv(layer: usize, conv: &Conv2d, input: [usize; 3], after: f64) -> Result<AffineMap, Error> {
        let [kh, kw] = conv.kernel_size;
        let unsupported = |what: &str| Err(Error::Unsupported(format!("layer {layer}'s convolution: {what}")));
        if conv.dilation != [1, 1] || conv.groups != 1 {
            return unsupported("dilation or groups");
        }
        if kh != kw || conv.stride[0] != conv.stride[1] {
            return unsupported("a non-square kernel or stride");
        }
        let padding = match conv.padding {
            PaddingConfig2d::Valid => 0,
            PaddingConfig2d::Same if kh % 2 == 1 => kh / 2,
            PaddingConfig2d::Explicit(top, left, bottom, right) if top == left && top == bottom && top == right => top,
            _ => return unsupported("asymmetric padding"),
        };
        let map = Affine::Conv { weight: conv.weight.val(), input, stride: conv.stride[0], padding };
        Ok(AffineMap { layer, map, after })
    }
}

/// A dense or convolutional linear map (its bias does not change a Lipschitz constant).
#[derive(Debug, Clone)]
pub enum Affine {
    /// `x ↦ x W` with `weight` `[inputs, outputs]` (burn's `Linear` layout).
    Dense { weight: Tensor<2> },
    /// A 2-D convolution with zero padding of `weight` `[out, in, k, k]` over inputs `input`
    /// `[channels, height, width]`.
    Conv { weight: Tensor<4>, input: [usize; 3], stride: usize, padding: usize },
}

impl Affine {
    /// Number of input features (flattened).
    pub fn inputs(&self) -> usize {
        match self {
            Affine::Dense { weight } => weight.dims()[0],
            Affine::Conv { input, .. } => input.iter().product(),
        }
    }

    /// `dense` or `conv`.
    pub fn kind(&self) -> &'static str {
        match self {
            Affine::Dense { .. } => "dense",
            Affine::Conv { .. } => "conv",
        }
    }

    /// The paper's notation: `in × k × k × out` for a convolution, `in × out` for a dense map.
    pub fn size(&self) -> String {
        match self {
            Affine::Dense { weight } => {
                let [inputs, outputs] = weight.dims();
                format!("{inputs} × {outputs}")
            }
            Affine::Conv { weight, .. } => {
                let [out, inp, k, _] = weight.dims();
                format!("{inp} × {k} × {k} × {out}")
            }
        }
    }

    pub fn stride(&self) -> Option<usize> {
        match self {
            Affine::Dense { .. } => None,
            Affine::Conv { stride, .. } => Some(*stride),
        }
    }

    pub fn device(&self) -> Device {
        match self {
            Affine::Dense { weight } => weight.device(),
            Affine::Conv { weight, .. } => weight.device(),
        }
    }

    /// The same map without autodiff (for computations that are not differentiated).
    pub fn detached(&self) -> Affine {
        match self {
            Affine::Dense { weight } => Affine::Dense { weight: weight.clone().detach().inner() },
            Affine::Conv { weight, input, stride, padding } => Affine::Conv {
                weight: weight.clone().detach().inner(),
                input: *input,
                stride: *stride,
                padding: *padding,
            },
        }
    }
}

/// Why a model cannot do what was asked of it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The one error for a layer a model does not have for what was asked of it: `first..=last`
    /// are the layers it can be (0: the input).
    #[error("layer {layer} is out of range: the model has layers {} to {last}", name_first(.first))]
    Layer { layer: usize, first: usize, last: usize },
    #[error(
        "the model lists no affine maps (Layered::affine_maps), which the Lipschitz bounds, the penalty and the paper's weight decay need"
    )]
    NoAffineMaps,
    #[error("the model does not fit the data: {0}")]
    Shape(String),
    #[error("the Lipschitz bounds do not cover {0}")]
    Unsupported(String),
}

fn name_first(first: &usize) -> String {
    if *first == 0 { "0 (the input)".into() } else { first.to_string() }
}

/// Checks that `layer` is one of `first..=last`.
pub fn within(layer: usize, first: usize, last: usize) -> Result<(), Error> {
    if (first..=last).contains(&layer) { Ok(()) } else { Err(Error::Layer { layer, first, last }) }
}

/// Checks that attacks and pools can work at `layer` of a model `depth` layers deep: the input (0)
/// to the last hidden layer.
pub fn attackable(layer: usize, depth: usize) -> Result<(), Error> {
    within(layer, 0, depth.saturating_sub(1))
}

/// Checks that `layer` is a layer with weights of a model `depth` layers deep: 1 to `depth`.
pub fn weighted(layer: usize, depth: usize) -> Result<(), Error> {
    within(layer, 1, depth)
}

/// The width of layer `k`'s activations for `inputs`-wide input rows, measured by one pass of
/// a zero input on `device` (which also checks that the model takes such inputs).
pub fn width(model: &dyn Layered, k: usize, inputs: usize, device: &Device) -> Result<usize, Error> {
    within(k, 0, model.depth())?;
    let device = device.clone().without_autodiff();
    let x = Tensor::<2>::zeros([1, inputs], &device);
    let logits = model.forward(x.clone());
    let [_, classes] = logits.dims();
    if classes != model.classes() {
        return Err(Error::Shape(format!("its logits have {classes} columns, not classes() = {}", model.classes())));
    }
    Ok(model.activation(k, x).dims()[1])
}
