//! Python packages: the Simple repository API (PEP 503, 592, 658, 691, 700,
//! 714) over the airlift store.
//!
//! Same shape as every ecosystem adapter:
//! - [`spec`]: `[pypi]` in `airlift.toml`;
//! - [`collect`]: lockfile pins and resolved requirements, fetched and
//!   verified, with [`lockfile`], [`upstream`], [`metadata`], and the PEP
//!   440/508 pieces in [`version`], [`requirement`] and [`tags`];
//! - [`index`]: the entries files and metadata files become;
//! - [`serve`]: `/pypi/simple/` and `/pypi/files/`;
//! - [`upload`]: `/pypi/legacy/`, where `twine upload` publishes.

pub mod collect;
pub mod ecosystem;
pub mod index;
pub mod lockfile;
pub mod metadata;
pub mod requirement;
pub mod serve;
pub mod spec;
pub mod tags;
pub mod upload;
pub mod upstream;
pub mod version;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "pypi";
