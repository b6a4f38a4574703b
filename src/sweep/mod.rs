//! Sweeps: recipes × seeds. Each (recipe, seed) is a task that trains its run (or reuses the
//! finished run, or resumes a killed one) and measures it, keeping the figures beside the run's
//! latest checkpoint (`figures.json`, keyed by what produced them); the tasks run here, several at once, or as a
//! Slurm job array; `collect` gathers the kept figures into one comparison without measuring.
//!
//! `compare` is a sweep run here without a manifest; `blindspot sweep` writes one (`sweep.json`
//! with each run's recipe file beside it) so that a task can run anywhere the folder is reachable.

pub mod collect;
pub mod compare;
pub mod local;
pub mod measure;
pub mod plan;
pub mod slurm;
pub mod task;

use std::path::PathBuf;

pub use collect::{Collected, TaskState, Unfinished, collect};
pub use compare::{CompareOptions, Comparison, RunFigures, compare};
pub use measure::Measures;
pub use plan::{Run, Sweep};
pub use slurm::SlurmOptions;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a sweep needs at least one recipe")]
    NoRecipes,
    #[error("seeds: a sweep needs at least one seed")]
    NoSeeds,
    #[error("jobs: {jobs} runs at once need at least one CPU thread each, and LibTorch has {threads}")]
    Jobs { jobs: usize, threads: usize },
    #[error("{path}: {reason}")]
    Manifest { path: PathBuf, reason: String },
    #[error("task {index}: the sweep has {tasks} tasks (0 to {})", tasks.saturating_sub(1))]
    NoTask { index: usize, tasks: usize },
    #[error("task {index} ({run}): {source}{}", log.as_ref().map(|l| format!(" (log: {})", l.display())).unwrap_or_default())]
    Task {
        index: usize,
        run: String,
        log: Option<PathBuf>,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("task {index} ({run}): {message}")]
    Child { index: usize, run: String, message: String },
    #[error("{} of {tasks} tasks failed: {}", failed.len(), failed.join("; "))]
    Failed { tasks: usize, failed: Vec<String> },
    #[error(
        "sbatch: {0} (Slurm's client commands are in Debian's slurm-client; without --submit the script is only written)"
    )]
    NoSbatch(#[source] std::io::Error),
    #[error("sbatch {script}: {reason}")]
    Sbatch { script: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("stopped by {}: the tasks under way stopped too; run the same command again to go on", crate::train::interrupt::signal_name(*signal))]
    Stopped { signal: i32 },
    #[error("{run}: stopped by {} while measuring; the figures measured so far are kept", crate::train::interrupt::signal_name(*signal))]
    Interrupted { run: String, signal: i32 },
}

impl Error {
    fn io(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Error {
        Error::Io { path: path.into(), reason: e.to_string() }
    }
}
