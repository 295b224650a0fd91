//! Trust for airlift bundles.
//!
//! - [`keys`]: the site's Ed25519 signing keys and the TUF root they define.
//! - [`metadata`]: writing signed TUF metadata (root, targets, snapshot,
//!   timestamp) as canonical JSON, byte-identical for the same inputs.
//! - [`verify`]: checking a bundle's metadata against a trusted root with
//!   `tough`, the TUF client, so that signatures, thresholds, versions and
//!   expiry follow the specification rather than our own reading of it.
//!
//! Nothing here reads blobs or archives: callers pass the metadata directory
//! and get back the verified list of targets to check blobs against.

pub mod custody;
mod error;
pub mod hsm;
pub mod keys;
pub mod metadata;
pub mod roles;
pub mod verify;

pub use error::TrustError;
pub use keys::{KeyPair, RolePolicy, Rotation, SiteKeys};
pub use metadata::{MetadataSet, TargetInfo, TufTimes};
pub use roles::{RootInfo, Tally};
pub use verify::{VerifiedMetadata, verify_metadata};

/// The TUF specification version written into metadata.
pub const SPEC_VERSION: &str = "1.0.31";
