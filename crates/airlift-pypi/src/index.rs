//! What Python packages record in the store index.
//!
//! - `f:<project>/<filename>`: a distribution file; meta holds what the
//!   Simple API needs (version, Requires-Python, yanked, upload time, the
//!   metadata file's hash; the licences and required projects its core
//!   metadata states, for SBOMs).
//! - `m:<project>/<filename>.metadata`: its core metadata (PEP 658).

use airlift_core::Digest;
use airlift_store::Entry;
use serde::{Deserialize, Serialize};

use crate::metadata::Metadata;
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
    /// The licences its core metadata states (for SBOMs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// The normalized names of the projects its core metadata requires
    /// (`Requires-Dist`, markers not evaluated), for SBOMs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<String>,
}

impl FileMeta {
    /// Records what SBOMs need of its core metadata.
    pub fn describe(&mut self, metadata: &Metadata) {
        self.licenses = metadata.licenses();
        self.requires = metadata.required_projects();
    }
}

/// The entries of one collected file (and its metadata file, served
/// when `metadata` is given), with what `described` (its core metadata,
/// when collect read it) states of licences and requirements.
pub fn entries(
    project: &str,
    file: &UpFile,
    version: &str,
    digest: Digest,
    size: u64,
    metadata: Option<(Digest, u64)>,
    described: Option<&Metadata>,
) -> Vec<Entry> {
    let mut meta = FileMeta {
        version: version.to_owned(),
        requires_python: file.requires_python.clone(),
        yanked: file.yanked.clone(),
        upload_time: file.upload_time.clone(),
        metadata: metadata.map(|(d, _)| d),
        ..FileMeta::default()
    };
    if let Some(described) = described {
        meta.describe(described);
    }
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
