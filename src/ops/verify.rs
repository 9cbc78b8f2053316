//! Checking a set against its `.verf` (`chama verify`), on a destination or
//! on local disk: every file the `.verf` names is there with its size, and
//! the `.verf` names the manifest's files; with `deep`, every file is read
//! back and its MD5 and line count checked too.

use std::io::Write;

use md5::{Digest, Md5};
use serde::Serialize;

use crate::config::Config;
use crate::exit::Failure;
use crate::period::Period;
use crate::sink::local::LocalHost;
use crate::sink::{sizes_of, Conn, Destination, Host};
use crate::spec::Spec;
use crate::verf;

#[derive(Debug, Serialize)]
pub struct SetCheck {
    pub verf: String,
    pub files: usize,
    pub bytes: u64,
    pub problems: Vec<String>,
}

/// A period's sets, checked where they are.
pub struct Checked {
    /// Where: the destination and host, or the local directory.
    pub place: String,
    pub sets: Vec<SetCheck>,
}

/// Counts lines of what is written to it (the decompressed stream).
struct LineCount(u64);

impl Write for LineCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += memchr::memchr_iter(b'\n', buf).count() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Checks the period's sets against their `.verf`s on destination `dest`
/// (else in the work directory); `deep` reads every file back.
pub fn verify(
    config: &Config,
    spec: &Spec,
    period: &Period,
    dest: Option<&str>,
    deep: bool,
) -> anyhow::Result<Checked> {
    let (dir, manifest) = super::sets::read(config, &spec.name, period)?;
    let (place, mut conn): (String, Box<dyn Conn>) = match dest {
        Some(name) => {
            let dest = Destination::from_config(config, name, &spec.delivery.remote_dir)?;
            let (i, c) = dest
                .connect_any()
                .map_err(|e| Failure::Delivery(format!("verifying on `{name}`: {e:#}")))?;
            (format!("{name} ({})", dest.hosts[i].label()), c)
        }
        None => {
            let host = LocalHost::new(&dir);
            (dir.display().to_string(), host.connect()?)
        }
    };
    let names: Vec<&str> = manifest
        .sets
        .iter()
        .flat_map(|s| s.files.iter().map(|f| f.name.as_str()).chain([s.verf.as_str()]))
        .collect();
    // A host that refuses listing is asked each file's size; one that refuses that too
    // can only be checked by reading (`--deep`).
    let listing = sizes_of(conn.as_mut(), &names)?;
    let blind = listing.is_none();
    let listing = listing.unwrap_or_else(|| names.iter().map(|n| (n.to_string(), u64::MAX)).collect());
    let mut checks = Vec::new();
    for set in &manifest.sets {
        checks.push(check_set(conn.as_mut(), set, &listing, blind, deep)?);
    }
    Ok(Checked { place, sets: checks })
}

/// One set on the host: its `.verf` read and held against the manifest's set and the
/// host's `listing` (sizes; `blind`: none could be asked); `deep` reads each file back.
fn check_set(
    conn: &mut dyn Conn,
    set: &crate::manifest::SetEntry,
    listing: &std::collections::BTreeMap<String, u64>,
    blind: bool,
    deep: bool,
) -> anyhow::Result<SetCheck> {
    let mut check = SetCheck {
        verf: set.verf.clone(),
        files: 0,
        bytes: 0,
        problems: Vec::new(),
    };
    if !listing.contains_key(&set.verf) {
        check.problems.push(format!("{}: no such file", set.verf));
        return Ok(check);
    }
    let mut text = Vec::new();
    conn.read(&set.verf, &mut |b| {
        text.extend_from_slice(b);
        Ok(())
    })?;
    let lines = match verf::parse(&text) {
        Ok(l) => l,
        Err(e) => {
            check.problems.push(format!("{}: {e}", set.verf));
            return Ok(check);
        }
    };
    let listed: Vec<&str> = set.files.iter().map(|f| f.name.as_str()).collect();
    let named: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    if listed != named {
        check
            .problems
            .push(format!("{} names other files than the manifest's set", set.verf));
    }
    for l in &lines {
        check.files += 1;
        check.bytes += l.bytes;
        match listing.get(&l.name) {
            None => check.problems.push(format!("{}: missing", l.name)),
            Some(_) if blind && !deep => check.problems.push(format!(
                "{}: its size cannot be asked (the host refuses listing and stat): check it with --deep",
                l.name
            )),
            Some(&n) if n != l.bytes && !blind => check
                .problems
                .push(format!("{}: {n} bytes, the .verf says {}", l.name, l.bytes)),
            Some(_) if deep => check.problems.extend(read_back(conn, l)?),
            Some(_) => {}
        }
    }
    Ok(check)
}

/// A file read back: what is wrong with it against its `.verf` line (MD5, lines, gzip).
fn read_back(conn: &mut dyn Conn, l: &verf::VerfLine) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let mut md5 = Md5::new();
    let mut gz = flate2::write::MultiGzDecoder::new(LineCount(0));
    let mut gz_err = None;
    conn.read(&l.name, &mut |b| {
        md5.update(b);
        if gz_err.is_none() {
            gz_err = gz.write_all(b).err();
        }
        Ok(())
    })?;
    let rows = gz.finish().map(|c| c.0);
    let got = format!("{:x}", md5.finalize());
    if got != l.md5 {
        problems.push(format!("{}: MD5 {got}, the .verf says {}", l.name, l.md5));
    }
    match (gz_err, rows) {
        (None, Ok(r)) if r == l.rows => {}
        (None, Ok(r)) => problems.push(format!("{}: {r} lines, the .verf says {}", l.name, l.rows)),
        (Some(e), _) | (None, Err(e)) => problems.push(format!("{}: not valid gzip: {e}", l.name)),
    }
    Ok(problems)
}

/// How one kind of request went in a probe.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "result", content = "detail")]
pub enum Tried {
    Yes(String),
    /// The server refused it (a push works around it, unless `require` names it).
    Refused(String),
    /// It failed otherwise: a push would fail there too.
    Failed(String),
    /// Not tried: what it needs failed first.
    Untried(String),
}

/// What `verify --probe` found on one host.
#[derive(Debug, Serialize)]
pub struct HostProbe {
    pub host: String,
    /// What the connection showed, in order: reachable, server, algorithms, host key,
    /// login, sftp, free space (as far as it got).
    #[serde(serialize_with = "in_order")]
    pub facts: Vec<(&'static str, String)>,
    /// list, write, stat, rename, remove: how each went, in that order.
    #[serde(serialize_with = "in_order")]
    pub requests: Vec<(&'static str, Tried)>,
    /// Whether a push to this host would work (with its fallbacks).
    pub would_push: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn in_order<S: serde::Serializer, V: Serialize>(pairs: &[(&'static str, V)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

/// Tries every host of destination `name` in directory `remote_dir`: what a push needs,
/// request by request. What each host refuses replaces what the ledger knew of it.
pub fn probe(
    config: &Config,
    name: &str,
    remote_dir: &str,
    ledger: Option<&crate::ledger::Ledger>,
) -> anyhow::Result<Vec<HostProbe>> {
    let dest = Destination::from_config(config, name, remote_dir)?;
    let probe_name = format!(".chama-probe-{}", std::process::id());
    // The bytes written: a temporary local file, removed when dropped uncommitted.
    let local = crate::atomic::AtomicFile::create(&std::env::temp_dir().join(format!("{probe_name}.local")))?;
    std::fs::write(local.part(), b"chama probe\n")?;
    let mut out = Vec::new();
    for host in &dest.hosts {
        out.push(probe_host(
            &dest,
            name,
            host.as_ref(),
            local.part(),
            &probe_name,
            ledger,
        )?);
    }
    Ok(out)
}

/// Probes one host of destination `name`: its connection's facts, then each request a
/// push needs; what it refuses replaces what the ledger knew of it.
fn probe_host(
    dest: &Destination,
    name: &str,
    host: &dyn crate::sink::Host,
    local: &std::path::Path,
    probe_name: &str,
    ledger: Option<&crate::ledger::Ledger>,
) -> anyhow::Result<HostProbe> {
    use crate::sink::Request;
    let mut p = HostProbe {
        host: host.label().to_string(),
        facts: Vec::new(),
        requests: Vec::new(),
        would_push: false,
        error: None,
    };
    let mut conn = match host.connect_noting(&mut p.facts) {
        Ok(c) => c,
        Err(e) => {
            p.error = Some(format!("{e:#}"));
            return Ok(p);
        }
    };
    p.facts.extend(conn.facts());
    p.requests = try_requests(conn.as_mut(), local, probe_name);
    let refuses: Vec<&str> = p
        .requests
        .iter()
        .filter(|(_, t)| matches!(t, Tried::Refused(_)))
        .map(|(n, _)| *n)
        .collect();
    let failed = p.requests.iter().any(|(_, t)| matches!(t, Tried::Failed(_)));
    let required = refuses
        .iter()
        .filter_map(|r| Request::parse(r))
        .find(|r| dest.require.contains(r));
    p.would_push = !failed && required.is_none();
    if let Some(r) = required {
        p.error = Some(format!(
            "the server refuses {r}, which destination `{name}` requires (`require`)"
        ));
    }
    if let Some(l) = ledger {
        l.set_refusals(name, host.label(), &refuses)?;
    }
    Ok(p)
}

/// list, write (`local` as `<probe_name>.part`), stat, rename, remove: how each went.
fn try_requests(conn: &mut dyn Conn, local: &std::path::Path, probe_name: &str) -> Vec<(&'static str, Tried)> {
    use crate::sink::{refused, Pace, Request};
    let mut requests = Vec::new();
    let tried = |r: anyhow::Result<String>| match r {
        Ok(s) => Tried::Yes(s),
        Err(e) => match refused(&e) {
            Some(r) => Tried::Refused(format!("{e:#} (a push works around it: {})", r.fallback())),
            None => Tried::Failed(format!("{e:#}")),
        },
    };
    requests.push(("list", tried(conn.list().map(|l| format!("{} file(s) there", l.len())))));
    let counter = std::sync::atomic::AtomicU64::new(0);
    let pace = Pace {
        limit: None,
        counter: &counter,
        cancel: None,
        progress: None,
    };
    let part = format!("{probe_name}.part");
    let (write, fstat) = match conn.upload(local, &part, 0, &pace) {
        Ok(Some(12)) => (Tried::Yes(format!("{part}, 12 bytes")), true),
        Ok(Some(n)) => (Tried::Failed(format!("{part} has {n} bytes after writing 12")), true),
        Ok(None) => (Tried::Yes(format!("{part}, 12 bytes acknowledged")), false),
        Err(e) => (tried(Err(e)), true),
    };
    let written = matches!(write, Tried::Yes(_));
    requests.push(("write", write));
    let untried = || Tried::Untried("the write failed".to_string());
    if !written {
        requests.extend([("stat", untried()), ("rename", untried()), ("remove", untried())]);
        return requests;
    }
    let stat = match conn.size(&part) {
        Ok(Some(_)) if !fstat => Tried::Refused(format!(
            "the server answers STAT but refuses FSTAT (a push works around it: {})",
            Request::Stat.fallback()
        )),
        Ok(Some(n)) => Tried::Yes(format!("{n} bytes")),
        Ok(None) => Tried::Failed(format!("{part} is not there after writing it")),
        Err(e) => tried(Err(e)),
    };
    requests.push(("stat", stat));
    let rename = tried(conn.rename(&part, probe_name).map(|()| format!("to {probe_name}")));
    let left = match rename {
        Tried::Yes(_) => probe_name.to_string(),
        _ => part.clone(),
    };
    requests.push(("rename", rename));
    let remove = match tried(conn.remove(&left).map(|()| left.clone())) {
        Tried::Yes(s) => Tried::Yes(s),
        other => {
            // What cannot be removed is at least emptied.
            let emptied = conn.upload(std::path::Path::new("/dev/null"), &left, 0, &pace).is_ok();
            let what = if emptied { "emptied" } else { "as it is" };
            match other {
                Tried::Refused(s) => Tried::Refused(format!("{s}; {left} stays, {what}")),
                Tried::Failed(s) => Tried::Failed(format!("{s}; {left} stays, {what}")),
                t => t,
            }
        }
    };
    requests.push(("remove", remove));
    requests
}
