//! Experiments: each composes the rooms below it (data, model, attack, train) into one of the
//! paper's measurements.

pub mod attack;
pub mod compare;
pub mod eval;
pub mod exchange;
pub mod lipschitz;
pub mod loaded;
pub mod plot;
pub mod reproduce;
pub mod runs;
pub mod transfer;
pub mod units;

pub use attack::{AttackMethod, AttackOptions, AttackRun, run_attack};
pub use loaded::LoadedModel;
