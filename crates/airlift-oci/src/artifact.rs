//! Artifacts attached to an image as OCI referrers (Distribution Spec
//! v1.1): an image manifest whose `artifactType` says what it carries,
//! whose config is the empty descriptor, whose one layer is the content,
//! and whose `subject` is the image. Collect attaches the SBOM it reads
//! from each image's layers this way; the referrers API then lists it next
//! to whatever the upstream attached (signatures, its own SBOMs).
//!
//! Boundary: this module writes blobs and returns index entries; it does
//! not commit them, and it knows nothing of what the content says.

use std::collections::BTreeMap;
use std::io::Write;

use airlift_core::Digest;
use airlift_store::{Entry, Store, StoreError};
use serde_json::json;

use crate::index;

/// The media type of the empty descriptor's blob (`{}`).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";

/// The empty JSON object every artifact without a config points at.
pub const EMPTY_CONTENT: &[u8] = b"{}";

/// The media type of an OCI image manifest.
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The manifest an artifact is attached to.
#[derive(Clone, Debug)]
pub struct Subject<'a> {
    /// Its repository.
    pub repository: &'a str,
    /// Its digest.
    pub digest: Digest,
    /// Its length in bytes.
    pub size: u64,
    /// Its media type.
    pub media_type: &'a str,
}

/// One artifact to attach: what it is and its bytes.
#[derive(Clone, Debug)]
pub struct Artifact<'a> {
    /// The artifact type, also the layer's media type
    /// (`application/vnd.cyclonedx+json`).
    pub artifact_type: &'a str,
    /// The content.
    pub content: &'a [u8],
    /// Annotations of the manifest (`org.opencontainers.image.created`).
    pub annotations: BTreeMap<String, String>,
}

/// Stores `artifact` as a referrer of `subject` and returns the index
/// entries that serve it: the manifest and the blob links of its content
/// and empty config, all in the subject's repository. The same subject and
/// artifact always give the same manifest bytes and digest.
pub fn attach(
    store: &Store,
    subject: &Subject<'_>,
    artifact: &Artifact<'_>,
) -> Result<Vec<Entry>, StoreError> {
    let (content_digest, content_size) = put(store, artifact.content)?;
    let (empty_digest, empty_size) = put(store, EMPTY_CONTENT)?;
    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": artifact.artifact_type,
        "config": {
            "mediaType": EMPTY_MEDIA_TYPE,
            "digest": empty_digest.to_string(),
            "size": empty_size,
            "data": "e30=",
        },
        "layers": [{
            "mediaType": artifact.artifact_type,
            "digest": content_digest.to_string(),
            "size": content_size,
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest.to_string(),
            "size": subject.size,
        },
    });
    if !artifact.annotations.is_empty() {
        manifest["annotations"] = json!(artifact.annotations);
    }
    // Serializing a `Value` of strings and numbers cannot fail.
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let (manifest_digest, manifest_size) = put(store, &bytes)?;
    Ok(vec![
        index::entry(
            index::manifest_key(subject.repository, &manifest_digest),
            manifest_digest,
            manifest_size,
            index::manifest_meta(&manifest, MANIFEST_MEDIA_TYPE),
        ),
        index::entry(
            index::blob_key(subject.repository, &content_digest),
            content_digest,
            content_size,
            json!({}),
        ),
        index::entry(
            index::blob_key(subject.repository, &empty_digest),
            empty_digest,
            empty_size,
            json!({}),
        ),
    ])
}

fn put(store: &Store, bytes: &[u8]) -> Result<(Digest, u64), StoreError> {
    let mut writer = store.blobs.writer()?;
    writer.write_all(bytes).map_err(|source| StoreError::Io {
        action: "write an artifact blob to",
        path: std::path::PathBuf::from("the blob store"),
        source,
    })?;
    writer.commit(None)
}
