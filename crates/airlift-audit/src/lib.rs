//! The tamper-evident audit log: every event is a line of JSON and a leaf
//! of an RFC 6962 Merkle tree (leaf `SHA-256(0x00‖entry)`, node
//! `SHA-256(0x01‖left‖right)`); after each append the tree head is signed as
//! a C2SP checkpoint (a signed note with an Ed25519 signature line).
//!
//! ```text
//! <home>/audit/log.jsonl       one event per line: {"index","time","event","detail"}
//! <home>/audit/checkpoint      the latest signed checkpoint
//! <home>/audit/frontier.json   the tree's right edge after the last append (a cache)
//! <home>/audit/note.key        the log's Ed25519 key (PKCS#8, mode 0600)
//! <home>/audit/note.pub        its verifier key: <name>+<key hash hex>+<base64(0x01‖public key)>
//! <home>/audit/lock            serialises appenders
//! ```
//!
//! An append costs O(log n): it extends the frontier (the roots of the
//! perfect subtrees along the tree's right edge) kept in `frontier.json`,
//! after checking that file against the signed checkpoint, the log's length
//! and its last line. When the frontier is missing or does not match, the
//! append rebuilds it from the whole log, with every check of a full read.
//!
//! A [`Witness`] outside `<home>/audit/` (the CLI uses the home's index
//! database) records the log's size and root after every append, so a log
//! that was deleted or shortened, and then started again, is reported
//! instead of verifying as a fresh, intact log.
//!
//! [`Log::verify`] recomputes the tree from the log in one linear pass: an
//! edited, deleted, reordered or truncated entry, a forged checkpoint, or a
//! log shorter than its witness records, is reported as tampering. A
//! checkpoint exported earlier (to a SIEM, to the other side of the gap) can
//! be checked against the log, which proves the log was only appended to
//! since. An append cut short (a full disk, a crash) is reported as an
//! interrupted append, and the next append repairs it.
//!
//! The crate's modules follow those parts: `merkle` the tree hashes and
//! the frontier, `checkpoint` the signed notes, `log` the file layout,
//! appends and their recovery, `verify` the full check, `key` the log's
//! Ed25519 key, and `dsse` the statements signed with that key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod checkpoint;
mod dsse;
mod key;
mod log;
mod merkle;
mod verify;

#[cfg(test)]
mod tests;

pub use checkpoint::{Checkpoint, parse_checkpoint};
pub use dsse::{PAYLOAD_TYPE, open_signed};
pub use log::Log;
pub use merkle::{Frontier, leaf_hash, tree_hash};

/// Audit log failures; each names the file or the entry involved.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The log or a checkpoint does not verify.
    #[error("audit log {path}: {message}")]
    Tampered {
        /// The file.
        path: PathBuf,
        /// What does not hold.
        message: String,
    },
    /// An append was cut short (a full disk, a crash): the signed history
    /// is intact, and the next append repairs the log. Not tampering.
    #[error("audit log {path}: interrupted append: {message}")]
    Interrupted {
        /// The file.
        path: PathBuf,
        /// What was left behind.
        message: String,
    },
    /// The witness (the index's record of the log's head) failed.
    #[error("the record of the audit log's head: {message}")]
    Witness {
        /// What failed, naming the witness's own storage.
        message: String,
    },
    /// The key cannot be used.
    #[error("audit key {path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> AuditError + 'a {
    move |source| AuditError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Position in the log, from 0.
    pub index: u64,
    /// When it was appended (RFC 3339, UTC).
    pub time: String,
    /// What happened: `collect`, `pack`, `import`, `import-rejected`, …
    pub event: String,
    /// The event's facts.
    pub detail: Value,
}

/// The size and root of the log's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// Entries.
    pub size: u64,
    /// The tree hash.
    pub root: [u8; 32],
}

impl Head {
    /// A head from a root in lowercase or uppercase hex; `None` when `root`
    /// is not 32 bytes of hex.
    pub fn from_hex(size: u64, root: &str) -> Option<Self> {
        let root = hex::decode(root).ok()?.try_into().ok()?;
        Some(Self { size, root })
    }

    /// The root, lowercase hex.
    pub fn root_hex(&self) -> String {
        hex::encode(self.root)
    }
}

/// A record of the log's head kept outside `<home>/audit/`, so that deleting
/// or shortening the log there is noticed (the CLI keeps it in the home's
/// index database). Appends read it before they write and record the new
/// head after they sign; [`Log::verify`] reads it before the log, so a
/// concurrent append never makes the record look ahead of the log.
pub trait Witness: Send + Sync {
    /// The head last recorded, if any.
    fn recorded(&self) -> Result<Option<Head>, String>;
    /// Records a new head.
    fn record(&self, head: Head) -> Result<(), String>;
}

/// What a verification established.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// Entries in the log.
    pub entries: u64,
    /// The tree hash, hex.
    pub root: String,
    /// The origin line of the signed checkpoint.
    pub origin: String,
    /// Earlier checkpoints found consistent.
    pub earlier_checkpoints: usize,
    /// The entries the witness records (it agrees with the log's first
    /// entries), or `None` without a witness or a record.
    pub recorded_entries: Option<u64>,
}
