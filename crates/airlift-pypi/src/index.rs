//! What Python packages record in the store index.
//!
//! - `f:<project>/<filename>`: a distribution file; meta holds what the
//!   Simple API needs (version, Requires-Python, yanked, upload time, the
//!   metadata file's hash).
//! - `m:<project>/<filename>.metadata`: its core metadata (PEP 658).

use airlift_core::Digest;
use airlift_store::Entry;
use serde::{Deserialize, Serialize};

use crate::upstream::UpFile;

/// Key prefix of distribution files.
pub const FILE: &str = "f:";
/// Key prefix of metadata files.
pub const METADATA: &str = "m:";

/// The meta of an `f:` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// The release version.
    pub version: String,
    /// `Requires-Python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// Yanked, with the reason ("" when none is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<String>,
    /// Upload time as the upstream states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
    /// SHA-256 of the core metadata file, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Digest>,
}

/// The entries of one collected file (and its metadata file).
pub fn entries(
    project: &str,
    file: &UpFile,
    version: &str,
    digest: Digest,
    size: u64,
    metadata: Option<(Digest, u64)>,
) -> Vec<Entry> {
    let meta = FileMeta {
        version: version.to_owned(),
        requires_python: file.requires_python.clone(),
        yanked: file.yanked.clone(),
        upload_time: file.upload_time.clone(),
        metadata: metadata.map(|(d, _)| d),
    };
    let mut out = vec![Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: format!("{FILE}{project}/{}", file.filename),
        digest,
        size,
        meta: serde_json::to_value(&meta).unwrap_or_default(),
    }];
    if let Some((digest, size)) = metadata {
        out.push(Entry {
            ecosystem: crate::ECOSYSTEM.into(),
            key: format!("{METADATA}{project}/{}.metadata", file.filename),
            digest,
            size,
            meta: serde_json::Value::Object(Default::default()),
        });
    }
    out
}
