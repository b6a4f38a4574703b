//! Regularizers that read any burn module's weights: the paper's per-layer weight decay and the
//! max-norm constraint. Every rank-2 parameter is taken as a dense weight `[inputs, outputs]`
//! (burn's `Linear`) and every rank-4 parameter as a convolution kernel `[out, in, kh, kw]`
//! (burn's `Conv2d`); biases and normalisation parameters (rank 1) are left alone.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// The paper's weight decay `λ · Σ_layers Σ w² / N_layer` (a scalar tensor, differentiable in the
/// weights), N being a layer's units: a dense weight's outputs, a kernel's output channels.
/// `None` when the module has no weight.
pub fn weight_decay<M: Module>(model: &M, lambda: f64) -> Option<Tensor<1>> {
    struct Sum(Option<Tensor<1>>);
    impl ModuleVisitor for Sum {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            // Biases are not read at all: reading a lazy parameter initialises it.
            if D != 2 && D != 4 {
                return;
            }
            let weight = param.val();
            let units = if D == 2 { weight.dims()[1] } else { weight.dims()[0] };
            let term = weight.square().sum().div_scalar(units as f64);
            self.0 = Some(match self.0.take() {
                Some(total) => total + term,
                None => term,
            });
        }
    }
    let mut sum = Sum(None);
    model.visit(&mut sum);
    sum.0.map(|total| total.mul_scalar(lambda))
}

/// Max-norm (Hinton et al. 2012): each unit's incoming weight vector (a dense weight's column, a
/// kernel's output channel) scaled back to L2 norm `limit` if longer; biases untouched. A
/// constraint on the parameters, not part of the loss: applied after an optimizer step, outside
/// autodiff, keeping each parameter's autodiff state.
pub fn with_max_norm<M: Module>(model: M, limit: f64) -> M {
    struct Cap(f64);
    impl ModuleMapper for Cap {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            match D {
                2 | 4 => param.map(|w| cap_norms(w, self.0)),
                _ => param,
            }
        }
    }
    model.map(&mut Cap(limit))
}

/// Each unit's squared norm of a dense weight `[inputs, outputs]` (`[1, outputs]`) or a kernel
/// `[out, in, kh, kw]` (`[out, 1, 1, 1]`), in a shape that broadcasts against the weight.
pub fn unit_squares<const D: usize>(weight: Tensor<D>) -> Tensor<D> {
    let squares = weight.square();
    match D {
        2 => squares.sum_dim(0),
        _ => squares.sum_dim(1).sum_dim(2).sum_dim(3),
    }
}

/// `weight` scaled unit by unit to norm at most `limit`. Computed without autodiff; the result
/// keeps the parameter's autodiff state (as burn's optimizers restore it after an update).
fn cap_norms<const D: usize>(weight: Tensor<D>, limit: f64) -> Tensor<D> {
    let (autodiff, require_grad) = (weight.is_autodiff(), weight.is_require_grad());
    let strategy = weight.gradient_checkpointing_strategy();
    let weight = weight.inner();
    let scale = unit_squares(weight.clone()).sqrt().clamp_min(1e-12).recip().mul_scalar(limit).clamp_max(1.0);
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
