//! A small SFTP version 3 client (draft-ietf-secsh-filexfer-02, the version
//! OpenSSH speaks) over any byte stream: in chama, one libssh2 channel, so that
//! libssh2 keeps the transport (key exchange, ciphers, windows, timeouts) and
//! this module owns the file protocol.
//!
//! Requests are pipelined: each goes out at once with its own id, and an
//! answer is matched to its request by id (an answer that comes before the
//! one awaited is kept until asked for), so one file costs two round trips:
//! the open, then its writes, flush, stat and close together. A rename can be
//! sent and confirmed later ([`Client::start_rename`]), riding along with the
//! next file's open. The server's extensions are used where it announces
//! them: `posix-rename@openssh.com` (an atomic replace), `fsync@openssh.com`
//! and `limits@openssh.com` (the largest write it takes).

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};

const INIT: u8 = 1;
const VERSION: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const READ: u8 = 5;
const WRITE: u8 = 6;
const FSTAT: u8 = 8;
const OPENDIR: u8 = 11;
const READDIR: u8 = 12;
const REMOVE: u8 = 13;
const MKDIR: u8 = 14;
const STAT: u8 = 17;
const RENAME: u8 = 18;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const DATA: u8 = 103;
const NAME: u8 = 104;
const ATTRS: u8 = 105;
const EXTENDED: u8 = 200;
const EXTENDED_REPLY: u8 = 201;

pub const OPEN_READ: u32 = 0x01;
pub const OPEN_WRITE: u32 = 0x02;
pub const OPEN_CREATE: u32 = 0x08;
pub const OPEN_TRUNCATE: u32 = 0x10;

const ATTR_SIZE: u32 = 0x01;
const ATTR_UIDGID: u32 = 0x02;
const ATTR_PERMISSIONS: u32 = 0x04;
const ATTR_ACMODTIME: u32 = 0x08;
const ATTR_EXTENDED: u32 = 0x8000_0000;

const STATUS_OK: u32 = 0;
const STATUS_EOF: u32 = 1;
const STATUS_NO_SUCH_FILE: u32 = 2;

/// The largest packet taken from a server (OpenSSH's own limit is 256 KiB).
const MAX_PACKET: usize = 1 << 20;
/// Bytes of writes sent and not yet acknowledged, at most: OpenSSH's channel window
/// (2 MiB) and then some, well over a WAN's bandwidth-delay product.
const WRITES_IN_FLIGHT: usize = 4 << 20;
/// One write's packet, when the server does not say: a whole number of the SSH
/// channel's 32 KiB packets, under OpenSSH's 256 KiB message limit.
const WRITE_PACKET: usize = 7 * 32 * 1024;
/// One read's length, and how many are in flight.
const READ_LEN: u32 = 32 * 1024;
const READS_IN_FLIGHT: usize = 64;

/// What went wrong, with the server's own status where it sent one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{msg} (SFTP status {code})")]
    Status { code: u32, msg: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("SFTP protocol: {0}")]
    Protocol(String),
}

impl Error {
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::Status {
                code: STATUS_NO_SUCH_FILE,
                ..
            }
        )
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn protocol(what: impl Into<String>) -> Error {
    Error::Protocol(what.into())
}

/// A file's attributes, as far as the server sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs {
    pub size: Option<u64>,
    pub permissions: Option<u32>,
}

impl Attrs {
    pub fn is_file(&self) -> bool {
        self.permissions.is_some_and(|p| p & 0o170000 == 0o100000)
    }

    pub fn is_dir(&self) -> bool {
        self.permissions.is_some_and(|p| p & 0o170000 == 0o040000)
    }
}

/// What the server announced in its version packet.
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    pub posix_rename: bool,
    pub fsync: bool,
    pub limits: bool,
}

enum Reply {
    Status { code: u32, msg: String },
    Handle(Vec<u8>),
    Data(Vec<u8>),
    Name(Vec<(String, Attrs)>),
    Attrs(Attrs),
    Extended(Vec<u8>),
}

impl Reply {
    fn kind(&self) -> &'static str {
        match self {
            Reply::Status { .. } => "STATUS",
            Reply::Handle(_) => "HANDLE",
            Reply::Data(_) => "DATA",
            Reply::Name(_) => "NAME",
            Reply::Attrs(_) => "ATTRS",
            Reply::Extended(_) => "EXTENDED_REPLY",
        }
    }

    /// A status answer as a result; any other answer is a protocol error.
    fn ok(self) -> Result<()> {
        match self {
            Reply::Status { code: STATUS_OK, .. } => Ok(()),
            Reply::Status { code, msg } => Err(Error::Status { code, msg }),
            other => Err(protocol(format!("expected STATUS, got {}", other.kind()))),
        }
    }
}

/// Turns a non-status answer into what `want` takes from it; a status answer into its error.
fn expect<T>(r: Reply, want: &str, take: impl FnOnce(Reply) -> Option<T>) -> Result<T> {
    if let Reply::Status { code, msg } = r {
        return Err(Error::Status { code, msg });
    }
    let kind = r.kind();
    take(r).ok_or_else(|| protocol(format!("expected {want}, got {kind}")))
}

/// An open file or directory on the server.
#[derive(Debug, Clone)]
pub struct Handle(Vec<u8>);

/// A client over one stream (one SFTP session).
pub struct Client<S> {
    stream: S,
    next_id: u32,
    /// Answers read while waiting for another one.
    early: HashMap<u32, Reply>,
    out: Vec<u8>,
    pub ext: Extensions,
    /// The most file data one write carries.
    max_write: usize,
}

impl<S: Read + Write> Client<S> {
    /// Starts the session: version 3, the server's extensions and limits.
    pub fn start(stream: S) -> Result<Client<S>> {
        let mut c = Client {
            stream,
            next_id: 0,
            early: HashMap::new(),
            out: Vec::new(),
            ext: Extensions::default(),
            max_write: WRITE_PACKET,
        };
        c.out.clear();
        c.out.extend_from_slice(&[0, 0, 0, 0, INIT]);
        put_u32(&mut c.out, 3);
        c.flush_packet()?;
        let (ty, body) = c.read_packet()?;
        if ty != VERSION {
            return Err(protocol(format!("expected VERSION, got packet type {ty}")));
        }
        let mut r = Reader(&body);
        let version = r.u32()?;
        if version < 3 {
            return Err(protocol(format!(
                "the server speaks SFTP version {version}; 3 is needed"
            )));
        }
        while !r.0.is_empty() {
            let (name, _data) = (r.string()?, r.bytes()?);
            match name.as_str() {
                "posix-rename@openssh.com" => c.ext.posix_rename = true,
                "fsync@openssh.com" => c.ext.fsync = true,
                "limits@openssh.com" => c.ext.limits = true,
                _ => {}
            }
        }
        c.max_write = WRITE_PACKET;
        if c.ext.limits {
            let id = c.send_extended("limits@openssh.com", |_| {})?;
            let data = expect(c.wait(id)?, "EXTENDED_REPLY", |r| match r {
                Reply::Extended(d) => Some(d),
                _ => None,
            })?;
            let mut r = Reader(&data);
            let (max_packet, _max_read, max_write) = (r.u64()?, r.u64()?, r.u64()?);
            // The packet must hold the write's header too (the largest handle OpenSSH makes
            // is a few bytes; 256 leaves room for any).
            let by_packet = (max_packet as usize).saturating_sub(300);
            let limit = [max_write as usize, by_packet]
                .into_iter()
                .filter(|&n| n > 0)
                .min()
                .unwrap_or(WRITE_PACKET);
            c.max_write = limit.clamp(1024, WRITE_PACKET);
        } else {
            // Every server takes 32 KiB of data in a write.
            c.max_write = 32 * 1024;
        }
        Ok(c)
    }

    fn flush_packet(&mut self) -> Result<()> {
        let len = (self.out.len() - 4) as u32;
        self.out[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&self.out)?;
        Ok(())
    }

    /// Sends one request of type `ty`, its body written by `body`; returns its id.
    fn send(&mut self, ty: u8, body: impl FnOnce(&mut Vec<u8>)) -> Result<u32> {
        self.next_id = self.next_id.wrapping_add(1);
        let id = self.next_id;
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(&[0, 0, 0, 0, ty]);
        put_u32(&mut out, id);
        body(&mut out);
        self.out = out;
        self.flush_packet()?;
        Ok(id)
    }

    fn send_extended(&mut self, name: &str, body: impl FnOnce(&mut Vec<u8>)) -> Result<u32> {
        self.send(EXTENDED, |b| {
            put_str(b, name.as_bytes());
            body(b);
        })
    }

    fn read_packet(&mut self) -> Result<(u8, Vec<u8>)> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => protocol("the server closed the SFTP session"),
            _ => Error::Io(e),
        })?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 || len > MAX_PACKET {
            return Err(protocol(format!("a packet of {len} bytes")));
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        let ty = body[0];
        body.drain(..1);
        Ok((ty, body))
    }

    /// The answer to request `id`; answers to others read meanwhile are kept.
    fn wait(&mut self, id: u32) -> Result<Reply> {
        if let Some(r) = self.early.remove(&id) {
            return Ok(r);
        }
        loop {
            let (ty, body) = self.read_packet()?;
            let mut r = Reader(&body);
            let got = r.u32()?;
            let reply = match ty {
                STATUS => {
                    let code = r.u32()?;
                    let msg = if r.0.is_empty() { String::new() } else { r.string()? };
                    let msg = if msg.is_empty() {
                        status_text(code).to_string()
                    } else {
                        msg
                    };
                    Reply::Status { code, msg }
                }
                HANDLE => Reply::Handle(r.bytes()?.to_vec()),
                DATA => Reply::Data(r.bytes()?.to_vec()),
                NAME => {
                    let n = r.u32()?;
                    let mut names = Vec::with_capacity(n.min(4096) as usize);
                    for _ in 0..n {
                        let name = r.string()?;
                        let _long = r.bytes()?;
                        names.push((name, r.attrs()?));
                    }
                    Reply::Name(names)
                }
                ATTRS => Reply::Attrs(r.attrs()?),
                EXTENDED_REPLY => Reply::Extended(r.0.to_vec()),
                t => return Err(protocol(format!("unexpected packet type {t}"))),
            };
            if got == id {
                return Ok(reply);
            }
            self.early.insert(got, reply);
        }
    }

    fn wait_handle(&mut self, id: u32) -> Result<Handle> {
        expect(self.wait(id)?, "HANDLE", |r| match r {
            Reply::Handle(h) => Some(Handle(h)),
            _ => None,
        })
    }

    fn wait_attrs(&mut self, id: u32) -> Result<Attrs> {
        expect(self.wait(id)?, "ATTRS", |r| match r {
            Reply::Attrs(a) => Some(a),
            _ => None,
        })
    }

    /// The attributes of `path` (symbolic links followed), `None` when there is no such file.
    pub fn stat(&mut self, path: &str) -> Result<Option<Attrs>> {
        let id = self.send(STAT, |b| put_str(b, path.as_bytes()))?;
        match self.wait_attrs(id) {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn mkdir(&mut self, path: &str, mode: u32) -> Result<()> {
        let id = self.send(MKDIR, |b| {
            put_str(b, path.as_bytes());
            put_u32(b, ATTR_PERMISSIONS);
            put_u32(b, mode);
        })?;
        self.wait(id)?.ok()
    }

    pub fn remove(&mut self, path: &str) -> Result<()> {
        let id = self.send(REMOVE, |b| put_str(b, path.as_bytes()))?;
        self.wait(id)?.ok()
    }

    /// The entries of directory `path` (without `.` and `..`).
    pub fn readdir(&mut self, path: &str) -> Result<Vec<(String, Attrs)>> {
        let id = self.send(OPENDIR, |b| put_str(b, path.as_bytes()))?;
        let h = self.wait_handle(id)?;
        let mut all = Vec::new();
        let listed = loop {
            let id = self.send(READDIR, |b| put_str(b, &h.0))?;
            match self.wait(id)? {
                Reply::Name(names) => all.extend(names.into_iter().filter(|(n, _)| n != "." && n != "..")),
                Reply::Status { code: STATUS_EOF, .. } => break Ok(()),
                other => break other.ok().and_then(|()| Err(protocol("READDIR answered OK"))),
            }
        };
        let closed = self.close(&h);
        listed.and(closed).map(|()| all)
    }

    fn close(&mut self, h: &Handle) -> Result<()> {
        let id = self.send(CLOSE, |b| put_str(b, &h.0))?;
        self.wait(id)?.ok()
    }

    /// Sends a rename of `from` to `to` without waiting: an atomic replace where the
    /// server offers `posix-rename@openssh.com`, else the protocol's rename, which
    /// fails when `to` exists. [`Client::finish`] takes its answer.
    pub fn start_rename(&mut self, from: &str, to: &str) -> Result<u32> {
        let body = |b: &mut Vec<u8>| {
            put_str(b, from.as_bytes());
            put_str(b, to.as_bytes());
        };
        if self.ext.posix_rename {
            self.send_extended("posix-rename@openssh.com", body)
        } else {
            self.send(RENAME, body)
        }
    }

    /// Renames `from` to `to`, replacing `to`, and waits: atomically where the server
    /// offers posix-rename; else (the protocol's rename will not replace a file) by
    /// removing `to` when the rename failed and both names exist, then renaming again.
    pub fn replace(&mut self, from: &str, to: &str) -> Result<()> {
        let id = self.start_rename(from, to)?;
        match self.finish(id) {
            Ok(()) => return Ok(()),
            Err(e) if self.ext.posix_rename || self.stat(to)?.is_none() || self.stat(from)?.is_none() => return Err(e),
            Err(_) => {}
        }
        self.remove(to)?;
        let id = self.start_rename(from, to)?;
        self.finish(id)
    }

    /// The answer to a request sent earlier that answers with a status.
    pub fn finish(&mut self, id: u32) -> Result<()> {
        self.wait(id)?.ok()
    }

    /// Writes `input` to `path` from byte `offset` on, creating it (truncated when
    /// `offset` is 0): the open, then every write, the flush (`fsync`, where the server
    /// offers it), a stat and the close, sent without waiting for each other's answers.
    /// `sent` is told of each write once the server has acknowledged it (so that it
    /// paces and measures what arrived, not what is buffered on the way), and may stop
    /// the upload. Returns the
    /// size the server saw before the close.
    pub fn upload(
        &mut self,
        path: &str,
        offset: u64,
        input: &mut dyn Read,
        fsync: bool,
        sent: &mut dyn FnMut(usize) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        let flags = OPEN_WRITE | OPEN_CREATE | if offset == 0 { OPEN_TRUNCATE } else { 0 };
        let id = self.send(OPEN, |b| {
            put_str(b, path.as_bytes());
            put_u32(b, flags);
            put_u32(b, ATTR_PERMISSIONS);
            put_u32(b, 0o644);
        })?;
        let h = self.wait_handle(id).map_err(|e| step("opening", e))?;
        let mut writes: VecDeque<(u32, usize)> = VecDeque::new();
        let mut in_flight = 0usize;
        let mut at = offset;
        let written = (|| -> anyhow::Result<()> {
            loop {
                let n = self.send_write(&h, at, input)?;
                if n == 0 {
                    return Ok(());
                }
                writes.push_back((self.next_id, n));
                in_flight += n;
                at += n as u64;
                while in_flight > WRITES_IN_FLIGHT {
                    let (id, n) = writes.pop_front().expect("in flight");
                    in_flight -= n;
                    self.finish(id).map_err(|e| step("writing", e))?;
                    sent(n)?;
                }
            }
        })();
        if let Err(e) = written {
            // Stopped or failed: the handle is closed before the error goes up, so that
            // the session can go on (to remove the temporary file, say).
            let close = self.send(CLOSE, |b| put_str(b, &h.0));
            for (id, _) in writes {
                let _ = self.wait(id);
            }
            if let Ok(id) = close {
                let _ = self.wait(id);
            }
            return Err(e);
        }
        let flush = match fsync && self.ext.fsync {
            true => Some(self.send_extended("fsync@openssh.com", |b| put_str(b, &h.0))?),
            false => None,
        };
        let stat = self.send(FSTAT, |b| put_str(b, &h.0))?;
        let close = self.send(CLOSE, |b| put_str(b, &h.0))?;
        // Every answer is read, whatever the first error was, so the session can go on.
        let mut first: Option<anyhow::Error> = None;
        for (id, n) in writes {
            let r = self.finish(id).map_err(|e| step("writing", e));
            let r = match first {
                None => r.and_then(|()| sent(n)),
                Some(_) => r,
            };
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        }
        if let Some(id) = flush {
            if let Err(e) = self.finish(id) {
                first.get_or_insert(step("flushing", e));
            }
        }
        let size = self.wait_attrs(stat).map(|a| a.size);
        if let Err(e) = self.finish(close) {
            first.get_or_insert(step("closing", e));
        }
        if let Some(e) = first {
            return Err(e);
        }
        size.map_err(|e| step("looking at", e))?
            .ok_or_else(|| anyhow::anyhow!("the server did not say the size it wrote"))
    }

    /// Sends one write of what `input` gives next, read straight into the packet; the
    /// bytes it carries (0 at the end of `input`).
    fn send_write(&mut self, h: &Handle, at: u64, input: &mut dyn Read) -> anyhow::Result<usize> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(&[0, 0, 0, 0, WRITE]);
        put_u32(&mut out, self.next_id.wrapping_add(1));
        put_str(&mut out, &h.0);
        out.extend_from_slice(&at.to_be_bytes());
        let len_at = out.len();
        put_u32(&mut out, 0);
        let start = out.len();
        out.resize(start + self.max_write, 0);
        let mut n = 0;
        let read = loop {
            match input.read(&mut out[start + n..]) {
                Ok(0) => break Ok(()),
                Ok(k) => {
                    n += k;
                    if n == self.max_write {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        out.truncate(start + n);
        out[len_at..start].copy_from_slice(&(n as u32).to_be_bytes());
        self.out = out;
        read.map_err(|e| anyhow::Error::new(e).context("reading the local file"))?;
        if n == 0 {
            return Ok(0);
        }
        self.next_id = self.next_id.wrapping_add(1);
        self.flush_packet()?;
        Ok(n)
    }

    /// Streams the bytes of `path` into `sink`, with reads kept in flight.
    pub fn download(&mut self, path: &str, sink: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let id = self.send(OPEN, |b| {
            put_str(b, path.as_bytes());
            put_u32(b, OPEN_READ);
            put_u32(b, 0);
        })?;
        let h = self.wait_handle(id).map_err(|e| step("opening", e))?;
        let mut reads: VecDeque<(u32, u64)> = VecDeque::new();
        let mut next = 0u64;
        let result = (|| -> anyhow::Result<()> {
            loop {
                while reads.len() < READS_IN_FLIGHT {
                    let id = self.send(READ, |b| {
                        put_str(b, &h.0);
                        b.extend_from_slice(&next.to_be_bytes());
                        put_u32(b, READ_LEN);
                    })?;
                    reads.push_back((id, next));
                    next += READ_LEN as u64;
                }
                let (id, at) = reads.pop_front().expect("in flight");
                match self.wait(id)? {
                    Reply::Data(d) => {
                        sink(&d)?;
                        if d.len() < READ_LEN as usize {
                            // A short read: what follows it is asked for again, in order.
                            for (id, _) in reads.drain(..) {
                                let _ = self.wait(id);
                            }
                            next = at + d.len() as u64;
                        }
                    }
                    Reply::Status { code: STATUS_EOF, .. } => return Ok(()),
                    other => other.ok().map_err(|e| step("reading", e))?,
                }
            }
        })();
        for (id, _) in reads {
            let _ = self.wait(id);
        }
        let closed = self.close(&h);
        result?;
        closed.map_err(|e| step("closing", e))
    }
}

fn step(what: &str, e: Error) -> anyhow::Error {
    anyhow::anyhow!("{what}: {e}")
}

fn status_text(code: u32) -> &'static str {
    match code {
        0 => "ok",
        1 => "end of file",
        2 => "no such file",
        3 => "permission denied",
        4 => "failure",
        5 => "bad message",
        6 => "no connection",
        7 => "connection lost",
        8 => "operation unsupported",
        _ => "unknown status",
    }
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(protocol("a packet shorter than its fields"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    fn attrs(&mut self) -> Result<Attrs> {
        let flags = self.u32()?;
        let mut a = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            a.size = Some(self.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            self.take(8)?;
        }
        if flags & ATTR_PERMISSIONS != 0 {
            a.permissions = Some(self.u32()?);
        }
        if flags & ATTR_ACMODTIME != 0 {
            self.take(8)?;
        }
        if flags & ATTR_EXTENDED != 0 {
            for _ in 0..self.u32()? {
                self.bytes()?;
                self.bytes()?;
            }
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

    /// OpenSSH's own `sftp-server` on a pipe: the real server, without sshd.
    struct Pipe {
        child: Child,
        to: ChildStdin,
        from: ChildStdout,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.from.read(buf)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.to.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.to.flush()
        }
    }

    impl Drop for Pipe {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A session with OpenSSH's `sftp-server`; `None` (and a note) where it is not installed,
    /// unless CHAMA_REQUIRE_SFTP is set (as scripts/test.sh does).
    fn server() -> Option<Client<Pipe>> {
        let Some(bin) = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
        else {
            assert!(
                std::env::var("CHAMA_REQUIRE_SFTP").is_err(),
                "CHAMA_REQUIRE_SFTP is set but OpenSSH's sftp-server is not installed"
            );
            eprintln!("no OpenSSH sftp-server here (run scripts/test.sh): skipping");
            return None;
        };
        let mut child = Command::new(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let (to, from) = (child.stdin.take()?, child.stdout.take()?);
        Some(Client::start(Pipe { child, to, from }).expect("SFTP session"))
    }

    fn no_pace(_: usize) -> anyhow::Result<()> {
        Ok(())
    }

    #[test]
    fn uploads_resumes_renames_over_and_reads_back_against_openssh() {
        let Some(mut c) = server() else { return };
        assert!(c.ext.posix_rename && c.ext.fsync && c.ext.limits, "{:?}", c.ext);
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        // Larger than many writes and than the writes in flight.
        let data: Vec<u8> = (0..(9 << 20) + 12_345u32).map(|i| (i * 31 + i / 7919) as u8).collect();
        let got = c.upload(&p("a.part"), 0, &mut &data[..], true, &mut no_pace).unwrap();
        assert_eq!(got, data.len() as u64);
        // Resume from a prefix: the rest is written after it.
        let cut = 5_000_001;
        std::fs::write(p("b.part"), &data[..cut]).unwrap();
        let got = c
            .upload(&p("b.part"), cut as u64, &mut &data[cut..], false, &mut no_pace)
            .unwrap();
        assert_eq!(got, data.len() as u64);
        assert!(std::fs::read(p("b.part")).unwrap() == data);
        // An existing name is replaced at once, and the answers come in any order asked.
        std::fs::write(p("a"), b"old").unwrap();
        let r1 = c.start_rename(&p("a.part"), &p("a")).unwrap();
        let r2 = c.start_rename(&p("nothing.part"), &p("c")).unwrap();
        assert!(c.finish(r2).unwrap_err().is_not_found());
        c.finish(r1).unwrap();
        assert!(std::fs::read(p("a")).unwrap() == data);
        let mut back = Vec::new();
        c.download(&p("a"), &mut |b| {
            back.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert!(back == data);
        let names: Vec<String> = c.readdir(&p("")).unwrap().into_iter().map(|(n, _)| n).collect();
        let mut names = names;
        names.sort();
        assert_eq!(names, ["a", "b.part"]);
        assert_eq!(c.stat(&p("a")).unwrap().unwrap().size, Some(data.len() as u64));
        assert!(c.stat(&p("a")).unwrap().unwrap().is_file());
        assert_eq!(c.stat(&p("nope")).unwrap(), None);
        c.remove(&p("a")).unwrap();
        assert!(c.remove(&p("a")).unwrap_err().is_not_found());
        c.mkdir(&p("d"), 0o755).unwrap();
        assert!(c.stat(&p("d")).unwrap().unwrap().is_dir());
    }

    /// A server without posix-rename: the protocol's rename refuses to replace, so
    /// `replace` removes the old file first.
    #[test]
    fn without_posix_rename_a_replace_removes_then_renames() {
        let Some(mut c) = server() else { return };
        c.ext.posix_rename = false;
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        std::fs::write(p("a"), b"old").unwrap();
        std::fs::write(p("a.part"), b"new").unwrap();
        let id = c.start_rename(&p("a.part"), &p("a")).unwrap();
        assert!(c.finish(id).is_err(), "SFTP v3's rename does not replace");
        c.replace(&p("a.part"), &p("a")).unwrap();
        assert_eq!(std::fs::read(p("a")).unwrap(), b"new");
        assert!(!dir.path().join("a.part").exists());
        assert!(c.replace(&p("a.part"), &p("a")).unwrap_err().is_not_found());
        assert_eq!(
            std::fs::read(p("a")).unwrap(),
            b"new",
            "a failed replace leaves the old file"
        );
    }

    #[test]
    fn a_stopped_upload_closes_its_file_and_the_session_goes_on() {
        let Some(mut c) = server() else { return };
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        let data = vec![7u8; 3 << 20];
        let mut calls = 0;
        let e = c
            .upload(&p("x.part"), 0, &mut &data[..], false, &mut |_| {
                calls += 1;
                anyhow::ensure!(calls < 3, "stop");
                Ok(())
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "stop");
        c.remove(&p("x.part")).unwrap();
        assert_eq!(c.stat(&p("x.part")).unwrap(), None);
        // An error of the server names the step.
        let e = c
            .upload(&p("no/such/dir/y"), 0, &mut &b"z"[..], false, &mut no_pace)
            .unwrap_err();
        assert!(e.to_string().starts_with("opening: "), "{e}");
    }
}
