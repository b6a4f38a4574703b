//! Adversarial training's pools (section 4.2): one pool per layer (store), the model version
//! attackers read (snapshot), attacker threads (attacker), and the loader that mixes pool examples
//! into mini-batches (loader); beside them the perturbation bank, one stored perturbation per
//! training image renewed each time it is drawn (bank).

pub mod attacker;
pub mod bank;
mod bank_attacker;
pub mod bank_config;
pub mod config;
pub mod loader;
pub mod snapshot;
pub mod store;

pub use bank::{Bank, BankEpoch};
pub use bank_config::BankConfig;
pub use config::{PoolAttack, PoolConfig, PoolSchedule, PoolTarget, Radius};
pub use loader::{AdversarialLoader, LayerBatch, PoolEpoch};
pub use snapshot::{PoolModel, SnapshotCell};
pub use store::Pool;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Attacker(String),
    #[error("adversarial pools: {0}")]
    Config(#[from] crate::config::Invalid),
    #[error("adversarial pools: {0}")]
    Model(#[from] crate::model::layered::Error),
}
