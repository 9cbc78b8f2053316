//! One module per subcommand: glue between the CLI and the pipeline.

pub mod build;
pub mod pull;
pub mod spec;
