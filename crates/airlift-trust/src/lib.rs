//! Trust for airlift bundles.
//!
//! - `schema` (private): canonical JSON, TUF's time format, public key
//!   objects and key ids, which every other module builds on.
//! - [`keys`]: the site's Ed25519 signing keys and the TUF root they define.
//! - [`metadata`]: writing signed TUF metadata (root, targets, snapshot,
//!   timestamp) as canonical JSON, byte-identical for the same inputs.
//! - [`verify`]: checking a bundle's metadata against a trusted root with
//!   `tough`, the TUF client, so that signatures, thresholds, versions and
//!   expiry follow the specification rather than our own reading of it.
//!
//! The modules depend on each other in one direction only: `schema` ←
//! `keypair` (one key) ← [`roles`] and [`metadata`] (which sign with a key) ←
//! [`keys`] (the key directory and root rotation, which uses both) and
//! [`custody`]; [`verify`] uses [`roles`]. The old public paths
//! (`keys::KeyPair`, `keys::keyid_of`, `metadata::canonical_json`,
//! `metadata::format_time`, `roles::NAME_FIELD`) are re-exports.
//!
//! Nothing here reads blobs or archives: callers pass the metadata directory
//! and get back the verified list of targets to check blobs against.

pub mod custody;
mod error;
pub mod hsm;
mod keypair;
pub mod keys;
pub mod metadata;
pub mod policy;
pub mod roles;
mod schema;
pub mod verify;

pub use error::TrustError;
pub use keys::{KeyPair, RolePolicy, Rotation, SiteKeys};
pub use metadata::{MetadataSet, TargetInfo, TufTimes};
pub use roles::{RootInfo, Tally};
pub use verify::{VerifiedMetadata, verify_metadata};

/// The TUF specification version written into metadata.
pub const SPEC_VERSION: &str = "1.0.31";
