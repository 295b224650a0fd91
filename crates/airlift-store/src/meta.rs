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

/// A change to commit as the next generation: entries to add or replace,
/// entries to remove, and state to set. Only what changes is written, so a
/// push or a small import costs in proportion to its size, not the index's.
#[derive(Clone, Debug, Default)]
pub struct Change {
    /// What produced it.
    pub source: String,
    /// Unix time of the commit.
    pub created_at: i64,
    /// Entries to add, or to replace when (ecosystem, key) exists.
    pub upserts: Vec<Entry>,
    /// (ecosystem, key) of entries to remove; absent keys are ignored.
    pub removals: Vec<(String, String)>,
    /// State keys to set in the same transaction.
    pub state: Vec<(String, String)>,
}

/// The audit log's head as the index last recorded it: its tree size and
/// root hash (lowercase hex). The audit log lives in `<home>/audit/`; this
/// copy lives in the index so that deleting or shortening that directory is
/// noticed (`airlift audit verify` compares the two). It only grows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditHead {
    /// Entries in the log.
    pub size: u64,
    /// The RFC 6962 tree hash of those entries, lowercase hex.
    pub root: String,
}

/// What pruning old generations removed from the index (or would remove,
/// when only counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    /// Generations removed.
    pub generations: u64,
    /// Entry row versions removed: rows no remaining generation can see.
    pub rows: u64,
}

/// Well-known state keys.
pub mod state_keys {
    /// Version of the last bundle imported (TUF timestamp version).
    pub const LAST_BUNDLE_VERSION: &str = "last_bundle_version";
    /// Identifier of the last bundle imported.
    pub const LAST_BUNDLE_ID: &str = "last_bundle_id";
    /// Unix time of the last import.
    pub const LAST_IMPORT_AT: &str = "last_import_at";
    /// The latest trusted time this site has seen (Unix seconds): a bundle
    /// that expired before it is refused even if the system clock is behind.
    pub const TIME_FLOOR: &str = "time_floor";
    /// The sequence number of the last imported bundle that carried a pack
    /// statement for this site.
    pub const LAST_SEQUENCE: &str = "last_sequence";
    /// The id of the bundle that set [`LAST_SEQUENCE`].
    pub const LAST_SEQUENCED_BUNDLE: &str = "last_sequenced_bundle";
}

/// Refuses a list in which one (ecosystem, key) appears twice; `what` names
/// the list in the error ("generation", "change"). Every backend calls it.
pub fn ensure_unique_keys(entries: &[Entry], what: &str) -> Result<(), StoreError> {
    let mut seen = std::collections::BTreeSet::new();
    for entry in entries {
        if !seen.insert((entry.ecosystem.as_str(), entry.key.as_str())) {
            return Err(StoreError::Corrupt(format!(
                "entry {}/{} appears twice in one {what}",
                entry.ecosystem, entry.key
            )));
        }
    }
    Ok(())
}

/// Index storage. Every mutation is a whole new generation, committed atomically.
pub trait MetaStore: Send + Sync {
    /// The generation being served, if any.
    fn current(&self) -> Result<Option<Generation>, StoreError>;
    /// All generations, oldest first.
    fn generations(&self) -> Result<Vec<Generation>, StoreError>;
    /// One generation, if the index still holds it.
    fn generation(&self, id: u64) -> Result<Option<Generation>, StoreError> {
        Ok(self.generations()?.into_iter().find(|g| g.id == id))
    }
    /// The entries of a generation, optionally of one ecosystem, sorted by (ecosystem, key).
    fn entries(&self, generation: u64, ecosystem: Option<&str>) -> Result<Vec<Entry>, StoreError>;
    /// The entries of [`MetaStore::entries`], handed to `each` one at a
    /// time, so that a caller that keeps a little of each (a scan of
    /// 200,000 advisory records) never holds them all. `each` must not use
    /// this store.
    fn for_each_entry(
        &self,
        generation: u64,
        ecosystem: Option<&str>,
        each: &mut dyn FnMut(Entry) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for entry in self.entries(generation, ecosystem)? {
            each(entry)?;
        }
        Ok(())
    }
    /// One entry.
    fn entry(
        &self,
        generation: u64,
        ecosystem: &str,
        key: &str,
    ) -> Result<Option<Entry>, StoreError>;
    /// Entries of one ecosystem whose key starts with `prefix`, sorted by key.
    fn entries_with_prefix(
        &self,
        generation: u64,
        ecosystem: &str,
        prefix: &str,
    ) -> Result<Vec<Entry>, StoreError>;
    /// Commits a new generation that differs from the current one by
    /// `change`, makes it current, and sets its state, atomically.
    fn apply(&self, change: Change) -> Result<Generation, StoreError>;
    /// Commits a new generation holding exactly `generation.entries`.
    fn commit(&self, generation: NewGeneration) -> Result<Generation, StoreError> {
        ensure_unique_keys(&generation.entries, "generation")?;
        let current = match self.current()? {
            Some(current) => self.entries(current.id, None)?,
            None => Vec::new(),
        };
        let wanted: std::collections::BTreeMap<(&str, &str), &Entry> = generation
            .entries
            .iter()
            .map(|e| ((e.ecosystem.as_str(), e.key.as_str()), e))
            .collect();
        let removals = current
            .iter()
            .filter(|e| !wanted.contains_key(&(e.ecosystem.as_str(), e.key.as_str())))
            .map(|e| (e.ecosystem.clone(), e.key.clone()))
            .collect();
        let existing: std::collections::BTreeMap<(&str, &str), &Entry> = current
            .iter()
            .map(|e| ((e.ecosystem.as_str(), e.key.as_str()), e))
            .collect();
        let upserts = generation
            .entries
            .iter()
            .filter(|e| existing.get(&(e.ecosystem.as_str(), e.key.as_str())) != Some(e))
            .cloned()
            .collect();
        self.apply(Change {
            source: generation.source,
            created_at: generation.created_at,
            upserts,
            removals,
            state: generation.state,
        })
    }
    /// A state value.
    fn state(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// The site's access records of one `kind` (users, tokens), as
    /// (name, value) sorted by name. They are not part of any generation:
    /// an import never changes them.
    fn records(&self, kind: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Writes one access record: `Some` sets it, `None` removes it. With
    /// `create` set, refuses ([`StoreError::RecordExists`]) a name that is
    /// taken. Returns whether anything changed. Every change moves
    /// [`MetaStore::records_version`] on, in the same transaction.
    fn put_record(
        &self,
        kind: &str,
        name: &str,
        value: Option<&str>,
        create: bool,
    ) -> Result<bool, StoreError>;
    /// A number that changes whenever any access record does, so that a
    /// server can keep them in memory and reload only when they changed.
    fn records_version(&self) -> Result<u64, StoreError>;
    /// The audit log's head as last recorded, if any.
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError>;
    /// Records the audit log's head, atomically. Refuses a head with fewer
    /// entries than the recorded one, or another root for as many entries
    /// ([`StoreError::AuditHead`]): a log is only appended to, so either
    /// would hide a reset or a rewrite.
    fn record_audit_head(&self, head: &AuditHead) -> Result<(), StoreError>;
    /// Forgets the recorded head, only if it still is `expected`
    /// ([`StoreError::AuditHead`] otherwise): the one way back after an
    /// audit log was really lost, taken by `airlift audit reset`, which
    /// records the reset as the new log's first event.
    fn clear_audit_head(&self, expected: &AuditHead) -> Result<(), StoreError>;
    /// Every digest that generation `from_generation` or any later one
    /// references: the mark of garbage collection, in one read.
    ///
    /// The provided implementation reads every such generation's entries;
    /// a backend that can answer in one query should.
    fn referenced_digests(
        &self,
        from_generation: u64,
    ) -> Result<std::collections::BTreeSet<Digest>, StoreError> {
        let mut referenced = std::collections::BTreeSet::new();
        for generation in self.generations()? {
            if generation.id >= from_generation {
                referenced.extend(
                    self.entries(generation.id, None)?
                        .into_iter()
                        .map(|e| e.digest),
                );
            }
        }
        Ok(referenced)
    }
    /// Removes every generation older than `oldest_kept`, and the entry
    /// row versions that only those generations could see, atomically;
    /// with `dry_run`, only counts them. Generations from `oldest_kept` on
    /// read exactly as before. `oldest_kept` is lowered to the current
    /// generation if it is newer, so the served generation is never pruned.
    ///
    /// The provided implementation refuses: a backend that keeps old
    /// generations must say how to drop them.
    fn prune_generations(&self, oldest_kept: u64, dry_run: bool) -> Result<Pruned, StoreError> {
        let _ = (oldest_kept, dry_run);
        Err(StoreError::Unsupported("prune generations"))
    }
}
