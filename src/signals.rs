//! SIGTERM (Airflow ends a task past its timeout, or one an operator marks
//! failed or clears), SIGINT (a terminal's ^C) and SIGHUP (a closed session):
//! a command that changes files installs [`install`] and then stops at its
//! next check ([`check`]) instead of dying in the middle: in-flight uploads are
//! cut, temporary files and directories go with the error that unwinds them,
//! and the run is recorded as interrupted, with exit 128 + the signal (143,
//! 130, 129). A second signal ends the process at once. The signal is the one
//! piece of process-wide state here: it arrives for the whole process.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::exit::Code;

static RECEIVED: AtomicI32 = AtomicI32::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);

const HANDLED: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
];

/// From now on, the first of these signals is noted for [`check`]; a second ends the process.
pub fn install() -> std::io::Result<()> {
    for sig in HANDLED {
        // SAFETY: the actions only touch atomics and call `_exit`, both async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                if ARMED.load(Ordering::SeqCst) {
                    signal_hook::low_level::exit(128 + sig);
                }
                RECEIVED.store(sig, Ordering::SeqCst);
                ARMED.store(true, Ordering::SeqCst);
            })?;
        }
    }
    Ok(())
}

/// The work was stopped by a signal.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted by {}", name(*signal))]
pub struct Interrupted {
    pub signal: i32,
}

impl Interrupted {
    /// 143, 130 or 129.
    pub fn code(&self) -> Code {
        match self.signal {
            signal_hook::consts::SIGINT => Code::Interrupted,
            signal_hook::consts::SIGHUP => Code::HungUp,
            _ => Code::Terminated,
        }
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// The signal received, if any.
pub fn received() -> Option<Interrupted> {
    match RECEIVED.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(Interrupted { signal }),
    }
}

/// `Err` once a signal has been received: for long loops to stop at.
pub fn check() -> Result<(), Interrupted> {
    received().map_or(Ok(()), Err)
}

/// Like [`check`], as an I/O error (for readers and writers).
pub fn check_io() -> std::io::Result<()> {
    check().map_err(std::io::Error::other)
}
