//! Where rows come from: sources of hourly dumps, input files and their formats.
//!
//! A [`Source`] lists an hour's directory and opens its files; what makes an
//! hour ready (it exists, its marker is there, it has data files) is decided
//! once, in [`list_ready`], for every kind of source.

pub mod arrow_text;
pub mod codec;
pub mod columnar;
pub mod hdfs;
pub mod hdfs_cli;
pub mod java_number;
pub mod kerberos;
pub mod local;
pub mod pull;
pub mod text;
mod writer;
pub mod zone;

use std::io::Read;

use crate::config::{Config, SourceConfig};
use crate::exit::Failure;

/// One file of an hour's directory, as the source lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    /// Modification time, milliseconds since the epoch.
    pub mtime_ms: i64,
}

/// A place hourly dumps are read from.
pub trait Source: Send + Sync {
    /// `dir` as a user would recognise it, for messages.
    fn describe(&self, dir: &str) -> String;
    /// The files of `dir` and of its subdirectories, named by their path
    /// under `dir` (`HIVE_UNION_SUBDIR_1/000000_0`); subdirectories that
    /// [`descend`] refuses are not entered. `None` when `dir` does not exist.
    fn list(&self, dir: &str) -> anyhow::Result<Option<Vec<Entry>>>;
    /// The bytes of one file.
    fn open(&self, dir: &str, name: &str) -> anyhow::Result<Box<dyn Read + Send>>;
}

/// The source named `name` in the configuration. An HDFS source finds its
/// cluster's configuration and gets its Kerberos ticket here (`kerberos`), so
/// that what is missing is said before any call.
pub fn from_config(config: &Config, name: &str) -> anyhow::Result<Box<dyn Source>> {
    let Some(source) = config.sources.get(name) else {
        return Err(Failure::Config(format!("source `{name}` is not defined in the configuration")).into());
    };
    let named = |e: anyhow::Error| Failure::Config(format!("source `{name}`: {e:#}"));
    let keys = source.kerberos();
    match source {
        SourceConfig::Local { root } => Ok(Box::new(local::LocalSource { root: root.clone() })),
        SourceConfig::Hdfs {
            namenode,
            root,
            timeout_seconds,
            ..
        } => {
            let conf = kerberos::ClusterConf::find(keys.hadoop_conf_dir).map_err(named)?;
            let ticket = kerberos::ticket(&conf, &keys, &config.work_dir).map_err(named)?;
            let timeout = std::time::Duration::from_secs(*timeout_seconds);
            Ok(Box::new(
                hdfs::HdfsSource::new(namenode, root, timeout, conf, ticket).map_err(named)?,
            ))
        }
        SourceConfig::HdfsCli { command, root, .. } => {
            let mut conf = kerberos::ClusterConf::find(keys.hadoop_conf_dir).map_err(named)?;
            // The site's client may find its configuration where chama does not look.
            conf.kerberos |= keys.principal.is_some();
            let ticket = kerberos::ticket(&conf, &keys, &config.work_dir).map_err(named)?;
            let conf_dir = keys.hadoop_conf_dir.map(std::path::Path::to_path_buf);
            Ok(Box::new(
                hdfs_cli::HdfsCliSource::new(command, root, conf, conf_dir, ticket).map_err(named)?,
            ))
        }
    }
}

/// What makes an hour ready, from the spec's `[input]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readiness<'a> {
    /// A file that must be in the hour's directory (e.g. `_SUCCESS`).
    pub marker: Option<&'a str>,
    /// Whether a ready hour may hold no data file at all.
    pub allow_empty: bool,
}

/// Whether a subdirectory of an hour (its path under the hour) can hold data:
/// Hive's reader skips every name that starts with `_` or `.` at any depth
/// (`_temporary/`, `.hive-staging_hive_*`), and so does chama.
pub fn descend(path: &str) -> bool {
    is_data(path)
}

/// Whether a listed file is data: no part of its path under the hour starts
/// with `_` or `.` (`_SUCCESS`, `.crc`, files still being written by some
/// tools, anything under `_temporary/`).
pub fn is_data(path: &str) -> bool {
    path.split('/')
        .all(|c| !c.is_empty() && !c.starts_with('_') && !c.starts_with('.'))
}

/// The order an hour's files are read in: the byte order of their path
/// under the hour (CONTRACT.md), so `000001_0` comes before
/// `HIVE_UNION_SUBDIR_1/000000_0`, which comes before `HIVE_UNION_SUBDIR_2/...`.
pub fn read_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

/// The data files of an hour, in [`read_order`], once the hour is there and
/// ready: its directory exists, its marker (if any) is present at its top,
/// and it holds at least one data file ([`is_data`]) unless empty hours are
/// allowed.
pub fn list_ready(source: &dyn Source, dir: &str, ready: &Readiness<'_>) -> anyhow::Result<Vec<Entry>> {
    let marker = ready.marker;
    let Some(entries) = source.list(dir)? else {
        return Err(Failure::NotReady(format!(
            "no input for this hour: {} does not exist",
            source.describe(dir)
        ))
        .into());
    };
    if let Some(m) = marker {
        if !entries.iter().any(|e| e.name == m) {
            return Err(Failure::NotReady(format!("hour not ready: no {m} in {}", source.describe(dir))).into());
        }
    }
    let mut files: Vec<Entry> = entries.into_iter().filter(|e| is_data(&e.name)).collect();
    files.sort_by(|a, b| read_order(&a.name, &b.name));
    if files.is_empty() && !ready.allow_empty {
        return Err(Failure::NotReady(format!(
            "hour is empty: no data files in {} (set [input] allow_empty = true if that can be right)",
            source.describe(dir)
        ))
        .into());
    }
    Ok(files)
}

/// What a source reported, as an I/O error whose kind is `PermissionDenied` when its
/// text says so (HDFS's `AccessControlException`, a shell's "Permission denied"): no
/// retry cures that (`exit::Class::of`).
pub(crate) fn reported(msg: String) -> std::io::Error {
    let denied = msg.contains("AccessControlException") || msg.contains("Permission denied");
    let kind = match denied {
        true => std::io::ErrorKind::PermissionDenied,
        false => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_as_hive_reads_them_in_the_contract_s_order() {
        assert!(is_data("000000_0"));
        assert!(is_data("HIVE_UNION_SUBDIR_1/000000_0"));
        for skipped in [
            "_SUCCESS",
            ".000000_0.crc",
            "_temporary/0/part-0",
            ".hive-staging_hive_1/x",
            "a/_b",
            "a/.b",
        ] {
            assert!(!is_data(skipped), "{skipped}");
        }
        let mut names = vec![
            "HIVE_UNION_SUBDIR_2/000000_0",
            "b",
            "HIVE_UNION_SUBDIR_1/000001_0",
            "a-x",
            "a/b",
            "HIVE_UNION_SUBDIR_1/000000_0",
        ];
        names.sort_by(|a, b| read_order(a, b));
        assert_eq!(
            names,
            [
                "HIVE_UNION_SUBDIR_1/000000_0",
                "HIVE_UNION_SUBDIR_1/000001_0",
                "HIVE_UNION_SUBDIR_2/000000_0",
                "a-x",
                "a/b",
                "b"
            ]
        );
    }
}
