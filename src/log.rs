//! chama's messages on stderr: `chama: ...` lines, or with `--log-format
//! json` one JSON object per line (`time`, `level`, `message`) for log
//! collectors. Messages are the same words either way.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// Writes one message (`text` starts with `chama: `); a closed stderr is ignored.
pub fn emit(level: Level, text: &str) {
    let mut err = std::io::stderr().lock();
    if !JSON.load(Ordering::Relaxed) {
        let _ = writeln!(err, "{text}");
        return;
    }
    let message = text.strip_prefix("chama: ").unwrap_or(text);
    let level = match level {
        Level::Info if message.starts_with("warning:") || message.starts_with("ALARM") => "warn",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    let obj = serde_json::json!({
        "time": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "level": level,
        "message": message,
    });
    let _ = writeln!(err, "{obj}");
}

/// A `chama: ...` line on stderr (see [`emit`]).
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::log::emit($crate::log::Level::Info, &format!($($t)*)) };
}

/// A `chama: ...` line on stderr about a failure the command went on past.
#[macro_export]
macro_rules! say_error {
    ($($t:tt)*) => { $crate::log::emit($crate::log::Level::Error, &format!($($t)*)) };
}
