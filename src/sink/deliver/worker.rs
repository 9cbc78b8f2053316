//! A delivery's workers: each holds one connection to one host and takes
//! files from the shared queue until it is empty, its host fails, or the
//! host turns away one connection too many.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::batch;
use super::queue::{Attempt, Job};
use super::send::{Placing, Sent};
use super::{has, hopeless, Crowded, Engine, Running};
use crate::sink::{refused, Cancelled, Conn};

/// Requeues a worker's file if the worker panics.
struct PanicGuard<'e, 'a> {
    engine: &'e Engine<'a>,
    host: usize,
    job: &'e Job,
}

impl Drop for PanicGuard<'_, '_> {
    fn drop(&mut self) {
        let e = anyhow!("internal error while sending; see the panic message above");
        self.engine.fail_host(self.host, &e);
        self.engine
            .finish(self.host, self.job, Attempt::HostFailed, Duration::ZERO);
    }
}

impl<'a> Engine<'a> {
    /// Runs the workers of `hosts`, `connections` each, until the queue has nothing for them.
    pub(super) fn work(&self, hosts: &[usize]) {
        std::thread::scope(|scope| {
            for &h in hosts {
                if self.slots[h].dead.load(Ordering::Relaxed) {
                    continue;
                }
                for _ in 0..self.dest.connections {
                    scope.spawn(move || self.worker(h));
                }
            }
        });
    }

    /// One connection's worker: takes files from the queue for host `h`, sends them
    /// (small ones together), retries a failed try on the same host while it may
    /// pass, and leaves the rotation with the host when it fails.
    fn worker(&self, h: usize) {
        let slot = &self.slots[h];
        let mut running = Running::new(&slot.workers);
        // Set when the host refuses this worker's connection but serves others: it stops.
        let mut retire = false;
        let mut conn: Option<Box<dyn Conn>> = None;
        // Whether `conn` came from the idle pool and has not sent anything yet since.
        let mut reused = false;
        // The last file sent, its rename under way: settled once the next file's first answer
        // is in (the rename's came before it), or before this worker waits or stops.
        let mut held: Option<Placing<'_, 'a>> = None;
        loop {
            let next = match held.is_some() {
                true => self.next_job_now(h),
                false => None,
            };
            let job = match next {
                Some(job) => job,
                None => {
                    if let Some(p) = held.take() {
                        self.settle(conn.as_mut(), p);
                    }
                    match self.next_job(h) {
                        Some(job) => job,
                        None => break,
                    }
                }
            };
            // Small files go together, as many as the connection takes at once.
            if self.batchable(&job) {
                if conn.is_none() {
                    conn = self.unpark(h);
                    reused = conn.is_some();
                }
                let room = conn.as_ref().map_or(self.dest.hosts[h].batch(), |c| c.batch());
                let room = room.min(slot.batch_cap.load(Ordering::Relaxed));
                if room > 1 {
                    if let Some(p) = held.take() {
                        self.settle(conn.as_mut(), p);
                    }
                    let mut jobs = vec![job];
                    jobs.extend(self.more_small_jobs(h, room - 1));
                    match self.send_batch(&mut conn, h, jobs, &mut reused, &mut running) {
                        batch::Flow::Go => continue,
                        batch::Flow::Stop => break,
                    }
                }
            }
            // Should anything below panic, the file goes back in the queue and
            // the host leaves the rotation, instead of others waiting forever.
            let guard = PanicGuard {
                engine: self,
                host: h,
                job: &job,
            };
            let started = Instant::now();
            let mut attempt = 0;
            let tried = loop {
                if slot.dead.load(Ordering::Relaxed) {
                    break Attempt::HostFailed;
                }
                if job.cancel.load(Ordering::Relaxed) || crate::signals::received().is_some() {
                    break Attempt::Cancelled;
                }
                if conn.is_none() {
                    conn = self.unpark(h);
                    reused = conn.is_some();
                }
                match self.send(&mut conn, h, &job, &mut held) {
                    Ok(Sent::Done(n)) => {
                        reused = false;
                        break Attempt::Sent(n);
                    }
                    Ok(Sent::Placing(n)) => {
                        reused = false;
                        break Attempt::Placing(n);
                    }
                    Err(e) if has::<Cancelled>(&e) || job.cancel.load(Ordering::Relaxed) => {
                        conn = None;
                        break Attempt::Cancelled;
                    }
                    Err(e) if refused(&e).is_some_and(|r| !self.refuses(h, r)) => {
                        // A kind of request the host refuses, found now: worked around from
                        // the next try on (not a failed try), unless the destination requires it.
                        reused = false;
                        if let Err(e) = self.learn_from(h, e) {
                            conn = None;
                            self.fail_host(h, &e);
                            break Attempt::HostFailed;
                        }
                    }
                    Err(e) if has::<Crowded>(&e) && running.retire() => {
                        // The host serves this run's other connections: this one stops, and
                        // its file goes back to them. Not a failed try of the host.
                        self.crowded(h, &e);
                        retire = true;
                        break Attempt::Again;
                    }
                    Err(_) if std::mem::take(&mut reused) => {
                        // An idle connection that the server closed meanwhile: not a try.
                        conn = None;
                    }
                    Err(e) => {
                        conn = None;
                        if crate::signals::received().is_some() {
                            break Attempt::Cancelled;
                        }
                        if hopeless(&e) || attempt >= self.dest.retries {
                            self.fail_host(h, &e);
                            break Attempt::HostFailed;
                        }
                        self.trying_again(h, &e);
                        if self.dest.backoff.wait(attempt).is_err() {
                            break Attempt::Cancelled;
                        }
                        attempt += 1;
                    }
                }
            };
            let failed = matches!(tried, Attempt::HostFailed);
            std::mem::forget(guard);
            match tried {
                Attempt::Placing(n) => held = Some(Placing::new(self, h, job, started, n)),
                tried => self.finish(h, &job, tried, started.elapsed()),
            }
            if failed || retire {
                break;
            }
        }
        if let Some(p) = held.take() {
            self.settle(conn.as_mut(), p);
        }
        if slot.dead.load(Ordering::Relaxed) {
            return;
        }
        if let Some(c) = conn {
            self.park(h, c);
        }
    }
}
