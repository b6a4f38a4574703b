//! blindspot: train neural networks that stay correct under adversarial perturbation
//! (Szegedy et al., *Intriguing properties of neural networks*), on burn with LibTorch.
//!
//! One batch's way: [`data`] (IDX files -> device tensors) -> [`train`] (loop, step, hooks) with a
//! [`model::Stack`] built from a [`recipe`]; [`backend`] is the only LibTorch-specific room.

pub mod attack;
pub mod backend;
pub mod bounds;
pub mod certify;
pub mod config;
pub mod data;
pub mod error;
pub mod experiments;
pub mod model;
pub mod pool;
pub mod recipe;
pub mod report;
pub mod sweep;
pub mod train;

pub use backend::DeviceChoice;
pub use error::Error;
pub use model::{Layered, ModelSpec, Stack, Whole};
pub use recipe::{Recipe, TrainOptions};
pub use train::{Existing, Hook, RunSummary, Trainer};
