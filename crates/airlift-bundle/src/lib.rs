//! airlift bundles: what crosses the gap.
//!
//! A bundle is a directory, a `.tar` or a `.tar.zst`, optionally split into
//! numbered parts with a table of contents (see [`parts`]). Its layout is
//! defined once, in [`format`]:
//!
//! ```text
//! airlift-bundle.json            unsigned pointer: format, version, creation time
//! metadata/N.root.json           every root version 1..N
//! metadata/targets.json          every target: length and SHA-256
//! metadata/snapshot.json         pins targets.json
//! metadata/timestamp.json        pins snapshot.json; its digest is the bundle id
//! targets/index/<ecosystem>.json index documents: what the blobs mean
//! targets/blobs/sha256/<hex>     the blobs, content-addressed
//! ```
//!
//! [`pack`] writes bundles from the store. [`import`] reads one as a stream
//! of entries, copies it into quarantine while hashing, verifies it (TUF via
//! `airlift-trust`, every blob against its signed digest and length, version
//! against the last import) and only then commits blobs and a new index
//! generation. [`verify`](import::verify) and [`plan`](import::plan) run the
//! same pipeline without committing.

mod error;
pub mod format;
pub mod import;
pub mod ledger;
mod mux;
pub mod pack;
pub mod parts;
mod source;

pub use error::BundleError;
pub use import::{
    ADMISSION_BLOB_LIMIT, Admission, AdmissionInput, AdmissionOutcome, DEFAULT_MAX_REMOVAL_PERCENT,
    Hosted, ImportOptions, ImportOutcome, Plan, PlanChange, RemovalPolicy, Removals, Verified,
    custody_chain_path, import, plan, verify,
};
pub use ledger::{
    LastPack, Ledger, LedgerError, PackStatement, RECEIPT_FORMAT, RECEIPT_WANTED_MAX,
    RECEIPT_WANTED_READ_MAX, Receipt, SequenceError, UnusedName, WantedName,
};
pub use pack::{APPROVAL_FORMAT, PackOptions, PackReport, pack};
pub use source::{Visitor, bundle_id, read_tar};

/// Receives progress from long operations; the CLI draws bars, tests ignore it.
pub trait Progress: Send + Sync {
    /// Work of `total` bytes starts.
    fn start(&self, _label: &str, _total: Option<u64>) {}
    /// `bytes` more bytes are done.
    fn advance(&self, _bytes: u64) {}
    /// The work is done.
    fn finish(&self) {}
}

/// Aborts the process at a named point when `AIRLIFT_FAILPOINT` names it.
///
/// Crash tests use this to stop an import exactly between two steps, like a
/// `kill -9` would (no destructors, no cleanup), and then check that the next
/// run completes and the store is consistent.
pub(crate) fn failpoint(name: &str) {
    if std::env::var_os("AIRLIFT_FAILPOINT").is_some_and(|value| value == name) {
        std::process::abort();
    }
}

/// A [`Progress`] that shows nothing.
pub struct NoProgress;
impl Progress for NoProgress {}
