//! What plain files record in the store index.

use airlift_core::{Digest, SafeUrl};
use airlift_store::Entry;
use serde_json::json;

/// The index entry of a collected file: key = served path, meta = source URL (redacted).
pub fn entry(path: &str, digest: Digest, size: u64, source: &SafeUrl) -> Entry {
    Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: path.into(),
        digest,
        size,
        meta: json!({"source": source.redacted()}),
    }
}
