//! The one place that knows where things live under an airlift home.
//!
//! ```text
//! <home>/
//!   store/blobs/sha256/<2 hex>/<64 hex>   immutable blobs
//!   store/tmp/                           staged blob writes (cleared on open)
//!   store/index.sqlite                   the index (generations, entries, state, audit log head)
//!   keys/                                private signing keys (connected side)
//!   trust/root.json                      the trusted TUF root (isolated side)
//!   trust/tuf/                           TUF client state: last trusted metadata
//!   quarantine/                          bundles being imported (cleared per import)
//!   uploads/                             OCI blob uploads in progress
//!   tls/                                 site CA and server certificate
//! ```

use std::path::{Path, PathBuf};

/// Paths under one airlift home.
#[derive(Clone, Debug)]
pub struct Layout {
    home: PathBuf,
}

impl Layout {
    /// The layout of `home`.
    pub fn new(home: &Path) -> Self {
        Self {
            home: home.to_path_buf(),
        }
    }

    /// The home itself.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Root of blob storage.
    pub fn blobs_dir(&self) -> PathBuf {
        self.home.join("store/blobs")
    }

    /// Staging area for blob writes; on the same file system as the blobs.
    pub fn store_tmp_dir(&self) -> PathBuf {
        self.home.join("store/tmp")
    }

    /// The SQLite index.
    pub fn index_db(&self) -> PathBuf {
        self.home.join("store/index.sqlite")
    }

    /// Private keys.
    pub fn keys_dir(&self) -> PathBuf {
        self.home.join("keys")
    }

    /// Trust material of the isolated side.
    pub fn trust_dir(&self) -> PathBuf {
        self.home.join("trust")
    }

    /// The trusted TUF root.
    pub fn trusted_root(&self) -> PathBuf {
        self.trust_dir().join("root.json")
    }

    /// The TUF client's persisted metadata.
    pub fn tuf_state_dir(&self) -> PathBuf {
        self.trust_dir().join("tuf")
    }

    /// The site CA and server certificate (`airlift tls init`).
    pub fn tls_dir(&self) -> PathBuf {
        self.home.join("tls")
    }

    /// OCI blob upload sessions (same file system as the blobs).
    pub fn uploads_dir(&self) -> PathBuf {
        self.home.join("uploads")
    }

    /// The version and generation of the last bundle this home packed, so
    /// the next one gets a greater version whatever the clock says.
    pub fn last_pack(&self) -> PathBuf {
        self.home.join("ledger").join(".last-pack.json")
    }

    /// Where bundles are copied while being imported.
    pub fn quarantine_dir(&self) -> PathBuf {
        self.home.join("quarantine")
    }
}

/// The relative path of a blob under the blobs directory.
pub fn blob_relative_path(digest: &airlift_core::Digest) -> PathBuf {
    let hex = digest.hex();
    PathBuf::from("sha256").join(&hex[..2]).join(hex)
}
