//! Uploads: every file's open, then its writes, flush, stat and close, all on
//! the wire before any answer is awaited, with the writes kept within
//! [`WRITES_IN_FLIGHT`] bytes unacknowledged.

use std::io::Read;

use super::*;

/// One file of [`Client::upload_many`].
pub struct Upload<'a> {
    pub path: &'a str,
    pub offset: u64,
    pub input: &'a mut dyn Read,
    pub sent: &'a mut dyn FnMut(usize) -> anyhow::Result<()>,
}

/// The last requests of a file's upload: its flush (if asked), stat (if asked) and close.
struct Tail {
    flush: Option<u32>,
    stat: Option<u32>,
    close: u32,
}

impl<S: Read + Write> Client<S> {
    /// Writes `input` to `path` from byte `offset` on, creating it (truncated when
    /// `offset` is 0): [`Client::upload_many`] with one file.
    pub fn upload(
        &mut self,
        path: &str,
        offset: u64,
        input: &mut dyn Read,
        fsync: bool,
        sent: &mut dyn FnMut(usize) -> anyhow::Result<()>,
    ) -> anyhow::Result<Option<u64>> {
        let mut one = [Upload {
            path,
            offset,
            input,
            sent,
        }];
        self.upload_many(&mut one, fsync)?.pop().expect("one file")
    }

    /// Writes each file's `input` to its `path` from its `offset` on, creating it (truncated
    /// when `offset` is 0), all on the wire at once: every open, then every file's writes,
    /// flush (`fsync`, where the server offers it), stat and close, none waiting for another's
    /// answer, so that the files cost the round trips of one. A file's `sent` is told of
    /// each of its writes once the server has acknowledged it (so that it paces and measures
    /// what arrived), and may stop the upload: then the files not written yet are not
    /// written. Per file: the size the server saw before the close, or `None` where it
    /// refuses FSTAT (then the bytes it acknowledged are all there is to go by). An error of
    /// the session itself (it broke) is the outer error.
    pub fn upload_many(&mut self, files: &mut [Upload<'_>], fsync: bool) -> Result<Vec<anyhow::Result<Option<u64>>>> {
        let n = files.len();
        let mut first: Vec<Option<anyhow::Error>> = (0..n).map(|_| None).collect();
        let opens = files
            .iter()
            .map(|f| {
                let flags = OPEN_WRITE | OPEN_CREATE | if f.offset == 0 { OPEN_TRUNCATE } else { 0 };
                self.send(OPEN, |b| {
                    put_str(b, f.path.as_bytes());
                    put_u32(b, flags);
                    put_u32(b, ATTR_PERMISSIONS);
                    put_u32(b, 0o644);
                })
            })
            .collect::<Result<Vec<u32>>>()?;
        let mut handles = Vec::with_capacity(n);
        for (i, id) in opens.into_iter().enumerate() {
            let reply = self.wait(id)?;
            match expect(reply, "HANDLE", |r| match r {
                Reply::Handle(h) => Some(Handle(h)),
                _ => None,
            }) {
                Ok(h) => handles.push(Some(h)),
                Err(e @ Error::Status { .. }) => {
                    first[i] = Some(step("OPEN for writing", e));
                    handles.push(None);
                }
                Err(e) => return Err(e),
            }
        }
        self.read_limits()?;
        // Writes sent and not acknowledged yet, oldest first: request id, bytes, file.
        let mut writes: VecDeque<(u32, usize, usize)> = VecDeque::new();
        let mut in_flight = 0usize;
        // Per file: its flush, stat and close requests, once its writes are out.
        let mut tails: Vec<Option<Tail>> = (0..n).map(|_| None).collect();
        // Set when a file's `sent` stops the upload: no more writes go out, and the files
        // not wholly written by then are `cut`.
        let mut stopped = false;
        let mut cut = vec![false; n];
        for i in 0..n {
            let Some(h) = handles[i].clone() else { continue };
            let mut at = files[i].offset;
            loop {
                if stopped {
                    cut[i] = true;
                }
                if stopped || first[i].is_some() {
                    break;
                }
                let k = match self.send_write(&h, at, files[i].input) {
                    Ok(0) => break,
                    Ok(k) => k,
                    Err(e) if e.is::<Error>() => return Err(e.downcast::<Error>().expect("checked")),
                    Err(e) => {
                        first[i] = Some(e);
                        break;
                    }
                };
                writes.push_back((self.next_id, k, i));
                in_flight += k;
                at += k as u64;
                while in_flight > WRITES_IN_FLIGHT {
                    let (id, k, f) = writes.pop_front().expect("in flight");
                    in_flight -= k;
                    stopped |= self.acknowledged(id, k, &mut files[f], &mut first[f])?;
                }
            }
            let flush = match fsync && self.ext.fsync && first[i].is_none() && !cut[i] {
                true => Some(self.send_extended("fsync@openssh.com", |b| put_str(b, &h.0))?),
                false => None,
            };
            let stat = match self.no_fstat || first[i].is_some() || cut[i] {
                true => None,
                false => Some(self.send(FSTAT, |b| put_str(b, &h.0))?),
            };
            let close = self.send(CLOSE, |b| put_str(b, &h.0))?;
            tails[i] = Some(Tail { flush, stat, close });
        }
        // Every answer is read, whatever the first error was, so the session can go on.
        for (id, k, f) in writes {
            self.acknowledged(id, k, &mut files[f], &mut first[f])?;
        }
        let mut out = Vec::with_capacity(n);
        for (i, tail) in tails.into_iter().enumerate() {
            let mut size = None;
            if let Some(Tail { flush, stat, close }) = tail {
                if let Some(id) = flush {
                    if let Err(e) = status(self.wait(id)?) {
                        first[i].get_or_insert(step("fsync@openssh.com", e));
                    }
                }
                if let Some(id) = stat {
                    size = Some(self.wait(id)?);
                }
                if let Err(e) = status(self.wait(close)?) {
                    first[i].get_or_insert(step("CLOSE", e));
                }
            }
            if let Some(e) = first[i].take() {
                out.push(Err(e));
                continue;
            }
            if cut[i] {
                out.push(Err(anyhow::anyhow!("stopped before it was written")));
                continue;
            }
            out.push(
                match size.map(|r| {
                    expect(r, "ATTRS", |r| match r {
                        Reply::Attrs(a) => Some(a),
                        _ => None,
                    })
                }) {
                    None => Ok(None),
                    Some(Err(e)) if e.is_refusal() => {
                        self.no_fstat = true;
                        Ok(None)
                    }
                    Some(Err(e)) => Err(step("FSTAT (the size written)", e)),
                    Some(Ok(a)) => a
                        .size
                        .map(Some)
                        .ok_or_else(|| anyhow::anyhow!("the server did not say the size it wrote")),
                },
            );
        }
        Ok(out)
    }

    /// Reads the answer to write `id` of `k` bytes of `file`: an error is the file's (its
    /// first kept); else its `sent` is told. Whether `sent` stopped the upload.
    fn acknowledged(
        &mut self,
        id: u32,
        k: usize,
        file: &mut Upload<'_>,
        first: &mut Option<anyhow::Error>,
    ) -> Result<bool> {
        let r = status(self.wait(id)?);
        if first.is_some() {
            return Ok(false);
        }
        match r {
            Err(e) => *first = Some(step("WRITE", e)),
            Ok(()) => {
                if let Err(e) = (file.sent)(k) {
                    *first = Some(e);
                    return Ok(true);
                }
            }
        }
        Ok(false)
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
}
