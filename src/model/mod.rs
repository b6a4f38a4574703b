//! Models: the [`Layered`] trait every other room works on, [`Whole`] that gives it to any burn
//! module mapping images to logits, the zoo's layer stack that implements it, the regularizers
//! that read any module's weights, the paper's zoo.

pub mod finite;
mod interval;
pub mod layer;
pub mod layered;
pub mod loss;
pub mod pytorch;
pub mod regularize;
pub mod score;
pub mod stack;
pub mod whole;
pub mod zoo;

pub use finite::{NonFinite, finite, non_finite_weights};
pub use layer::{Layer, LayerSpec, Nonlinearity};
pub use layered::{Affine, AffineMap, Layered};
pub use loss::{cross_entropy, kl_divergence};
pub use score::wrong;
pub use stack::{ModelSpec, Stack};
pub use whole::{Forward, Whole};
