//! Where an attack works: the activations of layer k of a model (k = 0: the input pixels), the box
//! that layer's nonlinearity implies, and what the attack wants of the logits (its goal).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use super::Error;
use super::lbfgs::BoxBounds;
use crate::model::Layered;

/// Layer `layer` of an inference copy of a model, as an attack sees it.
pub struct Surface<'a> {
    pub model: &'a dyn Layered,
    pub layer: usize,
    /// The box of the layer's activations: pixels and sigmoid [0, 1], ReLU [0, ∞).
    pub bounds: BoxBounds,
}

impl<'a> Surface<'a> {
    /// Layer `layer` of `model` (pass `model.valid()`: attacks need no dropout and no parameter
    /// gradients).
    pub fn new(model: &'a dyn Layered, layer: usize) -> Result<Surface<'a>, Error> {
        crate::model::layered::attackable(layer, model.depth())?;
        let (lo, hi) = model.activation_box(layer);
        Ok(Surface { model, layer, bounds: BoxBounds { lo, hi } })
    }

    /// The layer's activations for inputs `x` (the attack's starting points).
    pub fn start(&self, x: Tensor<2>) -> Tensor<2> {
        self.model.activation(self.layer, x)
    }

    /// Logits from the layer's activations `z`.
    pub fn logits(&self, z: Tensor<2>) -> Tensor<2> {
        self.model.forward_from(self.layer, z)
    }

    /// Per-example value `[batch]` of `f(z)` and its gradient with respect to `z`, where `f` is the
    /// sum over examples of `objective(z, logits(z))` (examples are independent).
    pub fn value_and_grad(
        &self,
        z: Tensor<2>,
        objective: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<1>,
    ) -> (Tensor<1>, Tensor<2>) {
        let (values, grad, _) = self.value_grad_logits(z, objective);
        (values, grad)
    }

    /// [`Self::value_and_grad`], and the logits at `z` `[batch, classes]`.
    pub fn value_grad_logits(
        &self,
        z: Tensor<2>,
        objective: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<1>,
    ) -> (Tensor<1>, Tensor<2>, Tensor<2>) {
        let z = z.detach().autodiff().require_grad();
        let logits = self.logits(z.clone());
        let values = objective(z.clone(), logits.clone());
        let grads = values.clone().sum().backward();
        let grad = z.grad(&grads).expect("z takes part in the objective");
        (values.detach().inner(), grad, logits.detach().inner())
    }
}

/// What an attack wants: a given target label per example, or any label but the true one.
#[derive(Debug, Clone)]
pub struct Goal {
    /// The true labels `[batch]`.
    pub labels: Tensor<1, Int>,
    /// Target labels `[batch]`; `None` for an untargeted attack.
    pub targets: Option<Tensor<1, Int>>,
}

impl Goal {
    /// Per-example loss `[batch]` to minimise: cross-entropy with the target, or, untargeted,
    /// `-log(1 - p_label)` (bounded below, unlike a negated cross-entropy).
    pub fn loss(&self, logits: Tensor<2>) -> Tensor<1> {
        let [batch, classes] = logits.dims();
        let log_p = log_softmax(logits, 1);
        match &self.targets {
            Some(t) => log_p.gather(1, t.clone().reshape([batch, 1])).reshape([batch]).neg(),
            None => {
                let label = self.labels.clone().one_hot::<2>(classes).bool();
                let others = log_p.mask_fill(label, -1e9);
                let log_not_label =
                    others.clone().max_dim(1) + (others.clone() - others.max_dim(1)).exp().sum_dim(1).log();
                log_not_label.reshape([batch]).neg()
            }
        }
    }

    /// Which examples' logits reach the goal.
    pub fn reached(&self, logits: Tensor<2>) -> Tensor<1, Bool> {
        let predicted = logits.argmax(1).flatten::<1>(0, 1);
        match &self.targets {
            Some(t) => predicted.equal(t.clone()),
            None => predicted.not_equal(self.labels.clone()),
        }
    }
}

/// Per-example distortion `sqrt(mean((a - b)²))` `[batch]`, the paper's measure.
pub fn distortion(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    let [batch, _] = a.dims();
    (a - b).square().mean_dim(1).sqrt().reshape([batch])
}
