//! The log's key: an Ed25519 key made on the first append (`note.key`,
//! PKCS#8, mode 0600) with its note verifier key (`note.pub`), and the
//! origin line derived from it. It signs the checkpoints and the DSSE
//! statements.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine;

use crate::checkpoint::key_hash;
use crate::merkle::sha256;
use crate::{AuditError, Log, io};

impl Log {
    pub(crate) fn key(&self) -> Result<Ed25519KeyPair, AuditError> {
        let path = self.path("note.key");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let document =
                    Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| {
                        AuditError::Key {
                            path: path.clone(),
                            message: "key generation failed".into(),
                        }
                    })?;
                write_private(&path, document.as_ref())?;
                document.as_ref().to_vec()
            }
            Err(e) => return Err(io("read", &path)(e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| AuditError::Key {
            path: path.clone(),
            message: "not an Ed25519 PKCS#8 key".into(),
        })?;
        let public_path = self.path("note.pub");
        if !public_path.exists() {
            let origin = self.origin(&pair);
            let verifier = format!(
                "{origin}+{}+{}\n",
                hex::encode(key_hash(&origin, pair.public_key().as_ref())),
                base64::engine::general_purpose::STANDARD
                    .encode([&[1u8][..], pair.public_key().as_ref()].concat())
            );
            airlift_core::write_file_durably(&public_path, verifier.as_bytes())
                .map_err(io("write", &public_path))?;
        }
        Ok(pair)
    }

    pub(crate) fn public_key(&self) -> Result<Vec<u8>, AuditError> {
        let path = self.path("note.pub");
        let text = fs::read_to_string(&path).map_err(io("read", &path))?;
        // name+hash+key: the key's base64 may itself contain '+'.
        let encoded = text.trim().splitn(3, '+').nth(2).unwrap_or("");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|b| b.len() == 33 && b[0] == 1)
            .ok_or_else(|| AuditError::Key {
                path: path.clone(),
                message: "not a note verifier key".into(),
            })?;
        Ok(bytes[1..].to_vec())
    }

    /// The origin line: a name unique to this log's key.
    pub(crate) fn origin(&self, key: &Ed25519KeyPair) -> String {
        format!(
            "audit.airlift.invalid/{}",
            &hex::encode(sha256(&[key.public_key().as_ref()]))[..16]
        )
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> Result<(), AuditError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io("create", path))?;
    file.write_all(data).map_err(io("write", path))?;
    file.sync_all().map_err(io("fsync", path))
}
