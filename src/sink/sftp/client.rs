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

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Read, Write};

use super::wire::*;

mod upload;
pub use upload::Upload;

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

/// A status answer as a result (an answer of another kind is a protocol error).
fn status(r: Reply) -> Result<()> {
    r.ok()
}

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
    /// The id of the `limits@openssh.com` request, until its answer is read.
    limits: Option<u32>,
    /// Requests whose answers nobody waits for (a directory's close): dropped as they come.
    ignored: HashSet<u32>,
    /// The server refused FSTAT once: uploads no longer ask it, and their size is
    /// what the server acknowledged.
    pub no_fstat: bool,
    /// The most files the server keeps open for a session, where it says
    /// (`limits@openssh.com`, once the first upload has read its answer).
    pub max_handles: Option<u64>,
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
            limits: None,
            ignored: HashSet::new(),
            no_fstat: false,
            max_handles: None,
        };
        c.out.clear();
        c.out.extend_from_slice(&[0, 0, 0, 0, INIT]);
        put_u32(&mut c.out, 3);
        c.flush_packet()?;
        let len = c.read_len()?;
        if let Some(text) = c.printed_text(len) {
            return Err(Error::PrintedText(text));
        }
        let (ty, body) = c.read_body(len)?;
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
        c.ext.version = version;
        while !r.0.is_empty() {
            let (name, data) = (r.string()?, r.bytes()?);
            match name.as_str() {
                "posix-rename@openssh.com" => c.ext.posix_rename = true,
                "fsync@openssh.com" => c.ext.fsync = true,
                "limits@openssh.com" => c.ext.limits = true,
                "statvfs@openssh.com" => c.ext.statvfs = true,
                _ => {}
            }
            c.ext.all.push((name, String::from_utf8_lossy(data).into_owned()));
        }
        // The limits are asked for now and read when the first upload needs them, so that
        // the question costs no round trip of its own.
        if c.ext.limits {
            c.limits = Some(c.send_extended("limits@openssh.com", |_| {})?);
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
        let len = self.read_len()?;
        self.read_body(len)
    }

    /// A packet's length field.
    fn read_len(&mut self) -> Result<[u8; 4]> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => protocol("the server closed the SFTP session"),
            _ => Error::Io(e),
        })?;
        Ok(len)
    }

    /// The text a server printed where its first packet belongs (a packet's
    /// length starts with a zero byte; text does not): the rest of its first
    /// line, up to 200 bytes, as it reads.
    fn printed_text(&mut self, first: [u8; 4]) -> Option<String> {
        let printable = |b: &u8| b.is_ascii_graphic() || b" \t\r\n".contains(b) || *b >= 0x80;
        if !first.iter().all(printable) {
            return None;
        }
        let mut text = first.to_vec();
        let mut byte = [0u8; 1];
        while text.len() < 200 && !text.contains(&b'\n') {
            match self.stream.read(&mut byte) {
                Ok(1) => text.push(byte[0]),
                _ => break,
            }
        }
        Some(String::from_utf8_lossy(&text).trim_end().escape_debug().to_string())
    }

    fn read_body(&mut self, len: [u8; 4]) -> Result<(u8, Vec<u8>)> {
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
            let (got, reply) = Reply::parse(ty, &body)?;
            if self.ignored.remove(&got) {
                continue;
            }
            if got == id {
                return Ok(reply);
            }
            self.early.insert(got, reply);
        }
    }

    /// Reads the server's limits, if asked for and not read yet, into `max_write`.
    fn read_limits(&mut self) -> Result<()> {
        let Some(id) = self.limits.take() else {
            return Ok(());
        };
        let data = expect(self.wait(id)?, "EXTENDED_REPLY", |r| match r {
            Reply::Extended(d) => Some(d),
            _ => None,
        })?;
        let mut r = Reader(&data);
        let (max_packet, _max_read, max_write) = (r.u64()?, r.u64()?, r.u64()?);
        self.max_handles = r.u64().ok().filter(|&n| n > 0);
        // The packet must hold the write's header too (the largest handle OpenSSH makes
        // is a few bytes; 300 leaves room for any).
        let by_packet = (max_packet as usize).saturating_sub(300);
        let limit = [max_write as usize, by_packet]
            .into_iter()
            .filter(|&n| n > 0)
            .min()
            .unwrap_or(WRITE_PACKET);
        self.max_write = limit.clamp(1024, WRITE_PACKET);
        Ok(())
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

    /// The attributes of each of `paths`, asked all at once (one round trip for all).
    pub fn stat_many(&mut self, paths: &[String]) -> Result<Vec<Option<Attrs>>> {
        let ids = paths
            .iter()
            .map(|p| self.send(STAT, |b| put_str(b, p.as_bytes())))
            .collect::<Result<Vec<u32>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        let mut first = None;
        for id in ids {
            match self.wait_attrs(id) {
                Ok(a) => out.push(Some(a)),
                Err(e) if e.is_not_found() => out.push(None),
                Err(e) => {
                    out.push(None);
                    first.get_or_insert(e);
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// The bytes free to an unprivileged user on the file system of `path`, where the
    /// server offers `statvfs@openssh.com`.
    pub fn free_space(&mut self, path: &str) -> Result<Option<u64>> {
        if !self.ext.statvfs {
            return Ok(None);
        }
        let id = self.send_extended("statvfs@openssh.com", |b| put_str(b, path.as_bytes()))?;
        let data = expect(self.wait(id)?, "EXTENDED_REPLY", |r| match r {
            Reply::Extended(d) => Some(d),
            _ => None,
        })?;
        let mut r = Reader(&data);
        let (_bsize, frsize, _blocks, _bfree, bavail) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        Ok(Some(frsize.saturating_mul(bavail)))
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
        let (mut end, mut failed) = (false, None);
        // Two reads at a time: OpenSSH sends 100 names a read, so a directory of fewer
        // costs one round trip, not two (the second read says the end).
        while !end && failed.is_none() {
            let ids = [
                self.send(READDIR, |b| put_str(b, &h.0))?,
                self.send(READDIR, |b| put_str(b, &h.0))?,
            ];
            for id in ids {
                match self.wait(id)? {
                    Reply::Name(names) => all.extend(names.into_iter().filter(|(n, _)| n != "." && n != "..")),
                    Reply::Status { code: STATUS_EOF, .. } => end = true,
                    other => {
                        let e = other.ok().err().unwrap_or_else(|| protocol("READDIR answered OK"));
                        failed.get_or_insert(e);
                    }
                }
            }
        }
        // Nothing waits for the close: its answer is dropped when it comes.
        let close = self.send(CLOSE, |b| put_str(b, &h.0))?;
        self.ignored.insert(close);
        match failed {
            Some(e) => Err(e),
            None => Ok(all),
        }
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
            Err(e)
                if e.is_refusal()
                    || self.ext.posix_rename
                    || self.stat(to)?.is_none()
                    || self.stat(from)?.is_none() =>
            {
                return Err(e)
            }
            Err(_) => {}
        }
        self.remove(to)?;
        let id = self.start_rename(from, to)?;
        self.finish(id)
    }

    /// Renames each `from` to its `to`, all sent at once, replacing `to` where the server
    /// offers posix-rename (else, for a pair whose target exists, as [`Client::replace`]
    /// does, one at a time). Per pair, how it went; the outer error: the session broke.
    pub fn rename_many(&mut self, pairs: &[(String, String)]) -> Result<Vec<Result<()>>> {
        let ids = pairs
            .iter()
            .map(|(from, to)| self.start_rename(from, to))
            .collect::<Result<Vec<u32>>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(status(self.wait(id)?));
        }
        if !self.ext.posix_rename {
            for (r, (from, to)) in out.iter_mut().zip(pairs) {
                if matches!(r, Err(Error::Status { .. })) && !r.as_ref().is_err_and(|e| e.is_refusal()) {
                    *r = self.replace(from, to);
                }
            }
        }
        Ok(out)
    }

    /// The answer to a request sent earlier that answers with a status.
    pub fn finish(&mut self, id: u32) -> Result<()> {
        self.wait(id)?.ok()
    }

    /// Streams the bytes of `path` into `sink`, with reads kept in flight.
    pub fn download(&mut self, path: &str, sink: &mut dyn FnMut(&[u8]) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let id = self.send(OPEN, |b| {
            put_str(b, path.as_bytes());
            put_u32(b, OPEN_READ);
            put_u32(b, 0);
        })?;
        let h = self.wait_handle(id).map_err(|e| step("OPEN for reading", e))?;
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
                    other => other.ok().map_err(|e| step("READ", e))?,
                }
            }
        })();
        for (id, _) in reads {
            let _ = self.wait(id);
        }
        let closed = self.close(&h);
        result?;
        closed.map_err(|e| step("CLOSE", e))
    }
}

/// The error of one request of a file's transfer, naming the request (`FSTAT`,
/// `WRITE`, ...), and saying so when the server refused that kind of request.
fn step(request: &str, e: Error) -> anyhow::Error {
    match e.is_refusal() {
        true => anyhow::anyhow!("the server refused {request}: {e}"),
        false => anyhow::anyhow!("{request}: {e}"),
    }
}

#[cfg(test)]
mod tests;
