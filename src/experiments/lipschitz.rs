//! The paper's Table 5 for a trained checkpoint or a freshly initialised architecture of the zoo.

use std::path::Path;

use burn::prelude::*;

use super::loaded::architecture;
use crate::bounds::{Lanczos, NetworkBounds, network_bounds};
use crate::model::zoo;
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

/// The bounds of `layers` (1-based; empty: all) of the model `source` names.
pub fn lipschitz(
    source: &Source,
    layers: &[usize],
    lanczos: &Lanczos,
    device: &Device,
) -> Result<NetworkBounds, crate::Error> {
    let (spec, model) = match source {
        Source::Checkpoint(path) => {
            let checkpoint = Checkpoint::open(path)?;
            let spec = architecture(&checkpoint, checkpoint.recipe.data.dataset.image_shape())?;
            let model = checkpoint.model(&spec, device)?;
            (spec, model)
        }
        Source::Arch { name, input, seed } => {
            let spec = zoo::spec(name, *input, 10).ok_or_else(|| {
                crate::Error::Usage(format!("--arch: unknown architecture {name:?}: expected one of {}", zoo::names()))
            })?;
            device.seed(*seed);
            let model = spec.init(device);
            // burn initialises parameters when first read: read them now, so the table's times are the
            // bounds' own (drawing AlexNet's 60 M random weights takes about 0.25 s on a CPU).
            model.layers.iter().for_each(|layer| drop(layer.weight_squared_sum()));
            (spec, model)
        }
    };
    Ok(network_bounds(&spec, &model, layers, lanczos)?)
}
