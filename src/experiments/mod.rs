//! Experiments: each composes the rooms below it (data, model, attack, bounds, train) into one of
//! the paper's measurements of a trained model. They know no recipes: `recipe::open` reads a
//! checkpoint into a [`LoadedModel`], and `recipe::{compare, reproduce}` run recipes and measure
//! the results with these.

pub mod attack;
pub mod certify;
pub mod eval;
pub mod figures;
pub mod frontier;
pub mod lipschitz;
pub mod loaded;
pub mod plot;
pub mod robustness;
pub mod transfer;
pub mod units;

pub use attack::{AttackMethod, AttackOptions, AttackRun, run_attack};
pub use loaded::LoadedModel;
