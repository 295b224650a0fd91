//! The store: what airlift holds, on either side of the gap.
//!
//! Two small traits keep storage swappable:
//! - [`BlobStore`]: immutable blobs named by their SHA-256 digest. Writes are
//!   staged and become visible only when committed with a verified digest.
//! - [`MetaStore`]: the index. Every change commits a new, immutable
//!   [`Generation`] of [`Entry`] rows (ecosystem, key → digest) together with
//!   the small pieces of site state that must change with it, in one
//!   transaction. It also keeps the audit log's head ([`AuditHead`]), so a
//!   deleted or shortened audit log is noticed.
//!
//! The embedded default is [`FsBlobStore`] plus [`SqliteMetaStore`]; the
//! on-disk layout is written down once, in [`layout`]. [`suite`] is the test
//! suite every backend must pass.

mod blob;
pub mod environment;
mod error;
mod fsck;
pub mod gc;
pub mod layout;
mod meta;
mod sqlite;
pub mod suite;

pub use blob::{BlobRead, BlobStore, BlobWriter, FsBlobStore, Swept};
pub use error::StoreError;
pub use fsck::{FsckReport, fsck};
pub use meta::{
    AuditHead, Change, Entry, Generation, MetaStore, NewGeneration, Pruned, state_keys,
};
pub use sqlite::SqliteMetaStore;

use std::path::Path;
use std::sync::Arc;

/// A blob store and a meta store that belong together.
#[derive(Clone)]
pub struct Store {
    /// Blob storage.
    pub blobs: Arc<dyn BlobStore>,
    /// Index storage.
    pub meta: Arc<dyn MetaStore>,
}

impl Store {
    /// Opens (creating if needed) the embedded store under an airlift home.
    pub fn open_embedded(home: &Path) -> Result<Self, StoreError> {
        let layout = layout::Layout::new(home);
        let blobs = FsBlobStore::open(&layout.blobs_dir(), &layout.store_tmp_dir())?;
        let meta = SqliteMetaStore::open(&layout.index_db())?;
        Ok(Self {
            blobs: Arc::new(blobs),
            meta: Arc::new(meta),
        })
    }
}
