//! The index: generations of entries, and the site state that changes with them.

use airlift_core::Digest;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// One indexed artifact: in `ecosystem`, `key` names the blob `digest`.
///
/// `meta` is the ecosystem's own JSON (for plain files: the source URL).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The ecosystem, such as `files`.
    pub ecosystem: String,
    /// The ecosystem's name for the artifact (for files: the served path).
    pub key: String,
    /// The blob.
    pub digest: Digest,
    /// The blob's length in bytes.
    pub size: u64,
    /// Ecosystem metadata, as a JSON object.
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// A committed, immutable generation of the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Generation {
    /// Increasing number, starting at 1.
    pub id: u64,
    /// Unix time of the commit.
    pub created_at: i64,
    /// What produced it: `collect`, `import <bundle id>`, ...
    pub source: String,
    /// Number of entries.
    pub entries: u64,
}

/// A generation to commit: its full entry set and the state to update with it.
#[derive(Clone, Debug, Default)]
pub struct NewGeneration {
    /// What produced it.
    pub source: String,
    /// Unix time of the commit.
    pub created_at: i64,
    /// Every entry of the new generation (not a diff).
    pub entries: Vec<Entry>,
    /// State keys to set in the same transaction.
    pub state: Vec<(String, String)>,
}

/// Well-known state keys.
pub mod state_keys {
    /// Version of the last bundle imported (TUF timestamp version).
    pub const LAST_BUNDLE_VERSION: &str = "last_bundle_version";
    /// Identifier of the last bundle imported.
    pub const LAST_BUNDLE_ID: &str = "last_bundle_id";
    /// Unix time of the last import.
    pub const LAST_IMPORT_AT: &str = "last_import_at";
}

/// Index storage. Every mutation is a whole new generation, committed atomically.
pub trait MetaStore: Send + Sync {
    /// The generation being served, if any.
    fn current(&self) -> Result<Option<Generation>, StoreError>;
    /// All generations, oldest first.
    fn generations(&self) -> Result<Vec<Generation>, StoreError>;
    /// The entries of a generation, optionally of one ecosystem, sorted by (ecosystem, key).
    fn entries(&self, generation: u64, ecosystem: Option<&str>) -> Result<Vec<Entry>, StoreError>;
    /// One entry.
    fn entry(
        &self,
        generation: u64,
        ecosystem: &str,
        key: &str,
    ) -> Result<Option<Entry>, StoreError>;
    /// Commits a new generation and makes it current, with its state, atomically.
    fn commit(&self, generation: NewGeneration) -> Result<Generation, StoreError>;
    /// A state value.
    fn state(&self, key: &str) -> Result<Option<String>, StoreError>;
}
