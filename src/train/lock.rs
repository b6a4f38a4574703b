//! One writer per run folder: while a process trains a run, `<run folder>.lock` (beside the folder,
//! so starting a run over keeps it) holds that process's id. A second trainer of the same folder is
//! refused; the lock of a process that has ended (killed, say) is taken over.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{run}: another process (pid {pid}) is training this run; wait for it or stop it")]
    Locked { run: PathBuf, pid: u32 },
    #[error("{path}: cannot take the run's lock: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The run folder's lock, held until dropped.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `run_dir` for this process.
    pub fn take(run_dir: &Path) -> Result<RunLock, Error> {
        let path = lock_path(run_dir);
        let io = |source| Error::Io { path: path.clone(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io)?;
        }
        // The pid is written to a file of this process's own first, then linked into place: a
        // hard link is made whole or not at all, so no reader ever sees a half-written lock.
        let mine = path.with_extension(format!("lock.{}", std::process::id()));
        fs::File::create(&mine).and_then(|mut f| writeln!(f, "{}", std::process::id())).map_err(io)?;
        let taken = loop {
            match fs::hard_link(&mine, &path) {
                Ok(()) => break Ok(RunLock { path: path.clone() }),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).ok().and_then(|t| t.trim().parse::<u32>().ok());
                    match holder {
                        Some(pid) if alive(pid) => break Err(Error::Locked { run: run_dir.to_path_buf(), pid }),
                        // The process has ended (or the file is not a lock of ours): stale.
                        _ => match fs::remove_file(&path) {
                            Ok(()) => {}
                            Err(e) if e.kind() == ErrorKind::NotFound => {}
                            Err(e) => break Err(io(e)),
                        },
                    }
                }
                Err(e) => break Err(io(e)),
            }
        };
        let _ = fs::remove_file(&mine);
        taken
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Where the lock of `run_dir` lives: `<run_dir>.lock`.
pub fn lock_path(run_dir: &Path) -> PathBuf {
    let mut name = run_dir.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    run_dir.with_file_name(name)
}

/// Whether a process with id `pid` exists.
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let answer = unsafe { libc::kill(pid, 0) };
    answer == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
