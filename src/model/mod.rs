//! Models: the [`Layered`] trait every other room works on, the zoo's layer stack that implements
//! it, the regularizers that read any module's weights, the paper's zoo.

pub mod finite;
pub mod layer;
pub mod layered;
pub mod pytorch;
pub mod regularize;
pub mod score;
pub mod stack;
pub mod zoo;

pub use finite::{NonFinite, finite, non_finite_weights};
pub use layer::{Layer, LayerSpec, Nonlinearity};
pub use layered::{Affine, AffineMap, Layered};
pub use score::wrong;
pub use stack::{ModelSpec, Stack, cross_entropy, kl_divergence};
