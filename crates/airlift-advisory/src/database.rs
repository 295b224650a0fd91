//! The OSV database a generation carries, read back for scanning.
//!
//! Each record entry lists the packages its record names (`meta.packages`,
//! `<ecosystem>/<name>`), so a scan parses only the records that can
//! concern what it scans; the rest are never read. A record's blob is read
//! within the size its entry states and [`crate::MAX_RECORD_BYTES`].

use std::io::Read;

use airlift_store::{Entry, Store, StoreError};

use crate::collect::{DATABASE_KEY, ECOSYSTEM};
use crate::{Record, Scanner};

/// Why the carried database could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The store failed.
    #[error("advisory database: {0}")]
    Store(#[from] StoreError),
    /// A record's blob is missing, unreadable or not a record.
    #[error("advisory record {key} (blob {digest}): {reason}")]
    Record {
        /// The entry's key.
        key: String,
        /// Its blob.
        digest: String,
        /// Why.
        reason: String,
    },
}

/// The advisory database of a generation.
#[derive(Debug, Default)]
pub struct Carried {
    /// When it was built: the newest `modified` of its records.
    pub built: Option<jiff::Timestamp>,
    /// Its record entries, their `meta` dropped (a database of 200,000
    /// records would otherwise hold 200,000 JSON objects in memory).
    pub records: Vec<Entry>,
    /// The packages each record names (`<ecosystem>/<name>`), in the
    /// order of `records`; `None` when its entry did not say (every record
    /// is then read).
    packages: Vec<Option<Box<[Box<str>]>>>,
}

impl Carried {
    /// The database among a generation's entries; `None` when it carries
    /// none.
    pub fn of(entries: impl IntoIterator<Item = Entry>) -> Option<Self> {
        let mut carried: Option<Carried> = None;
        for entry in entries {
            if entry.ecosystem != ECOSYSTEM {
                continue;
            }
            carried.get_or_insert_with(Carried::default).push(entry);
        }
        carried
    }

    /// The database of the store's current generation.
    pub fn current(store: &Store) -> Result<Option<Self>, StoreError> {
        let Some(generation) = store.meta.current()? else {
            return Ok(None);
        };
        Self::in_generation(store, generation.id)
    }

    /// The database of generation `id`, read one entry at a time (each
    /// record's entry is kept without its JSON `meta`).
    pub fn in_generation(store: &Store, id: u64) -> Result<Option<Self>, StoreError> {
        let mut carried: Option<Carried> = None;
        store
            .meta
            .for_each_entry(id, Some(ECOSYSTEM), &mut |entry| {
                carried.get_or_insert_with(Carried::default).push(entry);
                Ok(())
            })?;
        Ok(carried)
    }

    /// Adds one entry of the ecosystem.
    fn push(&mut self, mut entry: Entry) {
        if entry.key == DATABASE_KEY {
            self.built = entry
                .meta
                .get("built")
                .and_then(|b| b.as_str())
                .and_then(|b| b.parse().ok());
            return;
        }
        let names = entry
            .meta
            .get("packages")
            .and_then(|p| p.as_array())
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str())
                    .map(Box::from)
                    .collect::<Box<[Box<str>]>>()
            });
        entry.meta = serde_json::Value::Null;
        self.packages.push(names);
        self.records.push(entry);
    }

    /// Its age at `now`, in whole seconds (none when its build time is
    /// unknown).
    pub fn age(&self, now: jiff::Timestamp) -> Option<i64> {
        self.built.map(|built| (now - built).get_seconds().max(0))
    }

    /// Offers `scanner` every record that names a package it wants;
    /// returns how many records were read.
    pub fn feed(&self, store: &Store, scanner: &mut Scanner) -> Result<usize, DatabaseError> {
        let mut bytes = Vec::new();
        self.feed_with(
            &mut |entry: &Entry| read_record(store, entry, &mut bytes),
            scanner,
        )
    }

    /// [`Carried::feed`] with the records read by `read` (a bundle's
    /// verified copies before it is imported, say).
    pub fn feed_with(
        &self,
        read_entry: &mut dyn FnMut(&Entry) -> Result<Record, DatabaseError>,
        scanner: &mut Scanner,
    ) -> Result<usize, DatabaseError> {
        let mut read = 0;
        for (entry, names) in self.records.iter().zip(&self.packages) {
            let wanted = names.as_ref().is_none_or(|names| {
                names.iter().any(|name| {
                    name.split_once('/')
                        .is_some_and(|(ecosystem, name)| scanner.wants(ecosystem, name))
                })
            });
            if !wanted {
                continue;
            }
            let record = read_entry(entry)?;
            scanner.add(&record);
            read += 1;
        }
        Ok(read)
    }
}

/// Parses one record entry's bytes, read elsewhere, checking their length
/// against the entry's.
pub fn parse_record(entry: &Entry, bytes: &[u8]) -> Result<Record, DatabaseError> {
    let failed = |reason: String| DatabaseError::Record {
        key: entry.key.clone(),
        digest: entry.digest.to_string(),
        reason,
    };
    if bytes.len() as u64 != entry.size {
        return Err(failed(format!(
            "{} bytes where the index says {}",
            bytes.len(),
            entry.size
        )));
    }
    crate::parse(bytes).map_err(|e| failed(e.to_string()))
}

/// Reads and parses one record entry's blob.
pub fn read_record(
    store: &Store,
    entry: &Entry,
    bytes: &mut Vec<u8>,
) -> Result<Record, DatabaseError> {
    let failed = |reason: String| DatabaseError::Record {
        key: entry.key.clone(),
        digest: entry.digest.to_string(),
        reason,
    };
    if entry.size > crate::MAX_RECORD_BYTES as u64 {
        return Err(failed(format!(
            "{} bytes, over the {} a record may have",
            entry.size,
            crate::MAX_RECORD_BYTES
        )));
    }
    bytes.clear();
    store
        .blobs
        .open(&entry.digest)
        .map_err(|e| failed(e.to_string()))?
        .take(entry.size + 1)
        .read_to_end(bytes)
        .map_err(|e| failed(e.to_string()))?;
    if bytes.len() as u64 != entry.size {
        return Err(failed(format!(
            "{} bytes where the index says {}",
            bytes.len(),
            entry.size
        )));
    }
    crate::parse(bytes).map_err(|e| failed(e.to_string()))
}
