//! Stopping a run cleanly when asked. Once [`catch_signals`] is installed, SIGINT (Ctrl-C) and
//! SIGTERM only raise a flag; the trainer reads it after every step and stops with
//! [`Error::Interrupted`](super::trainer::Error::Interrupted): the pools' attackers joined, the
//! run's lock released, its last complete checkpoint kept for `resume`. A second signal of the same
//! kind ends the process at once (the handler resets itself).

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that asked for a stop (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn raise_flag(signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    PENDING.store(signal, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM ask running trainers to stop after their current step.
pub fn catch_signals() -> std::io::Result<()> {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with an empty mask and a handler that only stores an atomic;
        // SA_RESETHAND restores the default action once it has run.
        let installed = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = raise_flag as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if installed != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal a stop was asked with, if one was.
pub fn pending() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The conventional name of `signal` (SIGINT, SIGTERM, else its number).
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}
