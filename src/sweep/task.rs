//! One task of a sweep: its run trained (a finished run reused, a killed one resumed), then
//! measured, the figures kept beside the run. A sweep with a manifest also records each task's state
//! (`<folder>/tasks/<index>.json`), which `collect` reads to say what is pending, running or failed.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Error;
use super::compare::RunFigures;
use super::measure::{Measures, measure};
use super::plan::{Run, Sweep};
use crate::recipe::runs::{Progress, trained};
use crate::train::checkpoint::write_atomic;

/// What a task was last seen doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Recorded {
    Running { host: String, since: u64 },
    Done { seconds: f64 },
    Failed { error: String },
}

/// Trains (or reuses) `run` and measures it.
pub fn perform(run: &Run, measures: &Measures, progress: &mut dyn Progress) -> Result<RunFigures, crate::Error> {
    let device = run.recipe.device.device()?;
    let dir = trained(&run.recipe, progress)?;
    measure(&dir, &run.recipe, measures, &device, progress)
}

/// Task `index` of `sweep`, its state recorded before and after.
pub fn run(sweep: &Sweep, index: usize, progress: &mut dyn Progress) -> Result<RunFigures, crate::Error> {
    let run = sweep.run(index)?;
    let start = std::time::Instant::now();
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    record(sweep, index, &Recorded::Running { host: host(), since })?;
    match perform(run, &sweep.measures, progress) {
        Ok(figures) => {
            record(sweep, index, &Recorded::Done { seconds: start.elapsed().as_secs_f64() })?;
            Ok(figures)
        }
        Err(e) => {
            let error = e.to_string();
            record(sweep, index, &Recorded::Failed { error })?;
            Err(Error::Task { index, run: run.name().to_string(), log: None, source: Box::new(e) }.into())
        }
    }
}

fn state_file(sweep: &Sweep, index: usize) -> PathBuf {
    sweep.folder.join("tasks").join(format!("{index}.json"))
}

pub(super) fn record(sweep: &Sweep, index: usize, state: &Recorded) -> Result<(), Error> {
    let path = state_file(sweep, index);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let json = serde_json::to_string(state).map_err(|e| Error::io(&path, e))?;
    write_atomic(&path, json.as_bytes()).map_err(|e| Error::io(&path, e))
}

/// The state task `index` last recorded, if it started.
pub fn recorded(sweep: &Sweep, index: usize) -> Option<Recorded> {
    let text = std::fs::read_to_string(state_file(sweep, index)).ok()?;
    serde_json::from_str(&text).ok()
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}
