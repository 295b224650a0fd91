//! Rust crates: a sparse registry (RFC 2789) over the airlift store.
//!
//! Same shape as every ecosystem adapter:
//! - [`spec`]: `[cargo]` in `airlift.toml`;
//! - [`collect`]: `Cargo.lock` packages as they are, and declared crates
//!   with their feature-aware dependency closure, read from an upstream
//!   sparse index ([`index`], [`lockfile`]), every `.crate` checked against
//!   the index `cksum` and the lockfile `checksum`;
//! - [`index::entry`]: one index entry per crate version, holding the
//!   upstream's index line byte for byte, and the licence the `.crate`'s
//!   manifest states ([`manifest`]);
//! - [`serve`]: `/cargo/index/` (`config.json` and the sharded index
//!   files) and `/cargo/api/v1/crates/<name>/<version>/download`;
//! - [`publish`]: `cargo publish`, `cargo yank` and `cargo owner` into the
//!   site, under `/cargo/api/v1/crates/`.

pub mod collect;
pub mod ecosystem;
pub mod index;
pub mod lockfile;
pub mod manifest;
pub mod publish;
pub mod serve;
pub mod spec;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "cargo";
