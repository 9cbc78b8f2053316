//! Kerberos for the two HDFS sources: which cluster configuration a source
//! reads, whether it asks for Kerberos, and the ticket it uses.
//!
//! With a `keytab`, chama gets its own ticket with MIT's `kinit -kt` into a
//! private credentials cache under the work directory, and a thread gets a
//! new one when half of the ticket's life has passed, however long the work
//! runs. The native client reads that cache (`FILE:`), and so does the site's
//! client (`KRB5CCNAME`). `kinit` is the tool every Kerberized Hadoop node
//! already has and operators already read the messages of; the library behind
//! the native client only renews when it opens a new NameNode connection,
//! which a run may never do.
//!
//! Without a keytab, the user's cache is used, and looked at first: no ticket,
//! an expired one, or one for another principal is an exit 2 that says what
//! to run, before any call to HDFS; one that expires within the hour is a
//! warning.
//!
//! Every failure of Kerberos is [`Failure::Config`] (exit 2, never retried):
//! no retry brings a ticket.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::config::KerberosKeys as Keys;
use crate::exit::Failure;

mod ccache;
use ccache::CredCache;

/// The cluster configuration a source reads.
#[derive(Debug, Clone)]
pub struct ClusterConf {
    /// The directory, and where it came from (`hadoop_conf_dir`, `HADOOP_CONF_DIR`, `HADOOP_HOME`).
    pub dir: Option<(PathBuf, &'static str)>,
    /// Whether `core-site.xml` there sets `hadoop.security.authentication` to `kerberos`.
    pub kerberos: bool,
}

impl ClusterConf {
    /// The configuration directory the way Hadoop's clients find it: the
    /// source's key, else `HADOOP_CONF_DIR`, else `$HADOOP_HOME/etc/hadoop`.
    pub fn find(key: Option<&Path>) -> anyhow::Result<ClusterConf> {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let dir = match key {
            Some(d) => {
                if !d.join("core-site.xml").is_file() {
                    return Err(Failure::Config(format!(
                        "hadoop_conf_dir {} has no core-site.xml: point it at the cluster's client configuration",
                        d.display()
                    ))
                    .into());
                }
                Some((d.to_path_buf(), "hadoop_conf_dir"))
            }
            None => env("HADOOP_CONF_DIR")
                .map(|d| (d, "HADOOP_CONF_DIR"))
                .or_else(|| env("HADOOP_HOME").map(|h| (h.join("etc/hadoop"), "HADOOP_HOME"))),
        };
        let kerberos = match &dir {
            Some((d, _)) => match std::fs::read_to_string(d.join("core-site.xml")) {
                Ok(xml) => {
                    property(&xml, "hadoop.security.authentication").is_some_and(|v| v.eq_ignore_ascii_case("kerberos"))
                }
                Err(_) => false,
            },
            None => false,
        };
        Ok(ClusterConf { dir, kerberos })
    }

    /// Where the configuration was looked for, for messages.
    pub fn described(&self) -> String {
        match &self.dir {
            Some((d, from)) => format!("{} (from {from})", d.display()),
            None => "none: hadoop_conf_dir and HADOOP_CONF_DIR are not set".into(),
        }
    }
}

/// The value of a property in a Hadoop `*-site.xml`, read plainly: each
/// `<property>`'s `<name>` and `<value>`.
fn property(xml: &str, name: &str) -> Option<String> {
    let tag = |block: &str, t: &str| {
        let open = format!("<{t}>");
        let start = block.find(&open)? + open.len();
        let end = block[start..].find(&format!("</{t}>"))?;
        Some(block[start..start + end].trim().to_string())
    };
    xml.split("<property>")
        .skip(1)
        .filter(|b| tag(b, "name").as_deref() == Some(name))
        .filter_map(|b| tag(b, "value"))
        .last()
}

/// The ticket a source uses.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub principal: Option<String>,
    /// The credentials cache, as MIT names it (`FILE:/path`), when chama chose it.
    pub cache: Option<String>,
}

impl Ticket {
    /// The path of chama's own cache, for `KRB5CCNAME`.
    pub fn cache_path(&self) -> Option<&str> {
        self.cache.as_deref().and_then(|c| c.strip_prefix("FILE:"))
    }
}

/// Checks a source's Kerberos keys against its cluster configuration and
/// gets the ticket it uses: `None` when the cluster does not ask for Kerberos.
pub fn ticket(conf: &ClusterConf, keys: &Keys<'_>, work_dir: &Path) -> anyhow::Result<Option<Ticket>> {
    if !conf.kerberos {
        if keys.principal.is_some() || keys.keytab.is_some() {
            return Err(Failure::Config(format!(
                "principal and keytab are set, but the cluster configuration does not ask for Kerberos \
                 (hadoop.security.authentication in core-site.xml; configuration: {}): point hadoop_conf_dir \
                 at the cluster's client configuration",
                conf.described()
            ))
            .into());
        }
        return Ok(None);
    }
    match (keys.principal, keys.keytab) {
        (Some(p), Some(k)) => {
            let cache = Renewer::start(p, k, work_dir)?;
            Ok(Some(Ticket {
                principal: Some(p.to_string()),
                cache: Some(format!("FILE:{}", cache.display())),
            }))
        }
        (None, Some(k)) => Err(Failure::Config(format!(
            "keytab {} is set without principal: set principal to the name it holds (`klist -kt {}` lists them)",
            k.display(),
            k.display()
        ))
        .into()),
        (p, None) => {
            check_user_cache(p)?;
            Ok(Some(Ticket {
                principal: p.map(str::to_string),
                cache: None,
            }))
        }
    }
}

/// The realm of a principal, else the default realm of the Kerberos configuration.
fn realm(principal: Option<&str>) -> String {
    if let Some(r) = principal.and_then(|p| p.rsplit_once('@')).map(|(_, r)| r) {
        return r.to_string();
    }
    let conf = std::env::var("KRB5_CONFIG").unwrap_or_else(|_| "/etc/krb5.conf".into());
    std::fs::read_to_string(conf.split(':').next().unwrap_or(&conf))
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "default_realm").then(|| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Where MIT's krb5.conf is read from, for messages.
fn krb5_conf() -> String {
    std::env::var("KRB5_CONFIG").unwrap_or_else(|_| "/etc/krb5.conf".into())
}

/// The user's default cache: `KRB5CCNAME`, else MIT's default file.
fn user_cache() -> String {
    std::env::var("KRB5CCNAME")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("FILE:/tmp/krb5cc_{}", unsafe { libc::getuid() }))
}

/// A warning before long work when the ticket ends within this.
const SOON: Duration = Duration::from_secs(3600);

/// Looks at the user's cache when it is a file: no ticket, an expired one or one
/// for another principal is an error; one that ends soon, a warning. Other cache
/// types (KEYRING, KCM) are left to the client library.
fn check_user_cache(principal: Option<&str>) -> anyhow::Result<()> {
    let name = user_cache();
    let Some(path) = name
        .strip_prefix("FILE:")
        .or((!name.contains(':')).then_some(name.as_str()))
    else {
        return Ok(());
    };
    let realm = realm(principal);
    let who = principal.map_or_else(|| format!("you@{realm}"), str::to_string);
    let cache = match std::fs::read(path) {
        Ok(b) => CredCache::parse(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Failure::Config(format!(
                "cannot read the Kerberos cache {name}: {e}: it must belong to the user chama runs as"
            ))
            .into())
        }
    };
    let Some(cache) = cache.filter(|c| c.tgt_end.is_some()) else {
        return Err(Failure::Config(format!(
            "no Kerberos ticket in {name} (realm {realm}): run `kinit {who}`, or set principal and keytab \
             in the source so chama gets its own"
        ))
        .into());
    };
    if let Some(p) = principal {
        if !same_principal(&cache.principal, p) {
            return Err(Failure::Config(format!(
                "the Kerberos ticket in {name} is for {}, not the source's principal {p}: run `kinit {p}`",
                cache.principal
            ))
            .into());
        }
    }
    let end = cache.tgt_end.unwrap_or(0);
    let now = now_secs();
    if end <= now {
        return Err(Failure::Config(format!(
            "the Kerberos ticket for {} in {name} expired at {} (realm {realm}): run `kinit {}`, or set keytab \
             in the source so chama renews it",
            cache.principal,
            local_time(end),
            cache.principal
        ))
        .into());
    }
    if end - now < SOON.as_secs() as i64 {
        crate::log::warn(&format!(
            "the Kerberos ticket for {} in {name} expires at {}: work that outlasts it fails; \
             set keytab in the source to let chama renew it",
            cache.principal,
            local_time(end)
        ));
    }
    Ok(())
}

fn same_principal(have: &str, want: &str) -> bool {
    have == want || (!want.contains('@') && have.split('@').next() == Some(want))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn local_time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| secs.to_string())
}

/// chama's own tickets, one cache per principal and keytab, each renewed by a
/// thread that lives as long as the process.
struct Renewer;

fn renewers() -> &'static Mutex<HashSet<PathBuf>> {
    static R: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashSet::new()))
}

impl Renewer {
    /// Gets a ticket for `principal` from `keytab` into chama's cache for them
    /// (once per process), and starts its renewal; returns the cache's path.
    fn start(principal: &str, keytab: &Path, work_dir: &Path) -> anyhow::Result<PathBuf> {
        let dir = work_dir.join("krb5cc");
        let cache = dir.join(cache_name(principal, keytab));
        let mut running = renewers().lock().unwrap_or_else(|e| e.into_inner());
        if running.contains(&cache) {
            return Ok(cache);
        }
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| {
                    Failure::Config(format!("cannot make the ticket cache directory {}: {e}", dir.display()))
                })?;
        }
        let end = kinit(principal, keytab, &cache)?;
        let (p, k, c) = (principal.to_string(), keytab.to_path_buf(), cache.clone());
        std::thread::Builder::new()
            .name("kerberos-renew".into())
            .spawn(move || renew(&p, &k, &c, end))
            .map_err(|e| anyhow::anyhow!("starting the ticket renewal: {e}"))?;
        running.insert(cache.clone());
        Ok(cache)
    }
}

/// The cache's file name: the principal, readable, and a hash of the keytab's path.
fn cache_name(principal: &str, keytab: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    keytab.hash(&mut h);
    let safe: String = principal
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}.{:08x}", h.finish() as u32)
}

/// Gets a new ticket into `cache` (written beside it, then renamed over it, so a
/// reader never sees half a cache); returns when it ends, seconds since the epoch.
fn kinit(principal: &str, keytab: &Path, cache: &Path) -> anyhow::Result<i64> {
    let tmp = cache.with_extension(format!("{}.tmp", std::process::id()));
    let out = std::process::Command::new("kinit")
        .arg("-kt")
        .arg(keytab)
        .arg("-c")
        .arg(format!("FILE:{}", tmp.display()))
        .arg(principal)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Config(format!(
                "principal {principal} with keytab {}: chama gets its tickets with MIT's `kinit`, which is not \
                 installed (Debian: apt-get install krb5-user; CentOS: yum install krb5-workstation)",
                keytab.display()
            ))
            .into())
        }
        Err(e) => return Err(anyhow::anyhow!("running kinit: {e}")),
    };
    if !out.status.success() {
        let _ = std::fs::remove_file(&tmp);
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let said = said.strip_prefix("kinit: ").unwrap_or(said);
        return Err(Failure::Config(kinit_failed(principal, keytab, said)).into());
    }
    std::fs::rename(&tmp, cache).map_err(|e| anyhow::anyhow!("placing the ticket cache {}: {e}", cache.display()))?;
    let end = std::fs::read(cache)
        .ok()
        .and_then(|b| CredCache::parse(&b))
        .and_then(|c| c.tgt_end)
        .unwrap_or_else(|| now_secs() + 600);
    Ok(end)
}

/// One line for a `kinit -kt` that failed: what kinit said, and what to do.
fn kinit_failed(principal: &str, keytab: &Path, said: &str) -> String {
    let k = keytab.display();
    let realm = realm(Some(principal));
    let next = if said.contains("not found in Kerberos database") {
        format!("the KDC of {realm} does not know {principal}: check the principal's name, or have it created")
    } else if said.contains("Preauthentication failed") || said.contains("Pre-authentication failed: Decrypt integrity")
    {
        format!("the keytab's key for {principal} is stale (its password changed since it was exported): export a new keytab (kadmin: ktadd)")
    } else if said.contains("Keytab contains no suitable keys") {
        format!("keytab {k} does not hold {principal}: `klist -kt {k}` lists what it holds")
    } else if said.contains("Key table file") && said.contains("not found") {
        format!("keytab {k} does not exist: fix the keytab path")
    } else if said.contains("Permission denied") {
        format!("keytab {k} cannot be read: it must be readable by the user chama runs as (owner chama, mode 0400)")
    } else if said.contains("Cannot contact any KDC") || said.contains("Cannot find KDC") {
        format!(
            "no KDC of {realm} answers: check its kdc lines in {} and the network",
            krb5_conf()
        )
    } else if said.contains("Clock skew") {
        "this machine's clock is too far from the KDC's (more than 5 minutes): fix NTP".to_string()
    } else {
        format!("see `kinit -kt {k} {principal}`")
    };
    format!("cannot get a Kerberos ticket for {principal} from keytab {k} (realm {realm}): {said}: {next}")
}

/// Renews the ticket in `cache` when half its life is left, until the process ends;
/// a failed renewal is a warning, tried again sooner.
fn renew(principal: &str, keytab: &Path, cache: &Path, mut end: i64) {
    let mut start = now_secs();
    loop {
        let left = (end - start).max(0);
        let wait = (left / 2).max(5);
        std::thread::sleep(Duration::from_secs(wait as u64));
        match kinit(principal, keytab, cache) {
            Ok(e) => {
                crate::log::info(&format!(
                    "renewed the Kerberos ticket for {principal} (until {})",
                    local_time(e)
                ));
                end = e;
                start = now_secs();
            }
            Err(e) => {
                crate::log::warn(&format!("renewing the Kerberos ticket for {principal}: {e:#}"));
                start = now_secs();
                end = start + (end - start).clamp(20, 120);
            }
        }
    }
}

/// What a Kerberos failure reported by an HDFS client (its text: the native
/// client's GSSAPI or SASL error, the Java client's stderr) means for a person:
/// `None` when it is no Kerberos failure.
pub fn explain(said: &str, ticket: Option<&Ticket>, conf: &ClusterConf) -> Option<String> {
    let principal = ticket.and_then(|t| t.principal.as_deref());
    let cache = ticket.and_then(|t| t.cache.clone()).unwrap_or_else(user_cache);
    let realm = realm(principal);
    let who = principal.map_or_else(|| format!("you@{realm}"), str::to_string);
    let has = |s: &str| said.contains(s);
    let why = if has("SIMPLE authentication is not enabled") {
        return Some(format!(
            "the NameNode wants Kerberos, but no configuration asks for it (configuration: {}): point \
             hadoop_conf_dir at the cluster's client configuration",
            conf.described()
        ));
    } else if has("Failed to load libgssapi") {
        return Some(
            "Kerberos needs MIT's GSSAPI library libgssapi_krb5.so.2 (Debian: apt-get install libgssapi-krb5-2; \
             CentOS: yum install krb5-libs)"
                .into(),
        );
    } else if has("Ticket expired") || has("ticket expired") {
        format!("the ticket in {cache} expired: run `kinit {who}`, or set keytab so chama renews it")
    } else if has("No Kerberos credentials available") || has("Failed to find any Kerberos tgt") || has("GSS_S_NO_CRED")
    {
        format!("no Kerberos ticket in {cache}: run `kinit {who}`, or set principal and keytab")
    } else if has("Clock skew too great") {
        "this machine's clock is too far from the KDC's or the NameNode's (more than 5 minutes): fix NTP".into()
    } else if has("Cannot contact any KDC") || has("Cannot find KDC") {
        format!(
            "no KDC of {realm} answers: check its kdc lines in {} and the network",
            krb5_conf()
        )
    } else if has("Server not found in Kerberos database") {
        "the KDC does not know the NameNode's principal: check dfs.namenode.kerberos.principal and the \
         NameNode's host name in the URL"
            .into()
    } else if has("GSS initiate failed") || has("GSSAPIError") || has("GSSException") {
        format!("Kerberos refused (cache {cache}): check `klist` and the principal")
    } else {
        return None;
    };
    Some(format!("Kerberos (realm {realm}): {why}"))
}

/// What an HDFS client reported, as an I/O error: a Kerberos failure is exit 2
/// ([`Failure::Config`]) and says what to do; anything else is classified by
/// [`super::reported`].
pub fn reported(what: &str, said: &str, ticket: Option<&Ticket>, conf: &ClusterConf) -> std::io::Error {
    match explain(said, ticket, conf) {
        Some(why) => std::io::Error::other(Failure::Config(format!("{what}: {why}"))),
        None => super::reported(format!("{what}: {said}")),
    }
}

/// The first bytes a NameNode sends to a client that offers SIMPLE
/// authentication, when it wants Kerberos: it refuses at once, where a NameNode
/// without security waits for the client. Asked on a thread of its own, beside
/// the real calls, so that a refusal ends them in milliseconds (the native
/// client drops that refusal and retries for minutes).
pub fn simple_refused(addr: &str, limit: Duration) -> Option<String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let sock = addr.to_socket_addrs().ok()?.next()?;
    let mut s = std::net::TcpStream::connect_timeout(&sock, limit).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.write_all(b"hrpc\x09\x00\x00").ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < 4096 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.contains("SIMPLE authentication is not enabled")
        .then(|| "SIMPLE authentication is not enabled".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_of_a_site_file() {
        let xml = "<configuration>\n<property>\n  <name>hadoop.security.authentication</name>\n  \
                   <value> kerberos </value>\n</property>\n<property><name>x</name><value>1</value></property>\n\
                   </configuration>";
        assert_eq!(
            property(xml, "hadoop.security.authentication").as_deref(),
            Some("kerberos")
        );
        assert_eq!(property(xml, "x").as_deref(), Some("1"));
        assert_eq!(property(xml, "y"), None);
    }

    #[test]
    fn failures_say_what_to_do() {
        let conf = ClusterConf {
            dir: None,
            kerberos: false,
        };
        let t = Ticket {
            principal: Some("chama@EXAMPLE.TEST".into()),
            cache: Some("FILE:/var/lib/chama/krb5cc/x".into()),
        };
        let e = explain(
            "GSSAPIError(GssMajorCodes { raw: \"0x000d0000\" }, -1765328352, \"Unspecified GSS failure. Ticket expired\")",
            Some(&t),
            &conf,
        )
        .unwrap();
        assert!(
            e.contains("expired") && e.contains("kinit chama@EXAMPLE.TEST") && e.contains("EXAMPLE.TEST"),
            "{e}"
        );
        let e = explain(
            "ls: SIMPLE authentication is not enabled.  Available:[TOKEN, KERBEROS]",
            None,
            &conf,
        )
        .unwrap();
        assert!(e.contains("hadoop_conf_dir and HADOOP_CONF_DIR are not set"), "{e}");
        assert_eq!(explain("File does not exist: /x", None, &conf), None);
        let k = kinit_failed(
            "ghost@EXAMPLE.TEST",
            Path::new("/k"),
            "Client 'ghost@EXAMPLE.TEST' not found in Kerberos database while getting initial credentials",
        );
        assert!(k.contains("does not know ghost@EXAMPLE.TEST"), "{k}");
        assert_eq!(
            cache_name("nn/host@R", Path::new("/k")).split('.').next(),
            Some("nn_host_R")
        );
    }
}
