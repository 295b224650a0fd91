//! The plain-files ecosystem: any file at a URL, served at a path.
//!
//! Same shape as every ecosystem adapter:
//! - [`spec`]: the `[[files]]` entries of `airlift.toml`;
//! - [`collect`]: fetch them into the store, verified;
//! - [`index`]: the entries they become in the store index;
//! - [`serve`]: `GET/HEAD /files/<path>` with validators and ranges;
//! - [`upload`]: `PUT` and `DELETE /files/<path>`, files made inside.

pub mod collect;
pub mod ecosystem;
pub mod index;
pub mod serve;
pub mod spec;
pub mod upload;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "files";
