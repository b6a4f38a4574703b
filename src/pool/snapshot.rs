//! The model version attackers read: the trainer publishes an inference copy (`model.valid()`)
//! every `snapshot_every` optimizer steps; attackers clone the newest `Arc` and never wait for the
//! trainer (LibTorch tensors are shared, and the trainer's updates make new tensors, so a snapshot
//! stays as it was published).

use std::sync::Arc;

use burn::module::Module;
use parking_lot::RwLock;

use crate::model::Stack;
use crate::train::{Hook, HookError, RunInfo, StepInfo};

pub struct Snapshot {
    pub model: Stack,
    /// The optimizer step the snapshot was taken after.
    pub version: u64,
}

#[derive(Default)]
pub struct SnapshotCell {
    latest: RwLock<Option<Arc<Snapshot>>>,
}

impl SnapshotCell {
    pub fn publish(&self, model: &Stack, version: u64) {
        *self.latest.write() = Some(Arc::new(Snapshot { model: model.valid(), version }));
    }

    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest.read().clone()
    }
}

/// The hook that publishes a snapshot every `every` optimizer steps.
pub struct SnapshotPublisher {
    pub cell: Arc<SnapshotCell>,
    pub every: u64,
}

impl Hook for SnapshotPublisher {
    fn name(&self) -> &str {
        "snapshot publisher"
    }

    fn on_step_end(&mut self, _run: &RunInfo, step: &StepInfo, model: &Stack) -> Result<(), HookError> {
        if step.step % self.every == 0 {
            self.cell.publish(model, step.step);
        }
        Ok(())
    }
}
