//! One module per subcommand: glue between the command line (`cli.rs`) and
//! the library (`ops/`). Each takes its parsed arguments, calls the library
//! with plain option structs, and prints: a summary line on stderr, a table
//! or `--json` on stdout. No command calls another command's module.

pub mod build;
pub mod clean;
pub mod merge;
pub mod pull;
pub mod push;
pub mod report;
pub mod rerun;
pub mod run;
pub mod sample;
pub mod spec;
pub mod status;
pub mod verify;
