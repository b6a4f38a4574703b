//! Outputs that are not numbers: a model whose weights hold NaN or infinities answers NaN, and the
//! argmax of NaN logits is class 0, so an accuracy measured on it would look like a figure. Every
//! measurement asks [`finite`] first.

use burn::module::{ModuleVisitor, Param};
use burn::prelude::*;

/// A model answered NaN or ±∞ on some inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the model's outputs are not finite on {rows} of {of} images (NaN or infinite weights?): no accuracy can be measured"
)]
pub struct NonFinite {
    pub rows: usize,
    pub of: usize,
}

/// `logits` `[batch, classes]` when every entry is finite.
pub fn finite(logits: Tensor<2>) -> Result<Tensor<2>, NonFinite> {
    let of = logits.dims()[0];
    let bad = logits.clone().is_finite().bool_not().any_dim(1);
    let rows = bad.int().sum().into_scalar::<i64>() as usize;
    if rows == 0 { Ok(logits) } else { Err(NonFinite { rows, of }) }
}

/// How many of `model`'s weights are NaN or ±∞ (0 for a model that can be measured).
pub fn non_finite_weights<M: Module>(model: &M) -> usize {
    struct Count(usize);
    impl ModuleVisitor for Count {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0 += param.val().is_finite().bool_not().int().sum().into_scalar::<i64>() as usize;
        }
    }
    let mut count = Count(0);
    model.visit(&mut count);
    count.0
}
