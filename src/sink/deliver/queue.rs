//! The work queue of one delivery: files waiting, copies in flight on each
//! host, and the race of a straggler between two hosts (claimed, won, the
//! loser stopped).

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Engine;
use crate::config::DeliveryMode;
use crate::sink::Aborter;

/// One copy of an item under way on one host.
pub(super) struct Flight {
    pub(super) id: u64,
    pub(super) item: usize,
    pub(super) host: usize,
    pub(super) speculative: bool,
    pub(super) started: Instant,
    pub(super) sent: Arc<AtomicU64>,
    pub(super) cancel: Arc<AtomicBool>,
    /// Breaks the copy's connection when another copy has won.
    pub(super) abort: Option<Aborter>,
}

#[derive(Default)]
pub(super) struct Queue {
    pub(super) pending: VecDeque<usize>,
    pub(super) flights: Vec<Flight>,
    pub(super) done: HashSet<usize>,
    /// Items a copy is renaming into place right now.
    pub(super) claimed: HashSet<usize>,
    pub(super) next_id: u64,
}

pub(super) struct Job {
    pub(super) id: u64,
    pub(super) item: usize,
    pub(super) speculative: bool,
    pub(super) sent: Arc<AtomicU64>,
    pub(super) cancel: Arc<AtomicBool>,
}

pub(super) enum Attempt {
    Sent(u64),
    /// Sent, its rename not yet confirmed (the worker holds it; never finished so).
    Placing(u64),
    Cancelled,
    /// The host failed: the file goes back for the others.
    HostFailed,
    /// This try failed but the host stays: the file goes back in the queue.
    Again,
}

impl Engine<'_> {
    /// The next file for host `h`: from the queue, or a straggler to race.
    pub(super) fn next_job(&self, h: usize) -> Option<Job> {
        let mut q = self.q();
        loop {
            if self.slots[h].dead.load(Ordering::Relaxed) || crate::signals::received().is_some() {
                return None;
            }
            if let Some(item) = q.pending.pop_front() {
                return Some(Self::fly(&mut q, item, h, false));
            }
            if q.flights.is_empty() {
                return None;
            }
            if self.dest.mode == DeliveryMode::Spread {
                if let Some(item) = self.straggler(h, &q) {
                    self.speculative.fetch_add(1, Ordering::Relaxed);
                    return Some(Self::fly(&mut q, item, h, true));
                }
            }
            q = self
                .wake
                .wait_timeout(q, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The next file waiting in the queue, without waiting for one.
    pub(super) fn next_job_now(&self, h: usize) -> Option<Job> {
        let mut q = self.q();
        if self.slots[h].dead.load(Ordering::Relaxed) || crate::signals::received().is_some() {
            return None;
        }
        let item = q.pending.pop_front()?;
        Some(Self::fly(&mut q, item, h, false))
    }

    /// Up to `room` more small files waiting at the front of the queue, for a batch.
    pub(super) fn more_small_jobs(&self, h: usize, room: usize) -> Vec<Job> {
        // The queue, then the items: the order `next_job` (through `straggler`) takes them in.
        let mut q = self.q();
        let items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let mut jobs = Vec::new();
        while jobs.len() < room {
            match q.pending.front() {
                Some(&i) if items[i].size <= super::batch::SMALL => {
                    q.pending.pop_front();
                    jobs.push(Self::fly(&mut q, i, h, false));
                }
                _ => break,
            }
        }
        jobs
    }

    pub(super) fn fly(q: &mut Queue, item: usize, host: usize, speculative: bool) -> Job {
        q.next_id += 1;
        let f = Flight {
            id: q.next_id,
            item,
            host,
            speculative,
            started: Instant::now(),
            sent: Arc::new(AtomicU64::new(0)),
            cancel: Arc::new(AtomicBool::new(false)),
            abort: None,
        };
        let job = Job {
            id: f.id,
            item,
            speculative,
            sent: f.sent.clone(),
            cancel: f.cancel.clone(),
        };
        q.flights.push(f);
        job
    }

    /// An item in flight on another host that host `h` would deliver sooner
    /// by sending it whole than that host will by finishing it.
    pub(super) fn straggler(&self, h: usize, q: &Queue) -> Option<usize> {
        // A copy to a host that refuses rename is written under the final name: two
        // copies must never race there.
        if (0..self.slots.len()).any(|x| self.refuses(x, crate::sink::Request::Rename)) {
            return None;
        }
        let slot = &self.slots[h];
        let busy = slot.busy_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let bytes = slot.bytes.load(Ordering::Relaxed) as f64;
        if busy < 0.05 || bytes <= 0.0 {
            return None;
        }
        // Per connection: each of h's connections sends at about this rate.
        let own_rate = bytes / busy;
        let items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        let mut best: Option<(f64, usize)> = None;
        for f in &q.flights {
            if f.host == h
                || f.speculative
                || q.done.contains(&f.item)
                || q.claimed.contains(&f.item)
                || q.flights.iter().filter(|g| g.item == f.item).count() > 1
            {
                continue;
            }
            let elapsed = f.started.elapsed().as_secs_f64();
            if elapsed < 0.5 {
                continue;
            }
            let size = items[f.item].size as f64;
            let sent = f.sent.load(Ordering::Relaxed) as f64;
            let their_rate = sent / elapsed;
            let theirs = if their_rate > 0.0 {
                (size - sent).max(0.0) / their_rate
            } else {
                f64::INFINITY
            };
            let mine = size / own_rate;
            if mine * 1.25 < theirs && best.is_none_or(|(t, _)| theirs > t) {
                best = Some((theirs, f.item));
            }
        }
        best.map(|(_, i)| i)
    }

    pub(super) fn finish(&self, h: usize, job: &Job, attempt: Attempt, took: Duration) {
        let slot = &self.slots[h];
        let mut q = self.q();
        q.flights.retain(|f| f.id != job.id);
        match attempt {
            Attempt::Sent(n) => {
                q.done.insert(job.item);
                slot.files.fetch_add(1, Ordering::Relaxed);
                slot.bytes.fetch_add(n, Ordering::Relaxed);
                slot.busy_nanos.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
                for f in q.flights.iter().filter(|f| f.item == job.item) {
                    f.cancel.store(true, Ordering::Relaxed);
                }
            }
            Attempt::Cancelled => {}
            Attempt::Placing(_) => unreachable!("a file whose rename is under way is settled, not finished"),
            Attempt::HostFailed | Attempt::Again => {
                let elsewhere = q.flights.iter().any(|f| f.item == job.item);
                if !q.done.contains(&job.item) && !elsewhere {
                    q.pending.push_front(job.item);
                }
            }
        }
        drop(q);
        self.wake.notify_all();
    }

    /// Cancels and breaks every other copy of `job`'s item; returns their temporary names.
    pub(super) fn stop_others(&self, job: &Job) -> Vec<String> {
        let q = self.q();
        let name = self.item(job.item).name;
        q.flights
            .iter()
            .filter(|f| f.item == job.item && f.id != job.id)
            .map(|f| {
                f.cancel.store(true, Ordering::Relaxed);
                if let Some(abort) = &f.abort {
                    abort();
                }
                crate::atomic::remote_part(&name, f.speculative.then_some(f.host))
            })
            .collect()
    }

    pub(super) fn claim(&self, item: usize) -> bool {
        let mut q = self.q();
        if q.done.contains(&item) || q.claimed.contains(&item) {
            return false;
        }
        q.claimed.insert(item);
        true
    }

    pub(super) fn unclaim(&self, item: usize, done: bool) {
        let mut q = self.q();
        q.claimed.remove(&item);
        if done {
            q.done.insert(item);
        }
    }
}
