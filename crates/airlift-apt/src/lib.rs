//! Debian packages: see the module list.
pub mod control;
pub mod relation;
pub mod release;
pub mod version;
pub mod xz;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "apt";
pub mod collect;
pub mod ecosystem;
pub mod key;
pub mod serve;
pub mod spec;
