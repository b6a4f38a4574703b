//! A sweep's figures gathered from its runs' folders without measuring anything: finished runs give
//! their kept figures; a run that is pending, training, being measured or failed is listed as such
//! (with its task's log), never as a number.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::compare::{Comparison, RunFigures};
use super::measure::kept_figures;
use super::plan::Sweep;
use super::task::{Recorded, recorded};
use crate::train::Checkpoint;

/// Where an unfinished task stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TaskState {
    /// Not started (or started where its state could not be written).
    Pending,
    /// Started, or killed before it could say so: its latest checkpoint's epoch.
    Running {
        epoch: usize,
        epochs: usize,
    },
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unfinished {
    pub task: usize,
    pub run: String,
    #[serde(flatten)]
    pub state: TaskState,
    /// The task's log, where it has one (a Slurm task's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
}

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "task {} ({}): ", self.task, self.run)?;
        match &self.state {
            TaskState::Pending => write!(f, "pending")?,
            TaskState::Running { epoch, epochs } => write!(f, "running or killed, epoch {epoch} of {epochs} kept")?,
            TaskState::Failed { error } => write!(f, "failed: {error}")?,
        }
        match &self.log {
            Some(log) => write!(f, " (log: {})", log.display()),
            None => Ok(()),
        }
    }
}

/// The finished runs' figures, and the tasks that have none yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collected {
    pub comparison: Comparison,
    pub unfinished: Vec<Unfinished>,
}

impl Collected {
    /// The failed tasks as an error (`None` if none failed).
    pub fn failures(&self) -> Option<super::Error> {
        let failed: Vec<String> = self
            .unfinished
            .iter()
            .filter(|u| matches!(u.state, TaskState::Failed { .. }))
            .map(ToString::to_string)
            .collect();
        let tasks = self.comparison.recipes.iter().map(|r| r.runs.len()).sum::<usize>() + self.unfinished.len();
        (!failed.is_empty()).then_some(super::Error::Failed { tasks, failed })
    }
}

/// Reads every run's kept figures.
pub fn collect(sweep: &Sweep) -> Collected {
    let figures: Vec<Option<RunFigures>> =
        sweep.runs.iter().map(|run| kept_figures(&run.dir(), &run.recipe, &sweep.measures)).collect();
    let unfinished = sweep
        .runs
        .iter()
        .zip(&figures)
        .enumerate()
        .filter(|(_, (_, figures))| figures.is_none())
        .map(|(task, (run, _))| {
            let epoch = Checkpoint::latest(&run.dir()).ok().flatten().map(|c| c.state.epoch);
            let state = match (recorded(sweep, task), epoch) {
                (Some(Recorded::Failed { error }), _) => TaskState::Failed { error },
                (Some(_), epoch) | (None, epoch @ Some(_)) => {
                    TaskState::Running { epoch: epoch.unwrap_or(0), epochs: run.recipe.train.epochs }
                }
                (None, None) => TaskState::Pending,
            };
            let log = Some(sweep.log(task)).filter(|l| l.is_file());
            Unfinished { task, run: run.name().to_string(), state, log }
        })
        .collect();
    Collected { comparison: Comparison::of(sweep, figures), unfinished }
}
