//! The `hdfs` source: HDFS through the native Rust client (`hdfs-native`),
//! no JVM. A NameNode URL, or a name service resolved from `HADOOP_CONF_DIR`.
//!
//! The client is asynchronous; this source owns a small runtime and blocks on
//! it, every call bounded by the source's timeout, so that a NameNode or
//! DataNode that stops answering fails the call instead of hanging chama.
//! Kerberos (the configuration directory, the ticket's cache) comes from
//! `kerberos`; a NameNode that refuses a client without Kerberos ends the
//! call at once (`kerberos::simple_refused`).

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use hdfs_native::{Client, ClientBuilder, HdfsError};

use super::kerberos::{self, ClusterConf, Ticket};
use super::{Entry, Source};
use crate::exit::Failure;

pub struct HdfsSource {
    client: Arc<Client>,
    rt: Arc<tokio::runtime::Runtime>,
    namenode: String,
    root: String,
    timeout: Duration,
    conf: ClusterConf,
    ticket: Option<Ticket>,
    /// Set when the NameNode refused a client without Kerberos.
    refused: Arc<OnceLock<String>>,
}

impl HdfsSource {
    pub fn new(
        namenode: &str,
        root: &str,
        timeout: Duration,
        conf: ClusterConf,
        ticket: Option<Ticket>,
    ) -> anyhow::Result<HdfsSource> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the HDFS client's runtime")?;
        let mut builder = ClientBuilder::new()
            .with_url(namenode)
            .with_io_runtime(rt.handle().clone());
        if let Some((dir, _)) = &conf.dir {
            builder = builder.with_config_dir(dir.to_string_lossy());
        }
        if let Some(t) = &ticket {
            if let Some(p) = &t.principal {
                builder = builder.with_kerberos_principal(p);
            }
            if let Some(c) = &t.cache {
                builder = builder.with_kerberos_cache(c);
            }
        }
        let client = builder
            .build()
            .with_context(|| format!("HDFS client for {namenode}{}", name_service_hint(namenode, &conf)))?;
        let refused = Arc::new(OnceLock::new());
        if let (false, Some(addr)) = (conf.kerberos, host_port(namenode)) {
            let (refused, limit) = (refused.clone(), timeout.min(Duration::from_secs(10)));
            std::thread::spawn(move || {
                if let Some(said) = kerberos::simple_refused(&addr, limit) {
                    let _ = refused.set(said);
                }
            });
        }
        Ok(HdfsSource {
            client: Arc::new(client),
            rt: Arc::new(rt),
            namenode: namenode.to_string(),
            root: root.trim_end_matches('/').to_string(),
            timeout,
            conf,
            ticket,
            refused,
        })
    }

    /// The error for what the client reported: a Kerberos failure is exit 2 and
    /// says what to do; anything else is classified by [`super::reported`].
    fn failed(&self, what: String, e: &HdfsError) -> anyhow::Error {
        kerberos::reported(&what, &e.to_string(), self.ticket.as_ref(), &self.conf).into()
    }

    fn path(&self, dir: &str) -> String {
        if dir.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{}", self.root, dir.trim_matches('/'))
        }
    }

    /// Runs one client call to its end, the timeout, or the NameNode's
    /// refusal of a client without Kerberos, whichever comes first.
    fn call<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, HdfsError>>,
    ) -> anyhow::Result<Result<T, HdfsError>> {
        let deadline = Instant::now() + self.timeout;
        let refused = self.refused.clone();
        // The timers must be made inside the runtime, hence the async block.
        let ended = self.rt.block_on(async move {
            let mut f = std::pin::pin!(f);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                match tokio::time::timeout(left.min(Duration::from_millis(100)), f.as_mut()).await {
                    Ok(r) => return Some(Ok(r)),
                    Err(_) => {
                        if let Some(said) = refused.get() {
                            return Some(Err(said.clone()));
                        }
                    }
                }
            }
        });
        match ended {
            Some(Ok(r)) => Ok(r),
            Some(Err(said)) => {
                let why = kerberos::explain(&said, self.ticket.as_ref(), &self.conf).unwrap_or(said);
                Err(Failure::Config(format!("{what} on {}: {why}", self.namenode)).into())
            }
            None => Err(anyhow!(
                "{what} on {}: no answer within {} s",
                self.namenode,
                self.timeout.as_secs()
            )),
        }
    }
}

impl Source for HdfsSource {
    fn describe(&self, dir: &str) -> String {
        format!("{}{}", self.namenode.trim_end_matches('/'), self.path(dir))
    }

    fn list(&self, dir: &str) -> anyhow::Result<Option<Vec<Entry>>> {
        let mut out = Vec::new();
        let mut dirs = vec![String::new()];
        while let Some(sub) = dirs.pop() {
            let path = match sub.as_str() {
                "" => self.path(dir),
                s => format!("{}/{}", self.path(dir), s.trim_end_matches('/')),
            };
            match self.call("listing", self.client.list_status(&path, false))? {
                Ok(statuses) => {
                    for s in statuses {
                        let name = format!("{sub}{}", s.path.rsplit('/').next().unwrap_or(&s.path));
                        if s.isdir {
                            if super::descend(&name) {
                                dirs.push(format!("{name}/"));
                            }
                            continue;
                        }
                        out.push(Entry {
                            name,
                            size: s.length as u64,
                            mtime_ms: s.modification_time as i64,
                        });
                    }
                }
                Err(HdfsError::FileNotFound(_)) if sub.is_empty() => return Ok(None),
                Err(e) => return Err(self.failed(format!("listing {}", self.describe(&format!("{dir}/{sub}"))), &e)),
            }
        }
        Ok(Some(out))
    }

    fn open(&self, dir: &str, name: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        let path = format!("{}/{name}", self.path(dir));
        let reader = self
            .call("opening", self.client.read(&path))?
            .map_err(|e| self.failed(format!("opening {}{path}", self.namenode), &e))?;
        Ok(Box::new(HdfsReader {
            reader,
            rt: self.rt.clone(),
            timeout: self.timeout,
            path,
        }))
    }
}

/// `host:port` of a NameNode URL that names one.
fn host_port(namenode: &str) -> Option<String> {
    let authority = namenode.split("://").nth(1).unwrap_or(namenode);
    let authority = authority.split('/').next()?;
    authority.contains(':').then(|| authority.to_string())
}

/// For a URL without a port (a name service, or a NameNode on the default
/// port), where its addresses were looked up.
fn name_service_hint(namenode: &str, conf: &ClusterConf) -> String {
    if host_port(namenode).is_some() {
        return String::new();
    }
    match &conf.dir {
        Some(_) => format!(" (name services are read from hdfs-site.xml in {})", conf.described()),
        None => " (a name service is read from hdfs-site.xml in hadoop_conf_dir, else HADOOP_CONF_DIR: hadoop_conf_dir is unset and HADOOP_CONF_DIR is not set)"
            .into(),
    }
}

/// A file on HDFS as a blocking reader; each read is one bounded range read.
struct HdfsReader {
    reader: hdfs_native::file::FileReader,
    rt: Arc<tokio::runtime::Runtime>,
    timeout: Duration,
    path: String,
}

impl Read for HdfsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (limit, reader) = (self.timeout, &mut self.reader);
        match self
            .rt
            .block_on(async move { tokio::time::timeout(limit, reader.read_into(buf)).await })
        {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(super::reported(format!("reading {}: {e}", self.path))),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("reading {}: no answer within {} s", self.path, self.timeout.as_secs()),
            )),
        }
    }
}
