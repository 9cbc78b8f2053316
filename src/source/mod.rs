//! Where rows come from: input files and their formats.

pub mod local;
pub mod parquet;
pub mod text;
