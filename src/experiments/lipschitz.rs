//! The paper's Table 5 for a trained checkpoint or a freshly initialised architecture of the zoo.

use std::path::Path;

use burn::prelude::*;

use super::loaded::checkpoint_model;
use serde::Serialize;

use crate::bounds::{self, Lanczos, NetworkBounds, network_bounds};
use crate::model::{regularize, zoo};
use crate::train::Checkpoint;

/// Whose bounds: a checkpoint's weights, or an architecture's random initialisation.
pub enum Source<'a> {
    Checkpoint(&'a Path),
    /// Built for `input` (`[channels, height, width]`; AlexNet fixes its own 3 × 224 × 224) and
    /// initialised from `seed`.
    Arch {
        name: &'a str,
        input: [usize; 3],
        seed: u64,
    },
}

/// A model's bounds, with the architecture they belong to.
#[derive(Debug, Clone, Serialize)]
pub struct LipschitzReport {
    pub arch: String,
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    #[serde(flatten)]
    pub bounds: NetworkBounds,
}

/// The bounds of `layers` (1-based; empty: all) of the model `source` names.
pub fn lipschitz(
    source: &Source,
    layers: &[usize],
    lanczos: &Lanczos,
    device: &Device,
) -> Result<LipschitzReport, crate::Error> {
    let (spec, model) = match source {
        Source::Checkpoint(path) => {
            let (_, spec, model) = checkpoint_model(&Checkpoint::open(path)?, device)?;
            (spec, model)
        }
        Source::Arch { name, input, seed } => {
            let spec =
                zoo::spec(name, *input, 10).ok_or_else(|| crate::Error::UnknownArch { name: name.to_string() })?;
            device.seed(*seed);
            let model = spec.init(device);
            // burn initialises parameters when first read: read them now, so the table's times are the
            // bounds' own (drawing AlexNet's 60 M random weights takes about 0.25 s on a CPU).
            drop(regularize::weight_decay(&model, 1.0));
            (spec, model)
        }
    };
    let bounds = network_bounds(&model, layers, lanczos).map_err(|e| match e {
        bounds::Error::NoLayer { layer, depth } => crate::Error::NoLayer { arch: spec.arch.clone(), layer, depth },
        e => e.into(),
    })?;
    Ok(LipschitzReport { arch: spec.arch, input: spec.input, bounds })
}
