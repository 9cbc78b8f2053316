//! The `hdfs-cli` source: the site's own Hadoop client as a command (default
//! `hdfs dfs`), for clusters whose Kerberos or KMS setup only it handles.
//!
//! Every call starts the client (a JVM), so this kind lists with one `-stat`
//! per hour and streams each file with `-cat`. Whether a path exists is told
//! by exit codes: `-test -e PATH`, and when that fails, `-test -e /` to tell a
//! missing hour from an unreachable cluster. With a keytab, the client reads
//! chama's own ticket (`KRB5CCNAME`, see `kerberos`); a Kerberos failure it
//! reports is exit 2 and says what to do.

use std::io::{self, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};

use super::kerberos::{self, ClusterConf, Ticket};
use super::{Entry, Source};

pub struct HdfsCliSource {
    command: Vec<String>,
    root: String,
    conf: ClusterConf,
    /// The source's `hadoop_conf_dir`, given to the client as `HADOOP_CONF_DIR`.
    conf_dir: Option<std::path::PathBuf>,
    ticket: Option<Ticket>,
}

impl HdfsCliSource {
    pub fn new(
        command: &str,
        root: &str,
        conf: ClusterConf,
        conf_dir: Option<std::path::PathBuf>,
        ticket: Option<Ticket>,
    ) -> anyhow::Result<HdfsCliSource> {
        let command: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        anyhow::ensure!(!command.is_empty(), "the hdfs-cli command is empty");
        Ok(HdfsCliSource {
            command,
            root: root.trim_end_matches('/').to_string(),
            conf,
            conf_dir,
            ticket,
        })
    }

    /// The error for what the client said: a Kerberos failure is exit 2 and
    /// says what to do; anything else is classified by [`super::reported`].
    fn failed(&self, what: String, said: &str) -> io::Error {
        kerberos::reported(&what, said, self.ticket.as_ref(), &self.conf)
    }

    fn path(&self, dir: &str) -> String {
        if dir.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{}", self.root, dir.trim_matches('/'))
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.command[0]);
        c.args(&self.command[1..]).stdin(Stdio::null());
        if let Some(dir) = &self.conf_dir {
            c.env("HADOOP_CONF_DIR", dir);
        }
        if let Some(cache) = self.ticket.as_ref().and_then(Ticket::cache_path) {
            c.env("KRB5CCNAME", cache);
        }
        c
    }

    /// Runs the client: `Ok(Ok(stdout))` when it succeeds, `Ok(Err(last line
    /// of stderr))` when it exits non-zero.
    fn run(&self, args: &[&str]) -> anyhow::Result<Result<String, String>> {
        let out = self
            .cmd()
            .args(args)
            .output()
            .with_context(|| format!("running `{}`", self.command.join(" ")))?;
        if out.status.success() {
            return Ok(Ok(String::from_utf8_lossy(&out.stdout).into_owned()));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Ok(Err(stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string()))
    }
}

enum Kind {
    File,
    Dir,
    Other,
}

impl HdfsCliSource {
    /// What `path` (a directory) holds, one `-stat` call.
    fn stat_children(&self, path: &str) -> anyhow::Result<Vec<(Kind, Entry)>> {
        let glob = format!("{path}/*");
        let out = match self.run(&["-stat", "%F|%b|%Y|%n", &glob])? {
            Ok(out) => out,
            // An empty directory matches no file; `-ls` tells that from a directory it may not read.
            Err(_) => match self.run(&["-ls", path])? {
                Ok(_) => return Ok(vec![]),
                Err(why) => return Err(self.failed(format!("listing {path}"), &why).into()),
            },
        };
        let mut entries = Vec::new();
        // Only `-stat` records: a site's client may log other lines to stdout.
        let records = out
            .lines()
            .filter(|l| l.starts_with("regular file|") || l.starts_with("directory|") || l.starts_with("symlink|"));
        for line in records {
            let mut parts = line.splitn(4, '|');
            let (kind, size, mtime, name) = (parts.next(), parts.next(), parts.next(), parts.next());
            let (Some(kind), Some(size), Some(mtime), Some(name)) = (kind, size, mtime, name) else {
                return Err(anyhow!("cannot read `{} -stat` output: {line}", self.command.join(" ")));
            };
            let parse = |v: &str| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| anyhow!("cannot read `{} -stat` output: {line}", self.command.join(" ")))
            };
            let kind = match kind {
                "regular file" => Kind::File,
                "directory" => Kind::Dir,
                _ => Kind::Other,
            };
            entries.push((
                kind,
                Entry {
                    name: name.to_string(),
                    size: parse(size)? as u64,
                    mtime_ms: parse(mtime)?,
                },
            ));
        }
        Ok(entries)
    }
}

impl Source for HdfsCliSource {
    fn describe(&self, dir: &str) -> String {
        self.path(dir)
    }

    fn list(&self, dir: &str) -> anyhow::Result<Option<Vec<Entry>>> {
        let path = self.path(dir);
        if self.run(&["-test", "-d", &path])?.is_err() {
            if let Err(why) = self.run(&["-test", "-e", "/"])? {
                let what = format!("cannot reach HDFS through `{}`", self.command.join(" "));
                return Err(self.failed(what, &why).into());
            }
            return Ok(None);
        }
        let mut entries = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(sub) = dirs.pop() {
            let at = format!("{path}/{sub}");
            for (kind, entry) in self.stat_children(at.trim_end_matches('/'))? {
                let name = format!("{sub}{}", entry.name);
                match kind {
                    Kind::File => entries.push(Entry { name, ..entry }),
                    Kind::Dir if super::descend(&name) => dirs.push(format!("{name}/")),
                    Kind::Dir | Kind::Other => {}
                }
            }
        }
        Ok(Some(entries))
    }

    fn open(&self, dir: &str, name: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        let path = format!("{}/{name}", self.path(dir));
        let mut child = self
            .cmd()
            .args(["-cat", &path])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running `{}`", self.command.join(" ")))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let errs = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Ok(Box::new(CatReader {
            child,
            stdout,
            errs: Some(errs),
            path,
            kerberos: (self.ticket.clone(), self.conf.clone()),
        }))
    }
}

/// The stdout of `-cat`; at its end, a non-zero exit of the client is an error,
/// so a stream cut short is never taken for a whole file.
struct CatReader {
    child: Child,
    stdout: ChildStdout,
    errs: Option<JoinHandle<String>>,
    path: String,
    kerberos: (Option<Ticket>, ClusterConf),
}

impl Read for CatReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let status = self.child.wait()?;
            if !status.success() {
                let stderr = self.errs.take().and_then(|h| h.join().ok()).unwrap_or_default();
                let last = stderr
                    .lines()
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let what = format!("`-cat {}` exited with {status}", self.path);
                return Err(kerberos::reported(
                    &what,
                    &last,
                    self.kerberos.0.as_ref(),
                    &self.kerberos.1,
                ));
            }
        }
        Ok(n)
    }
}

impl Drop for CatReader {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
