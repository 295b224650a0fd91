//! The site's signing keys.
//!
//! `keys init` creates one Ed25519 key used for every TUF role (root,
//! targets, snapshot, timestamp) with threshold 1, and version 1 of the root
//! metadata. Separate keys and thresholds per role come with custody
//! (see docs/decisions).

use std::fs;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::TrustError;
use crate::metadata::{canonical_json, sign_role};

/// An Ed25519 key pair with its TUF key id.
pub struct KeyPair {
    pair: Ed25519KeyPair,
    public_hex: String,
    keyid: String,
}

impl KeyPair {
    /// Loads a PKCS#8 key file.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        let bytes = fs::read(path).map_err(TrustError::io("read key", path))?;
        let pair = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| TrustError::BadKey {
            path: path.to_path_buf(),
        })?;
        Ok(Self::from_pair(pair))
    }

    /// Generates a key and writes it as PKCS#8 (mode 0600) to `path`.
    pub fn generate(path: &Path) -> Result<Self, TrustError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| TrustError::Build("key generation failed".into()))?;
        write_private(path, document.as_ref())?;
        Self::load(path)
    }

    fn from_pair(pair: Ed25519KeyPair) -> Self {
        let public_hex = hex::encode(pair.public_key().as_ref());
        let key = public_key_json(&public_hex);
        let keyid = hex::encode(airlift_core::Digest::of(&canonical_json(&key)).as_bytes());
        Self {
            pair,
            public_hex,
            keyid,
        }
    }

    /// The TUF key id: SHA-256 of the canonical JSON of the public key object.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The TUF public key object.
    pub fn public_json(&self) -> Value {
        public_key_json(&self.public_hex)
    }

    /// Signs bytes; Ed25519 is deterministic, so the same bytes give the same signature.
    pub fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }
}

fn public_key_json(public_hex: &str) -> Value {
    json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public_hex}})
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> Result<(), TrustError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(TrustError::io("create directory", parent))?;
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(TrustError::io("create key", path))?;
    file.write_all(data)
        .map_err(TrustError::io("write key", path))?;
    file.sync_all().map_err(TrustError::io("fsync key", path))
}

/// The keys of a site (connected side): one key for every role for now, and
/// the root metadata chain.
pub struct SiteKeys {
    dir: PathBuf,
    /// The key that signs every role.
    pub signer: KeyPair,
}

/// File name of the signing key.
const SIGNER_FILE: &str = "site-ed25519.pk8";

impl SiteKeys {
    /// Creates a key and root version 1 in `dir`. Refuses to overwrite.
    pub fn init(
        dir: &Path,
        now: jiff::Timestamp,
        root_expiry_days: i64,
    ) -> Result<Self, TrustError> {
        let key_path = dir.join(SIGNER_FILE);
        if key_path.exists() {
            return Err(TrustError::KeysExist {
                path: dir.to_path_buf(),
            });
        }
        let signer = KeyPair::generate(&key_path)?;
        let keys = Self {
            dir: dir.to_path_buf(),
            signer,
        };
        let expires = now
            .checked_add(jiff::SignedDuration::from_hours(24 * root_expiry_days))
            .map_err(|e| TrustError::Build(e.to_string()))?;
        let root = keys.root_signed(1, expires);
        let file = sign_role(&root, &[&keys.signer]);
        let path = keys.root_path(1);
        airlift_core::write_file_durably(&path, &file).map_err(TrustError::io("write", &path))?;
        Ok(keys)
    }

    /// Opens the keys in `dir`.
    pub fn open(dir: &Path) -> Result<Self, TrustError> {
        let key_path = dir.join(SIGNER_FILE);
        if !key_path.exists() {
            return Err(TrustError::NoKeys {
                path: dir.to_path_buf(),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            signer: KeyPair::load(&key_path)?,
        })
    }

    fn root_signed(&self, version: u64, expires: jiff::Timestamp) -> Value {
        let keyid = self.signer.keyid();
        let role = json!({"keyids": [keyid], "threshold": 1});
        json!({
            "_type": "root",
            "spec_version": crate::SPEC_VERSION,
            "consistent_snapshot": false,
            "version": version,
            "expires": crate::metadata::format_time(expires),
            "keys": { keyid: self.signer.public_json() },
            "roles": {"root": role, "targets": role, "snapshot": role, "timestamp": role},
        })
    }

    /// Path of root version `version`.
    pub fn root_path(&self, version: u64) -> PathBuf {
        self.dir.join("roots").join(format!("{version}.root.json"))
    }

    /// Every root version, oldest first, as (version, bytes).
    pub fn roots(&self) -> Result<Vec<(u64, Vec<u8>)>, TrustError> {
        let mut out = Vec::new();
        let mut version = 1;
        loop {
            let path = self.root_path(version);
            match fs::read(&path) {
                Ok(bytes) => out.push((version, bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(TrustError::io("read", &path)(e)),
            }
            version += 1;
        }
        if out.is_empty() {
            return Err(TrustError::NoKeys {
                path: self.dir.clone(),
            });
        }
        Ok(out)
    }
}
