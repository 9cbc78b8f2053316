//! The run ledger: `ledger.sqlite` in the work directory (bundled SQLite).
//!
//! Delivery records each file's state per destination as it happens, so that
//! a push killed at any moment resumes where it stood: a file is `part` from
//! the moment its `.part` may exist remotely, and `done` once it is under its
//! final name. Every push is logged with its start, end, files, bytes and exit
//! code (the team's push log).

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};

use crate::period::Batch;

pub struct Ledger {
    db: Mutex<Connection>,
}

/// What the ledger knows of one remote file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub md5: String,
    pub size: u64,
    /// `part` while its upload is under way, `done` once it has its final name.
    pub done: bool,
    pub host: String,
    /// While `part`: the remote name that holds the bytes so far, when not the usual
    /// `<name>.part` (a host that refuses rename is written under the final name).
    pub at: Option<String>,
}

/// One push of one destination, for the push log.
#[derive(Debug, Clone, Default)]
pub struct PushRecord<'a> {
    pub iface: &'a str,
    pub period: &'a str,
    pub dest: &'a str,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS uploads (
    dest TEXT NOT NULL,
    name TEXT NOT NULL,
    md5 TEXT NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('part', 'done')),
    host TEXT NOT NULL,
    iface TEXT NOT NULL,
    period TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    PRIMARY KEY (dest, name)
);
CREATE TABLE IF NOT EXISTS pushes (
    id INTEGER PRIMARY KEY,
    iface TEXT NOT NULL,
    period TEXT NOT NULL,
    dest TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    files INTEGER,
    skipped INTEGER,
    bytes INTEGER,
    code INTEGER,
    error TEXT,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS push_hosts (
    push_id INTEGER NOT NULL REFERENCES pushes (id),
    host TEXT NOT NULL,
    files INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    error TEXT
);
CREATE TABLE IF NOT EXISTS refusals (
    dest TEXT NOT NULL,
    host TEXT NOT NULL,
    request TEXT NOT NULL,
    seen TEXT NOT NULL,
    PRIMARY KEY (dest, host, request)
);
CREATE TABLE IF NOT EXISTS reruns (
    id INTEGER PRIMARY KEY,
    iface TEXT NOT NULL,
    period TEXT NOT NULL,
    hours TEXT NOT NULL,
    batch TEXT NOT NULL,
    reason TEXT,
    who TEXT NOT NULL,
    host TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    rows_before INTEGER,
    rows_after INTEGER,
    files_before INTEGER,
    files_after INTEGER,
    pruned INTEGER NOT NULL,
    code INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    iface TEXT NOT NULL,
    period TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    code INTEGER,
    error TEXT,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL
);
";

/// A struct from a row of the ledger: each field from the column of its name,
/// and any `field = expr` after a `;` from that expression.
macro_rules! from_row {
    ($r:ident => $ty:ident { $($field:ident),* $(; $($more:ident = $e:expr),*)? }) => {
        Ok($ty { $($field: $r.get(stringify!($field))?,)* $($($more: $e,)*)? })
    };
}

/// When a logged command ran and how it ended: `finished`, `code` and `error`
/// are `None` while it runs, or when it was killed. Times are local, RFC 3339.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Ran {
    pub started: String,
    pub finished: Option<String>,
    pub code: Option<i64>,
    pub error: Option<String>,
}

impl Ran {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ran> {
        from_row! { r => Ran { started, finished, code, error } }
    }
}

/// One push of the push log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushRow {
    /// The order pushes started in; the key of the hosts' rows.
    #[serde(skip)]
    pub id: i64,
    /// What was pushed where: interface, period (`YYYYMMDD` or `YYYYMMDDHH`), destination.
    pub iface: String,
    pub period: String,
    pub dest: String,
    #[serde(flatten)]
    pub ran: Ran,
    /// Files sent, files found already delivered and bytes sent: `None` until it finishes.
    pub files: Option<i64>,
    pub skipped: Option<i64>,
    pub bytes: Option<i64>,
}

/// One command run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub command: String,
    pub iface: String,
    pub period: String,
    #[serde(flatten)]
    pub ran: Ran,
}

pub fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

impl Ledger {
    /// The ledger at `path` if there is one (for readers: a read never creates it).
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<Ledger>> {
        if path.exists() {
            Ledger::open(path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Opens (creating if needed) the ledger at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Ledger> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let db = Connection::open(path).with_context(|| format!("opening the ledger {}", path.display()))?;
        db.busy_timeout(std::time::Duration::from_secs(30))?;
        // WAL: a process killed at any point leaves the last committed state.
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.execute_batch(SCHEMA)
            .with_context(|| format!("creating the ledger's tables in {}", path.display()))?;
        // Columns added after the first release; a ledger from before gains them.
        let has_at: bool = db.query_row(
            "SELECT count(*) FROM pragma_table_info('uploads') WHERE name = 'at'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )?;
        if !has_at {
            db.execute_batch("ALTER TABLE uploads ADD COLUMN at TEXT")
                .with_context(|| format!("adding a column to the ledger {}", path.display()))?;
        }
        Ok(Ledger { db: Mutex::new(db) })
    }

    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn upload(&self, dest: &str, name: &str) -> anyhow::Result<Option<Upload>> {
        Ok(self
            .db()
            .query_row(
                "SELECT md5, size, state, host, at FROM uploads WHERE dest = ?1 AND name = ?2",
                params![dest, name],
                |r| {
                    Ok(Upload {
                        md5: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        done: r.get::<_, String>(2)? == "done",
                        host: r.get(3)?,
                        at: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records that remote file `at` (`name`'s `.part`, or `name` itself on a host that
    /// refuses rename) on `dest` now holds (a prefix of) the file with `md5`.
    #[allow(clippy::too_many_arguments)]
    pub fn mark_part(
        &self,
        rec: &PushRecord<'_>,
        name: &str,
        md5: &str,
        size: u64,
        host: &str,
        at: &str,
    ) -> anyhow::Result<()> {
        self.db().execute(
            "INSERT INTO uploads (dest, name, md5, size, state, host, iface, period, started, at)
             VALUES (?1, ?2, ?3, ?4, 'part', ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (dest, name) DO UPDATE SET md5 = ?3, size = ?4, state = 'part', host = ?5,
                 iface = ?6, period = ?7, started = ?8, finished = NULL, at = ?9",
            params![rec.dest, name, md5, size as i64, host, rec.iface, rec.period, now(), at],
        )?;
        Ok(())
    }

    /// The requests `host` of `dest` was found to refuse, by name (`rename`, ...).
    pub fn refusals(&self, dest: &str, host: &str) -> anyhow::Result<Vec<String>> {
        let db = self.db();
        let mut q = db.prepare("SELECT request FROM refusals WHERE dest = ?1 AND host = ?2 ORDER BY request")?;
        let rows = q.query_map(params![dest, host], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
    }

    /// Records that `host` of `dest` refuses `request`.
    pub fn record_refusal(&self, dest: &str, host: &str, request: &str) -> anyhow::Result<()> {
        self.db().execute(
            "INSERT INTO refusals (dest, host, request, seen) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (dest, host, request) DO UPDATE SET seen = ?4",
            params![dest, host, request, now()],
        )?;
        Ok(())
    }

    /// Replaces what is known of `host`'s refusals with what a probe found.
    pub fn set_refusals(&self, dest: &str, host: &str, requests: &[&str]) -> anyhow::Result<()> {
        let db = self.db();
        db.execute(
            "DELETE FROM refusals WHERE dest = ?1 AND host = ?2",
            params![dest, host],
        )?;
        for r in requests {
            db.execute(
                "INSERT INTO refusals (dest, host, request, seen) VALUES (?1, ?2, ?3, ?4)",
                params![dest, host, r, now()],
            )?;
        }
        Ok(())
    }

    /// Records that `name` is complete under its final name on `dest`.
    pub fn mark_done(&self, rec: &PushRecord<'_>, name: &str, md5: &str, size: u64, host: &str) -> anyhow::Result<()> {
        let t = now();
        self.db().execute(
            "INSERT INTO uploads (dest, name, md5, size, state, host, iface, period, started, finished)
             VALUES (?1, ?2, ?3, ?4, 'done', ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (dest, name) DO UPDATE SET md5 = ?3, size = ?4, state = 'done', host = ?5,
                 iface = ?6, period = ?7, finished = ?8",
            params![rec.dest, name, md5, size as i64, host, rec.iface, rec.period, t],
        )?;
        Ok(())
    }

    /// Forgets `name` on `dest` (it was removed there).
    pub fn forget(&self, dest: &str, name: &str) -> anyhow::Result<()> {
        self.db()
            .execute("DELETE FROM uploads WHERE dest = ?1 AND name = ?2", params![dest, name])?;
        Ok(())
    }

    /// Starts a push-log entry; returns its id.
    pub fn push_started(&self, rec: &PushRecord<'_>) -> anyhow::Result<i64> {
        let db = self.db();
        db.execute(
            "INSERT INTO pushes (iface, period, dest, started, pid) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![rec.iface, rec.period, rec.dest, now(), std::process::id()],
        )?;
        Ok(db.last_insert_rowid())
    }

    /// What one host did in push `id`: files, bytes, and the error that took it out of the rotation.
    pub fn push_host(&self, id: i64, host: &str, files: usize, bytes: u64, error: Option<&str>) -> anyhow::Result<()> {
        self.db().execute(
            "INSERT INTO push_hosts (push_id, host, files, bytes, error) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, host, files as i64, bytes as i64, error],
        )?;
        Ok(())
    }

    /// How many hosts left the rotation during push `id` (failovers).
    pub fn failed_hosts(&self, id: i64) -> anyhow::Result<i64> {
        Ok(self.db().query_row(
            "SELECT count(*) FROM push_hosts WHERE push_id = ?1 AND error IS NOT NULL",
            params![id],
            |r| r.get(0),
        )?)
    }

    pub fn push_finished(
        &self,
        id: i64,
        files: usize,
        skipped: usize,
        bytes: u64,
        code: u8,
        error: Option<&str>,
    ) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE pushes SET finished = ?2, files = ?3, skipped = ?4, bytes = ?5, code = ?6, error = ?7 WHERE id = ?1",
            params![id, now(), files as i64, skipped as i64, bytes as i64, code, error],
        )?;
        Ok(())
    }
}

/// One rerun, as recorded: who, when, why and what changed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Rerun {
    pub iface: String,
    pub period: String,
    pub hours: String,
    pub batch: Batch,
    pub reason: Option<String>,
    #[serde(flatten)]
    pub by: Operator,
    pub started: String,
    pub finished: String,
    pub rows_before: Option<u64>,
    pub rows_after: Option<u64>,
    pub files_before: Option<u64>,
    pub files_after: Option<u64>,
    pub pruned: u64,
    pub code: u8,
}

/// Who ran a command, and on which machine.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Operator {
    pub who: String,
    pub host: String,
}

impl Operator {
    /// This process's: `$USER`, else `$LOGNAME`, else `unknown`; the kernel's host name.
    pub fn current() -> Operator {
        Operator {
            who: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            host: crate::lock::hostname().unwrap_or_default(),
        }
    }
}

impl Ledger {
    pub fn record_rerun(&self, r: &Rerun) -> anyhow::Result<()> {
        self.db().execute(
            "INSERT INTO reruns (iface, period, hours, batch, reason, who, host, started, finished, rows_before,
                 rows_after, files_before, files_after, pruned, code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            params![
                r.iface,
                r.period,
                r.hours,
                r.batch.to_string(),
                r.reason,
                r.by.who,
                r.by.host,
                r.started,
                r.finished,
                r.rows_before.map(|v| v as i64),
                r.rows_after.map(|v| v as i64),
                r.files_before.map(|v| v as i64),
                r.files_after.map(|v| v as i64),
                r.pruned as i64,
                r.code
            ],
        )?;
        Ok(())
    }

    /// Records the start of a command that changes files; returns its id.
    pub fn run_started(&self, command: &str, iface: &str, period: &str) -> anyhow::Result<i64> {
        let host = crate::lock::hostname().unwrap_or_default();
        let db = self.db();
        db.execute(
            "INSERT INTO runs (command, iface, period, started, pid, host) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![command, iface, period, now(), std::process::id(), host],
        )?;
        Ok(db.last_insert_rowid())
    }

    pub fn run_finished(&self, id: i64, code: u8, error: Option<&str>) -> anyhow::Result<()> {
        self.db().execute(
            "UPDATE runs SET finished = ?2, code = ?3, error = ?4 WHERE id = ?1",
            params![id, now(), code, error],
        )?;
        Ok(())
    }

    /// The push log, oldest first; `iface` and `since` (a `YYYYMMDD` day) narrow it.
    pub fn pushes(&self, iface: Option<&str>, since: &str) -> anyhow::Result<Vec<PushRow>> {
        self.log("pushes", iface, since, |r| {
            from_row! { r => PushRow { id, iface, period, dest, files, skipped, bytes; ran = Ran::from_row(r)? } }
        })
    }

    /// Command runs, oldest first; `iface` and `since` narrow them.
    pub fn runs(&self, iface: Option<&str>, since: &str) -> anyhow::Result<Vec<RunRow>> {
        self.log("runs", iface, since, |r| {
            from_row! { r => RunRow { command, iface, period; ran = Ran::from_row(r)? } }
        })
    }

    /// The rows of log `table` (every column), oldest first, narrowed to `iface` and to
    /// periods from day `since` on.
    fn log<T>(
        &self,
        table: &str,
        iface: Option<&str>,
        since: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let db = self.db();
        let mut st = db.prepare(&format!(
            "SELECT * FROM {table} WHERE (?1 IS NULL OR iface = ?1) AND substr(period, 1, 8) >= ?2 ORDER BY id"
        ))?;
        let rows = st.query_map(params![iface, since], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_refusals_are_kept_and_a_probe_replaces_them() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        l.record_refusal("box", "sftp://u@h:22", "rename").unwrap();
        l.record_refusal("box", "sftp://u@h:22", "remove").unwrap();
        l.record_refusal("box", "sftp://u@h:22", "rename").unwrap();
        l.record_refusal("other", "sftp://u@h:22", "stat").unwrap();
        assert_eq!(l.refusals("box", "sftp://u@h:22").unwrap(), ["remove", "rename"]);
        l.set_refusals("box", "sftp://u@h:22", &["list"]).unwrap();
        assert_eq!(l.refusals("box", "sftp://u@h:22").unwrap(), ["list"]);
        assert_eq!(l.refusals("other", "sftp://u@h:22").unwrap(), ["stat"]);
    }

    /// A ledger written before `uploads.at` existed gains the column, its rows kept.
    #[test]
    fn an_older_ledger_gains_the_new_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        {
            let db = Connection::open(&path).unwrap();
            db.execute_batch(
                "CREATE TABLE uploads (dest TEXT NOT NULL, name TEXT NOT NULL, md5 TEXT NOT NULL,
                     size INTEGER NOT NULL, state TEXT NOT NULL, host TEXT NOT NULL, iface TEXT NOT NULL,
                     period TEXT NOT NULL, started TEXT NOT NULL, finished TEXT, PRIMARY KEY (dest, name));
                 INSERT INTO uploads VALUES ('x', 'a.gz', 'abc', 10, 'part', 'h', 'I', 'P', 't', NULL);",
            )
            .unwrap();
        }
        let l = Ledger::open(&path).unwrap();
        let u = l.upload("x", "a.gz").unwrap().unwrap();
        assert_eq!((u.done, u.at), (false, None));
    }

    #[test]
    fn an_upload_goes_from_part_to_done_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.sqlite");
        let rec = PushRecord {
            iface: "CM001",
            period: "20241212",
            dest: "exchange",
        };
        {
            let l = Ledger::open(&path).unwrap();
            assert_eq!(l.upload("exchange", "a.gz").unwrap(), None);
            l.mark_part(&rec, "a.gz", "abc", 10, "h1", "a.gz.part").unwrap();
            let u = l.upload("exchange", "a.gz").unwrap().unwrap();
            assert!(!u.done && u.md5 == "abc" && u.size == 10);
        }
        let l = Ledger::open(&path).unwrap();
        assert!(!l.upload("exchange", "a.gz").unwrap().unwrap().done);
        l.mark_done(&rec, "a.gz", "abc", 10, "h2").unwrap();
        let u = l.upload("exchange", "a.gz").unwrap().unwrap();
        assert!(u.done && u.host == "h2");
        assert_eq!(l.upload("outbox", "a.gz").unwrap(), None, "per destination");
        l.forget("exchange", "a.gz").unwrap();
        assert_eq!(l.upload("exchange", "a.gz").unwrap(), None);
    }

    #[test]
    fn the_push_and_run_logs_read_back_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::open(&dir.path().join("ledger.sqlite")).unwrap();
        let rec = PushRecord {
            iface: "CM001",
            period: "20241212",
            dest: "exchange",
        };
        let id = l.push_started(&rec).unwrap();
        l.push_host(id, "h1", 2, 60, Some("connection reset")).unwrap();
        l.push_host(id, "h2", 1, 40, None).unwrap();
        l.push_finished(id, 3, 1, 100, 0, None).unwrap();
        let failed = l.run_started("build", "CM001", "2024121203").unwrap();
        l.run_finished(failed, 4, Some("no input")).unwrap();
        l.run_started("push", "CM002", "20241212").unwrap(); // still running

        let pushes = l.pushes(None, "20241212").unwrap();
        assert_eq!(pushes.len(), 1);
        let p = &pushes[0];
        assert_eq!((p.id, p.dest.as_str()), (id, "exchange"));
        assert_eq!((p.files, p.skipped, p.bytes), (Some(3), Some(1), Some(100)));
        assert_eq!((p.ran.code, p.ran.error.as_deref()), (Some(0), None));
        assert!(p.ran.finished.as_deref() >= Some(p.ran.started.as_str()));
        assert_eq!(l.failed_hosts(id).unwrap(), 1);
        // The JSON a user reads: flat, as the columns are, without the internal id.
        let j = serde_json::to_value(p).unwrap();
        let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        let want = [
            "iface", "period", "dest", "started", "finished", "code", "error", "files", "skipped", "bytes",
        ];
        assert_eq!(keys.len(), want.len(), "{j}");
        assert!(want.iter().all(|k| keys.contains(k)), "{j}");

        let runs = l.runs(None, "20241212").unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(
            (runs[0].command.as_str(), runs[0].period.as_str()),
            ("build", "2024121203")
        );
        assert_eq!(
            (runs[0].ran.code, runs[0].ran.error.as_deref()),
            (Some(4), Some("no input"))
        );
        assert_eq!((runs[1].ran.finished.as_deref(), runs[1].ran.code), (None, None));
        assert_eq!(l.runs(Some("CM002"), "20241212").unwrap().len(), 1);
        assert!(l.runs(None, "20241213").unwrap().is_empty());
    }
}
