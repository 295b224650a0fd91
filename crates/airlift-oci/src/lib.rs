//! Container images: the OCI distribution protocol over the airlift store.
//!
//! Same shape as every ecosystem adapter:
//! - [`spec`]: the `[[oci]]` entries of `airlift.toml`;
//! - [`collect`]: images, their platforms, referrers and signatures, fetched
//!   from any OCI/Docker registry into the store, every byte verified;
//! - [`names`]: repository names, tags and digests as the specification
//!   defines them (anything else is refused before it reaches the store);
//! - [`index`]: how manifests, tags and blob links are recorded in the index;
//! - [`image`]: an image reference (in the store, or an OCI image layout on
//!   disk) resolved to one platform's layers, read with their digests checked;
//! - [`artifact`]: artifacts (the SBOMs collect reads from images) attached
//!   to an image as OCI referrers;
//! - [`serve`]: the `/v2/` API, pull and push (OCI Distribution Spec v1.1),
//!   with errors from one table ([`errors`]).

pub mod artifact;
pub mod collect;
pub mod ecosystem;
pub mod errors;
pub mod image;
pub mod index;
pub mod names;
pub mod retention;
pub mod serve;
pub mod spec;

/// The ecosystem name used in the index and in bundles.
pub const ECOSYSTEM: &str = "oci";
