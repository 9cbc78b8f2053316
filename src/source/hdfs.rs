//! The `hdfs` source: HDFS through the native Rust client (`hdfs-native`),
//! no JVM. A NameNode URL, or a name service resolved from `HADOOP_CONF_DIR`.
//!
//! The client is asynchronous; this source owns a small runtime and blocks on
//! it, every call bounded by the source's timeout, so that a NameNode or
//! DataNode that stops answering fails the call instead of hanging chama.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use hdfs_native::{Client, ClientBuilder, HdfsError};

use super::{Entry, Source};

pub struct HdfsSource {
    client: Arc<Client>,
    rt: Arc<tokio::runtime::Runtime>,
    namenode: String,
    root: String,
    timeout: Duration,
}

impl HdfsSource {
    pub fn new(namenode: &str, root: &str, timeout: Duration) -> anyhow::Result<HdfsSource> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the HDFS client's runtime")?;
        let client = ClientBuilder::new()
            .with_url(namenode)
            .with_io_runtime(rt.handle().clone())
            .build()
            .with_context(|| format!("HDFS client for {namenode}{}", name_service_hint(namenode)))?;
        Ok(HdfsSource {
            client: Arc::new(client),
            rt: Arc::new(rt),
            namenode: namenode.to_string(),
            root: root.trim_end_matches('/').to_string(),
            timeout,
        })
    }

    fn path(&self, dir: &str) -> String {
        if dir.is_empty() {
            self.root.clone()
        } else {
            format!("{}/{}", self.root, dir.trim_matches('/'))
        }
    }

    /// Runs one client call to its end or the timeout.
    fn call<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T, HdfsError>>,
    ) -> anyhow::Result<Result<T, HdfsError>> {
        let limit = self.timeout;
        // The timer must be made inside the runtime, hence the async block.
        match self.rt.block_on(async move { tokio::time::timeout(limit, f).await }) {
            Ok(r) => Ok(r),
            Err(_) => Err(anyhow!(
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
                Err(e) => {
                    let why = format!("listing {}: {e}", self.describe(&format!("{dir}/{sub}")));
                    return Err(super::reported(why).into());
                }
            }
        }
        Ok(Some(out))
    }

    fn open(&self, dir: &str, name: &str) -> anyhow::Result<Box<dyn Read + Send>> {
        let path = format!("{}/{name}", self.path(dir));
        let reader = self
            .call("opening", self.client.read(&path))?
            .map_err(|e| super::reported(format!("opening {}{path}: {e}", self.namenode)))?;
        Ok(Box::new(HdfsReader {
            reader,
            rt: self.rt.clone(),
            timeout: self.timeout,
            path,
        }))
    }
}

/// For a URL without a port (a name service, or a NameNode on the default
/// port), where its addresses were looked up.
fn name_service_hint(namenode: &str) -> String {
    let authority = namenode.split("://").nth(1).unwrap_or(namenode);
    if authority.trim_end_matches('/').contains(':') {
        return String::new();
    }
    match std::env::var("HADOOP_CONF_DIR") {
        Ok(dir) => format!(" (name services are read from HADOOP_CONF_DIR={dir})"),
        Err(_) => {
            " (a name service is read from $HADOOP_CONF_DIR/hdfs-site.xml, and HADOOP_CONF_DIR is not set)".into()
        }
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
