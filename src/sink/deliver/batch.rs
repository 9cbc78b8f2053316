//! Small files together on one connection: up to the connection's batch of
//! them under way at once ([`Conn::upload_many`]: every open, then every
//! write, stat and close), then their renames at once ([`Conn::rename_many`]).
//! A batch costs the round trips of about three requests, where each file on
//! its own costs two: over a WAN, a day of small files goes as fast as the
//! link allows. Each file's life is the same as on its own: the ledger's
//! `part` then `done`, the size checked, renamed into place (or, on a host
//! that refuses rename, written under its final name), delivered only once
//! its rename is confirmed; a failure is that file's try, not the batch's.

use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::anyhow;

use super::send::Prepared;
use super::{has, hopeless, note, Attempt, Crowded, Engine, Job, Running};
use crate::sink::{refused, Cancelled, Conn, HostRefused, Pace, Request, Upload};

/// A file goes in a batch when it is at most this big: bigger ones cost bandwidth, not
/// round trips.
pub(super) const SMALL: u64 = 1 << 20;

/// What the worker does after a batch.
pub(super) enum Flow {
    /// Takes the next file.
    Go,
    /// Stops: its host failed, or takes no more connections.
    Stop,
}

/// The jobs of a batch not finished yet. Should the batch panic, they go back in the
/// queue and the host leaves the rotation, instead of others waiting forever.
struct Pending<'e, 'a> {
    engine: &'e Engine<'a>,
    host: usize,
    jobs: Vec<Option<Job>>,
    started: Instant,
}

impl Pending<'_, '_> {
    fn job(&self, i: usize) -> &Job {
        self.jobs[i].as_ref().expect("not finished")
    }

    fn finish(&mut self, i: usize, attempt: Attempt) {
        if let Some(job) = self.jobs[i].take() {
            self.engine.finish(self.host, &job, attempt, self.started.elapsed());
        }
    }

    /// Finishes every job not finished yet with `attempt`.
    fn finish_rest(&mut self, attempt: impl Fn() -> Attempt) {
        for i in 0..self.jobs.len() {
            self.finish(i, attempt());
        }
    }
}

impl Drop for Pending<'_, '_> {
    fn drop(&mut self) {
        if self.jobs.iter().all(Option::is_none) {
            return;
        }
        if std::thread::panicking() {
            let e = anyhow!("internal error while sending; see the panic message above");
            self.engine.fail_host(self.host, &e);
            self.finish_rest(|| Attempt::HostFailed);
        } else {
            self.finish_rest(|| Attempt::Again);
        }
    }
}

impl<'a> Engine<'a> {
    /// Whether `job` may go in a batch: a small file, not a straggler's copy.
    pub(super) fn batchable(&self, job: &Job) -> bool {
        !job.speculative && self.item(job.item).size <= SMALL
    }

    /// Sends `jobs`, small files, together on `conn` (connected first if need be) and
    /// finishes each of them. `reused`: the connection came from the idle pool and has
    /// sent nothing since (its failure is then no try).
    pub(super) fn send_batch(
        &self,
        conn: &mut Option<Box<dyn Conn>>,
        h: usize,
        jobs: Vec<Job>,
        reused: &mut bool,
        running: &mut Running<'_>,
    ) -> Flow {
        let mut p = Pending {
            engine: self,
            host: h,
            jobs: jobs.into_iter().map(Some).collect(),
            started: Instant::now(),
        };
        let slot = &self.slots[h];
        if conn.is_none() {
            match self.dest.hosts[h].connect() {
                Ok(c) => {
                    slot.connected.store(true, Ordering::Relaxed);
                    *conn = Some(c);
                    *reused = false;
                }
                Err(e) => {
                    let e = match !has::<HostRefused>(&e) && slot.connected.load(Ordering::Relaxed) {
                        true => Crowded(e).into(),
                        false => e,
                    };
                    return self.batch_broke(&mut p, e, false, running);
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        // Where each goes, from which byte.
        let mut files = Vec::new();
        for i in 0..p.jobs.len() {
            match self.prepare(c, h, p.job(i)) {
                Ok(Prepared::InPlace) => {
                    let it = self.item(p.job(i).item);
                    let host = self.dest.hosts[h].label();
                    match self.ledger.mark_done(self.rec, &it.name, &it.md5, it.size, host) {
                        Ok(()) => p.finish(i, Attempt::Sent(0)),
                        Err(e) => return self.batch_broke(&mut p, e, *reused, running),
                    }
                }
                Ok(Prepared::At { part, offset, direct }) => files.push((i, part, offset, direct)),
                Err(e) => {
                    *conn = None;
                    return self.batch_broke(&mut p, e, std::mem::take(reused), running);
                }
            }
        }
        let items: Vec<_> = files.iter().map(|(i, ..)| self.item(p.job(*i).item)).collect();
        let paces: Vec<Pace<'_>> = files
            .iter()
            .map(|(i, ..)| {
                let job = p.job(*i);
                Pace {
                    limit: self.limit,
                    counter: &job.sent,
                    cancel: Some(&job.cancel),
                    progress: Some(&slot.bar),
                }
            })
            .collect();
        let uploads: Vec<Upload<'_>> = files
            .iter()
            .zip(&items)
            .zip(&paces)
            .map(|(((_, part, offset, _), it), pace)| Upload {
                local: &it.local,
                name: part,
                offset: *offset,
                pace,
            })
            .collect();
        let results = match c.upload_many(&uploads) {
            Ok(r) => r,
            Err(e) => {
                drop(uploads);
                drop(paces);
                *conn = None;
                return self.batch_broke(&mut p, e, std::mem::take(reused), running);
            }
        };
        drop(uploads);
        drop(paces);
        *reused = false;
        let host = self.dest.hosts[h].label();
        // A server that keeps fewer files open than the batch (its handle limit) refuses
        // the opens beyond it: those files go back without a try, and the host's batches
        // shrink to what it took (down to one file, which then goes on its own).
        let unopened = |r: &anyhow::Result<Option<u64>>| {
            r.as_ref()
                .is_err_and(|e| refused(e).is_none() && format!("{e:#}").contains("OPEN for writing"))
        };
        let opened = results.iter().filter(|r| !unopened(r)).count();
        let mut results: Vec<_> = results.into_iter().map(Some).collect();
        if opened > 0 && opened < results.len() {
            let cap = self.slots[h].batch_cap.fetch_min(opened, Ordering::Relaxed).min(opened);
            note(format_args!(
                "push: {} {host} opened {opened} of {} files at once; sending at most {cap} together",
                self.dest.name,
                results.len()
            ));
            for ((i, ..), r) in files.iter().zip(results.iter_mut()) {
                if r.as_ref().is_some_and(&unopened) {
                    *r = None;
                    p.finish(*i, Attempt::Again);
                }
            }
        }
        // Checked, claimed and to be renamed: (job, temporary name, item, offset).
        let mut renames = Vec::new();
        let mut host_failed = false;
        for (((i, part, offset, direct), it), r) in files.into_iter().zip(items).zip(results) {
            // Gone back already: its open was beyond what the host takes at once.
            let Some(r) = r else { continue };
            let job = p.job(i);
            let checked = r
                .and_then(|said| self.uploaded_size(h, job, &part, said))
                .and_then(|size| match size == it.size {
                    true => Ok(()),
                    false => Err(anyhow!(
                        "{part} on {host} has {size} bytes after the upload, {} expected",
                        it.size
                    )),
                });
            if let Err(e) = checked {
                // A failure that fails the host stops the batch once the files uploaded
                // whole are renamed: they go into place all the same.
                let attempt = self.file_failed(h, job, e);
                host_failed |= matches!(attempt, Attempt::HostFailed);
                p.finish(i, attempt);
                continue;
            }
            if direct {
                match self.ledger.mark_done(self.rec, &it.name, &it.md5, it.size, host) {
                    Ok(()) => p.finish(i, Attempt::Sent(it.size - offset)),
                    Err(e) => return self.batch_broke(&mut p, e, false, running),
                }
                continue;
            }
            if !self.claim(job.item) {
                let _ = self.remove_if_allowed(h, c.as_mut(), &part);
                p.finish(i, Attempt::Cancelled);
                continue;
            }
            renames.push((i, part, it, offset));
        }
        if renames.is_empty() {
            return self.after(&mut p, host_failed);
        }
        let pairs: Vec<(String, String)> = renames
            .iter()
            .map(|(_, part, it, _)| (part.clone(), it.name.clone()))
            .collect();
        let results = match c.rename_many(&pairs) {
            Ok(r) => r,
            Err(e) => {
                for (i, ..) in &renames {
                    self.unclaim(p.job(*i).item, false);
                }
                *conn = None;
                return self.batch_broke(&mut p, e, false, running);
            }
        };
        for ((i, part, it, offset), r) in renames.into_iter().zip(results) {
            let job = p.job(i);
            let placed = r.and_then(|()| self.ledger.mark_done(self.rec, &it.name, &it.md5, it.size, host));
            self.unclaim(job.item, placed.is_ok());
            let attempt = match placed {
                Ok(()) => {
                    for loser in self.stop_others(job) {
                        if let Err(e) = self.remove_if_allowed(h, c.as_mut(), &loser) {
                            note(format_args!("push: {} {host}: {e:#}", self.dest.name));
                        }
                    }
                    Attempt::Sent(it.size - offset)
                }
                Err(e) if refused(&e) == Some(Request::Rename) => {
                    // Uploaded and checked, but the host will not rename: the file goes
                    // again, under its final name; its temporary file goes if it may.
                    match self.learn_from(h, e) {
                        Ok(()) => {
                            if let Err(e) = self.discard(h, c.as_mut(), &part) {
                                note(format_args!("push: {} {host}: {e:#}", self.dest.name));
                            }
                            Attempt::Again
                        }
                        Err(e) => {
                            self.fail_host(h, &e);
                            Attempt::HostFailed
                        }
                    }
                }
                Err(e) => self.file_failed(h, job, e),
            };
            host_failed |= matches!(attempt, Attempt::HostFailed);
            p.finish(i, attempt);
        }
        self.after(&mut p, host_failed)
    }

    /// How the worker goes on after a batch: it stops where the host failed (every job
    /// not finished then goes back for the other hosts).
    fn after(&self, p: &mut Pending<'_, 'a>, host_failed: bool) -> Flow {
        if host_failed || self.slots[p.host].dead.load(Ordering::Relaxed) {
            p.finish_rest(|| Attempt::HostFailed);
            return Flow::Stop;
        }
        Flow::Go
    }

    /// How one file of a batch ends after error `e`: stopped, learned (a refusal: not a
    /// try), or a failed try (the host fails after the destination's retries, or at once
    /// when no retry can help).
    fn file_failed(&self, h: usize, job: &Job, e: anyhow::Error) -> Attempt {
        if has::<Cancelled>(&e) || job.cancel.load(Ordering::Relaxed) || crate::signals::received().is_some() {
            return Attempt::Cancelled;
        }
        if refused(&e).is_some_and(|r| !self.refuses(h, r)) {
            return match self.learn_from(h, e) {
                Ok(()) => Attempt::Again,
                Err(e) => {
                    self.fail_host(h, &e);
                    Attempt::HostFailed
                }
            };
        }
        if hopeless(&e) || self.failed_try(job.item) > self.dest.retries {
            self.fail_host(h, &e);
            return Attempt::HostFailed;
        }
        self.trying_again(h, &e);
        Attempt::Again
    }

    /// A batch whose connection failed with `e` (or could not be made): every file not
    /// finished goes back in the queue, and the worker goes on or stops as for one file.
    fn batch_broke(&self, p: &mut Pending<'_, 'a>, e: anyhow::Error, reused: bool, running: &mut Running<'_>) -> Flow {
        let h = p.host;
        if crate::signals::received().is_some() {
            p.finish_rest(|| Attempt::Cancelled);
            return Flow::Stop;
        }
        if has::<Crowded>(&e) && running.retire() {
            self.crowded(h, &e);
            p.finish_rest(|| Attempt::Again);
            return Flow::Stop;
        }
        if reused {
            // An idle connection that the server closed meanwhile: not a try.
            p.finish_rest(|| Attempt::Again);
            return Flow::Go;
        }
        let tries = (0..p.jobs.len())
            .filter_map(|i| p.jobs[i].as_ref().map(|j| self.failed_try(j.item)))
            .max()
            .unwrap_or(0);
        if hopeless(&e) || tries > self.dest.retries {
            self.fail_host(h, &e);
            p.finish_rest(|| Attempt::HostFailed);
            return Flow::Stop;
        }
        self.trying_again(h, &e);
        if self.dest.backoff.wait(tries.saturating_sub(1)).is_err() {
            p.finish_rest(|| Attempt::Cancelled);
            return Flow::Stop;
        }
        p.finish_rest(|| Attempt::Again);
        Flow::Go
    }
}
