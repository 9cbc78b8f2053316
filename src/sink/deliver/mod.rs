//! Delivering sets to one destination: plan, data files, then `.verf`s.
//!
//! 1. **Plan**, on the first host that answers: list the remote directory;
//!    a file is delivered when the ledger says so with the same MD5 and size
//!    and the remote size agrees. A set with anything left to send first
//!    loses its remote `.verf`, so that no consumer ever reads a `.verf`
//!    over files being replaced; stray `.part` files of our names go.
//! 2. **Data files** through one work queue. `failover`: the hosts take the
//!    queue one after another, the next when one fails. `spread`: every
//!    host's connections take from it at once; a failed host leaves the
//!    rotation and its file goes back. When the queue is empty, an idle
//!    connection re-sends a straggler that it can finish sooner than the
//!    slow host will, and the first copy to finish wins.
//! 3. **`.verf`s** of the sets whose data files are all delivered, through
//!    the same machinery.
//!
//! Per file: upload to `<name>.part` (resumed from its remote size when the
//! ledger says that `.part` holds this very file), check the remote size,
//! rename into place, record it in the ledger.
//!
//! A host that refuses a kind of request (a locked-down drop box) is worked
//! around, said once per host and run, and recorded in the ledger, unless the
//! destination's `require` names the request: refusing rename, its files are
//! written under their final names (each set's `.verf` still last); refusing
//! stat, sizes are the bytes it acknowledged; refusing listing, each file's
//! size is asked by name; refusing remove, an old `.verf` is emptied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use anyhow::anyhow;
use serde::Serialize;

use super::{Conn, Destination, HostRefused, NoSpace, RateLimit, Request};
use crate::atomic::remote_part_of;
use crate::config::DeliveryMode;
use crate::ledger::{Ledger, PushRecord};

mod batch;
mod queue;
mod refusals;
mod send;
mod worker;

use queue::{Attempt, Job, Queue};

/// One local file to deliver under `name`.
#[derive(Debug, Clone)]
pub struct Item {
    pub local: PathBuf,
    pub name: String,
    pub size: u64,
    pub md5: String,
}

/// A set: its data files, and its `.verf`, which goes last.
#[derive(Debug, Clone)]
pub struct SetItems {
    pub files: Vec<Item>,
    pub verf: Item,
}

/// What one host of a destination took.
#[derive(Debug, Default, Serialize)]
pub struct HostDelivered {
    pub files: usize,
    pub bytes: u64,
    /// The requests the host refuses, worked around (see [`Request::fallback`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refuses: Vec<Request>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a delivery to one destination did, for the summary and the ledger.
#[derive(Debug, Default, Serialize)]
pub struct Delivered {
    pub destination: String,
    pub code: u8,
    pub sets: usize,
    /// Files sent in this run (data files and `.verf`s).
    pub sent: usize,
    /// Files found already delivered.
    pub skipped: usize,
    pub bytes: u64,
    /// Straggler copies started on a faster host.
    pub speculative: usize,
    pub seconds: f64,
    pub hosts: BTreeMap<String, HostDelivered>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct Options<'a> {
    pub limit: Option<&'a RateLimit>,
    pub bars: Option<&'a indicatif::MultiProgress>,
}

/// Delivers `sets` to `dest`. Never fails as a whole: the report carries
/// code 5 and the reason when some set could not be delivered.
pub fn deliver(
    dest: &Destination,
    sets: &[SetItems],
    ledger: &Ledger,
    rec: &PushRecord<'_>,
    opts: &Options<'_>,
) -> Delivered {
    let started = Instant::now();
    let engine = Engine::new(dest, ledger, rec, opts);
    let mut report = Delivered {
        destination: dest.name.clone(),
        sets: sets.len(),
        ..Delivered::default()
    };
    let result = engine.run(sets, &mut report);
    for (i, slot) in engine.slots.iter().enumerate() {
        slot.bar.finish_and_clear();
        report.hosts.insert(
            dest.hosts[i].label().to_string(),
            HostDelivered {
                files: slot.files.load(Ordering::Relaxed),
                bytes: slot.bytes.load(Ordering::Relaxed),
                refuses: slot.refused().into_iter().collect(),
                error: slot.error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            },
        );
    }
    report.sent = engine.slots.iter().map(|s| s.files.load(Ordering::Relaxed)).sum();
    report.bytes = engine.slots.iter().map(|s| s.bytes.load(Ordering::Relaxed)).sum();
    report.speculative = engine.speculative.load(Ordering::Relaxed);
    report.seconds = started.elapsed().as_secs_f64();
    if let Err(e) = result {
        report.code = crate::exit::Code::Delivery as u8;
        report.error = Some(format!("{e:#}"));
    }
    report
}

/// A warning on stderr, from a worker.
fn note(args: std::fmt::Arguments<'_>) {
    crate::log::warn(&args.to_string());
}

/// Whether no retry on the same host can cure `e`: a refused host key or login, a full
/// disk (this host's), or what no retry cures anywhere (`exit::Class::of`: a permission
/// error, a loop that gave up).
fn hopeless(e: &anyhow::Error) -> bool {
    has::<HostRefused>(e) || has::<NoSpace>(e) || !crate::exit::may_pass(e)
}

/// Whether `T` is anywhere in the error's chain.
fn has<T: std::error::Error + Send + Sync + 'static>(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<T>())
}

/// What one host has done and whether it is still in the rotation.
struct Slot {
    dead: AtomicBool,
    error: Mutex<Option<String>>,
    files: AtomicUsize,
    bytes: AtomicU64,
    /// Time spent on completed files, for the host's rate.
    busy_nanos: AtomicU64,
    bar: indicatif::ProgressBar,
    /// The requests the host refuses: from the ledger, and learned in this run.
    refuses: Mutex<BTreeSet<Request>>,
    /// Workers sending to the host right now.
    workers: AtomicUsize,
    /// Whether a connection to the host succeeded in this run.
    connected: AtomicBool,
    /// Whether the host refused a connection beyond those it had (said once).
    crowded: AtomicBool,
    /// The most files a connection to the host has been found to take open at once.
    batch_cap: AtomicUsize,
}

/// A connection refused or dropped by a host that took others in this run: its
/// session limit (`MaxStartups`, a per-user cap), a reason to go on with fewer
/// connections, not to fail the host.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub(super) struct Crowded(pub(super) anyhow::Error);

/// Counts a running worker of a host while it lives.
pub(super) struct Running<'s> {
    workers: &'s AtomicUsize,
    retired: bool,
}

impl<'s> Running<'s> {
    fn new(workers: &'s AtomicUsize) -> Running<'s> {
        workers.fetch_add(1, Ordering::SeqCst);
        Running {
            workers,
            retired: false,
        }
    }

    /// Stops counting this worker, unless it is the host's last: then it must go on
    /// (and fail the host, if it comes to that).
    pub(super) fn retire(&mut self) -> bool {
        self.retired = self
            .workers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n > 1).then(|| n - 1))
            .is_ok();
        self.retired
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.retired {
            self.workers.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Slot {
    fn refused(&self) -> BTreeSet<Request> {
        self.refuses.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct Engine<'a> {
    dest: &'a Destination,
    ledger: &'a Ledger,
    rec: &'a PushRecord<'a>,
    limit: Option<&'a RateLimit>,
    slots: Vec<Slot>,
    items: Mutex<Vec<Item>>,
    queue: Mutex<Queue>,
    wake: Condvar,
    speculative: AtomicUsize,
    /// Connections not in use, by host: the planning one, and those of workers that ran out
    /// of work, taken again before anyone connects anew (a handshake costs a round of key
    /// exchange and authentication).
    idle: Mutex<Vec<(usize, Box<dyn Conn>)>>,
    /// Per item, the tries that failed after a connection took it (a rename refused, a
    /// file of a batch), against the destination's retries.
    failed_tries: Mutex<BTreeMap<usize, u32>>,
    /// The sizes the plan's listing found, for resuming on a host that refuses stat; each
    /// is taken once (a file written since may have been truncated).
    listed: Mutex<BTreeMap<String, u64>>,
}

impl<'a> Engine<'a> {
    fn new(dest: &'a Destination, ledger: &'a Ledger, rec: &'a PushRecord<'a>, opts: &Options<'a>) -> Engine<'a> {
        let slots = dest
            .hosts
            .iter()
            .map(|h| {
                let bar = match opts.bars {
                    Some(m) => {
                        let b = m.add(indicatif::ProgressBar::new(0));
                        b.set_style(
                            indicatif::ProgressStyle::with_template(
                                "{prefix:>28} {bytes:>10} {binary_bytes_per_sec:>12} {msg}",
                            )
                            .expect("template"),
                        );
                        b.set_prefix(format!("{} {}", dest.name, h.label()));
                        b
                    }
                    None => indicatif::ProgressBar::hidden(),
                };
                Slot {
                    dead: AtomicBool::new(false),
                    error: Mutex::new(None),
                    files: AtomicUsize::new(0),
                    bytes: AtomicU64::new(0),
                    busy_nanos: AtomicU64::new(0),
                    bar,
                    refuses: Mutex::new(BTreeSet::new()),
                    workers: AtomicUsize::new(0),
                    connected: AtomicBool::new(false),
                    crowded: AtomicBool::new(false),
                    batch_cap: AtomicUsize::new(usize::MAX),
                }
            })
            .collect();
        Engine {
            dest,
            ledger,
            rec,
            limit: opts.limit,
            slots,
            items: Mutex::new(Vec::new()),
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            speculative: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
            failed_tries: Mutex::new(BTreeMap::new()),
            listed: Mutex::new(BTreeMap::new()),
        }
    }

    /// The queue (a worker that panicked holding it does not make it unusable).
    fn q(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn item(&self, i: usize) -> Item {
        self.items.lock().unwrap_or_else(|e| e.into_inner())[i].clone()
    }

    fn run(&self, sets: &[SetItems], report: &mut Delivered) -> anyhow::Result<()> {
        self.recall()?;
        let todo = self.plan(sets, report)?;
        // Data files first.
        let mut waiting_verfs = Vec::new();
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            let mut q = self.q();
            for (set, files) in &todo {
                let mut ids = Vec::new();
                for f in files {
                    items.push(f.clone());
                    ids.push(items.len() - 1);
                    q.pending.push_back(items.len() - 1);
                }
                waiting_verfs.push((*set, ids));
            }
        }
        self.drain()?;
        // A signal cut the data files short: no .verf goes up.
        crate::signals::check()?;
        // Then each set's .verf, once all its data files are there.
        {
            let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
            let mut q = self.q();
            for (set, ids) in &waiting_verfs {
                if ids.iter().all(|i| q.done.contains(i)) {
                    items.push(sets[*set].verf.clone());
                    q.pending.push_back(items.len() - 1);
                }
            }
        }
        self.drain()
    }

    /// What is left to send, per set; removes `.verf`s and `.part`s that must go first.
    fn plan(&self, sets: &[SetItems], report: &mut Delivered) -> anyhow::Result<Vec<(usize, Vec<Item>)>> {
        let (h, mut conn) = self.connect_any()?;
        let plan = (|| -> anyhow::Result<Vec<(usize, Vec<Item>)>> {
            let names: Vec<&str> = sets
                .iter()
                .flat_map(|s| s.files.iter().chain([&s.verf]))
                .map(|i| i.name.as_str())
                .collect();
            // None: the host refuses both listing and stat, and the ledger alone tells.
            let remote = self.remote_sizes(h, conn.as_mut(), &names)?;
            if let Some(r) = &remote {
                *self.listed.lock().unwrap_or_else(|e| e.into_inner()) = r.clone();
            }
            let dest = &self.dest.name;
            let delivered = |it: &Item| -> anyhow::Result<bool> {
                Ok(self
                    .ledger
                    .upload(dest, &it.name)?
                    .is_some_and(|u| u.done && u.md5 == it.md5 && u.size == it.size)
                    && remote.as_ref().is_none_or(|r| r.get(&it.name) == Some(&it.size)))
            };
            let mut todo = Vec::new();
            let mut ours: BTreeMap<&str, &Item> = BTreeMap::new();
            for (i, set) in sets.iter().enumerate() {
                let mut left = Vec::new();
                for f in &set.files {
                    ours.insert(&f.name, f);
                    if delivered(f)? {
                        report.skipped += 1;
                    } else {
                        left.push(f.clone());
                    }
                }
                ours.insert(&set.verf.name, &set.verf);
                if left.is_empty() && delivered(&set.verf)? {
                    report.skipped += 1;
                    continue;
                }
                let there = match &remote {
                    Some(r) => r.contains_key(&set.verf.name),
                    None => self.ledger.upload(dest, &set.verf.name)?.is_some(),
                };
                if there {
                    // Never a .verf over data files that are about to change.
                    self.discard(h, conn.as_mut(), &set.verf.name)?;
                    self.ledger.forget(dest, &set.verf.name)?;
                }
                todo.push((i, left));
            }
            for name in remote.iter().flat_map(|r| r.keys()) {
                let Some((whole, straggler)) = remote_part_of(name) else {
                    continue;
                };
                let (base, speculative) = match straggler {
                    Some((b, _)) if ours.contains_key(b) => (b, true),
                    _ => (whole, false),
                };
                let Some(item) = ours.get(base) else { continue };
                let resumable = !speculative
                    && self
                        .ledger
                        .upload(dest, base)?
                        .is_some_and(|u| !u.done && u.md5 == item.md5 && u.size == item.size);
                if !resumable {
                    self.remove_if_allowed(h, conn.as_mut(), name)?;
                }
            }
            Ok(todo)
        })();
        match plan {
            Ok(todo) => {
                self.park(h, conn);
                Ok(todo)
            }
            Err(e) => {
                self.fail_host(h, &e);
                Err(e)
            }
        }
    }

    /// Says, once per host, that it took fewer connections than `connections`.
    pub(super) fn crowded(&self, h: usize, e: &anyhow::Error) {
        if !self.slots[h].crowded.swap(true, Ordering::Relaxed) {
            note(format_args!(
                "push: {} {} takes fewer connections than `connections` = {} ({e:#}); going on with fewer",
                self.dest.name,
                self.dest.hosts[h].label(),
                self.dest.connections
            ));
        }
    }

    /// Says that a try on host `h` failed with `e` and the file will go again.
    pub(super) fn trying_again(&self, h: usize, e: &anyhow::Error) {
        note(format_args!(
            "push: {} {}: {e:#}; trying again",
            self.dest.name,
            self.dest.hosts[h].label()
        ));
    }

    /// Counts a failed try of `item`; how many there have been.
    pub(super) fn failed_try(&self, item: usize) -> u32 {
        let mut failed = self.failed_tries.lock().unwrap_or_else(|e| e.into_inner());
        let n = failed.entry(item).or_insert(0);
        *n += 1;
        *n
    }

    fn park(&self, h: usize, conn: Box<dyn Conn>) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push((h, conn));
    }

    /// An idle connection to host `h`, if there is one.
    fn unpark(&self, h: usize) -> Option<Box<dyn Conn>> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let i = idle.iter().position(|(x, _)| *x == h)?;
        Some(idle.swap_remove(i).1)
    }

    /// The first live host that answers, in order.
    fn connect_any(&self) -> anyhow::Result<(usize, Box<dyn Conn>)> {
        let mut why = Vec::new();
        for (i, host) in self.dest.hosts.iter().enumerate() {
            if self.slots[i].dead.load(Ordering::Relaxed) {
                continue;
            }
            let tried = self.dest.backoff.retry(
                self.dest.retries.min(2),
                |e| !hopeless(e),
                |_| host.connect(),
                |_, _| {},
            );
            let e = match tried {
                Ok(c) => {
                    self.slots[i].connected.store(true, Ordering::Relaxed);
                    return Ok((i, c));
                }
                Err(t) if crate::signals::received().is_some() => return Err(t.error),
                Err(t) => t.error,
            };
            self.fail_host(i, &e);
            why.push(format!("{}: {e:#}", host.label()));
        }
        Err(self.all_failed(&why))
    }

    fn all_failed(&self, why: &[String]) -> anyhow::Error {
        let mut why: Vec<String> = why.to_vec();
        if why.is_empty() {
            why = self
                .dest
                .hosts
                .iter()
                .zip(&self.slots)
                .filter_map(|(h, s)| {
                    s.error
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_ref()
                        .map(|e| format!("{}: {e}", h.label()))
                })
                .collect();
        }
        anyhow!(
            "delivery to `{}` failed on every host: {}",
            self.dest.name,
            why.join("; ")
        )
    }

    fn fail_host(&self, h: usize, e: &anyhow::Error) {
        let slot = &self.slots[h];
        if !slot.dead.swap(true, Ordering::SeqCst) {
            let msg = format!("{e:#}");
            note(format_args!(
                "push: {} host {} leaves the rotation: {msg}",
                self.dest.name,
                self.dest.hosts[h].label()
            ));
            slot.bar.set_message("failed");
            *slot.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(msg);
        }
        self.wake.notify_all();
    }

    /// Runs the queue to its end on the hosts the mode allows.
    fn drain(&self) -> anyhow::Result<()> {
        let empty = |q: &Queue| q.pending.is_empty() && q.flights.is_empty();
        if empty(&self.q()) {
            return Ok(());
        }
        let hosts: Vec<usize> = (0..self.slots.len()).collect();
        match self.dest.mode {
            DeliveryMode::Spread => self.work(&hosts),
            DeliveryMode::Failover => {
                for h in hosts {
                    if empty(&self.q()) {
                        break;
                    }
                    self.work(&[h]);
                }
            }
        }
        let q = self.q();
        if q.pending.is_empty() {
            return Ok(());
        }
        let left = q.pending.len();
        drop(q);
        Err(self.all_failed(&[]).context(format!("{left} file(s) not delivered")))
    }
}
