//! Container images: the OCI distribution protocol over the airlift store.
//!
//! Same shape as every ecosystem adapter:
//! - [`names`]: repository names, tags and digests as the specification
//!   defines them (anything else is refused before it reaches the store);
//! - [`index`]: how manifests, tags and blob links are recorded in the index;
//! - [`serve`]: the `/v2/` API, pull and push (OCI Distribution Spec v1.1),
//!   with errors from one table ([`errors`]).
//!
//! Collecting images from upstream registries is not built yet.

pub mod errors;
pub mod index;
pub mod names;
pub mod serve;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "oci";
