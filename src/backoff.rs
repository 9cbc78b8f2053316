//! Trying again, for pulls, builds and pushes alike: what is worth another try
//! is the error's class (`exit::Class::of`: never a permission, configuration or
//! spec error, nor what an inner loop gave up on), and the wait before it is
//! `first * 2^attempt`, capped at `max`, times a jitter in [0.5, 1.5) so that
//! many clients that failed together do not come back together; a signal ends
//! the wait. [`Backoff::retry`] is the loop; the delivery engine keeps its own
//! (hosts, queues) but asks the same class and waits the same way.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::exit::{GaveUp, Interrupted};

/// How a retry loop ended without a value.
#[derive(Debug)]
pub struct Tried {
    pub error: anyhow::Error,
    /// Tries made.
    pub tries: u32,
    /// The tries ran out (else the error was not worth another, or a signal came).
    pub gave_up: bool,
}

impl Tried {
    /// The error for the caller: with `what` ("pulling X") as its context, and when the
    /// tries ran out, [`GaveUp`] ("pulling X (gave up after 4 tries)").
    pub fn into_error(self, what: Option<String>) -> anyhow::Error {
        match (self.gave_up, what) {
            (true, what) => self.error.context(GaveUp {
                what,
                tries: self.tries,
            }),
            (false, Some(w)) => self.error.context(w),
            (false, None) => self.error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait, before jitter.
    pub max: Duration,
}

impl Backoff {
    pub fn from_millis(first: u64, max: u64) -> Backoff {
        Backoff {
            first: Duration::from_millis(first),
            max: Duration::from_millis(max),
        }
    }

    /// Sleeps [`delay`](Self::delay)`(attempt)`; a signal ends the wait.
    pub fn wait(&self, attempt: u32) -> Result<(), Interrupted> {
        crate::signals::sleep(self.delay(attempt))
    }

    /// `f(attempt)` until it succeeds, fails with an error `worth` rejects
    /// (`exit::may_pass`, or `exit::changed` for a build), or `retries` tries after the
    /// first have failed. `before(&e, attempt)` runs before each wait (to say it, to
    /// count it). A signal ends it.
    pub fn retry<T>(
        &self,
        retries: u32,
        worth: impl Fn(&anyhow::Error) -> bool,
        mut f: impl FnMut(u32) -> anyhow::Result<T>,
        mut before: impl FnMut(&anyhow::Error, u32),
    ) -> Result<T, Tried> {
        let mut attempt = 0;
        loop {
            let e = match f(attempt) {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let tries = attempt + 1;
            let stop = |error| {
                Err(Tried {
                    error,
                    tries,
                    gave_up: false,
                })
            };
            if let Some(i) = crate::signals::received() {
                return stop(anyhow::Error::new(i));
            }
            if !worth(&e) {
                return stop(e);
            }
            if attempt >= retries {
                return Err(Tried {
                    error: e,
                    tries,
                    gave_up: true,
                });
            }
            before(&e, attempt);
            if let Err(i) = self.wait(attempt) {
                return stop(anyhow::Error::new(i));
            }
            attempt += 1;
        }
    }

    /// The wait after failed try number `attempt` (from 0).
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.first.saturating_mul(1u32 << attempt.min(16)).min(self.max);
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            ^ std::process::id().rotate_left(16);
        base.mul_f64(0.5 + f64::from(xorshift(seed) % 1000) / 1000.0)
    }
}

fn xorshift(mut x: u32) -> u32 {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{may_pass, Classed};

    #[test]
    fn capped_and_jittered() {
        let b = Backoff::from_millis(100, 1000);
        for attempt in 0..20 {
            let d = b.delay(attempt);
            let base = (100u64 << attempt.min(16)).min(1000);
            assert!(
                d >= Duration::from_millis(base / 2) && d < Duration::from_millis(base * 3 / 2),
                "{attempt}: {d:?}"
            );
        }
    }

    #[test]
    fn retried_only_while_worth_it() {
        let b = Backoff::from_millis(1, 2);
        // Always failing with `error()`, `retries` 3: the calls made, the waits said, how it ended.
        let always = |error: &dyn Fn() -> anyhow::Error| {
            let (mut calls, mut said) = (0, 0);
            let t = b
                .retry(
                    3,
                    may_pass,
                    |_| -> anyhow::Result<()> {
                        calls += 1;
                        Err(error())
                    },
                    |_, _| said += 1,
                )
                .unwrap_err();
            (calls, said, t)
        };
        let (calls, said, t) =
            always(&|| anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied)));
        assert_eq!((calls, said, t.tries, t.gave_up), (1, 0, 1, false));
        assert!(!format!("{:#}", t.into_error(Some("pulling x".into()))).contains("gave up"));

        let (calls, said, t) = always(&|| anyhow::anyhow!("reset"));
        assert_eq!((calls, said, t.tries, t.gave_up), (4, 3, 4, true));
        let e = t.into_error(Some("pulling x".into()));
        assert_eq!(format!("{e:#}"), "pulling x (gave up after 4 tries): reset");
        // What a loop gave up on, no loop around it tries again.
        assert!(!may_pass(&e));

        // A build tries again only what changed while it was read.
        let mut calls = 0;
        b.retry(
            3,
            crate::exit::changed,
            |_| -> anyhow::Result<()> {
                calls += 1;
                Err(anyhow::anyhow!("reset"))
            },
            |_, _| {},
        )
        .unwrap_err();
        assert_eq!(calls, 1);
        let mut calls = 0;
        let got = b.retry(
            3,
            crate::exit::changed,
            |attempt| {
                calls += 1;
                match attempt {
                    0 => Err(Classed::changed("it grew").into()),
                    _ => Ok(7),
                }
            },
            |_, _| {},
        );
        assert_eq!((got.ok(), calls), (Some(7), 2));
    }
}
