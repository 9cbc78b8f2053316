//! The kinds of request a server may refuse, by name: what a destination's `require`
//! names (config.rs), what the engine learns and the ledger keeps.

/// A kind of request a server may refuse (OpenSSH's `internal-sftp -P`, a
/// drop box's policy). Learned the first time the server refuses it, kept in
/// the ledger per host, and worked around where the delivery rules allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Request {
    /// Listing the remote directory.
    List,
    /// Asking a file's size, by name or of an open file.
    Stat,
    Rename,
    Remove,
}

impl Request {
    pub const ALL: [Request; 4] = [Request::List, Request::Stat, Request::Rename, Request::Remove];

    pub fn name(self) -> &'static str {
        match self {
            Request::List => "list",
            Request::Stat => "stat",
            Request::Rename => "rename",
            Request::Remove => "remove",
        }
    }

    pub fn parse(s: &str) -> Option<Request> {
        Request::ALL.into_iter().find(|r| r.name() == s)
    }

    /// What delivery does instead, for messages.
    pub fn fallback(self) -> &'static str {
        match self {
            Request::List => "resume and \"already there\" are checked by asking each file's size",
            Request::Stat => {
                "sizes are checked against the bytes the server acknowledged, and the ledger alone says what is there"
            }
            Request::Rename => "data files are written under their final names, each set's .verf last",
            Request::Remove => "an old .verf is emptied instead of removed, and temporary files stay",
        }
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
