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

use serde_json::{Value, json};

use crate::TrustError;
use crate::keypair::SIGNER_FILE;
// `KeyPair` and `keyid_of` were defined here before; their paths stay.
pub use crate::keypair::KeyPair;
use crate::metadata::sign_role;
use crate::schema::canonical_json;
pub use crate::schema::keyid_of;

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
        let root = keys.root_signed(1, expires)?;
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
        let mut keys = BTreeMap::new();
        let mut role_keys = BTreeMap::new();
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
            role_keys.insert(name.clone(), (ids, policy.threshold));
        }
        let version = old.version + 1;
        let signed = crate::metadata::root_signed(version, expires, &keys, &role_keys)?;
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

    fn root_signed(&self, version: u64, expires: jiff::Timestamp) -> Result<Value, TrustError> {
        let keyid = self.signer.keyid().to_owned();
        let keys = BTreeMap::from([(keyid.clone(), self.signer.public_json())]);
        let roles = ["root", "targets", "snapshot", "timestamp"]
            .into_iter()
            .map(|role| (role.to_owned(), (vec![keyid.clone()], 1)))
            .collect();
        crate::metadata::root_signed(version, expires, &keys, &roles)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keypair::fixed;

    fn time(text: &str) -> jiff::Timestamp {
        text.parse().expect("time")
    }

    /// A key directory with the site key (seed 1), a named key `packer`
    /// (seed 2) and root version 1, all fixed.
    fn site(dir: &Path) -> SiteKeys {
        fixed::write(dir, SIGNER_FILE, 1);
        fixed::write(dir, "packer.pk8", 2);
        let keys = SiteKeys::open(dir).expect("open");
        let root = keys
            .root_signed(1, time("2030-01-01T00:00:00.5Z"))
            .expect("root");
        let file = sign_role(&root, &[&keys.signer]).expect("sign");
        std::fs::create_dir_all(dir.join("roots")).expect("roots");
        std::fs::write(keys.root_path(1), file).expect("write root");
        keys
    }

    fn policy(keys: &[&KeyPair], threshold: usize) -> RolePolicy {
        RolePolicy {
            keys: keys.iter().map(|k| k.public_json()).collect(),
            threshold,
        }
    }

    fn roles(
        root: RolePolicy,
        targets: RolePolicy,
        other: RolePolicy,
    ) -> BTreeMap<String, RolePolicy> {
        BTreeMap::from([
            ("root".to_owned(), root),
            ("targets".to_owned(), targets),
            ("snapshot".to_owned(), other.clone()),
            ("timestamp".to_owned(), other),
        ])
    }

    #[test]
    fn roots_are_pinned_byte_for_byte() {
        // Pins root version 1 (as `keys init` writes it) and a rotated
        // version 2 for fixed keys and times.
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = site(dir.path());
        let first = std::fs::read(keys.root_path(1)).expect("root 1");
        assert_eq!(std::str::from_utf8(&first).ok(), Some(PINNED_ROOT_1));
        let packer = &keys.others[0];
        let rotation = keys
            .rotate(
                &roles(
                    policy(&[&keys.signer], 1),
                    policy(&[&keys.signer, packer], 2),
                    policy(&[&keys.signer], 1),
                ),
                time("2031-02-03T04:05:06Z"),
                &[],
            )
            .expect("rotate");
        let Rotation::Installed { version: 2, path } = rotation else {
            panic!("not installed: {rotation:?}");
        };
        let second = std::fs::read(path).expect("root 2");
        assert_eq!(std::str::from_utf8(&second).ok(), Some(PINNED_ROOT_2));
    }

    #[test]
    fn a_rotation_refuses_policies_that_cannot_be_met() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = site(dir.path());
        let one = policy(&[&keys.signer], 1);
        let expires = time("2031-01-01T00:00:00Z");
        let refused = |roles: BTreeMap<String, RolePolicy>| match keys.rotate(&roles, expires, &[])
        {
            Err(TrustError::Build(message)) => message,
            other => panic!("not refused: {other:?}"),
        };
        // A role left out.
        let mut missing = roles(one.clone(), one.clone(), one.clone());
        missing.remove("timestamp");
        assert_eq!(refused(missing), "the new root needs a timestamp role");
        // A threshold of zero, and one above the number of keys.
        assert_eq!(
            refused(roles(one.clone(), policy(&[&keys.signer], 0), one.clone())),
            "targets: threshold 0 with 1 keys"
        );
        assert_eq!(
            refused(roles(policy(&[&keys.signer], 2), one.clone(), one.clone())),
            "root: threshold 2 with 1 keys"
        );
        // The same key twice is one key: a threshold of 2 cannot be met.
        assert_eq!(
            refused(roles(
                one.clone(),
                policy(&[&keys.signer, &keys.signer], 2),
                one.clone()
            )),
            "targets: threshold 2 but only 1 distinct keys"
        );
        // Nothing was written.
        assert!(!keys.root_path(2).exists());
        assert!(!keys.pending_root_path(2).exists());
    }

    #[test]
    fn a_rotation_short_of_the_new_root_threshold_waits_for_approval() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = site(dir.path());
        // The new root wants two of site, packer and an outside key; only
        // the site key and packer are local, but only keys of the old or
        // new root role sign, so packer (not in either) adds nothing.
        let outside = fixed::key(&dir.path().join("elsewhere"), "carol.pk8", 3);
        let rotation = keys
            .rotate(
                &roles(
                    policy(&[&keys.signer, &outside], 2),
                    policy(&[&keys.signer], 1),
                    policy(&[&keys.signer], 1),
                ),
                time("2031-01-01T00:00:00Z"),
                &[],
            )
            .expect("rotate");
        let Rotation::Pending {
            version,
            path,
            old,
            new,
        } = rotation
        else {
            panic!("installed without enough signatures: {rotation:?}");
        };
        assert_eq!(version, 2);
        assert_eq!(path, keys.pending_root_path(2));
        assert!(old.met(), "{old:?}");
        assert!(!new.met(), "{new:?}");
        assert_eq!(new.signed_by, vec![keys.signer.keyid().to_owned()]);
        assert_eq!(new.missing, vec![outside.keyid().to_owned()]);
        assert!(!keys.root_path(2).exists());
        // The outside key's approval installs it.
        let pending: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("pending")).expect("JSON");
        let approved = crate::roles::add_signature(&pending, &outside).expect("sign");
        std::fs::write(&path, canonical_json(&approved)).expect("write");
        assert!(matches!(
            keys.finish_rotation().expect("finish"),
            Rotation::Installed { version: 2, .. }
        ));
        assert_eq!(keys.latest_root().expect("latest").version, 2);
        assert!(!path.exists());
    }

    #[test]
    fn signers_for_a_role_are_the_local_keys_the_newest_root_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = site(dir.path());
        let ids = |role: &str| -> Vec<String> {
            keys.signers_for(role)
                .expect("signers")
                .iter()
                .map(|k| k.keyid().to_owned())
                .collect()
        };
        assert_eq!(ids("targets"), vec![keys.signer.keyid().to_owned()]);
        let packer = &keys.others[0];
        keys.rotate(
            &roles(
                policy(&[&keys.signer], 1),
                policy(&[packer], 1),
                policy(&[&keys.signer], 1),
            ),
            time("2031-01-01T00:00:00Z"),
            &[],
        )
        .expect("rotate");
        assert_eq!(ids("targets"), vec![packer.keyid().to_owned()]);
        assert_eq!(ids("root"), vec![keys.signer.keyid().to_owned()]);
        assert!(matches!(
            keys.signers_for("mirror"),
            Err(TrustError::Build(_))
        ));
        assert_eq!(keys.local_keyids().len(), 2);
    }

    #[test]
    fn init_refuses_to_overwrite_and_open_refuses_an_empty_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            SiteKeys::open(dir.path()),
            Err(TrustError::NoKeys { .. })
        ));
        let now = time("2026-01-01T00:00:00Z");
        let keys = SiteKeys::init(dir.path(), now, 10).expect("init");
        let root = keys.latest_root().expect("root");
        assert_eq!(root.version, 1);
        assert_eq!(root.expires, "2026-01-11T00:00:00Z");
        assert!(matches!(
            SiteKeys::init(dir.path(), now, 10),
            Err(TrustError::KeysExist { .. })
        ));
    }

    const PINNED_ROOT_1: &str = r##"{"signatures":[{"keyid":"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12","sig":"1459b649a38caf297ef21ea716ebf245ff23c546392817c51b08a048aca167e90df490e8b0f07d972417ea2144d96b56d52c531f8b093e85434e7a7f5fb5a206"}],"signed":{"_type":"root","consistent_snapshot":false,"expires":"2030-01-01T00:00:00Z","keys":{"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12":{"keytype":"ed25519","keyval":{"public":"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"},"scheme":"ed25519"}},"roles":{"root":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1},"snapshot":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1},"targets":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1},"timestamp":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1}},"spec_version":"1.0.31","version":1}}"##;
    const PINNED_ROOT_2: &str = r##"{"signatures":[{"keyid":"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12","sig":"f44259e5184565415bdb26fcd7fb11d6a25300ac25e53170d9583097f5bd9f1b9696df4877bb80b8c6e971c2304b9161671c54c65c8b770d0c0237638a69ab06"}],"signed":{"_type":"root","consistent_snapshot":false,"expires":"2031-02-03T04:05:06Z","keys":{"2a19b91e4d2626c755e701073e8d81ec24082b69b9fc9f69eb0e0ea3562340b9":{"keytype":"ed25519","keyval":{"public":"8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394"},"scheme":"ed25519","x-airlift-name":"packer"},"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12":{"keytype":"ed25519","keyval":{"public":"8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c"},"scheme":"ed25519"}},"roles":{"root":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1},"snapshot":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1},"targets":{"keyids":["2a19b91e4d2626c755e701073e8d81ec24082b69b9fc9f69eb0e0ea3562340b9","7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":2},"timestamp":{"keyids":["7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12"],"threshold":1}},"spec_version":"1.0.31","version":2}}"##;
}
