//! README's hook example: a user's own hook plugged into the training loop.
//! Run: cargo run --release --example custom_hook

use blindspot::train::{Hook, HookError, RunInfo, StepInfo};
use blindspot::{DeviceChoice, Existing, Stack, TrainOptions, recipe};

/// Stops a run whose loss turns into NaN.
struct NanGuard;

impl Hook<Stack> for NanGuard {
    fn name(&self) -> &str {
        "nan guard"
    }

    fn on_step_end(&mut self, _run: &RunInfo, step: &StepInfo, _model: &Stack) -> Result<(), HookError> {
        if step.step.is_multiple_of(100) && step.loss.clone().into_scalar::<f32>().is_nan() {
            return Err(format!("loss is NaN at step {}", step.step).into());
        }
        Ok(())
    }
}

fn main() -> Result<(), blindspot::Error> {
    // The recipe's run under a name of the example's own, made again each time it runs.
    let recipe = recipe::load("recipes/fc10-1e-4.toml".as_ref(), &["name=\"custom-hook\"".into()])?;
    let options = TrainOptions { device: DeviceChoice::Cpu, existing: Existing::Overwrite };
    let summary = recipe::run(&recipe, &options, vec![Box::new(NanGuard)])?;
    println!("test error {:.2}%", 100.0 * summary.test_error);
    Ok(())
}
