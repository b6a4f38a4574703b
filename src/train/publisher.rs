//! The hook that hands the adversarial pools' attackers a fresh model: every `every` optimizer steps
//! it publishes an inference copy into the pools' `SnapshotCell`.

use std::sync::Arc;

use burn::module::Module;

use super::hook::{Hook, HookError, RunInfo, StepInfo};
use crate::pool::SnapshotCell;

pub struct SnapshotPublisher<M> {
    pub cell: Arc<SnapshotCell<M>>,
    pub every: u64,
}

impl<M: Module> Hook<M> for SnapshotPublisher<M> {
    fn name(&self) -> &str {
        "snapshot publisher"
    }

    fn on_step_end(&mut self, _run: &RunInfo, step: &StepInfo, model: &M) -> Result<(), HookError> {
        if step.step.is_multiple_of(self.every) {
            self.cell.publish(model, step.step);
        }
        Ok(())
    }
}
