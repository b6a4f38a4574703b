//! Training: the loop, its hooks (checkpointer, TensorBoard, metrics file), optimizers and
//! schedules, AE pretraining, evaluation.

pub mod checkpoint;
pub mod evaluate;
pub mod hook;
pub mod optimizer;
pub mod pretrain;
pub mod publisher;
pub mod tensorboard;
pub mod trainer;

pub use checkpoint::{Checkpoint, Checkpointer};
pub use evaluate::error_rate;
pub use hook::{EpochMetrics, Hook, HookError, RunInfo, RunSummary, StepInfo, TrainState};
pub use publisher::SnapshotPublisher;
pub use tensorboard::{MetricsFile, TensorBoard};
pub use trainer::{Regularizers, StepOutput, TrainOptions, run_dir, train, train_step};

use crate::data::Dataset;
use crate::recipe::Recipe;

/// The hooks every run gets, in order: checkpointer, TensorBoard (unless `output.tensorboard` is
/// off), metrics file.
pub fn default_hooks(recipe: &Recipe) -> Vec<Box<dyn Hook>> {
    let mut hooks: Vec<Box<dyn Hook>> = vec![Box::new(Checkpointer)];
    if recipe.output.tensorboard {
        hooks.push(Box::new(TensorBoard::new(10)));
    }
    hooks.push(Box::new(MetricsFile));
    hooks
}

/// Loads the recipe's data, then trains it with the default hooks followed by `extra` hooks.
pub fn run(recipe: &Recipe, options: &TrainOptions, extra: Vec<Box<dyn Hook>>) -> Result<RunSummary, crate::Error> {
    let dataset = Dataset::load(recipe.data.dataset, recipe.data.dir.as_deref())?;
    let splits = dataset.splits(recipe.data.split, recipe.data.validation);
    if recipe.data.validation > 0 && splits.train.is_empty() {
        return Err(trainer::Error::NoTrainingData.into());
    }
    let device = options.device.device()?;
    if let Some(choice) = recipe.adversarial.as_ref().and_then(|a| a.attacker_device) {
        choice.device()?;
    }
    let mut hooks = default_hooks(recipe);
    hooks.extend(extra);
    Ok(train(recipe, &splits, &device, options, &mut hooks)?)
}
