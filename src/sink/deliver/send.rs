//! One file on one connection: upload to its temporary name (resumed where
//! the ledger allows), check the size the host reports, claim it against a
//! racing copy, and start the rename into place. The rename is confirmed
//! later ([`Engine::settle`]): on a connection that pipelines, its answer
//! comes back with the next file's first one, so a file costs the round
//! trips of its own upload only. A file counts as delivered (ledger, queue,
//! `.verf` gating) once its rename is confirmed, never before.
//!
//! On a host that refuses rename, the file is written under its final name and
//! counts as delivered once its size checks; on one that refuses stat, its size
//! is the bytes the host acknowledged.

use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::anyhow;

use super::{has, note, Attempt, Crowded, Engine, Job};
use crate::atomic::remote_part;
use crate::sink::{refused, Cancelled, Conn, HostRefused, Pace, Request};

/// What one try at a file came to.
pub(super) enum Sent {
    /// In place: bytes sent this time.
    Done(u64),
    /// Uploaded and checked, its rename under way: bytes sent.
    Placing(u64),
}

/// A file whose rename is under way on a worker's connection. Dropped
/// unsettled (a panic), its file goes back in the queue.
pub(super) struct Placing<'e, 'a> {
    engine: &'e Engine<'a>,
    host: usize,
    job: Option<Job>,
    started: Instant,
    sent: u64,
}

impl<'e, 'a> Placing<'e, 'a> {
    pub(super) fn new(engine: &'e Engine<'a>, host: usize, job: Job, started: Instant, sent: u64) -> Self {
        Placing {
            engine,
            host,
            job: Some(job),
            started,
            sent,
        }
    }
}

impl Drop for Placing<'_, '_> {
    fn drop(&mut self) {
        if let Some(job) = self.job.take() {
            self.engine.unclaim(job.item, false);
            let e = anyhow!("internal error while renaming; see the panic message above");
            self.engine.fail_host(self.host, &e);
            self.engine
                .finish(self.host, &job, Attempt::HostFailed, self.started.elapsed());
        }
    }
}

/// Where a file goes, once the ledger and the host have been asked.
pub(super) enum Prepared {
    /// Already renamed into place by a run that stopped before recording it.
    InPlace,
    /// To `part` (the final name when `direct`) from byte `offset`.
    At { part: String, offset: u64, direct: bool },
}

/// How a try ends before the rename.
enum Uploaded {
    /// The upload's size as the host reports it (else as it acknowledged it), and the
    /// offset it resumed from.
    Part { size: u64, offset: u64 },
    /// Written under its final name (a host that refuses rename): its size, and the offset.
    Direct { size: u64, offset: u64 },
    /// Already renamed into place by a run that stopped before recording it.
    InPlace,
}

impl<'a> Engine<'a> {
    /// One try at one file on host `h`; settles `held`, the previous file's rename on this
    /// connection, as soon as this file's upload has had its first answer.
    pub(super) fn send<'e>(
        &'e self,
        conn: &mut Option<Box<dyn Conn>>,
        h: usize,
        job: &Job,
        held: &mut Option<Placing<'e, 'a>>,
    ) -> anyhow::Result<Sent> {
        if conn.is_none() {
            if let Some(p) = held.take() {
                self.settle(None, p);
            }
            let slot = &self.slots[h];
            match self.dest.hosts[h].connect() {
                Ok(c) => {
                    slot.connected.store(true, Ordering::Relaxed);
                    *conn = Some(c);
                }
                Err(e) if !has::<HostRefused>(&e) && slot.connected.load(Ordering::Relaxed) => {
                    return Err(Crowded(e).into())
                }
                Err(e) => return Err(e),
            }
        }
        let c = conn.as_mut().expect("connected");
        let uploaded = self.upload(c, h, job);
        if let Some(p) = held.take() {
            self.settle(Some(c), p);
        }
        let it = self.item(job.item);
        let host = self.dest.hosts[h].label();
        let (size, offset) = match uploaded? {
            Uploaded::InPlace => {
                self.ledger.mark_done(self.rec, &it.name, &it.md5, it.size, host)?;
                return Ok(Sent::Done(0));
            }
            Uploaded::Direct { size, offset } => {
                anyhow::ensure!(
                    size == it.size,
                    "{} on {host} has {size} bytes after the upload, {} expected",
                    it.name,
                    it.size
                );
                self.ledger.mark_done(self.rec, &it.name, &it.md5, it.size, host)?;
                return Ok(Sent::Done(it.size - offset));
            }
            Uploaded::Part { size, offset } => (size, offset),
        };
        let part = remote_part(&it.name, job.speculative.then_some(h));
        if size != it.size {
            anyhow::bail!(
                "{part} on {host} has {size} bytes after the upload, {} expected",
                it.size
            );
        }
        // With two copies racing, the first to get here renames; the other removes its own.
        if !self.claim(job.item) {
            self.remove_if_allowed(h, c.as_mut(), &part)?;
            return Err(Cancelled.into());
        }
        if let Err(e) = c.place(&part, &it.name) {
            self.unclaim(job.item, false);
            if refused(&e) == Some(Request::Rename) {
                // The worker learns the refusal from `e`; the temporary file goes meanwhile.
                if let Err(e) = self.discard(h, c.as_mut(), &part) {
                    note(format_args!("push: {} {host}: {e:#}", self.dest.name));
                }
            }
            return Err(e);
        }
        Ok(Sent::Placing(it.size - offset))
    }

    /// Where job's file goes on host `h` and from which byte: the temporary name (the final
    /// one on a host that refuses rename), resumed where the ledger says that name holds a
    /// prefix of this very file; recorded in the ledger as `part`.
    pub(super) fn prepare(&self, c: &mut Box<dyn Conn>, h: usize, job: &Job) -> anyhow::Result<Prepared> {
        let it = self.item(job.item);
        let host = self.dest.hosts[h].label();
        let dest = &self.dest.name;
        // A host that refuses rename takes the file under its final name (never a copy
        // racing another: no stragglers are raced where a host refuses rename).
        let direct = self.refuses(h, Request::Rename);
        let part = match direct {
            true => it.name.clone(),
            false => remote_part(&it.name, job.speculative.then_some(h)),
        };
        let mut offset = 0;
        if !job.speculative {
            let prior = self.ledger.upload(dest, &it.name)?;
            // Resumed only where the ledger says this very name holds a prefix of this file.
            let default_at = remote_part(&it.name, None);
            let resumable = prior.is_some_and(|u| {
                !u.done && u.md5 == it.md5 && u.size == it.size && u.at.as_deref().unwrap_or(&default_at) == part
            });
            if resumable {
                match self.size_of(c, h, &part)? {
                    Some(s) if s <= it.size => offset = s,
                    None if !direct && self.size_of(c, h, &it.name)? == Some(it.size) => return Ok(Prepared::InPlace),
                    _ => {}
                }
            }
            self.ledger
                .mark_part(self.rec, &it.name, &it.md5, it.size, host, &part)?;
        }
        job.sent.store(offset, Ordering::Relaxed);
        if let Some(f) = self.q().flights.iter_mut().find(|f| f.id == job.id) {
            f.abort = c.aborter();
        }
        Ok(Prepared::At { part, offset, direct })
    }

    /// The size an upload of `part` came to: what the host says, else (it refuses FSTAT:
    /// learned) what it acknowledged, counted from the offset.
    pub(super) fn uploaded_size(&self, h: usize, job: &Job, part: &str, said: Option<u64>) -> anyhow::Result<u64> {
        match said {
            Some(size) => Ok(size),
            None => {
                let refusal = crate::sink::Refused {
                    request: Request::Stat,
                    message: format!("the server refuses to say the size of {part} (FSTAT)"),
                };
                self.learn_from(h, refusal.into())?;
                Ok(job.sent.load(Ordering::Relaxed))
            }
        }
    }

    /// Resume checks, the ledger's `part` record, and the upload to the temporary name.
    fn upload(&self, c: &mut Box<dyn Conn>, h: usize, job: &Job) -> anyhow::Result<Uploaded> {
        let it = self.item(job.item);
        let (part, offset, direct) = match self.prepare(c, h, job)? {
            Prepared::InPlace => return Ok(Uploaded::InPlace),
            Prepared::At { part, offset, direct } => (part, offset, direct),
        };
        let pace = Pace {
            limit: self.limit,
            counter: &job.sent,
            cancel: Some(&job.cancel),
            progress: Some(&self.slots[h].bar),
        };
        match c.upload(&it.local, &part, offset, &pace) {
            Ok(said) => {
                let size = self.uploaded_size(h, job, &part, said)?;
                Ok(match direct {
                    true => Uploaded::Direct { size, offset },
                    false => Uploaded::Part { size, offset },
                })
            }
            Err(e) => {
                // The other copy won: this one's temporary file goes. Cut by a signal,
                // it stays for the next push to resume (a straggler's copy never resumes).
                if has::<Cancelled>(&e) && !direct && (crate::signals::received().is_none() || job.speculative) {
                    self.remove_if_allowed(h, c.as_mut(), &part)?;
                }
                Err(e)
            }
        }
    }

    /// The size of `name` on host `h`. Where the host refuses stat, the size the plan's
    /// listing found, once (`None` when it refuses listing too).
    fn size_of(&self, c: &mut Box<dyn Conn>, h: usize, name: &str) -> anyhow::Result<Option<u64>> {
        if !self.refuses(h, Request::Stat) {
            match c.size(name) {
                Ok(s) => return Ok(s),
                Err(e) => self.learn_from(h, e)?,
            }
        }
        Ok(self.listed.lock().unwrap_or_else(|e| e.into_inner()).remove(name))
    }

    /// Waits for the rename `p` started on connection `c` (`None`: the connection is gone,
    /// so it is unknown) and records the attempt: delivered, or back in the queue.
    pub(super) fn settle(&self, mut c: Option<&mut Box<dyn Conn>>, mut p: Placing<'_, 'a>) {
        let job = p.job.take().expect("unsettled");
        let h = p.host;
        let it = self.item(job.item);
        let host = self.dest.hosts[h].label();
        let placed = match c.as_mut() {
            Some(c) => c.placed(),
            None => Err(anyhow!(
                "the connection closed before the rename of {} was confirmed",
                it.name
            )),
        }
        .and_then(|()| self.ledger.mark_done(self.rec, &it.name, &it.md5, it.size, host));
        self.unclaim(job.item, placed.is_ok());
        match placed {
            Ok(()) => {
                // Other copies of this file lost: stop them now and remove what they wrote
                // (what is left over, the next push's plan removes).
                let losers = self.stop_others(&job);
                if let Some(c) = c {
                    for loser in losers {
                        if let Err(e) = self.remove_if_allowed(h, c.as_mut(), &loser) {
                            note(format_args!("push: {} {host}: {e:#}", self.dest.name));
                        }
                    }
                }
                self.finish(h, &job, Attempt::Sent(p.sent), p.started.elapsed());
            }
            Err(e) if refused(&e) == Some(Request::Rename) && !self.refuses(h, Request::Rename) => {
                // Uploaded and checked, but the host will not rename: the file goes again,
                // under its final name this time (not a failed try); its `.part` goes if it may.
                match self.learn_from(h, e) {
                    Ok(()) => {
                        if let Some(c) = c {
                            let part = remote_part(&it.name, job.speculative.then_some(h));
                            if let Err(e) = self.discard(h, c.as_mut(), &part) {
                                note(format_args!("push: {} {host}: {e:#}", self.dest.name));
                            }
                        }
                        self.finish(h, &job, Attempt::Again, p.started.elapsed());
                    }
                    Err(e) => {
                        self.fail_host(h, &e);
                        self.finish(h, &job, Attempt::HostFailed, p.started.elapsed());
                    }
                }
            }
            Err(e) => {
                let tries = self.failed_try(job.item);
                if crate::signals::received().is_some() {
                    self.finish(h, &job, Attempt::Cancelled, p.started.elapsed());
                } else if super::hopeless(&e) || tries > self.dest.retries {
                    self.fail_host(h, &e);
                    self.finish(h, &job, Attempt::HostFailed, p.started.elapsed());
                } else {
                    note(format_args!("push: {} {host}: {e:#}; trying again", self.dest.name));
                    self.finish(h, &job, Attempt::Again, p.started.elapsed());
                }
            }
        }
    }
}
