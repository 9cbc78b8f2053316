//! One chama at a time per interface and day: an OS file lock
//! (`work_dir/locks/<iface>.<YYYYMMDD>.lock`), released by the kernel when
//! the process ends, however it ends. The file says who holds it, so that a
//! second run can say which process, host and start time are in its way.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::exit::Failure;
use crate::period::Day;

/// Held until dropped (or the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    pub path: PathBuf,
}

/// This machine's name, as the kernel has it (for lock holders and the ledger).
pub fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Takes the lock of `iface` for the day `date` (`YYYYMMDD`), or fails with
/// exit 6 naming the holder.
pub fn acquire(config: &Config, iface: &str, date: Day, command: &str) -> anyhow::Result<Lock> {
    let work = config.work();
    let dir = work.locks_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = work.lock_file(iface, date);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            return Err(Failure::Locked(format!(
                "another chama run holds {iface} {date}: {} (lock {})",
                if holder.is_empty() {
                    "a process starting up"
                } else {
                    holder
                },
                path.display()
            ))
            .into());
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    let who = format!(
        "`chama {command}`, pid {} on host {}, since {}",
        std::process::id(),
        hostname().unwrap_or_else(|| "unknown-host".into()),
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %z")
    );
    file.set_len(0)?;
    file.rewind()?;
    file.write_all(who.as_bytes())?;
    file.flush()?;
    Ok(Lock { _file: file, path })
}
