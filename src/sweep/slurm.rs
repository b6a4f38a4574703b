//! A sweep as a Slurm job array: task i of the array runs task i of the sweep with the same
//! command line (`blindspot sweep task <manifest> --index i`), logs to `<output>/logs/task-<i>.log`
//! (appended to, so a requeued task keeps its history), and resumes its run from its checkpoint.
//! Slurm itself schedules; `sbatch` submits.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Error;
use super::plan::Sweep;
use crate::train::checkpoint::write_atomic;

pub const SCRIPT_FILE: &str = "sweep.sbatch";

/// The job array's resources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// Each task's time limit, in Slurm's form (`30`, `2:00:00`, `1-0`).
    pub time: Option<String>,
    pub gpus_per_task: Option<u32>,
    /// CPU cores per task; LibTorch's CPU threads follow it.
    pub cpus_per_task: u32,
}

/// The job-array script for `sweep`, whose tasks run `program` from `workdir`.
pub fn script(sweep: &Sweep, manifest: &Path, program: &Path, workdir: &Path, options: &SlurmOptions) -> String {
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!("# blindspot sweep of {} runs; submit with: sbatch {}", sweep.runs.len(), SCRIPT_FILE),
        "#SBATCH --job-name=blindspot-sweep".into(),
        format!("#SBATCH --array=0-{}", sweep.runs.len() - 1),
        format!("#SBATCH --output={}", sweep.folder.join("logs").join("task-%a.log").display()),
        "#SBATCH --open-mode=append".into(),
        format!("#SBATCH --chdir={}", workdir.display()),
        "#SBATCH --requeue".into(),
        format!("#SBATCH --cpus-per-task={}", options.cpus_per_task),
    ];
    if let Some(p) = &options.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &options.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    if let Some(g) = options.gpus_per_task {
        lines.push(format!("#SBATCH --gpus-per-task={g}"));
    }
    lines.extend([
        "# LibTorch's CPU threads: the task's cores.".to_string(),
        "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}".into(),
        "echo \"task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname), $(date -u +%FT%TZ)\"".into(),
        format!(
            "exec {} sweep task {} --index \"$SLURM_ARRAY_TASK_ID\"",
            quoted(&program.display().to_string()),
            quoted(&manifest.display().to_string())
        ),
    ]);
    lines.join("\n") + "\n"
}

/// Single quotes for the shell.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Writes the script into the sweep's folder (and its log folder); returns the script's path.
pub fn write(sweep: &Sweep, script: &str) -> Result<PathBuf, Error> {
    let logs = sweep.folder.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io(&logs, e))?;
    let path = sweep.folder.join(SCRIPT_FILE);
    write_atomic(&path, script.as_bytes()).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// Submits `script` with `sbatch`; with `wait`, returns when every task has ended (whether or not
/// it succeeded: the tasks' states say). Returns the array's job id.
pub fn submit(script: &Path, wait: bool) -> Result<String, Error> {
    let mut command = Command::new("sbatch");
    command.arg("--parsable");
    if wait {
        command.arg("--wait");
    }
    let out = command.arg(script).output().map_err(Error::NoSbatch)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job = stdout.lines().next().unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
    // With --wait, sbatch exits non-zero when a task failed; the array ran all the same.
    if job.is_empty() || (!out.status.success() && !wait) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        let reason = if reason.is_empty() { format!("exited with {}", out.status) } else { reason };
        return Err(Error::Sbatch { script: script.to_path_buf(), reason });
    }
    Ok(job)
}
