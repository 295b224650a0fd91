use std::path::PathBuf;

use airlift_core::Digest;

/// Errors of the store. Each names the path or digest concerned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The index database failed.
    #[error("index database {path}: {source}")]
    Database {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: rusqlite::Error,
    },
    /// A blob's content does not match the digest it was expected to have.
    #[error("blob content mismatch: expected {expected}, got {actual} ({length} bytes)")]
    DigestMismatch {
        /// What the caller expected.
        expected: Digest,
        /// What the bytes hash to.
        actual: Digest,
        /// How many bytes were written.
        length: u64,
    },
    /// A blob's content does not match a registry's integrity digest
    /// (SHA-512 or SHA-1); nothing was stored.
    #[error("blob content mismatch: expected {expected}, got {actual}")]
    IntegrityMismatch {
        /// What the registry states.
        expected: Box<airlift_core::Integrity>,
        /// What the bytes hash to.
        actual: Box<airlift_core::Integrity>,
    },
    /// A blob that should exist does not.
    #[error("blob {0} is not in the store")]
    MissingBlob(Digest),
    /// The index was written by an earlier development layout.
    #[error(
        "{0} was created by an earlier development version of airlift with another index layout; move it aside and import the last bundle again"
    )]
    OldLayout(PathBuf),
    /// An access record of that name exists already.
    #[error("{kind} {name:?} exists already")]
    RecordExists {
        /// The kind (user, token).
        kind: String,
        /// The name.
        name: String,
    },
    /// A new audit log head that would move the recorded one backwards.
    #[error(
        "the index records an audit log of {recorded} entries with root {recorded_root}; refusing to record {offered} entries with root {offered_root}"
    )]
    AuditHead {
        /// Entries recorded.
        recorded: u64,
        /// Their root, hex.
        recorded_root: String,
        /// Entries offered.
        offered: u64,
        /// Their root, hex.
        offered_root: String,
    },
    /// The backend does not implement an operation (such as pruning
    /// generations); nothing was changed.
    #[error("this store backend cannot {0}")]
    Unsupported(&'static str),
    /// A stored value could not be decoded.
    #[error("corrupt index row: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
