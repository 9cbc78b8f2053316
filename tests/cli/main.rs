//! The CLI integration tests: one binary, one harness, a module per subcommand.

mod accidents;
mod build;
mod clean;
mod columnar;
mod corpus;
mod dropbox;
mod harness;
mod kerberos;
mod merge;
mod pull;
mod push;
mod queues;
mod report;
mod rerun;
mod run;
mod sample;
mod scenario;
mod shell;
mod sources;
mod spec;
