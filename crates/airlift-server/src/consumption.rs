//! Consumption: which names clients asked for that the site does not
//! carry, and which names they fetched.
//!
//! The guard counts, after each response, on the contract alone: a GET or
//! HEAD that reads one name ([`Scope::Name`](airlift_ecosystem::Scope)) and
//! was answered 404 is a request for a missing name; a 2xx answer to such a
//! read is a fetch of that name. Counts wait in memory ([`Consumption`]),
//! bounded in distinct names (a client that asks for a million made-up names
//! moves an overflow count, not memory), and are merged into the index's
//! access records (kind [`RECORD_KIND`], one record per ecosystem, outside
//! every generation so imports never touch them) by [`Consumption::flush`],
//! which the server calls every [`FLUSH_EVERY`] and at shutdown. Counts
//! therefore survive restarts; [`read`] returns them for `airlift receipt
//! export`. Whether a wanted name is carried after all (a file of a carried
//! project that 404'd) is for the reader to decide against a generation:
//! this module knows no ecosystem and no generation.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use airlift_store::{MetaStore, StoreError};
use serde::{Deserialize, Serialize};

/// The kind of the access records that hold the counts (one per
/// ecosystem, named by it).
pub const RECORD_KIND: &str = "consumption";

/// How often the server merges its counts into the records.
pub const FLUSH_EVERY: Duration = Duration::from_secs(60);

/// The longest name counted, in bytes; longer ones are counted only as
/// overflow (no real package name is this long).
pub const MAX_NAME_BYTES: usize = 256;

/// Distinct missing names kept, in memory between flushes (over every
/// ecosystem) and in each ecosystem's record; the rest only add to
/// `wanted_overflow`.
pub const MAX_WANTED: usize = 10_000;

/// Distinct fetched names kept, likewise. Higher than [`MAX_WANTED`]: only
/// names that exist can be fetched, and a large site carries many.
pub const MAX_FETCHED: usize = 100_000;

/// A stored record larger than this is not read (it cannot be one this
/// module wrote: the caps keep records far smaller).
const MAX_RECORD_BYTES: usize = 64 << 20;

/// A consumption record that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConsumptionError {
    /// The index failed.
    #[error("consumption records: {0}")]
    Store(#[from] StoreError),
    /// A record is not what this module writes.
    #[error("consumption record {kind}/{name}: {message}")]
    Damaged {
        /// The record's kind ([`RECORD_KIND`]).
        kind: &'static str,
        /// Its name (the ecosystem).
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// How often one name was asked for, and when last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// Requests (or fetches).
    pub requests: u64,
    /// Unix time of the last one.
    pub last_seen: i64,
}

impl Count {
    fn add(&mut self, other: Count) {
        self.requests = self.requests.saturating_add(other.requests);
        self.last_seen = self.last_seen.max(other.last_seen);
    }
}

/// One ecosystem's counts, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Unix time the counts began (the first flush that wrote them).
    pub since: i64,
    /// Requests answered 404, by name.
    #[serde(default)]
    pub wanted: BTreeMap<String, Count>,
    /// Reads answered 2xx, by name.
    #[serde(default)]
    pub fetched: BTreeMap<String, Count>,
    /// Requests for missing names beyond the caps (or too long to keep).
    #[serde(default)]
    pub wanted_overflow: u64,
    /// Fetches beyond the caps.
    #[serde(default)]
    pub fetched_overflow: u64,
}

impl Record {
    /// Adds `other`'s counts, then keeps at most the caps.
    fn merge(&mut self, other: Record) {
        if self.since == 0 || (other.since != 0 && other.since < self.since) {
            self.since = other.since;
        }
        for (name, count) in other.wanted {
            self.wanted.entry(name).or_default().add(count);
        }
        for (name, count) in other.fetched {
            self.fetched.entry(name).or_default().add(count);
        }
        self.wanted_overflow = self.wanted_overflow.saturating_add(other.wanted_overflow);
        self.fetched_overflow = self.fetched_overflow.saturating_add(other.fetched_overflow);
        self.wanted_overflow = self
            .wanted_overflow
            .saturating_add(cap(&mut self.wanted, MAX_WANTED));
        self.fetched_overflow = self
            .fetched_overflow
            .saturating_add(cap(&mut self.fetched, MAX_FETCHED));
    }
}

/// Keeps the `limit` names asked for most (then most recently, then by
/// name); returns the requests of the names dropped.
fn cap(counts: &mut BTreeMap<String, Count>, limit: usize) -> u64 {
    if counts.len() <= limit {
        return 0;
    }
    let mut ranked: Vec<(String, Count)> = std::mem::take(counts).into_iter().collect();
    ranked.sort_by(|(a_name, a), (b_name, b)| {
        b.requests
            .cmp(&a.requests)
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a_name.cmp(b_name))
    });
    let dropped = ranked
        .split_off(limit)
        .iter()
        .fold(0u64, |sum, (_, count)| sum.saturating_add(count.requests));
    *counts = ranked.into_iter().collect();
    dropped
}

/// Whether `name` is kept by name: not empty, at most [`MAX_NAME_BYTES`],
/// and without control characters (it is printed on terminals later).
pub fn countable(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME_BYTES && !name.chars().any(char::is_control)
}

/// Counts not yet flushed.
#[derive(Default)]
struct Pending {
    by_ecosystem: BTreeMap<String, Delta>,
    wanted_names: usize,
    fetched_names: usize,
}

#[derive(Default)]
struct Delta {
    since: i64,
    wanted: HashMap<String, Count>,
    fetched: HashMap<String, Count>,
    wanted_overflow: u64,
    fetched_overflow: u64,
}

/// The server's counts between flushes. See the module documentation.
#[derive(Default)]
pub struct Consumption {
    pending: Mutex<Pending>,
}

/// Which count a response moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// A read of a name answered 404.
    Missing,
    /// A read of a name answered 2xx.
    Fetched,
}

impl Consumption {
    /// No counts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one read of `name` in `ecosystem` at `now` (Unix seconds).
    /// A name that is not [`countable`], or that would pass the caps, adds
    /// to the overflow only.
    pub fn record(&self, seen: Seen, ecosystem: &str, name: &str, now: i64) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let pending = &mut *pending;
        // Ecosystems are the registered few, so this map stays small.
        if !pending.by_ecosystem.contains_key(ecosystem) {
            pending.by_ecosystem.insert(
                ecosystem.to_owned(),
                Delta {
                    since: now,
                    ..Delta::default()
                },
            );
        }
        let Some(delta) = pending.by_ecosystem.get_mut(ecosystem) else {
            return;
        };
        let (counts, overflow, names, limit) = match seen {
            Seen::Missing => (
                &mut delta.wanted,
                &mut delta.wanted_overflow,
                &mut pending.wanted_names,
                MAX_WANTED,
            ),
            Seen::Fetched => (
                &mut delta.fetched,
                &mut delta.fetched_overflow,
                &mut pending.fetched_names,
                MAX_FETCHED,
            ),
        };
        let one = Count {
            requests: 1,
            last_seen: now,
        };
        if let Some(count) = counts.get_mut(name) {
            count.add(one);
        } else if countable(name) && *names < limit {
            counts.insert(name.to_owned(), one);
            *names += 1;
        } else {
            *overflow = overflow.saturating_add(1);
        }
    }

    /// Distinct names waiting to be flushed, missing and fetched (for
    /// tests and logs).
    pub fn pending_names(&self) -> usize {
        self.pending
            .lock()
            .map_or(0, |p| p.wanted_names + p.fetched_names)
    }

    /// Merges the counts since the last flush into each ecosystem's record
    /// in `meta` and forgets them. Counts that could not be written are
    /// kept for the next flush (within the caps). A stored record that
    /// cannot be read is replaced, with a warning: these are counts, and
    /// one damaged record must not stop counting for good.
    pub fn flush(&self, meta: &dyn MetaStore) -> Result<(), ConsumptionError> {
        let taken = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(()),
        };
        if taken.by_ecosystem.is_empty() {
            return Ok(());
        }
        let stored = match meta.records(RECORD_KIND) {
            Ok(stored) => stored,
            Err(e) => {
                for (ecosystem, delta) in taken.by_ecosystem {
                    self.restore(&ecosystem, delta);
                }
                return Err(e.into());
            }
        };
        let mut failure = None;
        for (ecosystem, delta) in taken.by_ecosystem {
            let mut record = match stored.iter().find(|(name, _)| *name == ecosystem) {
                Some((name, value)) => parse(name, value).unwrap_or_else(|e| {
                    tracing::warn!("{e}; starting it again");
                    Record::default()
                }),
                None => Record::default(),
            };
            record.merge(Record {
                since: delta.since,
                wanted: delta.wanted.clone().into_iter().collect(),
                fetched: delta.fetched.clone().into_iter().collect(),
                wanted_overflow: delta.wanted_overflow,
                fetched_overflow: delta.fetched_overflow,
            });
            let written = serde_json::to_string(&record)
                .map_err(|e| ConsumptionError::Damaged {
                    kind: RECORD_KIND,
                    name: ecosystem.clone(),
                    message: e.to_string(),
                })
                .and_then(|text| {
                    meta.put_record(RECORD_KIND, &ecosystem, Some(&text), false)
                        .map_err(ConsumptionError::from)
                });
            if let Err(e) = written {
                self.restore(&ecosystem, delta);
                failure.get_or_insert(e);
            }
        }
        failure.map_or(Ok(()), Err)
    }

    /// Puts back counts a flush could not write, within the caps.
    fn restore(&self, ecosystem: &str, delta: Delta) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let pending = &mut *pending;
        let kept = pending
            .by_ecosystem
            .entry(ecosystem.to_owned())
            .or_default();
        if kept.since == 0 || (delta.since != 0 && delta.since < kept.since) {
            kept.since = delta.since;
        }
        for (counts, into, overflow, names, limit) in [
            (
                delta.wanted,
                &mut kept.wanted,
                &mut kept.wanted_overflow,
                &mut pending.wanted_names,
                MAX_WANTED,
            ),
            (
                delta.fetched,
                &mut kept.fetched,
                &mut kept.fetched_overflow,
                &mut pending.fetched_names,
                MAX_FETCHED,
            ),
        ] {
            for (name, count) in counts {
                if let Some(existing) = into.get_mut(&name) {
                    existing.add(count);
                } else if *names < limit {
                    into.insert(name, count);
                    *names += 1;
                } else {
                    *overflow = overflow.saturating_add(count.requests);
                }
            }
        }
        kept.wanted_overflow = kept.wanted_overflow.saturating_add(delta.wanted_overflow);
        kept.fetched_overflow = kept.fetched_overflow.saturating_add(delta.fetched_overflow);
    }
}

/// One stored record, held to the bounds this module writes within.
fn parse(name: &str, value: &str) -> Result<Record, ConsumptionError> {
    let damaged = |message: String| ConsumptionError::Damaged {
        kind: RECORD_KIND,
        name: name.to_owned(),
        message,
    };
    if value.len() > MAX_RECORD_BYTES {
        return Err(damaged(format!(
            "{} bytes, more than {MAX_RECORD_BYTES}",
            value.len()
        )));
    }
    let mut record: Record = serde_json::from_str(value).map_err(|e| damaged(e.to_string()))?;
    record.wanted.retain(|name, _| countable(name));
    record.fetched.retain(|name, _| countable(name));
    record.merge(Record::default());
    Ok(record)
}

/// Every ecosystem's stored counts, by ecosystem, and the records that are
/// not what [`Consumption::flush`] writes, each as an error naming it (the
/// server starts those again at its next flush). Only a failing index is
/// an error: damaged counts must not stop what reads them (a receipt).
pub fn read(
    meta: &dyn MetaStore,
) -> Result<(BTreeMap<String, Record>, Vec<ConsumptionError>), ConsumptionError> {
    let mut records = BTreeMap::new();
    let mut damaged = Vec::new();
    for (name, value) in meta.records(RECORD_KIND)? {
        match parse(&name, &value) {
            Ok(record) => {
                records.insert(name, record);
            }
            Err(e) => damaged.push(e),
        }
    }
    Ok((records, damaged))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use airlift_store::SqliteMetaStore;

    use super::*;

    #[test]
    fn counts_merge_into_the_stored_record_across_flushes() {
        let meta = SqliteMetaStore::in_memory().unwrap();
        let counts = Consumption::new();
        counts.record(Seen::Missing, "pypi", "nothere", 100);
        counts.record(Seen::Missing, "pypi", "nothere", 105);
        counts.record(Seen::Fetched, "pypi", "flask", 106);
        counts.flush(&meta).unwrap();
        assert_eq!(counts.pending_names(), 0);
        // A second server life: its counts add to the stored ones.
        let counts = Consumption::new();
        counts.record(Seen::Missing, "pypi", "nothere", 200);
        counts.record(Seen::Missing, "npm", "left-pad", 201);
        counts.flush(&meta).unwrap();
        let (records, _) = read(&meta).unwrap();
        let pypi = &records["pypi"];
        assert_eq!(pypi.since, 100);
        assert_eq!(
            pypi.wanted["nothere"],
            Count {
                requests: 3,
                last_seen: 200
            }
        );
        assert_eq!(pypi.fetched["flask"].requests, 1);
        assert_eq!(records["npm"].wanted["left-pad"].requests, 1);
        // Nothing pending: a flush writes nothing.
        let version = meta.records_version().unwrap();
        Consumption::new().flush(&meta).unwrap();
        assert_eq!(meta.records_version().unwrap(), version);
    }

    #[test]
    fn a_flood_of_made_up_names_stays_bounded_in_memory_and_in_the_record() {
        let meta = SqliteMetaStore::in_memory().unwrap();
        let counts = Consumption::new();
        // A real name asked for often, before and after the flood.
        for _ in 0..5 {
            counts.record(Seen::Missing, "pypi", "wanted-for-real", 1);
        }
        for round in 0..2 {
            for i in 0..100_000 {
                counts.record(Seen::Missing, "pypi", &format!("junk-{round}-{i}"), 2);
            }
            counts.record(Seen::Missing, "pypi", "wanted-for-real", 3);
            assert!(counts.pending_names() <= MAX_WANTED);
            counts.flush(&meta).unwrap();
        }
        // Names too long or with control characters are never kept.
        counts.record(Seen::Missing, "pypi", &"x".repeat(MAX_NAME_BYTES + 1), 4);
        counts.record(Seen::Missing, "pypi", "evil\n[pypi]", 4);
        assert_eq!(counts.pending_names(), 0);
        counts.flush(&meta).unwrap();
        let (records, _) = read(&meta).unwrap();
        let pypi = &records["pypi"];
        assert_eq!(pypi.wanted.len(), MAX_WANTED);
        assert_eq!(pypi.wanted["wanted-for-real"].requests, 6);
        let total: u64 = pypi.wanted.values().map(|c| c.requests).sum();
        // 7 real requests (the last during the second flood, past the cap),
        // 200,000 made up, 2 never kept by name.
        assert_eq!(total + pypi.wanted_overflow, 7 + 200_000 + 2);
        let (_, text) = meta
            .records(RECORD_KIND)
            .unwrap()
            .into_iter()
            .find(|(name, _)| name == "pypi")
            .unwrap();
        assert!(text.len() < 1 << 20, "{} bytes", text.len());
    }

    #[test]
    fn a_damaged_record_is_named_and_counting_starts_it_again() {
        let meta = SqliteMetaStore::in_memory().unwrap();
        meta.put_record(RECORD_KIND, "npm", Some("[1, 2"), false)
            .unwrap();
        let (records, damaged) = read(&meta).unwrap();
        assert!(records.is_empty());
        let error = damaged[0].to_string();
        assert!(error.contains("consumption/npm"), "{error}");
        // The server does not stop counting for it: a flush starts it again.
        let counts = Consumption::new();
        counts.record(Seen::Missing, "npm", "left-pad", 7);
        counts.flush(&meta).unwrap();
        assert_eq!(read(&meta).unwrap().0["npm"].wanted["left-pad"].requests, 1);
    }
}
