//! The `sftp` destination kind: one SSH session per connection through
//! libssh2 (`ssh2`), every blocking call bounded by the destination's timeout,
//! host keys always checked against `known_hosts`; on it, the project's own
//! pipelined SFTP client ([`client`]), so that a file costs two round trips
//! and its rename rides along with the next file's open.

mod client;
mod conn;
mod jump;
mod wire;

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use ssh2::{CheckResult, KnownHostFileKind, Session};

use client::Client;
use conn::SftpConn;

use super::{Conn, Facts, Host, HostRefused};
use crate::config::SftpConfig;

// libssh2, linked in through `ssh2` (the patched copy in vendor/, see [patch.crates-io]).
extern "C" {
    fn libssh2_version(required: std::os::raw::c_int) -> *const std::os::raw::c_char;
    /// Added by `vendor/libssh2-sys.patch`: only the patched library has it,
    /// so a build that links another libssh2 does not link.
    fn libssh2_chama_patch() -> *const std::os::raw::c_char;
}

/// The linked libssh2's version and the project's patch, e.g.
/// `libssh2 1.11.2_DEV (chama patch: batched-crypt 1)`.
pub fn libssh2() -> String {
    let text = |p: *const std::os::raw::c_char| {
        if p.is_null() {
            "unknown".to_string()
        } else {
            // SAFETY: both functions return pointers to static NUL-terminated strings.
            unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    // SAFETY: plain calls without arguments that point anywhere.
    let (version, patch) = unsafe { (libssh2_version(0), libssh2_chama_patch()) };
    format!("libssh2 {} (chama patch: {})", text(version), text(patch))
}

/// The OpenSSL under libssh2, e.g. `OpenSSL 3.5.4 30 Sep 2025`: compiled in by the
/// portable build (`vendored-openssl`), else the host's.
pub fn openssl() -> String {
    // SAFETY: OpenSSL_version takes a plain integer and returns a pointer to a static
    // NUL-terminated string.
    let p = unsafe { openssl_sys::OpenSSL_version(openssl_sys::OPENSSL_VERSION) };
    if p.is_null() {
        return "OpenSSL unknown".to_string();
    }
    // SAFETY: checked non-null above; static and NUL-terminated.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A password, never printed.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

#[derive(Debug, Clone)]
struct Auth {
    identity_file: Option<PathBuf>,
    password: Option<Secret>,
}

pub struct SftpHost {
    label: String,
    user: String,
    host: String,
    port: u16,
    root: String,
    auth: Auth,
    known_hosts: PathBuf,
    connect_timeout: Duration,
    timeout: Duration,
    fsync: bool,
    /// The jump host the connection goes through, if any.
    via: Option<jump::Via>,
}

/// The hosts of an `sftp` destination, with its credentials resolved.
pub fn hosts(dest: &str, c: &SftpConfig, remote_dir: &str) -> anyhow::Result<Vec<Box<dyn Host>>> {
    anyhow::ensure!(!c.hosts.is_empty(), "`hosts` is empty");
    let password = match (&c.password_env, &c.password_file) {
        (Some(var), _) => {
            Some(Secret(std::env::var(var).map_err(|_| {
                anyhow!("password_env names {var}, which is not set in the environment")
            })?))
        }
        (None, Some(file)) => Some(Secret(read_password_file(file)?)),
        (None, None) => None,
    };
    anyhow::ensure!(
        c.identity_file.is_some() || password.is_some(),
        "set identity_file, password_env or password_file"
    );
    let auth = Auth {
        identity_file: c.identity_file.clone(),
        password,
    };
    let via = match &c.via {
        Some(url) => {
            anyhow::ensure!(
                c.identity_file.is_some(),
                "`via` needs identity_file: the jump host is logged in to with the key"
            );
            Some(jump::Via::new(parse_url(url).context("`via`")?))
        }
        None => None,
    };
    c.hosts
        .iter()
        .map(|url| {
            let (user, host, port) = parse_url(url)?;
            Ok(Box::new(SftpHost {
                label: format!("sftp://{user}@{host}:{port}"),
                user,
                host,
                port,
                root: remote_path(&c.root, remote_dir),
                auth: auth.clone(),
                known_hosts: c.known_hosts.clone(),
                connect_timeout: Duration::from_secs(c.connect_timeout_seconds.max(1)),
                timeout: Duration::from_secs(c.timeout_seconds.max(1)),
                fsync: c.fsync,
                via: via.clone(),
            }) as Box<dyn Host>)
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("destination `{dest}`"))
}

/// The spec's `remote_dir` under the destination's `root` (empty: as it is).
fn remote_path(root: &str, remote_dir: &str) -> String {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return remote_dir.to_string();
    }
    format!("{root}/{}", remote_dir.trim_start_matches('/'))
        .trim_end_matches('/')
        .to_string()
}

/// A password file must be readable by its owner only.
fn read_password_file(file: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(file).with_context(|| format!("password_file {}", file.display()))?;
    anyhow::ensure!(
        meta.permissions().mode() & 0o077 == 0,
        "password_file {} is readable by others (mode {:o}): chmod 600 it",
        file.display(),
        meta.permissions().mode() & 0o777
    );
    let text = std::fs::read_to_string(file).with_context(|| format!("reading password_file {}", file.display()))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// `sftp://user@host[:port]` into its parts. A password in the URL is refused.
fn parse_url(url: &str) -> anyhow::Result<(String, String, u16)> {
    let rest = url
        .strip_prefix("sftp://")
        .ok_or_else(|| anyhow!("host `{url}` must look like sftp://user@host:port"))?;
    let rest = rest.trim_end_matches('/');
    let (user, hostport) = rest
        .rsplit_once('@')
        .ok_or_else(|| anyhow!("host `{url}` names no user (sftp://user@host:port)"))?;
    if user.contains(':') {
        bail!("a host URL must not carry a password: use password_env or password_file");
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>().map_err(|_| anyhow!("host `{url}`: bad port `{p}`"))?,
        ),
        None => (hostport, 22),
    };
    anyhow::ensure!(
        !user.is_empty() && !host.is_empty(),
        "host `{url}` must look like sftp://user@host:port"
    );
    Ok((user.to_string(), host.to_string(), port))
}

impl Host for SftpHost {
    fn label(&self) -> &str {
        &self.label
    }

    fn connect(&self) -> anyhow::Result<Box<dyn Conn>> {
        self.connect_noting(&mut Vec::new())
    }

    fn batch(&self) -> usize {
        16
    }

    fn connect_noting(&self, facts: &mut Facts) -> anyhow::Result<Box<dyn Conn>> {
        let Some(via) = &self.via else {
            let addr = (self.host.as_str(), self.port)
                .to_socket_addrs()
                .with_context(|| format!("resolving {}", self.label))?
                .next()
                .ok_or_else(|| anyhow!("resolving {}: no address", self.label))?;
            let t = std::time::Instant::now();
            let tcp = TcpStream::connect_timeout(&addr, self.connect_timeout)
                .with_context(|| format!("connecting to {}", self.label))?;
            facts.push(("reachable", format!("{addr} ({} ms)", t.elapsed().as_millis())));
            tcp.set_nodelay(true).ok();
            let abort = tcp.try_clone().ok().map(|t| {
                Box::new(move || {
                    let _ = t.shutdown(std::net::Shutdown::Both);
                }) as Box<dyn Fn() + Send + Sync>
            });
            let mut conn = self.speak(tcp, abort, facts)?;
            conn.make_root()?;
            return Ok(Box::new(conn));
        };
        let identity = self.auth.identity_file.as_deref().expect("checked: via needs a key");
        let (stream, mut tunnel) =
            via.open(&self.host, self.port, identity, &self.known_hosts, self.connect_timeout)?;
        facts.push(("reachable", format!("through the jump host {} (ssh -W)", via.label)));
        let abort = stream.try_clone().ok().map(|s| {
            Box::new(move || {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }) as Box<dyn Fn() + Send + Sync>
        });
        // Until the target answers, a failure is most likely the tunnel's: ssh says why.
        match self.speak(stream, abort, facts) {
            Ok(mut conn) => {
                conn.tunnel = Some(tunnel);
                conn.make_root()?;
                Ok(Box::new(conn))
            }
            Err(e) if e.chain().any(|c| c.is::<HostRefused>()) => Err(e),
            Err(e) => Err(tunnel.failed(via, e)),
        }
    }
}

impl SftpHost {
    /// SSH and SFTP over `stream`, to a connection rooted at the destination's directory.
    fn speak<S: std::os::fd::AsRawFd + 'static>(
        &self,
        stream: S,
        abort: Option<Box<dyn Fn() + Send + Sync>>,
        facts: &mut Facts,
    ) -> anyhow::Result<SftpConn> {
        let mut sess = Session::new().context("starting an SSH session")?;
        // Every blocking libssh2 call, the banner and handshake included, gives up after this.
        sess.set_timeout(self.timeout.as_millis().min(u32::MAX as u128) as u32);
        // AES-GCM runs on the CPU's AES instructions through OpenSSL, whole packets at a time
        // (vendor/libssh2-sys); libssh2's ChaCha20-Poly1305 is portable C at a quarter the speed.
        let ciphers =
            "aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-ctr,chacha20-poly1305@openssh.com";
        let _ = sess.method_pref(ssh2::MethodType::CryptCs, ciphers);
        let _ = sess.method_pref(ssh2::MethodType::CryptSc, ciphers);
        sess.set_tcp_stream(stream);
        sess.handshake()
            .map_err(|e| anyhow!("SSH handshake with {} (banner or key exchange): {e}", self.label))?;
        facts.push(("server", sess.banner().unwrap_or("(no banner)").to_string()));
        let method = |m| sess.methods(m).unwrap_or("?").to_string();
        use ssh2::MethodType as M;
        facts.push((
            "algorithms",
            format!(
                "kex {}, host key {}, cipher {}, mac {}",
                method(M::Kex),
                method(M::HostKey),
                method(M::CryptCs),
                method(M::MacCs)
            ),
        ));
        self.check_host_key(&sess)?;
        facts.push(("host key", format!("matches {}", self.known_hosts.display())));
        let how = self.authenticate(&sess)?;
        facts.push(("login", format!("{} as {}", how, self.user)));
        let start = || -> anyhow::Result<Client<ssh2::Channel>> {
            let mut channel = sess.channel_session()?;
            channel.subsystem("sftp")?;
            Ok(Client::start(channel)?)
        };
        let sftp = start().map_err(|e| {
            let message = format!("starting SFTP on {}: {e}", self.label);
            // A server that prints text first does so on every try: the host is out at once.
            match e.downcast_ref::<wire::Error>() {
                Some(wire::Error::PrintedText(_)) => HostRefused(message).into(),
                _ => anyhow!(message),
            }
        })?;
        Ok(SftpConn {
            _sess: sess,
            sftp,
            root: self.root.clone(),
            label: self.label.clone(),
            abort: abort.map(std::sync::Arc::from),
            fsync: self.fsync,
            placing: None,
            tunnel: None,
        })
    }

    fn check_host_key(&self, sess: &Session) -> anyhow::Result<()> {
        let (key, _) = sess
            .host_key()
            .ok_or_else(|| anyhow!("{} sent no host key", self.label))?;
        let mut kh = sess.known_hosts().context("reading known hosts")?;
        kh.read_file(&self.known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| HostRefused(format!("reading known_hosts {}: {e}", self.known_hosts.display())))?;
        match kh.check_port(&self.host, self.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(HostRefused(format!(
                "the host key of {} does NOT match {}: refusing to connect (if the key changed on purpose, update known_hosts)",
                self.label,
                self.known_hosts.display()
            ))
            .into()),
            CheckResult::NotFound => Err(HostRefused(format!(
                "{} is not in {}: unknown host key (add it, e.g. `ssh-keyscan -p {} {} >> {}`)",
                self.label,
                self.known_hosts.display(),
                self.port,
                self.host,
                self.known_hosts.display()
            ))
            .into()),
            CheckResult::Failure => Err(HostRefused(format!("checking the host key of {}", self.label)).into()),
        }
    }

    /// Logs in; how (`key FILE` or `password`).
    fn authenticate(&self, sess: &Session) -> anyhow::Result<String> {
        if let Some(key) = &self.auth.identity_file {
            let _ = sess.userauth_pubkey_file(&self.user, None, key, None);
            if sess.authenticated() {
                return Ok(format!("key {}", key.display()));
            }
        }
        if let Some(pw) = &self.auth.password {
            let _ = sess.userauth_password(&self.user, &pw.0);
            if sess.authenticated() {
                return Ok("password".to_string());
            }
        }
        let with = match (&self.auth.identity_file, &self.auth.password) {
            (Some(k), Some(_)) => format!("key {} and password", k.display()),
            (Some(k), None) => format!("key {}", k.display()),
            _ => "password".to_string(),
        };
        Err(HostRefused(format!(
            "authentication as {} failed on {} (tried {with})",
            self.user, self.label
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patched_libssh2_is_linked() {
        let v = libssh2();
        assert!(v.starts_with("libssh2 1.11"), "{v}");
        assert!(v.ends_with("(chama patch: batched-crypt 1)"), "{v}");
        assert!(openssl().starts_with("OpenSSL "), "{}", openssl());
    }

    #[test]
    fn host_urls() {
        assert_eq!(
            parse_url("sftp://chama@127.0.0.1:2222").unwrap(),
            ("chama".into(), "127.0.0.1".into(), 2222)
        );
        assert_eq!(parse_url("sftp://u@h").unwrap(), ("u".into(), "h".into(), 22));
        assert!(parse_url("sftp://u:pw@h:22")
            .unwrap_err()
            .to_string()
            .contains("must not carry a password"));
        assert!(parse_url("ftp://u@h").is_err() && parse_url("sftp://h:22").is_err());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "<secret>");
    }
}
