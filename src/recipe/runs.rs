//! Runs that experiments need: a recipe's finished run is reused, a missing or unfinished one is
//! trained (resuming what a killed run left).

use std::path::PathBuf;

use crate::attack::robustness::Advance;
use crate::model::Stack;
use crate::recipe::{self, Recipe, TrainOptions};
use crate::train::{self, Checkpoint, Existing, Hook};

/// Progress reports: a line to show, or hooks for a training run.
pub trait Progress {
    fn message(&mut self, line: &str);
    fn training_hooks(&mut self) -> Vec<Box<dyn Hook<Stack>>>;
    fn attacked(&mut self, done: usize, total: usize);
    /// The attack ensemble's progress (robust accuracy).
    fn ensemble(&mut self, _advance: &Advance) {}
}

/// The run folder of `recipe`, trained first unless it holds a finished run of the same recipe.
/// A run folder that holds another recipe's run (the recipe file changed since) is set aside under
/// a new name (`<name>.1`, …) and trained again.
pub fn trained(recipe: &Recipe, progress: &mut dyn Progress) -> Result<PathBuf, crate::Error> {
    let run_dir = recipe::run_dir(recipe);
    let latest = Checkpoint::latest(&run_dir).ok().flatten();
    let same = latest.as_ref().and_then(|ckpt| recipe::saved(ckpt).ok()).is_some_and(|saved| same_run(&saved, recipe));
    if same && run_dir.join(train::metrics::METRICS_FILE).is_file() {
        progress.message(&format!("{}: trained already ({})", recipe.name, run_dir.display()));
        return Ok(run_dir);
    }
    let what = match (&latest, same) {
        (Some(_), true) => "resuming",
        (Some(_), false) => "the recipe changed: setting the earlier run aside and training again",
        (None, _) => "training",
    };
    progress.message(&format!("{}: {what} ({} epochs) into {}", recipe.name, recipe.train.epochs, run_dir.display()));
    let existing = if same { Existing::Resume } else { Existing::SetAside };
    recipe::run(recipe, &TrainOptions { device: recipe.device, existing }, progress.training_hooks())?;
    Ok(run_dir)
}

/// Whether two recipes describe the same run (the device aside).
fn same_run(a: &Recipe, b: &Recipe) -> bool {
    Recipe { device: b.device, ..a.clone() } == *b
}
