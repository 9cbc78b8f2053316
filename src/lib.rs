//! chama: build and deliver offline-interface files.
pub mod sql;
