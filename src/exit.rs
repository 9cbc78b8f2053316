//! Exit codes: the table of CONTRACT.md as a type, and how errors map to it.
//!
//! An error is classified where it is born: a [`Failure`] (its exit code; never
//! tried again in the process), a [`Classed`] error (a code and whether another
//! try may help), an [`Interrupted`] run. [`Class::of`] finds the first class in
//! the chain; every retry loop asks it (`backoff.rs`), and `main` takes its code.
//! Anything unclassified is a failure that may pass (1); a permission error is
//! one that no retry in this process cures.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Code {
    /// Done.
    Ok = 0,
    /// Failed: I/O, network, a step that may pass next time. Retry.
    Failed = 1,
    /// Usage, configuration or spec error. Fix it; do not retry.
    Usage = 2,
    /// Source data not ready. Retry later.
    NotReady = 3,
    /// Bad input beyond the spec's tolerance. Fix the data or the spec.
    BadInput = 4,
    /// Delivery failed on every host of a destination. Retry.
    Delivery = 5,
    /// Another chama run holds this interface and period. Retry later.
    Locked = 6,
    /// Volume alarm.
    Alarm = 7,
    /// Stopped by SIGHUP (128 + 1).
    HungUp = 129,
    /// Stopped by SIGINT (128 + 2).
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15).
    Terminated = 143,
}

impl Code {
    /// The more serious of two codes, for a run of several parts: a problem a
    /// person must fix outranks one that may pass by itself.
    pub fn worse(self, other: Code) -> Code {
        fn rank(c: Code) -> u8 {
            match c {
                Code::Ok => 0,
                Code::NotReady => 1,
                Code::Locked => 2,
                Code::Failed => 3,
                Code::Delivery => 4,
                Code::Alarm => 5,
                Code::BadInput => 6,
                Code::Usage => 7,
                Code::HungUp | Code::Interrupted | Code::Terminated => 8,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// What a scheduler may run again later (cron, Airflow: `scripts/airflow/chama_daily.py`
    /// retries these); in the process, [`Class::of`] decides.
    pub fn is_retryable(self) -> bool {
        matches!(self, Code::Failed | Code::NotReady | Code::Delivery | Code::Locked)
    }
}

/// An error that knows its exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Delivery(String),
    #[error("{0}")]
    Locked(String),
}

impl Failure {
    pub fn code(&self) -> Code {
        match self {
            Failure::Usage(_) | Failure::Config(_) => Code::Usage,
            Failure::NotReady(_) => Code::NotReady,
            Failure::BadInput(_) => Code::BadInput,
            Failure::Delivery(_) => Code::Delivery,
            Failure::Locked(_) => Code::Locked,
        }
    }
}

/// How a command ended, when it ended without an error of its own: its
/// code, and the last error it went past (a failed hour of a day, a
/// destination that could not take a set), for the run's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: Code,
    pub error: Option<String>,
}

impl Outcome {
    pub fn new(code: Code, error: Option<String>) -> Outcome {
        Outcome { code, error }
    }
}

impl From<Code> for Outcome {
    fn from(code: Code) -> Outcome {
        Outcome { code, error: None }
    }
}

/// The work was stopped by a signal (`signals.rs` notes it).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted by {}", signal_name(*signal))]
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

fn signal_name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGTERM => "SIGTERM",
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Whether another try, in this process, may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Again {
    /// No: permission, configuration, spec, bad input, not ready (polled elsewhere),
    /// locked, a signal, or a retry loop that already gave up.
    Never,
    /// Maybe: I/O, network, a timeout; anything unclassified.
    Transient,
    /// Yes, after a fresh look: the input changed while it was read.
    Changed,
}

/// An error's exit code, and whether another try may help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub code: Code,
    pub again: Again,
}

/// An error given its class where it is born. Its message and causes are the inner
/// error's, so `{e:#}` reads the same.
#[derive(Debug)]
pub struct Classed {
    pub code: Code,
    pub again: Again,
    inner: Box<dyn std::error::Error + Send + Sync>,
}

impl Classed {
    pub fn new(inner: impl Into<Box<dyn std::error::Error + Send + Sync>>, code: Code, again: Again) -> Classed {
        Classed {
            code,
            again,
            inner: inner.into(),
        }
    }

    /// The input changed while it was read: exit 1, worth reading again.
    pub fn changed(inner: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Classed {
        Classed::new(inner, Code::Failed, Again::Changed)
    }

    /// The inner error, when it is a `T`.
    pub fn inner<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.inner.downcast_ref::<T>()
    }
}

impl fmt::Display for Classed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Classed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// Context over the last error of a retry loop that ran out of tries: no loop
/// around it tries again.
#[derive(Debug)]
pub struct GaveUp {
    /// What was tried ("pulling X"), if the loop says.
    pub what: Option<String>,
    pub tries: u32,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            Some(w) => write!(f, "{w} (gave up after {} tries)", self.tries),
            None => write!(f, "gave up after {} tries", self.tries),
        }
    }
}

impl std::error::Error for GaveUp {}

impl Class {
    /// The class of an error: the first classified cause in its chain gives the exit
    /// code; a permission error, or a loop that gave up, is never worth another try.
    pub fn of(err: &anyhow::Error) -> Class {
        if let Some(i) = find::<Interrupted>(err) {
            return Class {
                code: i.code(),
                again: Again::Never,
            };
        }
        let mut class = Class {
            code: Code::Failed,
            again: Again::Transient,
        };
        for cause in err.chain() {
            // A reader's error carries its class inside an I/O error.
            let inner = cause.downcast_ref::<std::io::Error>().and_then(|e| e.get_ref());
            if let Some(f) = cause
                .downcast_ref::<Failure>()
                .or_else(|| inner.and_then(|i| i.downcast_ref::<Failure>()))
            {
                class = Class {
                    code: f.code(),
                    again: Again::Never,
                };
                break;
            }
            if let Some(c) = cause.downcast_ref::<Classed>() {
                class = Class {
                    code: c.code,
                    again: c.again,
                };
                break;
            }
            if cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
                )
            }) {
                class.again = Again::Never;
            }
        }
        if find::<GaveUp>(err).is_some() {
            class.again = Again::Never;
        }
        class
    }
}

/// `T` as anyhow context (anyhow's `downcast_ref` sees through context) or as a cause.
fn find<T: std::error::Error + Send + Sync + 'static>(err: &anyhow::Error) -> Option<&T> {
    err.downcast_ref::<T>()
        .or_else(|| err.chain().find_map(|c| c.downcast_ref::<T>()))
}

/// The exit code for an error: the first classified cause in its chain.
pub fn code_of(err: &anyhow::Error) -> Code {
    Class::of(err).code
}

/// Whether another try may help (the input changed, or a failure that may pass): what
/// a retry loop asks by default.
pub fn may_pass(err: &anyhow::Error) -> bool {
    Class::of(err).again != Again::Never
}

/// Whether the input changed while it was read: the only thing a build tries again
/// (its pull retries the rest itself).
pub fn changed(err: &anyhow::Error) -> bool {
    Class::of(err).again == Again::Changed
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn classified_cause_wins_through_context() {
        let e = anyhow::Error::new(Failure::NotReady("hour 03 missing".into())).context("building CM001");
        assert_eq!(code_of(&e), Code::NotReady);
        assert_eq!(code_of(&anyhow::anyhow!("disk full")), Code::Failed);
        assert!(Code::Locked.is_retryable() && !Code::BadInput.is_retryable());
    }

    #[test]
    fn each_class_and_whether_to_try_again() {
        let class = |e: &anyhow::Error| (Class::of(e).code, Class::of(e).again);
        assert_eq!(class(&anyhow::anyhow!("disk full")), (Code::Failed, Again::Transient));
        let denied = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
            .context("opening x")
            .unwrap_err();
        assert_eq!(class(&denied), (Code::Failed, Again::Never));
        assert!(!may_pass(&denied));
        let grew = anyhow::Error::new(Classed::changed("it grew")).context("reading x");
        assert_eq!(class(&grew), (Code::Failed, Again::Changed));
        assert!(changed(&grew) && may_pass(&grew));
        assert_eq!(format!("{grew:#}"), "reading x: it grew");
        let gave_up = anyhow::anyhow!("reset").context(GaveUp { what: None, tries: 3 });
        assert_eq!(class(&gave_up), (Code::Failed, Again::Never));
        assert!(format!("{gave_up:#}").starts_with("gave up after 3 tries"));
        let stopped = anyhow::anyhow!("reading").context(Interrupted {
            signal: signal_hook::consts::SIGTERM,
        });
        assert_eq!(class(&stopped), (Code::Terminated, Again::Never));
        let stopped = anyhow::Error::new(Interrupted {
            signal: signal_hook::consts::SIGINT,
        });
        assert_eq!(class(&stopped), (Code::Interrupted, Again::Never));
        let usage = anyhow::Error::new(Classed::new("bad key", Code::Usage, Again::Never));
        assert_eq!(class(&usage), (Code::Usage, Again::Never));
        assert_eq!(
            class(&Failure::NotReady("later".into()).into()),
            (Code::NotReady, Again::Never)
        );
        // The scheduler's rule, as the Airflow DAG has it.
        let retryable: Vec<u8> = [
            Code::Ok,
            Code::Failed,
            Code::Usage,
            Code::NotReady,
            Code::BadInput,
            Code::Delivery,
            Code::Locked,
            Code::Alarm,
        ]
        .into_iter()
        .filter(|c| c.is_retryable())
        .map(|c| c as u8)
        .collect();
        assert_eq!(retryable, [1, 3, 5, 6]);
    }
}
