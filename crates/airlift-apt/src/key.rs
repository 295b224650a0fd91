//! The site's apt signing key: Ed25519, made on first use, kept in
//! `<home>/trust/apt-signing-key.json` (mode 0600) with the creation time
//! and user id that fix its fingerprint.

use std::path::{Path, PathBuf};

use airlift_pgp::SigningKey;
use serde::{Deserialize, Serialize};

/// The key file name under the trust directory.
pub const FILE: &str = "apt-signing-key.json";

/// Key failures, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file cannot be read or written.
    #[error("apt signing key {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Stored {
    created: u32,
    uid: String,
    pkcs8: String,
}

/// Loads the key in `trust_dir`, making one (named after `site`) when
/// there is none. Returns the key and whether it was made now.
pub fn load_or_create(
    trust_dir: &Path,
    site: Option<&str>,
) -> Result<(SigningKey, bool), KeyError> {
    let path = trust_dir.join(FILE);
    let fail = |message: String| KeyError::File {
        path: path.clone(),
        message,
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let stored: Stored =
                serde_json::from_slice(&bytes).map_err(|e| fail(format!("malformed: {e}")))?;
            let pkcs8 = hex::decode(&stored.pkcs8).map_err(|e| fail(format!("malformed: {e}")))?;
            let key = SigningKey::from_pkcs8(&pkcs8, stored.created, &stored.uid)
                .map_err(|e| fail(e.to_string()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let created = u32::try_from(jiff::Timestamp::now().as_second()).unwrap_or(u32::MAX);
            let uid = format!(
                "airlift apt repository ({}) <apt@{}.airlift.invalid>",
                site.unwrap_or("airlift"),
                site.unwrap_or("site")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    })
                    .collect::<String>()
            );
            let (key, pkcs8) =
                SigningKey::generate(&uid, created).map_err(|e| fail(e.to_string()))?;
            let stored = Stored {
                created,
                uid,
                pkcs8: hex::encode(pkcs8),
            };
            let text = serde_json::to_vec_pretty(&stored).map_err(|e| fail(e.to_string()))?;
            std::fs::create_dir_all(trust_dir).map_err(|e| fail(e.to_string()))?;
            write_private(&path, &text).map_err(|e| fail(e.to_string()))?;
            Ok((key, true))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

/// When the key stored as `bytes` (the contents of the key file at
/// `path`) expires, in Unix seconds, as its public key's self-signature
/// says; `None` when it never expires (the keys [`load_or_create`] makes
/// carry no expiry). Read without creating anything, for monitoring.
pub fn expires(path: &Path, bytes: &[u8]) -> Result<Option<i64>, KeyError> {
    let fail = |message: String| KeyError::File {
        path: path.to_owned(),
        message,
    };
    let stored: Stored =
        serde_json::from_slice(bytes).map_err(|e| fail(format!("malformed: {e}")))?;
    let pkcs8 = hex::decode(&stored.pkcs8).map_err(|e| fail(format!("malformed: {e}")))?;
    let key = SigningKey::from_pkcs8(&pkcs8, stored.created, &stored.uid)
        .map_err(|e| fail(e.to_string()))?;
    let keyring = airlift_pgp::Keyring::parse(&key.public_key())
        .map_err(|e| fail(format!("its public key is not usable: {e}")))?;
    let primary = keyring
        .keys()
        .iter()
        .find(|k| k.fingerprint() == key.fingerprint())
        .ok_or_else(|| fail("its public key is not usable".to_owned()))?;
    Ok(primary
        .expires()
        .map(|unix| i64::try_from(unix).unwrap_or(i64::MAX)))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    airlift_core::fsync_dir(path.parent().unwrap_or(Path::new(".")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_site_key_never_expires_and_a_damaged_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (_, created) = load_or_create(dir.path(), Some("site-a")).unwrap();
        assert!(created);
        let path = dir.path().join(FILE);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(expires(&path, &bytes).unwrap(), None);
        let error = expires(&path, b"{\"created\": 1}").unwrap_err();
        assert!(error.to_string().contains(FILE), "{error}");
    }
}
