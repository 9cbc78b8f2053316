//! Exit codes: the table of CONTRACT.md as a type, and how errors map to it.
//!
//! An error is classified where it is born, by wrapping it in a [`Failure`];
//! `main` finds the first `Failure` in the chain. Anything unclassified is a
//! failure worth retrying (1).

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

/// The exit code for an error: the first classified cause in its chain.
pub fn code_of(err: &anyhow::Error) -> Code {
    if let Some(i) = err.downcast_ref::<crate::signals::Interrupted>() {
        return i.code();
    }
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code();
        }
        if let Some(i) = cause.downcast_ref::<crate::signals::Interrupted>() {
            return i.code();
        }
        if let Some(i) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<crate::signals::Interrupted>())
        {
            return i.code();
        }
        if cause.downcast_ref::<crate::spec::SpecError>().is_some() {
            return Code::Usage;
        }
    }
    Code::Failed
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classified_cause_wins_through_context() {
        let e = anyhow::Error::new(Failure::NotReady("hour 03 missing".into())).context("building CM001");
        assert_eq!(code_of(&e), Code::NotReady);
        assert_eq!(code_of(&anyhow::anyhow!("disk full")), Code::Failed);
        assert!(Code::Locked.is_retryable() && !Code::BadInput.is_retryable());
    }
}
