//! The `airlift` command as a library: argument parsing ([`cli`]), the
//! registered ecosystems ([`ecosystems`]), and [`run`], which runs one
//! command and renders it (human text or `--json`), so that tests can run
//! commands in-process with their own ecosystems. Engines live in the
//! library crates.

pub mod cli;
mod commands;
pub mod ecosystems;
mod failure;
mod progress;

pub use commands::{Output, run};
pub use failure::{Exit, Failure};
