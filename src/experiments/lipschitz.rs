//! The paper's Table 5 for a trained model or a freshly initialised architecture of the zoo.

use burn::prelude::*;
use serde::Serialize;

use crate::bounds::{Lanczos, NetworkBounds, network_bounds};
use crate::model::{ModelSpec, Stack, regularize, zoo};

/// A model's bounds, with the architecture they belong to.
#[derive(Debug, Clone, Serialize)]
pub struct LipschitzReport {
    pub arch: String,
    /// Input shape `[channels, height, width]`.
    pub input: [usize; 3],
    #[serde(flatten)]
    pub bounds: NetworkBounds,
}

/// The zoo architecture `name` built for `input` (`[channels, height, width]`; AlexNet fixes its
/// own 3 × 224 × 224), initialised on `device` from `seed`.
pub fn initialised(
    name: &str,
    input: [usize; 3],
    seed: u64,
    device: &Device,
) -> Result<(ModelSpec, Stack), crate::Error> {
    let spec = zoo::spec(name, input, 10).ok_or_else(|| crate::Error::UnknownArch { name: name.to_string() })?;
    device.seed(seed);
    let model = spec.init(device);
    // burn initialises parameters when first read: read them now, so the table's times are the
    // bounds' own (drawing AlexNet's 60 M random weights takes about 0.25 s on a CPU).
    drop(regularize::weight_decay(&model, 1.0));
    Ok((spec, model))
}

/// The bounds of `layers` (1-based; empty: all) of `model`, whose architecture is `spec`.
pub fn lipschitz(
    spec: &ModelSpec,
    model: &Stack,
    layers: &[usize],
    lanczos: &Lanczos,
) -> Result<LipschitzReport, crate::Error> {
    let bounds = network_bounds(model, layers, lanczos)?;
    Ok(LipschitzReport { arch: spec.arch.clone(), input: spec.input, bounds })
}
