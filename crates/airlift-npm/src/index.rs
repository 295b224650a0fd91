//! What npm packages record in the store index.
//!
//! - `v:<name>/<version>`: a tarball; meta holds the version's manifest as
//!   the upstream packument has it (without `readme`), its publish time and
//!   the integrity it was checked against.
//! - `p:<name>`: the package document (`dist-tags`, `time.created`,
//!   `time.modified`, `description`); its blob is that JSON.

use airlift_core::Digest;
use airlift_store::Entry;

/// Key prefix of versions.
pub const VERSION: &str = "v:";
/// Key prefix of package documents.
pub const PACKAGE: &str = "p:";

/// The entry of one carried version.
pub fn version_entry(
    name: &str,
    version: &str,
    digest: Digest,
    size: u64,
    manifest: &serde_json::Value,
    time: Option<&serde_json::Value>,
    integrity: &str,
) -> Entry {
    Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: format!("{VERSION}{name}/{version}"),
        digest,
        size,
        meta: serde_json::json!({
            "manifest": manifest,
            "time": time,
            "integrity": integrity,
        }),
    }
}

/// The entry of a package document stored as blob `digest`.
pub fn package_entry(name: &str, digest: Digest, size: u64) -> Entry {
    Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: format!("{PACKAGE}{name}"),
        digest,
        size,
        meta: serde_json::Value::Object(Default::default()),
    }
}
