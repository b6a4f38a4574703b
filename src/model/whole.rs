//! Any burn module that maps images `[N, C, H, W]` to logits, as it is: [`Whole`] wraps it with its
//! forward pass and its images' shape and gives it every input-level feature (the attacks, the
//! robustness ensemble, fresh adversarial training, input pools, the perturbation bank, the
//! [`Trainer`](crate::Trainer) with its hooks and checkpoints). Per-layer pools and the Lipschitz
//! bounds need a model's layers and affine maps: a model that offers them implements
//! [`Layered`] itself.
//!
//! ```ignore
//! let model = Whole::new(Cnn::new(&device.autodiff()), Cnn::forward, [1, 28, 28])?; // pixels in [0, 1]
//! let model = Whole::new(cnn, Cnn::forward, [3, 32, 32])?.bounds(-1.0, 1.0)?;
//! ```

use burn::module::{Devices, ModuleMapper, ModuleVisitor};
use burn::prelude::*;

use super::layered::{Error, Layered};

/// A module's forward pass from images `[N, C, H, W]` to logits `[N, classes]`: a method such as
/// `Cnn::forward`, or a closure that captures nothing (`|m: &Cnn, x| m.forward(x.squeeze(1))`).
pub type Forward<M> = fn(&M, Tensor<4>) -> Tensor<2>;

/// A whole model seen as one layer from flat pixel rows to logits. Its weights, checkpoints and
/// records are the wrapped module's own: a checkpoint of a `Whole<Cnn>` loads into a `Cnn`.
#[derive(Clone, Debug)]
pub struct Whole<M> {
    model: M,
    forward: Forward<M>,
    image: [usize; 3],
    bounds: (f32, f32),
    classes: usize,
}

impl<M: Module> Whole<M> {
    /// `model` and its forward pass for images of shape `image` (`[channels, height, width]`),
    /// pixels in [0, 1]. One pass of a blank image on the model's device counts its classes (and
    /// initialises its weights); logits that are not one row of at least two classes are an error.
    pub fn new(model: M, forward: Forward<M>, image: [usize; 3]) -> Result<Whole<M>, Error> {
        if image.contains(&0) {
            return Err(Error::Shape(format!("images of shape {image:?} have no pixels")));
        }
        let device = model
            .devices()
            .into_iter()
            .next()
            .ok_or_else(|| Error::Shape("the model has no parameters to say where it runs".into()))?;
        let [c, h, w] = image;
        let dims = forward(&model, Tensor::zeros([1, c, h, w], &device)).dims();
        if dims[0] != 1 || dims[1] < 2 {
            return Err(Error::Shape(format!(
                "one image of shape {image:?} gives logits of shape {dims:?}, not [1, classes ≥ 2]"
            )));
        }
        Ok(Whole { model, forward, image, bounds: (0.0, 1.0), classes: dims[1] })
    }

    /// The box the inputs live in (default `[0, 1]`): what attacks at the input project onto.
    pub fn bounds(self, low: f32, high: f32) -> Result<Whole<M>, Error> {
        if !(low.is_finite() && high.is_finite() && low < high) {
            return Err(Error::Shape(format!("input bounds ({low}, {high}) are not a finite interval")));
        }
        Ok(Whole { bounds: (low, high), ..self })
    }

    /// The wrapped module.
    pub fn module(&self) -> &M {
        &self.model
    }

    /// The wrapped module, unwrapped.
    pub fn into_module(self) -> M {
        self.model
    }

    /// The images' `[channels, height, width]`.
    pub fn image(&self) -> [usize; 3] {
        self.image
    }

    fn with(self, change: impl FnOnce(M) -> M) -> Whole<M> {
        Whole { model: change(self.model), ..self }
    }
}

impl<M: Module + Sync> Layered for Whole<M> {
    fn depth(&self) -> usize {
        1
    }

    fn layer(&self, _k: usize, h: Tensor<2>) -> Tensor<2> {
        let [batch, _] = h.dims();
        let [c, height, width] = self.image;
        (self.forward)(&self.model, h.reshape([batch, c, height, width]))
    }

    fn activation_box(&self, k: usize) -> (f32, f32) {
        if k == 0 { self.bounds } else { (f32::NEG_INFINITY, f32::INFINITY) }
    }

    fn classes(&self) -> usize {
        self.classes
    }
}

/// Every module operation is the wrapped module's: the parameters, their names in a record and
/// their devices are its own.
impl<M: Module> Module for Whole<M> {
    fn collect_devices(&self, devices: Devices) -> Devices {
        self.model.collect_devices(devices)
    }

    fn fork(self, device: &Device) -> Self {
        self.with(|m| m.fork(device))
    }

    fn to_device(self, device: &Device) -> Self {
        self.with(|m| m.to_device(device))
    }

    fn train(self) -> Self {
        self.with(M::train)
    }

    fn valid(&self) -> Self {
        let (forward, image, bounds, classes) = (self.forward, self.image, self.bounds, self.classes);
        Whole { model: self.model.valid(), forward, image, bounds, classes }
    }

    fn materialize(self) -> Self {
        self.with(M::materialize)
    }

    fn visit<V: ModuleVisitor>(&self, visitor: &mut V) {
        self.model.visit(visitor)
    }

    fn map<P: ModuleMapper>(self, mapper: &mut P) -> Self {
        self.with(|m| m.map(mapper))
    }
}
