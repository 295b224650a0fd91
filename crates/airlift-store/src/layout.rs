//! The one place that knows where things live under an airlift home.
//!
//! ```text
//! <home>/
//!   store/blobs/sha256/<2 hex>/<64 hex>   immutable blobs
//!   store/tmp/                           staged blob writes and gc's claims (cleared on open)
//!   store/index.sqlite                   the index (generations, entries, state, audit log head)
//!   keys/                                private signing keys (connected side)
//!   trust/root.json                      the trusted TUF root (isolated side)
//!   trust/tuf/                           TUF client state: last trusted metadata
//!   trust/tuf.old/                       the TUF state kept aside while an import replaces it
//!   trust/site-id                        the site's name (`init --site`), which pack statements name
//!   trust/custody-policy.json            the custody policy (`custody policy`)
//!   audit.reset-<unix time>/             a lost audit log's remains, kept by `audit reset`
//!   ledger/<destination>.json            what was packed for each destination (connected side)
//!   ledger/.last-pack.json               the version of the last bundle packed here
//!   audit/                               the audit log
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
        self.ledger_dir().join(".last-pack.json")
    }

    /// The TUF client state kept aside while an import replaces it.
    pub fn tuf_state_backup(&self) -> PathBuf {
        self.trust_dir().join("tuf.old")
    }

    /// The file that names the site (`init --site`).
    pub fn site_id_file(&self) -> PathBuf {
        self.trust_dir().join("site-id")
    }

    /// The site's name, if it has one.
    pub fn site_id(&self) -> std::io::Result<Option<String>> {
        match std::fs::read_to_string(self.site_id_file()) {
            Ok(text) => Ok(Some(text.trim().to_owned()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Names the site, durably.
    pub fn write_site_id(&self, site: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(self.trust_dir())?;
        airlift_core::write_file_durably(&self.site_id_file(), format!("{site}\n").as_bytes())
    }

    /// The directory of the per-destination ledgers.
    pub fn ledger_dir(&self) -> PathBuf {
        self.home.join("ledger")
    }

    /// The ledger of `destination`, or `None` when the name is not one
    /// (letters, digits, `-`, `_` and `.`, not starting with `.`, at most
    /// 100 characters): site names follow the same rule.
    pub fn ledger(&self, destination: &str) -> Option<PathBuf> {
        valid_site_name(destination).then(|| self.ledger_dir().join(format!("{destination}.json")))
    }

    /// Where `audit reset` keeps a lost log's remains, by the reset's time.
    pub fn audit_reset_dir(&self, unix_seconds: i64) -> PathBuf {
        self.home.join(format!("audit.reset-{unix_seconds}"))
    }

    /// The site's custody policy (`airlift custody policy`).
    pub fn custody_policy(&self) -> PathBuf {
        self.trust_dir().join("custody-policy.json")
    }

    /// The site CA certificate that clients trust (`airlift tls init`).
    pub fn tls_ca_certificate(&self) -> PathBuf {
        self.tls_dir().join("ca.crt")
    }

    /// The audit log's directory.
    pub fn audit_dir(&self) -> PathBuf {
        self.home.join("audit")
    }

    /// Where bundles are copied while being imported.
    pub fn quarantine_dir(&self) -> PathBuf {
        self.home.join("quarantine")
    }
}

/// Whether `name` can name a site or a destination: letters, digits, `-`,
/// `_` and `.`, not starting with `.`, 1 to 100 characters.
pub fn valid_site_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The relative path of a blob under the blobs directory.
pub fn blob_relative_path(digest: &airlift_core::Digest) -> PathBuf {
    let hex = digest.hex();
    PathBuf::from("sha256").join(&hex[..2]).join(hex)
}
