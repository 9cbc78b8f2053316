//! An SFTP connection as the delivery engine sees it ([`Conn`]): paths under
//! the destination's root, uploads to `.part` names and their renames riding
//! along with the next request, and what a host's refusals and full disks mean.

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom};
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use ssh2::Session;

use super::client::Client;
use super::{jump, wire};
use crate::sink::{Conn, Facts, NoSpace, Pace, Refused, Request};

/// One SSH session's SFTP channel to a host, as the delivery engine uses it.
pub(super) struct SftpConn {
    /// Kept for the connection's lifetime (the channel lives in it).
    pub(super) _sess: Session,
    pub(super) sftp: Client<ssh2::Channel>,
    pub(super) root: String,
    pub(super) label: String,
    /// Shuts the session's socket down, from another thread.
    pub(super) abort: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
    pub(super) fsync: bool,
    /// A rename sent and not yet confirmed: its request id and names.
    pub(super) placing: Option<(u32, String, String)>,
    /// The `ssh -W` the session goes through, if it goes through a jump host: ended
    /// after the session (fields drop in order).
    pub(super) tunnel: Option<jump::Tunnel>,
}

impl SftpConn {
    fn path(&self, name: &str) -> String {
        if self.root.is_empty() {
            return name.to_string();
        }
        format!("{}/{name}", self.root.trim_end_matches('/'))
    }

    /// `mkdir -p` of the destination's directory. On a server that refuses `stat`, every
    /// directory on the way is made blindly (an existing one fails harmlessly), and the
    /// first upload tells whether it is there.
    pub(super) fn make_root(&mut self) -> anyhow::Result<()> {
        if self.root.is_empty() {
            return Ok(());
        }
        let blind = match self.sftp.stat(&self.root) {
            Ok(Some(_)) => return Ok(()),
            Ok(None) => false,
            Err(e) if e.is_refusal() => true,
            Err(e) => return Err(self.err("looking at", "", e)),
        };
        let mut p = String::new();
        for part in self.root.split('/') {
            if part.is_empty() {
                if p.is_empty() {
                    p.push('/');
                }
                continue;
            }
            if !p.is_empty() && !p.ends_with('/') {
                p.push('/');
            }
            p.push_str(part);
            if blind || self.sftp.stat(&p)?.is_none() {
                let _ = self.sftp.mkdir(&p, 0o755);
            }
        }
        match self.sftp.stat(&self.root) {
            Ok(Some(a)) if a.is_dir() => Ok(()),
            Err(e) if blind && e.is_refusal() => Ok(()),
            Ok(_) => bail!("{}: directory {} cannot be made", self.label, self.root),
            Err(e) => bail!("{}: directory {} cannot be made: {e}", self.label, self.root),
        }
    }

    fn err(&self, what: &str, name: &str, e: impl std::fmt::Display) -> anyhow::Error {
        anyhow!("{what} {} on {}: {e}", self.path(name), self.label)
    }

    /// The error of a `request` on `name`: [`Refused`] when the server refused that kind
    /// of request, so that delivery can work around it.
    fn refusal(&self, request: Request, what: &str, name: &str, e: wire::Error) -> anyhow::Error {
        refusal(request, e, |e| self.err(what, name, e))
    }
}

impl SftpConn {
    /// The error of the upload of `name` (at `path`, `needed` bytes to go) that failed with
    /// `e`: [`NoSpace`] where the disk is full, its partial file then removed (or, where
    /// remove is refused, emptied), so that no partial file keeps a final name.
    fn upload_failed(&mut self, e: anyhow::Error, name: &str, path: &str, needed: u64) -> anyhow::Error {
        match self.no_space(&e, needed) {
            Some(why) => {
                if self.sftp.remove(path).is_err() {
                    let _ = self.sftp.upload(path, 0, &mut std::io::empty(), false, &mut |_| Ok(()));
                }
                NoSpace(format!("no space on {}:{}: {why} ({e:#})", self.label, self.root)).into()
            }
            None => self.err("uploading", name, format!("{e:#}")),
        }
    }

    /// Why upload error `e` means the server's disk is full, if it does: the server says
    /// so, or its free space (`statvfs@openssh.com`) is under the `needed` bytes.
    fn no_space(&mut self, e: &anyhow::Error, needed: u64) -> Option<String> {
        let text = format!("{e:#}");
        if text.contains("No space left") || text.contains("Disk full") {
            return Some("the server says its disk is full".to_string());
        }
        if text.contains("SFTP status") {
            let root = if self.root.is_empty() { "." } else { &self.root };
            if let Ok(Some(free)) = self.sftp.free_space(root) {
                if free < needed.saturating_add(1 << 20) {
                    return Some(format!("{free} bytes free, {needed} more needed"));
                }
            }
        }
        None
    }
}

/// `e`, described by `describe`; a [`Refused`] `request` when the server refused it.
fn refusal(request: Request, e: wire::Error, describe: impl FnOnce(wire::Error) -> anyhow::Error) -> anyhow::Error {
    let refused = e.is_refusal();
    let e = describe(e);
    match refused {
        true => Refused {
            request,
            message: format!("the server refuses {request}: {e:#}"),
        }
        .into(),
        false => e,
    }
}

impl Conn for SftpConn {
    fn facts(&mut self) -> Facts {
        let ext = &self.sftp.ext;
        let names: Vec<&str> = ext.all.iter().map(|(n, _)| n.as_str()).collect();
        let mut facts = vec![(
            "sftp",
            format!("version {}; extensions: {}", ext.version, names.join(", ")),
        )];
        let root = if self.root.is_empty() { "." } else { &self.root };
        let free = match self.sftp.free_space(root) {
            Ok(Some(n)) => format!("{} ({n} bytes)", indicatif::HumanBytes(n)),
            Ok(None) => "unknown (no statvfs@openssh.com)".to_string(),
            Err(e) => format!("unknown ({e})"),
        };
        facts.push(("free space", free));
        facts
    }

    fn aborter(&self) -> Option<crate::sink::Aborter> {
        let abort = self.abort.clone()?;
        Some(Box::new(move || abort()))
    }

    fn list(&mut self) -> anyhow::Result<BTreeMap<String, u64>> {
        let root = if self.root.is_empty() { "." } else { &self.root };
        let entries = match self.sftp.readdir(root) {
            Ok(entries) => entries,
            Err(e) => return Err(self.refusal(Request::List, "listing", "", e)),
        };
        Ok(entries
            .into_iter()
            .filter(|(_, a)| a.is_file())
            .map(|(n, a)| (n, a.size.unwrap_or(0)))
            .collect())
    }

    fn size(&mut self, name: &str) -> anyhow::Result<Option<u64>> {
        let p = self.path(name);
        match self.sftp.stat(&p) {
            Ok(a) => Ok(a.map(|a| a.size.unwrap_or(0))),
            Err(e) => Err(self.refusal(Request::Stat, "looking at", name, e)),
        }
    }

    fn sizes(&mut self, names: &[&str]) -> anyhow::Result<Vec<Option<u64>>> {
        let paths: Vec<String> = names.iter().map(|n| self.path(n)).collect();
        match self.sftp.stat_many(&paths) {
            Ok(all) => Ok(all.into_iter().map(|a| a.map(|a| a.size.unwrap_or(0))).collect()),
            Err(e) => Err(self.refusal(Request::Stat, "looking at files in", "", e)),
        }
    }

    fn upload(&mut self, local: &Path, name: &str, offset: u64, pace: &Pace<'_>) -> anyhow::Result<Option<u64>> {
        let one = [crate::sink::Upload {
            local,
            name,
            offset,
            pace,
        }];
        self.upload_many(&one)?.pop().expect("one file")
    }

    fn batch(&self) -> usize {
        // Half the handles the server keeps open per session, where it says; 16 at most.
        self.sftp.max_handles.map_or(16, |n| (n / 2).clamp(1, 16) as usize)
    }

    fn upload_many(&mut self, files: &[crate::sink::Upload<'_>]) -> anyhow::Result<Vec<anyhow::Result<Option<u64>>>> {
        let mut inputs = Vec::with_capacity(files.len());
        for f in files {
            let mut input = std::fs::File::open(f.local).with_context(|| format!("opening {}", f.local.display()))?;
            input.seek(SeekFrom::Start(f.offset))?;
            let size = input.metadata()?.len();
            let cap = (size.saturating_sub(f.offset) as usize).clamp(8 << 10, 1 << 20);
            inputs.push((std::io::BufReader::with_capacity(cap, input), size, self.path(f.name)));
        }
        let mut sents: Vec<_> = files.iter().map(|f| move |n: usize| f.pace.sent(n)).collect();
        let mut uploads: Vec<super::client::Upload<'_>> = inputs
            .iter_mut()
            .zip(sents.iter_mut())
            .zip(files)
            .map(|(((input, _, path), sent), f)| super::client::Upload {
                path,
                offset: f.offset,
                input,
                sent,
            })
            .collect();
        let results = self
            .sftp
            .upload_many(&mut uploads, self.fsync)
            .map_err(|e| self.err("uploading to", "", e))?;
        drop(uploads);
        let mut out = Vec::with_capacity(results.len());
        for ((r, f), (_, size, path)) in results.into_iter().zip(files).zip(&inputs) {
            out.push(match r {
                Ok(size) => Ok(size),
                Err(e) => Err(match e.downcast::<crate::sink::Cancelled>() {
                    Ok(c) => c.into(),
                    Err(e) => self.upload_failed(e, f.name, path, size.saturating_sub(f.offset)),
                }),
            });
        }
        Ok(out)
    }

    fn place(&mut self, from: &str, to: &str) -> anyhow::Result<()> {
        self.placed()?;
        if !self.sftp.ext.posix_rename {
            let (a, b) = (self.path(from), self.path(to));
            return self.sftp.replace(&a, &b).map_err(|e| {
                refusal(Request::Rename, e, |e| {
                    anyhow!("renaming {a} to {b} on {}: {e}", self.label)
                })
            });
        }
        let id = self.sftp.start_rename(&self.path(from), &self.path(to))?;
        self.placing = Some((id, from.to_string(), to.to_string()));
        Ok(())
    }

    fn placed(&mut self) -> anyhow::Result<()> {
        let Some((id, from, to)) = self.placing.take() else {
            return Ok(());
        };
        self.sftp.finish(id).map_err(|e| {
            refusal(Request::Rename, e, |e| {
                anyhow!(
                    "renaming {} to {} on {}: {e}",
                    self.path(&from),
                    self.path(&to),
                    self.label
                )
            })
        })
    }

    fn rename(&mut self, from: &str, to: &str) -> anyhow::Result<()> {
        self.place(from, to)?;
        self.placed()
    }

    fn rename_many(&mut self, pairs: &[(String, String)]) -> anyhow::Result<Vec<anyhow::Result<()>>> {
        self.placed()?;
        let paths: Vec<(String, String)> = pairs.iter().map(|(a, b)| (self.path(a), self.path(b))).collect();
        let results = self
            .sftp
            .rename_many(&paths)
            .map_err(|e| anyhow!("renaming in {} on {}: {e}", self.root, self.label))?;
        Ok(results
            .into_iter()
            .zip(&paths)
            .map(|(r, (a, b))| {
                r.map_err(|e| {
                    refusal(Request::Rename, e, |e| {
                        anyhow!("renaming {a} to {b} on {}: {e}", self.label)
                    })
                })
            })
            .collect())
    }

    fn remove(&mut self, name: &str) -> anyhow::Result<()> {
        match self.sftp.remove(&self.path(name)) {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(self.refusal(Request::Remove, "removing", name, e)),
        }
    }

    fn read(&mut self, name: &str, sink: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let p = self.path(name);
        self.sftp
            .download(&p, sink)
            .map_err(|e| self.err("reading", name, format!("{e:#}")))
    }
}
