//! `blindspot eval`: a checkpoint's error rates on its run's splits.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::loaded::LoadedModel;
use crate::data::{DeviceImages, Images};
use crate::model::Layered;
use crate::train::error_rate;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub checkpoint: String,
    pub run: String,
    pub arch: String,
    pub epoch: usize,
    /// The run's training split (after `data.subset`), without dropout.
    pub train_error: f64,
    pub validation_error: Option<f64>,
    pub test_error: f64,
    pub test_examples: usize,
}

/// The error rates of `loaded` on its run's training and validation images and the test set.
pub fn evaluate<M: Layered>(loaded: &LoadedModel<M>, device: &Device) -> EvalReport {
    let error = |images: &Images| error_rate(&loaded.model, &DeviceImages::new(images, device));
    EvalReport {
        checkpoint: loaded.checkpoint.dir.display().to_string(),
        run: loaded.name.clone(),
        arch: loaded.arch.clone(),
        epoch: loaded.checkpoint.state.epoch,
        train_error: error(&loaded.train),
        validation_error: loaded.validation.as_ref().map(error),
        test_error: error(&loaded.test),
        test_examples: loaded.test.len(),
    }
}
