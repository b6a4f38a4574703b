//! The model version attackers read: the trainer's `SnapshotPublisher` hook (train/publisher.rs)
//! publishes an inference copy (`model.valid()`) every `snapshot_every` optimizer steps; attackers clone the newest `Arc` and never wait for the
//! trainer (LibTorch tensors are shared, and the trainer's updates make new tensors, so a snapshot
//! stays as it was published).

use std::sync::Arc;

use burn::module::Module;
use parking_lot::RwLock;

use crate::model::Layered;

/// What a model needs to have pools: the layers attacks work on, and burn's `Module` to publish
/// inference copies and move them to the attackers' device.
pub trait PoolModel: Layered + Module + 'static {}

impl<M: Layered + Module + 'static> PoolModel for M {}

pub struct Snapshot<M> {
    pub model: M,
    /// The optimizer step the snapshot was taken after.
    pub version: u64,
}

pub struct SnapshotCell<M> {
    latest: RwLock<Option<Arc<Snapshot<M>>>>,
}

impl<M> Default for SnapshotCell<M> {
    fn default() -> Self {
        SnapshotCell { latest: RwLock::new(None) }
    }
}

impl<M: Module> SnapshotCell<M> {
    pub fn publish(&self, model: &M, version: u64) {
        *self.latest.write() = Some(Arc::new(Snapshot { model: model.valid(), version }));
    }

    pub fn latest(&self) -> Option<Arc<Snapshot<M>>> {
        self.latest.read().clone()
    }
}
