//! One signing key: an Ed25519 key in a PKCS#8 file or in a PKCS#11 token,
//! with its TUF key id.
//!
//! It sits below `roles` and `metadata` (which sign with it) and `keys`
//! (which finds the site's keys in a directory), and needs only `schema`.

use std::fs;
use std::path::Path;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::Value;

use crate::TrustError;
use crate::schema::{canonical_json, keyid_of, public_key_json};

/// File name of the site's first signing key (`keys init`).
pub(crate) const SIGNER_FILE: &str = "site-ed25519.pk8";

/// Where the private key is.
enum Backend {
    Software(Ed25519KeyPair),
    Token(Box<crate::hsm::HsmKey>),
}

/// An Ed25519 key pair with its TUF key id.
pub struct KeyPair {
    pair: Backend,
    public_hex: String,
    keyid: String,
    name: Option<String>,
}

impl KeyPair {
    /// Loads a PKCS#8 key file. A key file named `NAME.pk8` is the key
    /// called NAME (its public key object carries the name); the site's
    /// first key (`site-ed25519.pk8`) has none.
    pub fn load(path: &Path) -> Result<Self, TrustError> {
        // A PKCS#11 URI, given directly or in a NAME.pkcs11 file.
        let text = path.to_string_lossy();
        if text.starts_with("pkcs11:") {
            // A token key is named by its label, as `keys new --pkcs11` made it.
            let object = crate::hsm::Uri::parse(&text).ok().map(|u| u.object);
            return Self::from_token(&text, object.as_deref(), false);
        }
        if path.extension().is_some_and(|e| e == "pkcs11") {
            let uri = fs::read_to_string(path).map_err(TrustError::io("read key", path))?;
            let name = path.file_stem().and_then(|s| s.to_str());
            return Self::from_token(uri.trim(), name, false);
        }
        let bytes = fs::read(path).map_err(TrustError::io("read key", path))?;
        let pair = Ed25519KeyPair::from_pkcs8(&bytes).map_err(|_| TrustError::BadKey {
            path: path.to_path_buf(),
        })?;
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| *s != SIGNER_FILE.trim_end_matches(".pk8"))
            .map(str::to_owned);
        Ok(Self::from_pair(Backend::Software(pair), name))
    }

    /// The key in a PKCS#11 token that `uri` names (made there when `create`
    /// and absent), called `name`.
    pub fn from_token(uri: &str, name: Option<&str>, create: bool) -> Result<Self, TrustError> {
        let key = crate::hsm::HsmKey::open(uri, create)?;
        Ok(Self::from_pair(
            Backend::Token(Box::new(key)),
            name.map(str::to_owned),
        ))
    }

    /// Makes (or adopts) a named key in a PKCS#11 token: writes
    /// `dir/NAME.pkcs11` (the URI, without a PIN value) and `dir/NAME.pub.json`.
    pub fn generate_in_token(dir: &Path, name: &str, uri: &str) -> Result<Self, TrustError> {
        check_name(name)?;
        let parsed = crate::hsm::Uri::parse(uri).map_err(TrustError::Build)?;
        if parsed.object != name {
            return Err(TrustError::Build(format!(
                "the URI's object={} must be the key's name, {name}",
                parsed.object
            )));
        }
        let key = Self::from_token(uri, Some(name), true)?;
        fs::create_dir_all(dir).map_err(TrustError::io("create directory", dir))?;
        let reference = dir.join(format!("{name}.pkcs11"));
        // Never a PIN value; a PIN source is kept.
        let stored = parsed.stored();
        airlift_core::write_file_durably(&reference, stored.as_bytes())
            .map_err(TrustError::io("write", &reference))?;
        let public = dir.join(format!("{name}.pub.json"));
        airlift_core::write_file_durably(&public, &canonical_json(&key.public_json()))
            .map_err(TrustError::io("write", &public))?;
        Ok(key)
    }

    /// Makes a named key: `dir/NAME.pk8` (mode 0600) and `dir/NAME.pub.json`
    /// (the public key object to hand to whoever writes the root).
    pub fn generate_named(dir: &Path, name: &str) -> Result<Self, TrustError> {
        check_name(name)?;
        let key = Self::generate(&dir.join(format!("{name}.pk8")))?;
        let public = dir.join(format!("{name}.pub.json"));
        airlift_core::write_file_durably(&public, &canonical_json(&key.public_json()))
            .map_err(TrustError::io("write", &public))?;
        Ok(key)
    }

    /// The key's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Generates a key and writes it as PKCS#8 (mode 0600) to `path`.
    pub fn generate(path: &Path) -> Result<Self, TrustError> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| TrustError::Build("key generation failed".into()))?;
        write_private(path, document.as_ref())?;
        Self::load(path)
    }

    fn from_pair(pair: Backend, name: Option<String>) -> Self {
        let public_hex = match &pair {
            Backend::Software(p) => hex::encode(p.public_key().as_ref()),
            Backend::Token(k) => hex::encode(k.public()),
        };
        let key = public_key_json(&public_hex, name.as_deref());
        let keyid = keyid_of(&key);
        Self {
            pair,
            public_hex,
            keyid,
            name,
        }
    }

    /// The TUF key id: SHA-256 of the canonical JSON of the public key object.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The TUF public key object.
    pub fn public_json(&self) -> Value {
        public_key_json(&self.public_hex, self.name.as_deref())
    }

    /// Signs bytes (hex signature); Ed25519 is deterministic, so the same
    /// bytes give the same signature.
    pub fn sign(&self, message: &[u8]) -> Result<String, TrustError> {
        match &self.pair {
            Backend::Software(p) => Ok(hex::encode(p.sign(message).as_ref())),
            Backend::Token(k) => k.sign(message).map(hex::encode),
        }
    }
}

fn check_name(name: &str) -> Result<(), TrustError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        || name.starts_with('.')
        || name == SIGNER_FILE.trim_end_matches(".pk8")
    {
        return Err(TrustError::Build(format!(
            "key name {name:?}: use letters, digits, '-', '_' or '.'"
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_plain_and_never_the_site_key() {
        for good in ["alice", "ci-2026_a.b"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "a b", "é", "site-ed25519"] {
            assert!(
                matches!(check_name(bad), Err(TrustError::Build(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_named_key_carries_its_name_in_its_key_object_and_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = fixed::key(dir.path(), SIGNER_FILE, 1);
        let alice = fixed::key(dir.path(), "alice.pk8", 1);
        // The same private key: the same public key, but the name is part
        // of the key object and so of its id.
        assert_eq!(site.name(), None);
        assert_eq!(alice.name(), Some("alice"));
        assert_eq!(site.public_json()["keyval"], alice.public_json()["keyval"]);
        assert_ne!(site.keyid(), alice.keyid());
        assert_eq!(alice.keyid(), keyid_of(&alice.public_json()));
        // `keys new` writes the key object to hand over, with that id.
        let bob = KeyPair::generate_named(dir.path(), "bob").expect("bob");
        let public: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("bob.pub.json")).expect("read"))
                .expect("JSON");
        assert_eq!(keyid_of(&public), bob.keyid());
        assert!(KeyPair::generate_named(dir.path(), "bob").is_err());
    }

    #[test]
    fn a_file_that_is_not_a_pkcs8_key_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("broken.pk8");
        std::fs::write(&path, b"not a key").expect("write");
        match KeyPair::load(&path) {
            Err(error @ TrustError::BadKey { .. }) => {
                assert!(error.to_string().contains("broken.pk8"), "{error}")
            }
            Err(other) => panic!("another error: {other}"),
            Ok(_) => panic!("loaded"),
        }
    }
}

/// Fixed keys for tests: the same seed always gives the same key, key id and
/// (Ed25519 being deterministic) signatures, so tests can pin bytes.
#[cfg(test)]
pub(crate) mod fixed {
    use std::path::{Path, PathBuf};

    use aws_lc_rs::signature::Ed25519KeyPair;

    /// Writes the PKCS#8 key made from a seed of `seed` bytes to
    /// `dir/file` and returns its path.
    pub(crate) fn write(dir: &Path, file: &str, seed: u8) -> PathBuf {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("seed");
        let document = pair.to_pkcs8().expect("pkcs8");
        std::fs::create_dir_all(dir).expect("key directory");
        let path = dir.join(file);
        std::fs::write(&path, document.as_ref()).expect("write key");
        path
    }

    /// The key made from a seed of `seed` bytes, stored as `dir/file`.
    pub(crate) fn key(dir: &Path, file: &str, seed: u8) -> super::KeyPair {
        super::KeyPair::load(&write(dir, file, seed)).expect("load key")
    }
}
