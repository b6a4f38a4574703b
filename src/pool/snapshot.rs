//! The model version attackers read: the trainer's `SnapshotPublisher` hook (train/publisher.rs)
//! publishes an inference copy (`model.valid()`) every `snapshot_every` optimizer steps; attackers clone the newest `Arc` and never wait for the
//! trainer (LibTorch tensors are shared, and the trainer's updates make new tensors, so a snapshot
//! stays as it was published).

use std::sync::Arc;

use burn::module::Module;
use parking_lot::RwLock;

use crate::model::Stack;

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
