//! What a host refuses (a locked-down drop box), learned and worked around:
//! the ledger's record said once per push, a refusal learned the first time
//! (said once, recorded), and the fallbacks the plan and the sends use.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;

use super::{note, Engine};
use crate::sink::{refused, Conn, HostRefused, Pace, Request};

impl Engine<'_> {
    /// The files of host `h`'s directory and their sizes: its listing, else the sizes of
    /// `names` asked by name, else (it refuses both) `None`.
    pub(super) fn remote_sizes(
        &self,
        h: usize,
        conn: &mut dyn Conn,
        names: &[&str],
    ) -> anyhow::Result<Option<BTreeMap<String, u64>>> {
        if !self.refuses(h, Request::List) {
            match conn.list() {
                Ok(all) => return Ok(Some(all)),
                Err(e) => self.learn_from(h, e)?,
            }
        }
        if !self.refuses(h, Request::Stat) {
            match conn.sizes(names) {
                Ok(sizes) => {
                    let found = names.iter().zip(sizes);
                    return Ok(Some(found.filter_map(|(n, s)| Some((n.to_string(), s?))).collect()));
                }
                Err(e) => self.learn_from(h, e)?,
            }
        }
        Ok(None)
    }

    /// Takes a file away (a `.verf` before its set changes, a temporary file): removed, or
    /// where the host refuses remove, emptied (a consumer finds no file list in a `.verf`).
    pub(super) fn discard(&self, h: usize, conn: &mut dyn Conn, name: &str) -> anyhow::Result<()> {
        if !self.refuses(h, Request::Remove) {
            match conn.remove(name) {
                Ok(()) => return Ok(()),
                Err(e) => self.learn_from(h, e)?,
            }
        }
        let counter = AtomicU64::new(0);
        let pace = Pace {
            limit: None,
            counter: &counter,
            cancel: None,
            progress: None,
        };
        conn.upload(Path::new("/dev/null"), name, 0, &pace).map(drop)
    }

    /// Removes a temporary file; where the host refuses remove, leaves it.
    pub(super) fn remove_if_allowed(&self, h: usize, conn: &mut dyn Conn, name: &str) -> anyhow::Result<()> {
        if self.refuses(h, Request::Remove) {
            return Ok(());
        }
        conn.remove(name).or_else(|e| self.learn_from(h, e))
    }

    /// The refusals the ledger recorded for each host, said once per run.
    pub(super) fn recall(&self) -> anyhow::Result<()> {
        for (h, slot) in self.slots.iter().enumerate() {
            let host = self.dest.hosts[h].label();
            let known = self.ledger.refusals(&self.dest.name, host)?;
            let mut refuses = slot.refuses.lock().unwrap_or_else(|e| e.into_inner());
            // A required request is tried again: the host fails only if it still refuses it.
            for r in known.iter().filter_map(|r| Request::parse(r)) {
                if !self.dest.require.contains(&r) {
                    refuses.insert(r);
                    note(format_args!(
                        "push: {} {host} refuses {r} (as recorded in the ledger; `chama verify --probe` looks again): {}",
                        self.dest.name,
                        r.fallback()
                    ));
                }
            }
        }
        Ok(())
    }

    pub(super) fn refuses(&self, h: usize, r: Request) -> bool {
        self.slots[h]
            .refuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&r)
    }

    /// `e` again, unless it is host `h`'s refusal of a kind of request with a fallback the
    /// destination allows: then it is learned (said once, recorded in the ledger).
    pub(super) fn learn_from(&self, h: usize, e: anyhow::Error) -> anyhow::Result<()> {
        let Some(r) = refused(&e) else { return Err(e) };
        let host = self.dest.hosts[h].label();
        if self.dest.require.contains(&r) {
            return Err(HostRefused(format!(
                "{e:#}; destination `{}` requires {r} (`require`), so {host} cannot take its files",
                self.dest.name
            ))
            .into());
        }
        let new = self.slots[h]
            .refuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(r);
        if new {
            note(format_args!(
                "push: {} {host} refuses {r}: {}",
                self.dest.name,
                r.fallback()
            ));
            self.ledger.record_refusal(&self.dest.name, host, r.name())?;
        }
        Ok(())
    }
}
