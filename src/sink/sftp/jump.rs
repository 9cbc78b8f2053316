//! A host reached through an SSH jump host (`via`), as OpenSSH's ProxyJump
//! reaches it: `ssh -W HOST:PORT` to the jump host carries the connection, and
//! libssh2 speaks SSH to the target over one end of a socket pair as it would
//! over TCP. OpenSSH's own client checks the jump host's key against the
//! destination's `known_hosts` (strictly) and logs in with its `identity_file`;
//! the target's key is checked by chama as for any host.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, Context};

/// The jump host of a destination.
#[derive(Debug, Clone)]
pub struct Via {
    pub user: String,
    pub host: String,
    pub port: u16,
    pub label: String,
}

/// The `ssh -W` that carries one connection; ended with it.
pub struct Tunnel {
    child: Child,
}

impl Via {
    pub fn new((user, host, port): (String, String, u16)) -> Via {
        Via {
            label: format!("sftp://{user}@{host}:{port}"),
            user,
            host,
            port,
        }
    }

    /// A stream to `host:port` through the jump host.
    pub fn open(
        &self,
        host: &str,
        port: u16,
        identity: &Path,
        known_hosts: &Path,
        connect_timeout: Duration,
    ) -> anyhow::Result<(UnixStream, Tunnel)> {
        let (ours, theirs) = UnixStream::pair().context("making a socket pair")?;
        let option = |o: String| ["-o".to_string(), o];
        let mut ssh = Command::new("ssh");
        // No user or system configuration: what the destination says, and nothing else.
        ssh.args(["-F", "/dev/null", "-T", "-p", &self.port.to_string()])
            .args(option("BatchMode=yes".into()))
            .args(option("StrictHostKeyChecking=yes".into()))
            .args(option(format!("UserKnownHostsFile={}", known_hosts.display())))
            .args(option("GlobalKnownHostsFile=/dev/null".into()))
            .args(option(format!("ConnectTimeout={}", connect_timeout.as_secs().max(1))))
            .args(option("IdentitiesOnly=yes".into()))
            .arg("-i")
            .arg(identity)
            .args(["-W", &format!("{host}:{port}")])
            .arg(format!("{}@{}", self.user, self.host))
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs.try_clone()?)))
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stderr(Stdio::piped());
        let child = ssh
            .spawn()
            .with_context(|| format!("starting `ssh -W` to the jump host {}", self.label))?;
        Ok((ours, Tunnel { child }))
    }
}

impl Tunnel {
    /// Why the tunnel failed, as `ssh` said it (its last lines), once it has ended.
    pub fn why(&mut self) -> Option<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        match lines.len() {
            0 => None,
            n => Some(lines[n.saturating_sub(3)..].join(" / ")),
        }
    }

    /// The error of a connection through the tunnel that failed with `e`: what `ssh`
    /// said first, where it said anything (the jump host's own failure, most likely).
    pub fn failed(&mut self, via: &Via, e: anyhow::Error) -> anyhow::Error {
        match self.why() {
            Some(said) => anyhow!("through the jump host {}: {said} ({e:#})", via.label),
            None => anyhow!("{e:#} (through the jump host {})", via.label),
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
