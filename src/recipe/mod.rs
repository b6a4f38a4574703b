//! Recipes: TOML files in `recipes/` that describe a run completely.

pub mod base;
pub mod load;
pub mod schema;

pub use load::{Error, from_chain, load, model_spec, parse, to_toml};
pub use schema::{
    AdversarialSection, DataSection, LipschitzSection, ModelSection, OptimizerKind, OptimizerSection, OutputSection,
    PenaltyMode, PoolAttack, PoolSchedule, PoolTarget, PretrainSection, Radius, Recipe, Schedule, TrainSection,
};
