//! chama's messages on stderr, from one entry point: `tracing` events with a
//! level, written by the subscriber [`init`] installs as `chama: ...` lines,
//! or with `--log-format json` as one JSON object per line (`time`, `level`,
//! `message`) for log collectors. Messages are the same words either way; a
//! warning's text line reads `chama: warning: ...`. Call [`info`], [`warn`],
//! [`error`] and [`alarm`] (or the `say!` family of macros that format for
//! them); never print to stderr directly.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How messages look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Installs the subscriber that writes messages to stderr; once per process
/// (a second call changes nothing).
pub fn init(format: Format) {
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(Level::INFO)
        .event_format(Line { format })
        .finish();
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Progress and results.
pub fn info(message: &str) {
    tracing::info!("{message}");
}

/// Something the run went on past that a person should know.
pub fn warn(message: &str) {
    tracing::warn!("{message}");
}

/// A failure: of the command, or of a part it went on past.
pub fn error(message: &str) {
    tracing::error!("{message}");
}

/// A volume alarm (`chama report`): a warning that reads `ALARM ...`.
pub fn alarm(message: &str) {
    tracing::warn!(alarm = true, "{message}");
}

/// An info message, formatted.
#[macro_export]
macro_rules! say {
    ($($t:tt)*) => { $crate::log::info(&format!($($t)*)) };
}

/// A warning, formatted.
#[macro_export]
macro_rules! say_warn {
    ($($t:tt)*) => { $crate::log::warn(&format!($($t)*)) };
}

/// An error the command went on past, formatted.
#[macro_export]
macro_rules! say_error {
    ($($t:tt)*) => { $crate::log::error(&format!($($t)*)) };
}

struct Line {
    format: Format,
}

#[derive(Default)]
struct Fields {
    message: String,
    alarm: bool,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "alarm" {
            self.alarm = value;
        }
    }
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let level = *event.metadata().level();
        let message = match level {
            Level::WARN if !f.alarm => format!("warning: {}", f.message),
            _ => f.message,
        };
        match self.format {
            Format::Text => writeln!(w, "chama: {message}"),
            Format::Json => {
                let level = match level {
                    Level::ERROR => "error",
                    Level::WARN => "warn",
                    _ => "info",
                };
                let obj = serde_json::json!({
                    "time": chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
                    "level": level,
                    "message": message,
                });
                writeln!(w, "{obj}")
            }
        }
    }
}
