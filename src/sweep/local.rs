//! A sweep's tasks run on this machine. One at a time they run in this process; several at once
//! each runs as a process of its own (`<program> sweep task <manifest> --index i`, as a Slurm task
//! does) with LibTorch's CPU threads divided between them (jobs × threads ≤ the threads LibTorch
//! has): processes share no random generator, so the figures are those of one run at a time.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use parking_lot::Mutex;

use super::Error;
use super::collect::{Collected, collect};
use super::plan::Sweep;
use super::task::{self, Recorded};
use crate::backend::cpu_threads;
use crate::recipe::runs::Progress;
use crate::train::interrupt;

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
            // A stop asked of this process ends the sweep here (the stopped task says so in its state).
            if let Some(signal) = interrupt::pending() {
                return Err(Error::Stopped { signal }.into());
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
    let running: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    let (sender, lines) = mpsc::channel::<String>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (next, failed, first_failure, running) = (&next, &failed, &first_failure, &running);
            scope.spawn(move || {
                while !(stop && failed.load(Ordering::SeqCst)) && interrupt::pending().is_none() {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= tasks {
                        break;
                    }
                    if let Err(e) = child(sweep, index, program, threads / jobs, running, &sender) {
                        failed.store(true, Ordering::SeqCst);
                        first_failure.lock().get_or_insert(e);
                    }
                }
            });
        }
        drop(sender);
        // Until every task's thread has let go of its sender; a stop asked of this process is
        // passed on to the tasks running (each stops as `sweep task` does, keeping what it has).
        let mut passed_on = false;
        loop {
            match lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => progress.message(&line),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(signal) = interrupt::pending().filter(|_| !passed_on) {
                for &pid in running.lock().iter() {
                    // SAFETY: a signal to a child of this process that has not been waited for.
                    unsafe { libc::kill(pid as libc::pid_t, signal) };
                }
                passed_on = true;
            }
        }
    });
    if let Some(signal) = interrupt::pending() {
        return Err(Error::Stopped { signal }.into());
    }
    match first_failure.into_inner() {
        Some(e) if stop => Err(e.into()),
        _ => Ok(()),
    }
}

/// Task `index` as a process; its stderr lines sent on, named by the run. A process that ends
/// without recording its failure (killed, crashed) has it recorded here. Its pid is in `running`
/// while it runs.
fn child(
    sweep: &Sweep,
    index: usize,
    program: &Path,
    threads: usize,
    running: &Mutex<Vec<u32>>,
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
    running.lock().push(process.id());
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
    let status = process.wait();
    running.lock().retain(|&pid| pid != process.id());
    let status = status.map_err(|e| failure(e.to_string()))?;
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
