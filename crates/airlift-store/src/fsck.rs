//! Store consistency check: every blob re-hashed, every index reference resolved.

use std::io;

use airlift_core::{Digest, HashingReader};
use serde::Serialize;

use crate::{Store, StoreError};

/// What `fsck` found.
#[derive(Debug, Default, Serialize)]
pub struct FsckReport {
    /// Blobs re-hashed.
    pub blobs_checked: u64,
    /// Bytes re-hashed.
    pub bytes_checked: u64,
    /// Entries of the current generation checked.
    pub entries_checked: u64,
    /// Blobs whose content does not match their name.
    pub corrupt_blobs: Vec<Digest>,
    /// Index entries (ecosystem/key) whose blob is missing or of the wrong size.
    pub broken_entries: Vec<String>,
    /// Blobs no generation references (not an error: garbage collection removes them).
    pub unreferenced_blobs: u64,
}

impl FsckReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.corrupt_blobs.is_empty() && self.broken_entries.is_empty()
    }
}

/// Re-hashes every blob and checks every entry of the current generation
/// (older generations only count towards which blobs are referenced).
pub fn fsck(store: &Store) -> Result<FsckReport, StoreError> {
    let mut report = FsckReport::default();
    let blobs = store.blobs.list()?;
    for digest in &blobs {
        let reader = store.blobs.open(digest)?;
        let mut hashing = HashingReader::new(reader);
        io::copy(&mut hashing, &mut io::sink()).map_err(|source| StoreError::Io {
            action: "read blob",
            path: store
                .blobs
                .local_path(digest)
                .unwrap_or_else(|| digest.to_string().into()),
            source,
        })?;
        let (actual, length) = hashing.finish();
        report.blobs_checked += 1;
        report.bytes_checked += length;
        if actual != *digest {
            report.corrupt_blobs.push(*digest);
        }
    }
    let mut referenced = std::collections::BTreeSet::new();
    let current_id = store.meta.current()?.map(|g| g.id);
    for generation in store.meta.generations()? {
        let current = current_id == Some(generation.id);
        for entry in store.meta.entries(generation.id, None)? {
            referenced.insert(entry.digest);
            if !current {
                continue;
            }
            report.entries_checked += 1;
            match store.blobs.size(&entry.digest)? {
                Some(size) if size == entry.size => {}
                Some(size) => report.broken_entries.push(format!(
                    "{}/{}: blob {} has {size} bytes, index says {}",
                    entry.ecosystem, entry.key, entry.digest, entry.size
                )),
                None => report.broken_entries.push(format!(
                    "{}/{}: blob {} is missing",
                    entry.ecosystem, entry.key, entry.digest
                )),
            }
        }
    }
    report.unreferenced_blobs = blobs.iter().filter(|d| !referenced.contains(d)).count() as u64;
    Ok(report)
}
