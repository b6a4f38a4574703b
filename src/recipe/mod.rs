//! Recipes: TOML files in `recipes/` that describe a run completely: a view that composes the
//! rooms' configs (`[optimizer]`, `[train]`, `[output]` are the trainer's, `[adversarial]` the
//! pools', `[lipschitz]` the penalty's), and the run that puts them into a `Trainer`.

pub mod base;
pub mod exchange;
pub mod load;
pub mod pool_keys;
pub mod pretrain;
pub mod reproduce;
pub mod run;
pub mod runs;
pub mod saved;
pub mod schema;

pub use load::{Error, from_chain, load, model_spec, parse, to_toml};
pub use run::{TrainOptions, architecture, run, run_dir, saved, splits, train};
pub use saved::{checkpoint_model, open};
pub use schema::{DataSection, ModelSection, Recipe};
