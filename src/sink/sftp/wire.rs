//! The wire format of SFTP version 3 (draft-ietf-secsh-filexfer-02): packet
//! and attribute codes, the answers a server sends and how they are read,
//! and the errors they carry. `client.rs` speaks it.

pub(super) const INIT: u8 = 1;
pub(super) const VERSION: u8 = 2;
pub(super) const OPEN: u8 = 3;
pub(super) const CLOSE: u8 = 4;
pub(super) const READ: u8 = 5;
pub(super) const WRITE: u8 = 6;
pub(super) const FSTAT: u8 = 8;
pub(super) const OPENDIR: u8 = 11;
pub(super) const READDIR: u8 = 12;
pub(super) const REMOVE: u8 = 13;
pub(super) const MKDIR: u8 = 14;
pub(super) const STAT: u8 = 17;
pub(super) const RENAME: u8 = 18;
pub(super) const STATUS: u8 = 101;
pub(super) const HANDLE: u8 = 102;
pub(super) const DATA: u8 = 103;
pub(super) const NAME: u8 = 104;
pub(super) const ATTRS: u8 = 105;
pub(super) const EXTENDED: u8 = 200;
pub(super) const EXTENDED_REPLY: u8 = 201;

pub(super) const OPEN_READ: u32 = 0x01;
pub(super) const OPEN_WRITE: u32 = 0x02;
pub(super) const OPEN_CREATE: u32 = 0x08;
pub(super) const OPEN_TRUNCATE: u32 = 0x10;

pub(super) const ATTR_SIZE: u32 = 0x01;
pub(super) const ATTR_UIDGID: u32 = 0x02;
pub(super) const ATTR_PERMISSIONS: u32 = 0x04;
pub(super) const ATTR_ACMODTIME: u32 = 0x08;
pub(super) const ATTR_EXTENDED: u32 = 0x8000_0000;

pub(super) const STATUS_OK: u32 = 0;
pub(super) const STATUS_EOF: u32 = 1;
pub(super) const STATUS_NO_SUCH_FILE: u32 = 2;
pub(super) const STATUS_PERMISSION_DENIED: u32 = 3;
pub(super) const STATUS_OP_UNSUPPORTED: u32 = 8;

/// What went wrong, with the server's own status where it sent one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{msg} (SFTP status {code})")]
    Status { code: u32, msg: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("SFTP protocol: {0}")]
    Protocol(String),
    /// Text where the server's first packet belongs: what its login shell or profile
    /// printed. No retry cures it; the server's owner must.
    #[error(
        "the server printed text before SFTP started: \"{0}\" (a login shell, profile or `nologin` that \
         prints on a non-interactive session; the server's owner must silence it)"
    )]
    PrintedText(String),
}

impl Error {
    /// Whether the server refused the request (permission denied, or not supported),
    /// as a locked-down server refuses a kind of request whatever its argument.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::Status {
                code: STATUS_PERMISSION_DENIED | STATUS_OP_UNSUPPORTED,
                ..
            }
        )
    }

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

pub(super) fn protocol(what: impl Into<String>) -> Error {
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
    pub statvfs: bool,
    /// The protocol version the server answered with.
    pub version: u32,
    /// Every extension it announced, by name and version, in its order.
    pub all: Vec<(String, String)>,
}

pub(super) enum Reply {
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
    pub(super) fn ok(self) -> Result<()> {
        match self {
            Reply::Status { code: STATUS_OK, .. } => Ok(()),
            Reply::Status { code, msg } => Err(Error::Status { code, msg }),
            other => Err(protocol(format!("expected STATUS, got {}", other.kind()))),
        }
    }
}

/// Turns a non-status answer into what `want` takes from it; a status answer into its error.
pub(super) fn expect<T>(r: Reply, want: &str, take: impl FnOnce(Reply) -> Option<T>) -> Result<T> {
    if let Reply::Status { code, msg } = r {
        return Err(Error::Status { code, msg });
    }
    let kind = r.kind();
    take(r).ok_or_else(|| protocol(format!("expected {want}, got {kind}")))
}

/// An open file or directory on the server.
#[derive(Debug, Clone)]
pub struct Handle(pub(super) Vec<u8>);

impl Reply {
    /// An answer packet of type `ty`: the id of the request it answers, and what it says.
    pub(super) fn parse(ty: u8, body: &[u8]) -> Result<(u32, Reply)> {
        let mut r = Reader(body);
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
        Ok((got, reply))
    }
}

pub(super) fn status_text(code: u32) -> &'static str {
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

pub(super) fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}

pub(super) fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s);
}

pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(protocol("a packet shorter than its fields"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    pub(super) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    pub(super) fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    pub(super) fn string(&mut self) -> Result<String> {
        Ok(String::from_utf8_lossy(self.bytes()?).into_owned())
    }

    pub(super) fn attrs(&mut self) -> Result<Attrs> {
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
