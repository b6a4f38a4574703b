//! A sweep's tasks run on this machine. One at a time they run in this process; several at once
//! each runs as a process of its own (`<program> sweep task <manifest> --index i`, as a Slurm task
//! does) with LibTorch's CPU threads divided between them (jobs × threads ≤ the threads LibTorch
//! has): processes share no random generator, so the figures are those of one run at a time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use parking_lot::Mutex;

use super::Error;
use super::collect::{Collected, collect};
use super::plan::Sweep;
use super::task::{self, Recorded};
use crate::backend::cpu_threads;
use crate::recipe::runs::Progress;

/// Runs every task of a written sweep here, `jobs` at once (`program` is blindspot's executable,
/// needed for more than one), each task's state recorded; a failed task does not stop the others (as
/// on a cluster). Returns the collected figures.
pub fn run_sweep(
    sweep: &Sweep,
    jobs: usize,
    program: &Path,
    progress: &mut dyn Progress,
) -> Result<Collected, crate::Error> {
    if jobs == 1 {
        for index in 0..sweep.runs.len() {
            match task::run(sweep, index, progress) {
                // Recorded in the task's state; `collect` reports it.
                Ok(_) | Err(crate::Error::Sweep(Error::Task { .. })) => {}
                Err(e) => return Err(e),
            }
        }
    } else {
        processes(sweep, jobs, program, false, progress)?;
    }
    Ok(collect(sweep))
}

/// Runs the tasks of the written `sweep` as `jobs` processes at once; their stderr lines reach
/// `progress`. With `stop`, a failed task starts no new one and is returned as the error.
pub fn processes(
    sweep: &Sweep,
    jobs: usize,
    program: &Path,
    stop: bool,
    progress: &mut dyn Progress,
) -> Result<(), crate::Error> {
    let threads = cpu_threads();
    if jobs == 0 || jobs > threads {
        return Err(Error::Jobs { jobs, threads }.into());
    }
    let tasks = sweep.runs.len();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_failure: Mutex<Option<Error>> = Mutex::new(None);
    let (sender, lines) = mpsc::channel::<String>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (next, failed, first_failure) = (&next, &failed, &first_failure);
            scope.spawn(move || {
                while !(stop && failed.load(Ordering::SeqCst)) {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= tasks {
                        break;
                    }
                    if let Err(e) = child(sweep, index, program, threads / jobs, &sender) {
                        failed.store(true, Ordering::SeqCst);
                        first_failure.lock().get_or_insert(e);
                    }
                }
            });
        }
        drop(sender);
        // Until every task's thread has let go of its sender.
        for line in lines {
            progress.message(&line);
        }
    });
    match first_failure.into_inner() {
        Some(e) if stop => Err(e.into()),
        _ => Ok(()),
    }
}

/// Task `index` as a process; its stderr lines sent on, named by the run. A process that ends
/// without recording its failure (killed, crashed) has it recorded here.
fn child(
    sweep: &Sweep,
    index: usize,
    program: &Path,
    threads: usize,
    lines: &mpsc::Sender<String>,
) -> Result<(), Error> {
    let run = sweep.runs[index].name().to_string();
    let failure = |message: String| Error::Child { index, run: run.clone(), message };
    let mut process = Command::new(program)
        .args(["sweep", "task"])
        .arg(sweep.manifest())
        .args(["--index", &index.to_string()])
        .env("OMP_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failure(format!("cannot start {}: {e}", program.display())))?;
    let mut last = String::new();
    if let Some(stderr) = process.stderr.take() {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let line = line.trim_end().to_string();
            if line.is_empty() {
                continue;
            }
            let named = if line.starts_with(&run) { line.clone() } else { format!("{run}: {line}") };
            let _ = lines.send(named);
            last = line;
        }
    }
    let status = process.wait().map_err(|e| failure(e.to_string()))?;
    if status.success() {
        return Ok(());
    }
    // The task's own error line names the task already.
    let own = format!("error: task {index} ({run}): ");
    let message = match last.strip_prefix(&own).or_else(|| last.strip_prefix("error: ")) {
        Some(m) => m.to_string(),
        None => format!("ended with {status}"),
    };
    if !matches!(task::recorded(sweep, index), Some(Recorded::Failed { .. })) {
        task::record(sweep, index, &Recorded::Failed { error: message.clone() })?;
    }
    Err(failure(message))
}
