//! The CLI's operations (`collect`, `pack`, `import`) as `/metrics`
//! reports them.
//!
//! They run in other processes than `airlift serve`, so each records what
//! happened, as it happens, in the index's access records (kind
//! [`RECORD_KIND`], one record per operation, outside every generation:
//! writing one never makes a generation, and an import never changes
//! them), and the server reads those records at each scrape. Nothing is
//! found by reading logs.
//!
//! A record counts the runs that succeeded, the duration and end of the
//! last of them, and, for `import`, the imports refused, by
//! [`REFUSAL_REASONS`]. A count is read, incremented and written back: the
//! index has no atomic increment, so two processes that finish at the same
//! instant may lose one of their counts (imports hold the home's lock
//! while they run, so this takes two refusals within milliseconds).

use std::collections::BTreeMap;

use airlift_store::{MetaStore, StoreError};
use serde::{Deserialize, Serialize};

/// The kind of the access records that hold the counts, one per
/// operation, named by it.
pub const RECORD_KIND: &str = "operations";

/// The operations recorded.
pub const OPERATIONS: [&str; 3] = ["collect", "pack", "import"];

/// Why an import was refused, as `airlift_import_refusals_total` labels
/// it: a fixed set, whatever the refusal's message.
///
/// - `signature`: the metadata is not signed by the trusted keys, or a
///   threshold is not met;
/// - `expired`: the bundle's metadata expired, or expired before a time the
///   site has already seen;
/// - `rollback`: a version or sequence number not newer than the last
///   imported (rollback, replay), a gap or a fork in the sequence;
/// - `tampered`: content that does not match what was signed (a target's
///   digest or length, a missing target, a damaged archive or part, a bad
///   entry or index document);
/// - `custody`: the chain of custody does not satisfy the site's policy,
///   or the bundle was packed for another destination;
/// - `approval`: approvals the policy requires are missing;
/// - `admission`: the site's import policy refuses advisories' findings;
/// - `policy`: the bundle removes more than the removal policy allows, or
///   brings names the site hosts;
/// - `other`: any other refusal of the bundle.
///
/// An import that fails for reasons not the bundle's (the home is busy, a
/// disk error, no trusted root) is not a refusal and is not counted.
pub const REFUSAL_REASONS: [&str; 9] = [
    "signature",
    "expired",
    "rollback",
    "tampered",
    "custody",
    "approval",
    "admission",
    "policy",
    "other",
];

/// One operation's record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationRecord {
    /// Runs that succeeded (for `import`: imports that committed a
    /// generation).
    #[serde(default)]
    pub runs: u64,
    /// How long the last successful run took, in seconds.
    #[serde(default)]
    pub last_duration_seconds: f64,
    /// When it ended (Unix seconds; 0 before any).
    #[serde(default)]
    pub last_finished_at: i64,
    /// Imports refused, by reason (one of [`REFUSAL_REASONS`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refusals: BTreeMap<String, u64>,
}

/// Every operation's record, by operation; a record that does not parse
/// is left out (and logged) rather than failing a scrape.
pub fn read(meta: &dyn MetaStore) -> Result<BTreeMap<String, OperationRecord>, StoreError> {
    let mut out = BTreeMap::new();
    for (name, value) in meta.records(RECORD_KIND)? {
        match serde_json::from_str::<OperationRecord>(&value) {
            Ok(record) => {
                out.insert(name, record);
            }
            Err(e) => tracing::warn!("operation record {RECORD_KIND}/{name} is malformed: {e}"),
        }
    }
    Ok(out)
}

fn update(
    meta: &dyn MetaStore,
    operation: &str,
    change: impl FnOnce(&mut OperationRecord),
) -> Result<(), StoreError> {
    let mut record = read(meta)?.remove(operation).unwrap_or_default();
    change(&mut record);
    let text = serde_json::to_string(&record)
        .map_err(|e| StoreError::Corrupt(format!("operation record {operation}: {e}")))?;
    meta.put_record(RECORD_KIND, operation, Some(&text), false)?;
    Ok(())
}

/// Records a successful run of `operation` that took `seconds` and ended
/// at `finished_at` (Unix seconds).
pub fn record_run(
    meta: &dyn MetaStore,
    operation: &str,
    seconds: f64,
    finished_at: i64,
) -> Result<(), StoreError> {
    update(meta, operation, |record| {
        record.runs = record.runs.saturating_add(1);
        record.last_duration_seconds = seconds.max(0.0);
        record.last_finished_at = finished_at;
    })
}

/// Records an import refused for `reason` (one of [`REFUSAL_REASONS`];
/// anything else counts as `other`).
pub fn record_refusal(meta: &dyn MetaStore, reason: &str) -> Result<(), StoreError> {
    let reason = if REFUSAL_REASONS.contains(&reason) {
        reason
    } else {
        "other"
    };
    update(meta, "import", |record| {
        let count = record.refusals.entry(reason.to_owned()).or_default();
        *count = count.saturating_add(1);
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use airlift_store::SqliteMetaStore;

    use super::*;

    #[test]
    fn runs_and_refusals_accumulate_outside_every_generation() {
        let meta = SqliteMetaStore::in_memory().unwrap();
        assert!(read(&meta).unwrap().is_empty());
        record_run(&meta, "import", 1.5, 100).unwrap();
        record_run(&meta, "import", 2.5, 200).unwrap();
        record_refusal(&meta, "tampered").unwrap();
        record_refusal(&meta, "tampered").unwrap();
        record_refusal(&meta, "made-up").unwrap();
        record_run(&meta, "pack", 0.25, 300).unwrap();
        let records = read(&meta).unwrap();
        let import = &records["import"];
        assert_eq!(import.runs, 2);
        assert_eq!(import.last_duration_seconds, 2.5);
        assert_eq!(import.last_finished_at, 200);
        assert_eq!(import.refusals["tampered"], 2);
        assert_eq!(import.refusals["other"], 1);
        assert_eq!(records["pack"].runs, 1);
        assert!(!records.contains_key("collect"));
        // No generation was made.
        assert!(meta.current().unwrap().is_none());
        // A damaged record is left out, not an error.
        meta.put_record(RECORD_KIND, "collect", Some("{"), false)
            .unwrap();
        assert!(!read(&meta).unwrap().contains_key("collect"));
    }
}
