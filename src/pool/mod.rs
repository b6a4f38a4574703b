//! Adversarial training's pools (section 4.2): one pool per layer (store), the model version
//! attackers read (snapshot), attacker threads (attacker), and the loader that mixes pool examples
//! into mini-batches (loader).

pub mod attacker;
pub mod loader;
pub mod snapshot;
pub mod store;

pub use loader::{AdversarialLoader, LayerBatch, PoolEpoch};
pub use snapshot::SnapshotCell;
pub use store::Pool;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Attacker(String),
}
