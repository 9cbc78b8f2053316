//! SIGTERM (Airflow ends a task past its timeout, or one an operator marks
//! failed or clears), SIGINT (a terminal's ^C) and SIGHUP (a closed session):
//! a command that changes files installs [`install`] and then stops at its
//! next check ([`check`]) instead of dying in the middle: in-flight uploads are
//! cut, temporary files and directories go with the error that unwinds them,
//! and the run is recorded as interrupted, with exit 128 + the signal (143,
//! 130, 129). A second signal ends the process at once. The signal is the one
//! piece of process-wide state here: it arrives for the whole process.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

pub use crate::exit::Interrupted;

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

/// Sleeps `d`, a second at a time: a signal ends the wait (a command stops within
/// about a second, waits included).
pub fn sleep(d: std::time::Duration) -> Result<(), Interrupted> {
    let until = std::time::Instant::now() + d;
    loop {
        check()?;
        let now = std::time::Instant::now();
        if now >= until {
            return Ok(());
        }
        std::thread::sleep((until - now).min(std::time::Duration::from_secs(1)));
    }
}
