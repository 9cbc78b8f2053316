//! chama: build and deliver offline-interface files.
//!
//! Data moves one way: source -> transform -> split -> compress -> manifest -> sink.
//! This is the module index; the command layer (`cmd::execute`, what `main` calls) is in
//! `cmd/`, the workflows under it in `ops/`.

pub mod atomic;
pub mod backoff;
pub mod cli;
pub mod cmd;
pub mod compress;
pub mod config;
pub mod duration;
pub mod exit;
pub mod ledger;
pub mod lock;
pub mod log;
pub mod manifest;
pub mod metrics;
pub mod ops;
pub mod period;
pub mod pipeline;
pub mod setdir;
pub mod signals;
pub mod sink;
pub mod source;
pub mod spec;
pub mod split;
pub mod sql;
pub mod suggest;
pub mod transform;
pub mod verf;
pub mod workdir;

/// chama's version and those of the libraries linked into it, for `--version`
/// (libssh2 with the project's patch, OpenSSL, SQLite, zlib-rs).
pub fn versions() -> String {
    format!(
        "{}\n{}\n{}\nSQLite {}\nzlib-rs {}",
        env!("CARGO_PKG_VERSION"),
        sink::sftp::libssh2(),
        sink::sftp::openssl(),
        rusqlite::version(),
        env!("CHAMA_ZLIB_RS_VERSION")
    )
}
