//! How the registry is recorded in the store index (ecosystem `oci`).
//!
//! - `m:<repository>@sha256:<hex>`: a manifest in a repository; the entry's
//!   digest is the manifest's, `meta` holds its media type and, for the
//!   referrers API, its artifact type, subject and annotations;
//! - `t:<repository>:<tag>`: a tag, pointing at a manifest digest;
//! - `b:<repository>@sha256:<hex>`: a blob linked into a repository (blobs
//!   are visible only in repositories they were pushed or mounted into).
//!
//! Repository names never contain `:` or `@`, so these prefixes never collide.

use airlift_core::Digest;
use airlift_store::Entry;
use serde_json::Value;

/// Key of a manifest.
pub fn manifest_key(repository: &str, digest: &Digest) -> String {
    format!("m:{repository}@{digest}")
}

/// Key of a tag.
pub fn tag_key(repository: &str, tag: &str) -> String {
    format!("t:{repository}:{tag}")
}

/// Key of a blob link.
pub fn blob_key(repository: &str, digest: &Digest) -> String {
    format!("b:{repository}@{digest}")
}

/// Prefix of all manifests of a repository.
pub fn manifest_prefix(repository: &str) -> String {
    format!("m:{repository}@")
}

/// Prefix of all tags of a repository.
pub fn tag_prefix(repository: &str) -> String {
    format!("t:{repository}:")
}

/// An index key, parsed: the one place that knows the `m:`, `t:` and `b:`
/// forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// A manifest of a repository, by digest (`m:<repository>@<digest>`).
    Manifest {
        /// The repository.
        repository: &'a str,
        /// The manifest digest as written (`sha256:…`).
        digest: &'a str,
    },
    /// A tag (`t:<repository>:<tag>`).
    Tag {
        /// The repository.
        repository: &'a str,
        /// The tag.
        tag: &'a str,
    },
    /// A blob linked into a repository (`b:<repository>@<digest>`).
    Blob {
        /// The repository.
        repository: &'a str,
        /// The blob digest as written.
        digest: &'a str,
    },
}

/// Parses an index key of this ecosystem.
pub fn parse_key(key: &str) -> Option<Key<'_>> {
    let rest = key.get(2..)?;
    match key.get(..2)? {
        "m:" => rest
            .split_once('@')
            .map(|(repository, digest)| Key::Manifest { repository, digest }),
        "b:" => rest
            .split_once('@')
            .map(|(repository, digest)| Key::Blob { repository, digest }),
        "t:" => rest
            .split_once(':')
            .map(|(repository, tag)| Key::Tag { repository, tag }),
        _ => None,
    }
}

/// The repository an index key belongs to.
pub fn repository_of(key: &str) -> Option<&str> {
    let rest = key.get(2..)?;
    match &key[..2] {
        "m:" | "b:" => rest.split_once('@').map(|(repository, _)| repository),
        "t:" => rest.split_once(':').map(|(repository, _)| repository),
        _ => None,
    }
}

/// An entry for the index.
pub fn entry(key: String, digest: Digest, size: u64, meta: Value) -> Entry {
    Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key,
        digest,
        size,
        meta,
    }
}

/// The index metadata of a manifest: its media type and, for the referrers
/// API, artifact type, subject and annotations.
pub fn manifest_meta(parsed: &Value, media_type: &str) -> Value {
    serde_json::json!({
        "media_type": media_type,
        "artifact_type": parsed["artifactType"].as_str().or_else(|| parsed["config"]["mediaType"].as_str()),
        "subject": parsed["subject"]["digest"].as_str(),
        "annotations": parsed.get("annotations").cloned().unwrap_or(Value::Null),
    })
}

/// The blob digests an image manifest references (config, layers, blobs),
/// leaving out non-distributable layers, which are never pushed.
pub fn referenced_blobs(parsed: &Value) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut push = |field: &str, descriptor: &Value| {
        let media_type = descriptor["mediaType"].as_str().unwrap_or("");
        if media_type.contains(".nondistributable.") || media_type.contains(".foreign.") {
            return;
        }
        out.push((
            field.to_owned(),
            descriptor["digest"].as_str().map(str::to_owned),
        ));
    };
    if let Some(config) = parsed.get("config") {
        push("config", config);
    }
    for field in ["layers", "blobs"] {
        if let Some(list) = parsed.get(field).and_then(Value::as_array) {
            for descriptor in list {
                push(field, descriptor);
            }
        }
    }
    out
}
