use std::path::PathBuf;

use airlift_core::Digest;

/// Everything that can be wrong with a bundle or its import. Each variant
/// names the file, part, entry or digest concerned.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The site's import policy refuses what the bundle brings.
    #[error("import refused before anything changed: {reason}")]
    Admission {
        /// Why, naming the findings.
        reason: String,
        /// The admission check's report.
        report: serde_json::Value,
    },
    /// The bundle brings entries under names this site hosts.
    #[error("import refused before anything changed: {reason}")]
    HostedConflict {
        /// Why, naming the first conflicts.
        reason: String,
        /// How many entries conflict.
        conflicts: u64,
    },
    /// The import would remove more than the removal policy allows.
    #[error("import refused before anything changed: {reason}")]
    TooManyRemovals {
        /// Why, with counts and examples.
        reason: String,
        /// Entries it would remove.
        removed: u64,
    },
    /// Reading or writing a file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bundle path is neither a bundle directory, a `.tar`, a `.tar.zst` nor a parts table.
    #[error("{path} is not a bundle: {reason}")]
    NotABundle {
        /// The path given.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An archive entry is not acceptable (type, name, duplicate, size, order).
    #[error("bundle entry {name:?} refused: {reason}")]
    BadEntry {
        /// The entry name as found.
        name: String,
        /// Why.
        reason: String,
    },
    /// The archive stream itself is damaged (truncated, corrupt compression).
    #[error("bundle stream {path} is damaged: {reason}")]
    Damaged {
        /// The bundle.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A part of a split bundle is missing or does not match its table of contents.
    #[error("part {index} ({path}) {reason}")]
    Part {
        /// 1-based part number.
        index: usize,
        /// The part file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// TUF verification failed.
    #[error(transparent)]
    Trust(#[from] airlift_trust::TrustError),
    /// A target's content does not match its signed digest or length.
    /// A blob in the local store no longer matches its digest (found while
    /// packing).
    #[error(
        "target {name} (in the local store; run `airlift fsck`) does not match the signed metadata: expected {expected} ({expected_length} bytes), got {actual} ({actual_length} bytes)"
    )]
    StoreDamaged {
        /// The target name.
        name: String,
        /// The digest the index records.
        expected: Digest,
        /// The length the index records.
        expected_length: u64,
        /// Digest of the bytes found.
        actual: Digest,
        /// Length of the bytes found.
        actual_length: u64,
    },
    #[error(
        "target {name} does not match the signed metadata: expected {expected} ({expected_length} bytes), got {actual} ({actual_length} bytes)"
    )]
    TargetMismatch {
        /// The target name.
        name: String,
        /// Signed digest.
        expected: Digest,
        /// Signed length.
        expected_length: u64,
        /// Digest of the bytes found.
        actual: Digest,
        /// Length of the bytes found.
        actual_length: u64,
    },
    /// A signed target is neither in the bundle nor in the store.
    #[error(
        "target {name} ({digest}) is listed in the signed metadata but is neither in the bundle nor in the store"
    )]
    MissingTarget {
        /// The target name.
        name: String,
        /// Its digest.
        digest: Digest,
    },
    /// An index document is malformed or refers to an unlisted blob.
    #[error("index document {name}: {reason}")]
    BadIndex {
        /// The target name of the index document.
        name: String,
        /// Why.
        reason: String,
    },
    /// The bundle is older than, or as old as, the last one imported.
    #[error(
        "bundle version {version} is not newer than the last imported version {last} (rollback or replay refused)"
    )]
    Rollback {
        /// This bundle's version.
        version: u64,
        /// The last imported version.
        last: u64,
    },
    /// The bundle expired before a time this site has already seen.
    #[error(
        "bundle expired at {expires}, before {floor}, a time this site has already seen (at an earlier import); the system clock is behind, so the bundle is refused"
    )]
    ExpiredBeforeFloor {
        /// The bundle's expiry.
        expires: String,
        /// The site's time floor.
        floor: String,
    },
    /// The bundle was packed for another site.
    #[error("bundle was packed for destination {destination:?}, but this site is {site}")]
    WrongDestination {
        /// The bundle's destination.
        destination: String,
        /// This site's id, or a note that it has none.
        site: String,
    },
    /// A bundle is missing between the last import and this one.
    #[error(
        "bundle sequence {got} for {destination:?} skips {expected}: import bundle {expected} first"
    )]
    SequenceGap {
        /// The destination.
        destination: String,
        /// The sequence number expected next.
        expected: u64,
        /// This bundle's.
        got: u64,
    },
    /// The bundle follows another bundle than the one this site imported
    /// last for its destination: a second connected side, or a forked ledger.
    #[error(
        "bundle for {destination:?} follows {previous}, but the last bundle this site imported for it is {last}: a fork (another connected side or ledger) is refused"
    )]
    Fork {
        /// The destination.
        destination: String,
        /// The bundle it says it follows.
        previous: String,
        /// The last imported with a statement.
        last: String,
    },
    /// The bundle's sequence number was already imported.
    #[error(
        "bundle sequence {got} for {destination:?} was already imported (this site is at {last}): replay refused"
    )]
    SequenceReplay {
        /// The destination.
        destination: String,
        /// This bundle's sequence number.
        got: u64,
        /// The last imported.
        last: u64,
    },
    /// No trusted root is configured.
    #[error("no trusted root in {path}")]
    NoTrust {
        /// Where it was expected.
        path: PathBuf,
    },
    /// Another import, verify or plan holds the home's lock.
    #[error("another import, verify or plan is running on this home (lock {lock})")]
    Busy {
        /// The lock file.
        lock: PathBuf,
    },
    /// The store has no generation to pack.
    #[error("the store has nothing to pack (run `airlift collect` first)")]
    NothingToPack,
    /// Invalid options.
    #[error("{0}")]
    Options(String),
    /// The targets (or snapshot, timestamp) threshold is not met yet.
    #[error("the bundle is not approved yet: {tally}; the approval request is {request}")]
    NeedsApproval {
        /// Who signed and who is missing.
        tally: String,
        /// The request file approvers sign.
        request: PathBuf,
    },
    /// The chain of custody does not satisfy the site's policy.
    #[error("custody: {0}")]
    Custody(String),
    /// A role this machine must sign is short of keys.
    #[error("cannot sign: {0}")]
    MissingKeys(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] airlift_store::StoreError),
}

impl BundleError {
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

    pub(crate) fn entry(name: &str, reason: impl Into<String>) -> Self {
        Self::BadEntry {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}
