//! The bound of a dense layer: its weight matrix's largest singular value.

use burn::prelude::*;

use super::spectral::{Lanczos, Matrices, largest_singular_value};

/// The largest singular value of `weight` (`[inputs, outputs]`, burn's `Linear` layout).
pub fn dense_bound(weight: &Tensor<2>, lanczos: &Lanczos) -> f64 {
    let [inputs, outputs] = weight.dims();
    let matrices = Matrices::real(weight.clone().reshape([1, inputs, outputs]));
    largest_singular_value(&matrices, lanczos)
}
