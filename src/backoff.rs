//! How long to wait before trying again, for pulls and pushes alike:
//! `first * 2^attempt`, capped at `max`, times a jitter in [0.5, 1.5) so that
//! many clients that failed together do not come back together.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
}
