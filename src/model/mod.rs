//! Models: layers, the layer stack with `activation(k, x)` / `forward_from(k, h)`, the paper's zoo.

pub mod layer;
pub mod pytorch;
pub mod stack;
pub mod zoo;

pub use layer::{Layer, LayerSpec, Nonlinearity};
pub use stack::{ModelSpec, Stack, cross_entropy};
