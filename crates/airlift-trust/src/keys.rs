//! The site's signing keys.
//!
//! `keys init` creates one Ed25519 key used for every TUF role (root,
//! targets, snapshot, timestamp) with threshold 1, and version 1 of the root
//! metadata. `keys new NAME` makes more keys (`NAME.pk8`, with `NAME.pub.json`
//! to hand over), and a rotation writes the next root version with separate
//! keys and thresholds per role, signed by the old and the new root
//! thresholds. Every `*.pk8` (a private key) and `*.pkcs11` (a key in a
//! PKCS#11 token) in the key directory is a local key; a role is signed with
//! the local keys the newest root lists for it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::TrustError;
use crate::metadata::{canonical_json, sign_role};

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

fn public_key_json(public_hex: &str, name: Option<&str>) -> Value {
    let mut key =
        json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": public_hex}});
    if let Some(name) = name {
        key[crate::roles::NAME_FIELD] = json!(name);
    }
    key
}

/// The TUF key id of a public key object: SHA-256 of its canonical JSON.
pub fn keyid_of(key: &Value) -> String {
    hex::encode(airlift_core::Digest::of(&canonical_json(key)).as_bytes())
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

/// The keys of a site (connected side): the local private keys and the
/// root metadata chain.
pub struct SiteKeys {
    dir: PathBuf,
    /// The site's first key (`keys init`), or the first local key.
    pub signer: KeyPair,
    /// Every other local key (`keys new`).
    pub others: Vec<KeyPair>,
    /// Keys in a PKCS#11 token, opened only when a role needs them (an
    /// absent token does not stop work that does not need its key).
    tokens: Vec<TokenKey>,
}

/// A `NAME.pkcs11` key known by the key id of its `NAME.pub.json`.
struct TokenKey {
    path: PathBuf,
    keyid: String,
    loaded: std::sync::OnceLock<KeyPair>,
}

/// A role assignment for a new root version.
#[derive(Clone, Debug)]
pub struct RolePolicy {
    /// Public key objects.
    pub keys: Vec<Value>,
    /// Distinct signatures needed.
    pub threshold: usize,
}

/// What a rotation did.
#[derive(Debug)]
pub enum Rotation {
    /// The new root is installed.
    Installed {
        /// Its version.
        version: u64,
        /// Its file.
        path: PathBuf,
    },
    /// The new root waits for more root signatures.
    Pending {
        /// Its version.
        version: u64,
        /// The pending file to pass to `airlift approve`.
        path: PathBuf,
        /// Signatures against the old root's threshold.
        old: crate::roles::Tally,
        /// Signatures against the new root's threshold.
        new: crate::roles::Tally,
    },
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
        let public = dir.join(SIGNER_FILE.replace(".pk8", ".pub.json"));
        airlift_core::write_file_durably(&public, &canonical_json(&signer.public_json()))
            .map_err(TrustError::io("write", &public))?;
        let keys = Self {
            dir: dir.to_path_buf(),
            signer,
            others: Vec::new(),
            tokens: Vec::new(),
        };
        let expires = now
            .checked_add(jiff::SignedDuration::from_hours(24 * root_expiry_days))
            .map_err(|e| TrustError::Build(e.to_string()))?;
        let root = keys.root_signed(1, expires);
        let file = sign_role(&root, &[&keys.signer])?;
        let path = keys.root_path(1);
        airlift_core::write_file_durably(&path, &file).map_err(TrustError::io("write", &path))?;
        Ok(keys)
    }

    /// Opens the keys in `dir`: every `*.pk8` file is a local key.
    pub fn open(dir: &Path) -> Result<Self, TrustError> {
        let mut paths: Vec<PathBuf> = match fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pk8" || e == "pkcs11"))
                .collect(),
            Err(_) => Vec::new(),
        };
        // The site key first, then by name.
        paths.sort_by_key(|p| (!p.ends_with(SIGNER_FILE), p.clone()));
        let mut keys = Vec::new();
        let mut tokens = Vec::new();
        for path in &paths {
            let public = path.with_extension("pub.json");
            let token_public = path
                .extension()
                .is_some_and(|e| e == "pkcs11")
                .then(|| {
                    fs::read(&public)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                })
                .flatten();
            match token_public {
                Some(value) => tokens.push(TokenKey {
                    path: path.clone(),
                    keyid: keyid_of(&value),
                    loaded: std::sync::OnceLock::new(),
                }),
                None => keys.push(KeyPair::load(path)?),
            }
        }
        let mut keys = keys.into_iter();
        let signer = match keys.next() {
            Some(signer) => signer,
            None => match tokens.first() {
                Some(token) => KeyPair::load(&token.path)?,
                None => {
                    return Err(TrustError::NoKeys {
                        path: dir.to_path_buf(),
                    });
                }
            },
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            signer,
            others: keys.collect(),
            tokens,
        })
    }

    /// The key ids of every local key, token keys included (not opened).
    pub fn local_keyids(&self) -> Vec<String> {
        std::iter::once(&self.signer)
            .chain(&self.others)
            .map(|k| k.keyid().to_owned())
            .chain(self.tokens.iter().map(|t| t.keyid.clone()))
            .collect()
    }

    /// The local keys among `keyids`, opening token keys as needed.
    pub fn keys_for(&self, keyids: &[String]) -> Result<Vec<&KeyPair>, TrustError> {
        let wanted = |id: &str| keyids.iter().any(|k| k == id);
        let mut out: Vec<&KeyPair> = std::iter::once(&self.signer)
            .chain(&self.others)
            .filter(|k| wanted(k.keyid()))
            .collect();
        for token in self.tokens.iter().filter(|t| wanted(&t.keyid)) {
            if token.loaded.get().is_none() {
                let key = KeyPair::load(&token.path)?;
                if key.keyid() != token.keyid {
                    return Err(TrustError::Build(format!(
                        "{}: the token's key is not the one its .pub.json names",
                        token.path.display()
                    )));
                }
                let _ = token.loaded.set(key);
            }
            if let Some(key) = token.loaded.get() {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// The newest root version.
    pub fn latest_root(&self) -> Result<crate::roles::RootInfo, TrustError> {
        let roots = self.roots()?;
        let (version, bytes) = roots.last().ok_or_else(|| TrustError::NoKeys {
            path: self.dir.clone(),
        })?;
        crate::roles::RootInfo::parse(bytes).map_err(|message| TrustError::BadRoot {
            path: self.root_path(*version),
            message,
        })
    }

    /// The local keys the newest root allows to sign `role`.
    pub fn signers_for(&self, role: &str) -> Result<Vec<&KeyPair>, TrustError> {
        let root = self.latest_root()?;
        let allowed = root.role(role).map_err(TrustError::Build)?;
        self.keys_for(&allowed.keyids)
    }

    /// Writes root version N+1 with `roles`, expiring at `expires`, signed
    /// by every local key of the old or new root role (and `extra`). It is
    /// installed when both the old and the new root thresholds are met, and
    /// otherwise left pending for `airlift approve`.
    pub fn rotate(
        &self,
        roles: &BTreeMap<String, RolePolicy>,
        expires: jiff::Timestamp,
        extra: &[KeyPair],
    ) -> Result<Rotation, TrustError> {
        let old = self.latest_root()?;
        for role in ["root", "targets", "snapshot", "timestamp"] {
            let Some(policy) = roles.get(role) else {
                return Err(TrustError::Build(format!(
                    "the new root needs a {role} role"
                )));
            };
            if policy.threshold == 0 || policy.threshold > policy.keys.len() {
                return Err(TrustError::Build(format!(
                    "{role}: threshold {} with {} keys",
                    policy.threshold,
                    policy.keys.len()
                )));
            }
        }
        let mut keys = serde_json::Map::new();
        let mut role_json = serde_json::Map::new();
        for (name, policy) in roles {
            let mut ids = Vec::new();
            for key in &policy.keys {
                let id = keyid_of(key);
                keys.insert(id.clone(), key.clone());
                ids.push(id);
            }
            ids.sort();
            ids.dedup();
            if ids.len() < policy.threshold {
                return Err(TrustError::Build(format!(
                    "{name}: threshold {} but only {} distinct keys",
                    policy.threshold,
                    ids.len()
                )));
            }
            role_json.insert(
                name.clone(),
                json!({"keyids": ids, "threshold": policy.threshold}),
            );
        }
        let version = old.version + 1;
        let signed = json!({
            "_type": "root",
            "spec_version": crate::SPEC_VERSION,
            "consistent_snapshot": false,
            "version": version,
            "expires": crate::metadata::format_time(expires),
            "keys": keys,
            "roles": role_json,
        });
        let new = crate::roles::RootInfo::from_signed(&signed).map_err(TrustError::Build)?;
        let mut file = json!({"signatures": [], "signed": signed});
        let root_ids: Vec<String> = old
            .role("root")
            .map_err(TrustError::Build)?
            .keyids
            .iter()
            .chain(&new.role("root").map_err(TrustError::Build)?.keyids)
            .cloned()
            .collect();
        let extra = extra
            .iter()
            .filter(|k| root_ids.iter().any(|id| id == k.keyid()));
        for key in self.keys_for(&root_ids)?.into_iter().chain(extra) {
            file = crate::roles::add_signature(&file, key)?;
        }
        self.settle(version, &file)
    }

    /// Installs a pending root when both thresholds are met.
    pub fn finish_rotation(&self) -> Result<Rotation, TrustError> {
        let old = self.latest_root()?;
        let version = old.version + 1;
        let path = self.pending_root_path(version);
        let bytes = fs::read(&path).map_err(TrustError::io("read", &path))?;
        let file: Value = serde_json::from_slice(&bytes).map_err(|e| TrustError::BadRoot {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.settle(version, &file)
    }

    fn settle(&self, version: u64, file: &Value) -> Result<Rotation, TrustError> {
        let old_root = self.latest_root()?;
        let new_root =
            crate::roles::RootInfo::from_signed(&file["signed"]).map_err(TrustError::Build)?;
        if new_root.version != version {
            return Err(TrustError::Build(format!(
                "the pending root is version {}, the next is {version}",
                new_root.version
            )));
        }
        let old = crate::roles::tally(&old_root, "root", file).map_err(TrustError::Build)?;
        let new = crate::roles::tally(&new_root, "root", file).map_err(TrustError::Build)?;
        let bytes = canonical_json(file);
        if old.met() && new.met() {
            let path = self.root_path(version);
            airlift_core::write_file_durably(&path, &bytes)
                .map_err(TrustError::io("write", &path))?;
            let _ = fs::remove_file(self.pending_root_path(version));
            return Ok(Rotation::Installed { version, path });
        }
        let path = self.pending_root_path(version);
        airlift_core::write_file_durably(&path, &bytes).map_err(TrustError::io("write", &path))?;
        Ok(Rotation::Pending {
            version,
            path,
            old,
            new,
        })
    }

    /// Where root version `version` waits for signatures.
    pub fn pending_root_path(&self, version: u64) -> PathBuf {
        self.dir
            .join("roots")
            .join(format!("{version}.root.pending.json"))
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
