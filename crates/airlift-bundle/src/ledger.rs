//! The typed records around packing for a destination: the signed pack
//! statement a bundle carries (`custody/pack.json`), the connected side's
//! per-destination ledger (`<home>/ledger/<destination>.json`), the
//! isolated side's signed receipt (`airlift receipt export`) and the record
//! of the last pack (`<home>/ledger/.last-pack.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use airlift_core::Digest;
use serde::{Deserialize, Serialize};

/// A ledger, receipt or statement that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file cannot be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not what it should be.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The signed statement of a bundle packed for a destination: which site,
/// which number in its sequence, which bundle it follows, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackStatement {
    /// The site it is for (`init --site` there).
    pub destination: String,
    /// Its number in the destination's sequence, from 1.
    pub sequence: u64,
    /// The bundle id of the one it follows; `None` for the first.
    pub previous: Option<String>,
    /// When it was packed (RFC 3339).
    pub created: String,
}

impl PackStatement {
    /// Reads a statement from the bytes a bundle carries; the message says
    /// what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let statement: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if statement.sequence == 0 {
            return Err("no sequence number".into());
        }
        if statement.destination.is_empty() {
            return Err("no destination".into());
        }
        Ok(statement)
    }

    /// When it was packed, if that parses.
    pub fn created_at(&self) -> Option<jiff::Timestamp> {
        self.created.parse().ok()
    }
}

/// What the connected side packed for one destination: everything the
/// destination will hold once it imports the last bundle (which a delta
/// leaves out), and which bundle had which sequence number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// The destination.
    #[serde(default)]
    pub destination: Option<String>,
    /// When it was last written (RFC 3339).
    #[serde(default)]
    pub updated: Option<String>,
    /// The id of the last bundle packed for it.
    #[serde(default)]
    pub last_bundle: Option<String>,
    /// The version of that bundle.
    #[serde(default)]
    pub version: Option<u64>,
    /// Its sequence number.
    #[serde(default)]
    pub sequence: Option<u64>,
    /// Which bundle (by id) had which sequence number.
    #[serde(default)]
    pub bundles: BTreeMap<u64, String>,
    /// The blobs (SHA-256, hex) the destination holds once it imports it.
    pub blobs: Vec<String>,
}

impl Ledger {
    /// Reads a ledger; `None` when there is none yet.
    pub fn read(path: &Path) -> Result<Option<Self>, LedgerError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LedgerError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LedgerError::Malformed {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
    }

    /// Writes the ledger durably, creating its directory.
    pub fn write(&self, path: &Path) -> Result<(), LedgerError> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| LedgerError::Io {
                action,
                path,
                source,
            }
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        let bytes = serde_json::to_vec(self).map_err(|e| LedgerError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        airlift_core::write_file_durably(path, &bytes).map_err(io("write", path))
    }

    /// The blobs as digests.
    pub fn digests(&self, path: &Path) -> Result<BTreeSet<Digest>, LedgerError> {
        digests(&self.blobs, path)
    }

    /// The sequence number and the bundle followed of the next pack: the
    /// next number, or (`repack`) the given one, which follows the bundle
    /// that was one before it.
    pub fn next(&self, repack: Option<u64>) -> Result<(u64, Option<String>), SequenceError> {
        let last = self.sequence.unwrap_or(0);
        match repack {
            None => Ok((last + 1, self.last_bundle.clone())),
            Some(n) if n > last + 1 => Err(SequenceError::Beyond { last }),
            Some(0 | 1) => Ok((1, None)),
            Some(n) => match self.bundles.get(&(n - 1)) {
                Some(follows) => Ok((n, Some(follows.clone()))),
                None => Err(SequenceError::Unrecorded { before: n - 1 }),
            },
        }
    }

    /// Records a bundle packed as number `sequence` (numbers after it are
    /// forgotten: a re-pack of N starts the sequence again from there).
    pub fn record(&mut self, sequence: Option<u64>, bundle_id: &str) {
        if let Some(n) = sequence {
            self.bundles.retain(|k, _| *k < n);
            self.bundles.insert(n, bundle_id.to_owned());
        }
    }
}

/// A sequence number that cannot be packed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// Beyond the next number.
    #[error("the ledger is at {last}; only numbers up to {} can be packed", last + 1)]
    Beyond {
        /// The last number packed.
        last: u64,
    },
    /// The bundle it would follow is not recorded.
    #[error("the ledger does not record which bundle was number {before}")]
    Unrecorded {
        /// The number before it.
        before: u64,
    },
}

/// The format name of a receipt's payload.
pub const RECEIPT_FORMAT: &str = "airlift-receipt/1";

/// What the isolated side holds, signed by its audit key (`airlift receipt
/// export`): the connected side packs a delta against it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// [`RECEIPT_FORMAT`].
    pub format: String,
    /// When it was made (RFC 3339).
    pub created: String,
    /// The last bundle the site imported.
    #[serde(default)]
    pub last_bundle: Option<String>,
    /// That bundle's version (as the site records it).
    #[serde(default)]
    pub last_bundle_version: Option<String>,
    /// Every blob the site holds (SHA-256, hex).
    pub blobs: Vec<String>,
    /// Names the site's clients asked for and it does not carry, most
    /// asked for first (at most [`RECEIPT_WANTED_MAX`] when exported):
    /// what `airlift wanted` turns into `airlift.toml` lines. Absent in
    /// receipts made before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wanted: Vec<WantedName>,
    /// Names the site carries that no client fetched since
    /// [`Receipt::counted_since`] (at most [`RECEIPT_WANTED_MAX`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unused: Vec<UnusedName>,
    /// When the site began counting requests (RFC 3339), if it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_since: Option<String>,
}

/// The most wanted (and unused) names `airlift receipt export` writes.
pub const RECEIPT_WANTED_MAX: usize = 1000;

/// The most wanted (or unused) names a receipt may list to be read: more
/// than any export writes, fewer than would cost memory to hold.
pub const RECEIPT_WANTED_READ_MAX: usize = 10_000;

/// The longest ecosystem or name a receipt's lists may hold, in bytes.
const RECEIPT_NAME_MAX: usize = 256;

/// A name the site's clients asked for and it does not carry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WantedName {
    /// The ecosystem (`pypi`).
    pub ecosystem: String,
    /// The name as the ecosystem names requests (`requests`, `team/app`).
    pub name: String,
    /// How many requests were answered 404.
    pub requests: u64,
    /// When the last one was (RFC 3339).
    pub last_seen: String,
}

/// A name the site carries that no client fetched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusedName {
    /// The ecosystem.
    pub ecosystem: String,
    /// The name.
    pub name: String,
}

impl Receipt {
    /// Reads a receipt's (already verified) payload.
    pub fn from_payload(payload: serde_json::Value, path: &Path) -> Result<Self, LedgerError> {
        let malformed = |message: String| LedgerError::Malformed {
            path: path.to_path_buf(),
            message,
        };
        if payload.get("format").and_then(|f| f.as_str()) != Some(RECEIPT_FORMAT) {
            return Err(malformed(format!(
                "not an airlift receipt (format {RECEIPT_FORMAT})"
            )));
        }
        // The lists are bounded before anything is held: a receipt is
        // read on the connected side, from a medium that crossed the gap.
        for list in ["wanted", "unused"] {
            let count = payload
                .get(list)
                .and_then(serde_json::Value::as_array)
                .map_or(0, Vec::len);
            if count > RECEIPT_WANTED_READ_MAX {
                return Err(malformed(format!(
                    "{list} lists {count} names, more than {RECEIPT_WANTED_READ_MAX}"
                )));
            }
        }
        let receipt: Self =
            serde_json::from_value(payload).map_err(|e| malformed(e.to_string()))?;
        let names = receipt
            .wanted
            .iter()
            .map(|w| (&w.ecosystem, &w.name))
            .chain(receipt.unused.iter().map(|u| (&u.ecosystem, &u.name)));
        for (ecosystem, name) in names {
            let plain = |text: &str| {
                !text.is_empty()
                    && text.len() <= RECEIPT_NAME_MAX
                    && !text.chars().any(char::is_control)
            };
            if !plain(ecosystem) || !plain(name) {
                return Err(malformed(format!(
                    "wanted or unused name {:?} of {:?}: empty, longer than {RECEIPT_NAME_MAX} bytes or with control characters",
                    name.chars().take(64).collect::<String>(),
                    ecosystem.chars().take(64).collect::<String>()
                )));
            }
        }
        Ok(receipt)
    }

    /// The blobs as digests.
    pub fn digests(&self, path: &Path) -> Result<BTreeSet<Digest>, LedgerError> {
        digests(&self.blobs, path)
    }
}

/// The version, generation and clock of the last bundle this home packed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastPack {
    /// Its version.
    #[serde(default)]
    pub version: u64,
    /// The generation it was packed from.
    #[serde(default)]
    pub generation: Option<u64>,
    /// The pack time, in seconds.
    #[serde(default)]
    pub clock: Option<u64>,
}

impl LastPack {
    /// Reads the record; `None` when there is none or it cannot be read
    /// (it only raises a floor).
    pub fn read(path: &Path) -> Option<Self> {
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
    }

    /// Writes the record durably.
    pub fn write(&self, path: &Path) -> Result<(), LedgerError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| LedgerError::Io {
                action: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let bytes = serde_json::to_vec(self).map_err(|e| LedgerError::Malformed {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        airlift_core::write_file_durably(path, &bytes).map_err(|source| LedgerError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        })
    }
}

fn digests(blobs: &[String], path: &Path) -> Result<BTreeSet<Digest>, LedgerError> {
    blobs
        .iter()
        .map(|hex| {
            Digest::from_hex(hex).map_err(|_| LedgerError::Malformed {
                path: path.to_path_buf(),
                message: format!("{hex:?} is not a SHA-256"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_needs_a_destination_and_a_sequence_from_one() {
        let good = br#"{"destination":"site-a","sequence":2,"previous":"ab","created":"2026-12-06T00:00:00Z"}"#;
        let statement = PackStatement::parse(good).expect("valid");
        assert_eq!(statement.sequence, 2);
        assert!(statement.created_at().is_some());
        assert!(
            PackStatement::parse(
                br#"{"destination":"a","sequence":0,"previous":null,"created":""}"#
            )
            .is_err()
        );
        assert!(PackStatement::parse(br#"{"sequence":1,"previous":null,"created":""}"#).is_err());
    }

    #[test]
    fn a_statement_serializes_with_every_field_so_its_signed_bytes_stay_the_same() {
        let statement = PackStatement {
            destination: "a".into(),
            sequence: 1,
            previous: None,
            created: "t".into(),
        };
        let value = serde_json::to_value(&statement).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"destination": "a", "sequence": 1, "previous": null, "created": "t"})
        );
    }

    #[test]
    fn the_next_number_follows_the_ledger() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.next(None), Ok((1, None)));
        ledger.sequence = Some(2);
        ledger.last_bundle = Some("b2".into());
        ledger.record(Some(1), "b1");
        ledger.record(Some(2), "b2");
        assert_eq!(ledger.next(None), Ok((3, Some("b2".into()))));
        assert_eq!(ledger.next(Some(2)), Ok((2, Some("b1".into()))));
        assert_eq!(ledger.next(Some(1)), Ok((1, None)));
        assert!(ledger.next(Some(4)).is_err());
        ledger.record(Some(2), "b2'");
        ledger.bundles.remove(&1);
        assert!(ledger.next(Some(2)).is_err());
    }

    #[test]
    fn a_ledger_round_trips_and_its_blobs_must_be_digests() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ledger/site.json");
        assert_eq!(Ledger::read(&path).expect("none"), None);
        let mut ledger = Ledger {
            blobs: vec![Digest::of(b"x").hex()],
            ..Ledger::default()
        };
        ledger.record(Some(1), "b1");
        ledger.write(&path).expect("written");
        let read = Ledger::read(&path).expect("read").expect("some");
        assert_eq!(read, ledger);
        assert_eq!(read.digests(&path).expect("digests").len(), 1);
        ledger.blobs.push("nope".into());
        assert!(ledger.digests(&path).is_err());
    }

    #[test]
    fn a_receipt_must_say_its_format_and_list_blobs() {
        let path = Path::new("receipt.json");
        let good = serde_json::json!({"format": RECEIPT_FORMAT, "created": "t", "blobs": []});
        assert!(Receipt::from_payload(good, path).is_ok());
        let other = serde_json::json!({"format": "x", "created": "t", "blobs": []});
        assert!(Receipt::from_payload(other, path).is_err());
        let no_blobs = serde_json::json!({"format": RECEIPT_FORMAT, "created": "t"});
        assert!(Receipt::from_payload(no_blobs, path).is_err());
        // The wanted list: read when there, bounded.
        let wanted = |name: &str| serde_json::json!({"ecosystem": "pypi", "name": name, "requests": 2, "last_seen": "t"});
        let with = serde_json::json!({"format": RECEIPT_FORMAT, "created": "t", "blobs": [], "wanted": [wanted("flask")]});
        let read = Receipt::from_payload(with, path).unwrap();
        assert_eq!(read.wanted[0].name, "flask");
        assert!(read.unused.is_empty());
        let many: Vec<_> = (0..=RECEIPT_WANTED_READ_MAX)
            .map(|i| wanted(&format!("n{i}")))
            .collect();
        let flood = serde_json::json!({"format": RECEIPT_FORMAT, "created": "t", "blobs": [], "wanted": many});
        let error = Receipt::from_payload(flood, path).unwrap_err().to_string();
        assert!(error.contains("more than"), "{error}");
        let control = serde_json::json!({"format": RECEIPT_FORMAT, "created": "t", "blobs": [], "wanted": [wanted("a\n[x]")]});
        assert!(Receipt::from_payload(control, path).is_err());
    }
}
