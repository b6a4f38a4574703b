//! The hook that measures each epoch's Lipschitz bounds (the paper's Table 5 for the current
//! weights) into the epoch's figures, for models that list their affine maps.

use super::hook::{EpochMetrics, Hook, HookError, RunInfo};
use crate::bounds::{Lanczos, network_bounds};
use crate::model::Layered;

/// Adds `lipschitz` (each map's bound) and `lipschitz_network` to every epoch's figures; does
/// nothing for a model without `affine_maps`.
#[derive(Debug, Clone, Default)]
pub struct LipschitzBounds {
    pub lanczos: Lanczos,
}

impl<M: Layered> Hook<M> for LipschitzBounds {
    fn name(&self) -> &str {
        "lipschitz bounds"
    }

    fn measure(&mut self, _run: &RunInfo, model: &M, metrics: &mut EpochMetrics) -> Result<(), HookError> {
        if model.affine_maps().is_none() {
            return Ok(());
        }
        let bounds = network_bounds(model, &[], &self.lanczos)?;
        metrics.lipschitz = bounds.layers.iter().map(|l| l.bound).collect();
        metrics.lipschitz_network = bounds.network;
        Ok(())
    }
}
