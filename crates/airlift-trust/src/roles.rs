//! Roles and thresholds: who may sign what, counted strictly.
//!
//! A root names keys and, per role, the key ids allowed to sign it and how
//! many distinct ones must. [`tally`] counts the valid signatures of a
//! metadata file for a role: each key id once, however often it appears,
//! only when its Ed25519 signature verifies over the canonical `signed`
//! object. It backs three things: `pack` refusing to finish below the
//! targets threshold, `approve` adding one approver's signature, and import
//! naming who signed and who is missing.

use std::collections::BTreeMap;

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use serde_json::{Value, json};

use crate::TrustError;
use crate::keypair::KeyPair;
use crate::schema::canonical_json;
// Written here before `schema` existed; other crates still use this path.
pub use crate::schema::NAME_FIELD;

/// One role of a root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Key ids allowed to sign.
    pub keyids: Vec<String>,
    /// Distinct valid signatures needed.
    pub threshold: usize,
}

/// A root's keys and roles.
#[derive(Clone, Debug)]
pub struct RootInfo {
    /// Its version.
    pub version: u64,
    /// When it expires (as written).
    pub expires: String,
    /// Public key objects by key id.
    pub keys: BTreeMap<String, Value>,
    /// Roles by name (`root`, `targets`, `snapshot`, `timestamp`).
    pub roles: BTreeMap<String, Role>,
}

impl RootInfo {
    /// Reads a root metadata file (signatures are not checked here).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let file: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        Self::from_signed(&file["signed"])
    }

    /// Reads the `signed` object of a root.
    pub fn from_signed(signed: &Value) -> Result<Self, String> {
        if signed["_type"] != "root" {
            return Err("not a root (_type is not \"root\")".into());
        }
        let version = signed["version"].as_u64().ok_or("root without a version")?;
        let keys = signed["keys"]
            .as_object()
            .ok_or("root without keys")?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut roles = BTreeMap::new();
        for (name, role) in signed["roles"].as_object().ok_or("root without roles")? {
            let mut keyids: Vec<String> = role["keyids"]
                .as_array()
                .ok_or_else(|| format!("role {name} without keyids"))?
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            // A key listed twice is still one key.
            keyids.sort();
            keyids.dedup();
            let threshold = role["threshold"]
                .as_u64()
                .filter(|t| *t >= 1)
                .ok_or_else(|| format!("role {name} without a threshold of at least 1"))?;
            roles.insert(
                name.clone(),
                Role {
                    keyids,
                    threshold: threshold as usize,
                },
            );
        }
        Ok(Self {
            version,
            expires: signed["expires"].as_str().unwrap_or_default().to_owned(),
            keys,
            roles,
        })
    }

    /// The role, or an error naming it.
    pub fn role(&self, name: &str) -> Result<&Role, String> {
        self.roles
            .get(name)
            .ok_or_else(|| format!("root version {} has no {name} role", self.version))
    }

    /// A key as people read it: its name (when the root gives one) and the
    /// start of its id.
    pub fn describe(&self, keyid: &str) -> String {
        // The first 12 characters, not bytes: a key id from a file need not
        // be hex, and a cut inside a character would panic.
        let short = keyid
            .char_indices()
            .nth(12)
            .map_or(keyid, |(end, _)| &keyid[..end]);
        match self
            .keys
            .get(keyid)
            .and_then(|k| k.get(NAME_FIELD))
            .and_then(Value::as_str)
        {
            Some(name) => format!("{name} ({short}…)"),
            None => format!("{short}…"),
        }
    }
}

/// Whether `sig_hex` is a valid Ed25519 signature of `message` by the key
/// object `key`.
pub fn verify_signature(key: &Value, message: &[u8], sig_hex: &str) -> bool {
    if key["keytype"] != "ed25519" || key["scheme"] != "ed25519" {
        return false;
    }
    let (Some(public), Ok(sig)) = (
        key["keyval"]["public"]
            .as_str()
            .and_then(|p| hex::decode(p).ok()),
        hex::decode(sig_hex),
    ) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public)
        .verify(message, &sig)
        .is_ok()
}

/// Who signed a metadata file for a role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tally {
    /// The role.
    pub role: String,
    /// Distinct key ids of the role with a valid signature.
    pub signed_by: Vec<String>,
    /// Key ids of the role without one.
    pub missing: Vec<String>,
    /// Signatures needed.
    pub threshold: usize,
}

impl Tally {
    /// Whether the threshold is met.
    pub fn met(&self) -> bool {
        self.signed_by.len() >= self.threshold
    }

    /// "signed by alice (…); 1 of the 2 required; missing any 1 of bob
    /// (…), carol (…)".
    pub fn describe(&self, root: &RootInfo) -> String {
        let names = |ids: &[String]| {
            if ids.is_empty() {
                "nobody".to_owned()
            } else {
                ids.iter()
                    .map(|k| root.describe(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut text = format!(
            "{}: signed by {}; {} of the {} required",
            self.role,
            names(&self.signed_by),
            self.signed_by.len(),
            self.threshold
        );
        if !self.met() {
            if self.missing.len() + self.signed_by.len() < self.threshold {
                text.push_str(&format!(
                    "; the role has only {} keys, fewer than its threshold",
                    self.missing.len() + self.signed_by.len()
                ));
            } else {
                text.push_str(&format!(
                    "; missing any {} of {}",
                    self.threshold - self.signed_by.len(),
                    names(&self.missing)
                ));
            }
        }
        text
    }
}

/// Counts the valid, distinct signatures of `file` (a `{signatures,
/// signed}` document) by the keys of `role` in `root`.
pub fn tally(root: &RootInfo, role: &str, file: &Value) -> Result<Tally, String> {
    let r = root.role(role)?;
    let valid = valid_signatures(root, role, file)?;
    let (signed_by, missing) = r
        .keyids
        .iter()
        .cloned()
        .partition(|k| valid.contains_key(k));
    Ok(Tally {
        role: role.to_owned(),
        signed_by,
        missing,
        threshold: r.threshold,
    })
}

/// The first valid signature of each key of `role`, by key id.
fn valid_signatures(
    root: &RootInfo,
    role: &str,
    file: &Value,
) -> Result<BTreeMap<String, Value>, String> {
    let r = root.role(role)?;
    let message = canonical_json(&file["signed"]);
    let mut valid = BTreeMap::new();
    for sig in file["signatures"].as_array().into_iter().flatten() {
        let (Some(keyid), Some(value)) = (sig["keyid"].as_str(), sig["sig"].as_str()) else {
            continue;
        };
        if valid.contains_key(keyid) || !r.keyids.iter().any(|k| k == keyid) {
            continue;
        }
        if let Some(key) = root.keys.get(keyid)
            && verify_signature(key, &message, value)
        {
            valid.insert(keyid.to_owned(), sig.clone());
        }
    }
    Ok(valid)
}

/// Adds (or replaces) `key`'s signature over the canonical `signed` object
/// of a `{signatures, signed}` document, keeping the others.
pub fn add_signature(file: &Value, key: &KeyPair) -> Result<Value, TrustError> {
    let message = canonical_json(&file["signed"]);
    let mut signatures: Vec<Value> = file["signatures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["keyid"] != key.keyid())
        .cloned()
        .collect();
    signatures.push(json!({"keyid": key.keyid(), "sig": key.sign(&message)?}));
    signatures.sort_by(|a, b| a["keyid"].as_str().cmp(&b["keyid"].as_str()));
    Ok(json!({"signatures": signatures, "signed": file["signed"]}))
}

/// Keeps one valid signature per key of `role` and drops the rest (invalid
/// ones, repeats, keys of other roles), so that copies merged from several
/// approvers never hide a good signature behind a bad one.
pub fn keep_valid(root: &RootInfo, role: &str, file: &Value) -> Result<Value, String> {
    let kept = valid_signatures(root, role, file)?;
    Ok(json!({"signatures": kept.into_values().collect::<Vec<_>>(), "signed": file["signed"]}))
}

/// Merges the signatures of several documents over the same `signed`
/// object (one per key id).
pub fn merge_signatures(files: &[Value]) -> Result<Value, TrustError> {
    let Some(first) = files.first() else {
        return Err(TrustError::Build("nothing to merge".into()));
    };
    let mut all: Vec<Value> = Vec::new();
    for file in files {
        if file["signed"] != first["signed"] {
            return Err(TrustError::Build(
                "the approvals are for different metadata (their signed parts differ)".into(),
            ));
        }
        all.extend(file["signatures"].as_array().into_iter().flatten().cloned());
    }
    // Every signature, repeats included: `keep_valid` picks the good ones.
    Ok(json!({"signatures": all, "signed": first["signed"]}))
}

/// The targets a site's persisted `targets.json` lists, after checking
/// that it is still signed by the targets role of `trusted_root` (the
/// site's root), each key counted once, threshold met.
///
/// This is `airlift drift`'s check that the metadata an import verified has
/// not been edited since. It checks signatures only: freshness and the
/// hash chain from the timestamp were the import's concern (and the TUF
/// client re-serializes the files it keeps, so their hashes do not match
/// the originals, while signatures over the canonical `signed` still do).
/// Returns the metadata's version and its targets.
pub fn verify_persisted_targets(
    trusted_root: &[u8],
    targets_file: &[u8],
) -> Result<(u64, BTreeMap<String, crate::TargetInfo>), String> {
    let root = RootInfo::parse(trusted_root).map_err(|e| format!("the trusted root: {e}"))?;
    let file: Value = serde_json::from_slice(targets_file).map_err(|e| format!("not JSON: {e}"))?;
    if file["signed"]["_type"] != "targets" {
        return Err("not a targets metadata file".into());
    }
    let counted = tally(&root, "targets", &file)?;
    if !counted.met() {
        return Err(format!(
            "signed by {} of the {} keys the targets role needs",
            counted.signed_by.len(),
            counted.threshold
        ));
    }
    let version = file["signed"]["version"].as_u64().ok_or("no version")?;
    let mut targets = BTreeMap::new();
    for (name, target) in file["signed"]["targets"].as_object().ok_or("no targets")? {
        let length = target["length"]
            .as_u64()
            .ok_or_else(|| format!("target {name} has no length"))?;
        let sha256 = target["hashes"]["sha256"]
            .as_str()
            .and_then(|hex| airlift_core::Digest::from_hex(hex).ok())
            .ok_or_else(|| format!("target {name} has no SHA-256"))?;
        targets.insert(
            name.clone(),
            crate::TargetInfo {
                length,
                sha256,
                custom: target.get("custom").cloned().unwrap_or(Value::Null),
            },
        );
    }
    Ok((version, targets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keypair::fixed;

    /// A root whose `targets` role has keys a, b and c (seeds 1 to 3),
    /// threshold 2; `root` has only a.
    fn root_and_keys(dir: &std::path::Path) -> (RootInfo, Vec<KeyPair>) {
        let keys: Vec<KeyPair> = (1..=3)
            .map(|seed| fixed::key(dir, &format!("k{seed}.pk8"), seed))
            .collect();
        let ids: Vec<&str> = keys.iter().map(KeyPair::keyid).collect();
        let signed = json!({
            "_type": "root",
            "version": 1,
            "expires": "2030-01-01T00:00:00Z",
            "keys": keys.iter().map(|k| (k.keyid().to_owned(), k.public_json())).collect::<serde_json::Map<_, _>>(),
            "roles": {
                "root": {"keyids": [ids[0]], "threshold": 1},
                "targets": {"keyids": ids, "threshold": 2},
            },
        });
        (RootInfo::from_signed(&signed).expect("root"), keys)
    }

    fn document(keys: &[&KeyPair]) -> Value {
        let mut file = json!({"signatures": [], "signed": {"_type": "targets", "version": 1}});
        for key in keys {
            file = add_signature(&file, key).expect("sign");
        }
        file
    }

    #[test]
    fn a_tally_counts_each_valid_signature_of_the_role_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (root, keys) = root_and_keys(dir.path());
        let one = document(&[&keys[0]]);
        let counted = tally(&root, "targets", &one).expect("tally");
        assert_eq!(counted.signed_by, vec![keys[0].keyid().to_owned()]);
        assert!(!counted.met());
        // The same signature repeated is still one signer.
        let mut repeated = one.clone();
        let copy = repeated["signatures"][0].clone();
        repeated["signatures"]
            .as_array_mut()
            .expect("array")
            .push(copy);
        assert!(!tally(&root, "targets", &repeated).expect("tally").met());
        // Two keys meet the threshold of 2.
        let two = document(&[&keys[0], &keys[1]]);
        let counted = tally(&root, "targets", &two).expect("tally");
        assert!(counted.met());
        assert_eq!(counted.missing, vec![keys[2].keyid().to_owned()]);
        // A signature over other content does not count.
        let mut forged = two.clone();
        forged["signed"]["version"] = json!(2);
        assert!(
            tally(&root, "targets", &forged)
                .expect("tally")
                .signed_by
                .is_empty()
        );
        // Key b's valid signature counts for targets but not for root,
        // which lists only a.
        let by_b = document(&[&keys[1]]);
        assert!(
            tally(&root, "root", &by_b)
                .expect("tally")
                .signed_by
                .is_empty()
        );
        // A role the root does not have is an error, not an empty tally.
        assert!(tally(&root, "mirror", &two).is_err());
    }

    #[test]
    fn a_tally_says_who_is_missing_or_that_the_role_cannot_be_met() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (root, keys) = root_and_keys(dir.path());
        let counted = tally(&root, "targets", &document(&[&keys[0]])).expect("tally");
        let text = counted.describe(&root);
        assert!(text.starts_with("targets: signed by "), "{text}");
        assert!(
            text.contains("1 of the 2 required; missing any 1 of "),
            "{text}"
        );
        let impossible = Tally {
            role: "targets".into(),
            signed_by: Vec::new(),
            missing: vec![keys[0].keyid().to_owned()],
            threshold: 2,
        };
        assert_eq!(
            impossible.describe(&root),
            format!(
                "targets: signed by nobody; 0 of the 2 required; the role has only 1 keys, fewer than its threshold"
            )
        );
    }

    #[test]
    fn keep_valid_drops_bad_and_repeated_signatures_and_merge_refuses_other_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (root, keys) = root_and_keys(dir.path());
        let mut file = document(&[&keys[0], &keys[1]]);
        let signatures = file["signatures"].as_array_mut().expect("array");
        signatures.push(json!({"keyid": keys[2].keyid(), "sig": "00"}));
        signatures.push(json!({"keyid": keys[0].keyid(), "sig": "zz"}));
        signatures.push(json!({"keyid": "unknown", "sig": "00"}));
        let kept = keep_valid(&root, "targets", &file).expect("keep");
        assert_eq!(kept["signatures"].as_array().map(Vec::len), Some(2));
        assert!(tally(&root, "targets", &kept).expect("tally").met());
        // Approvals of the same content merge; of different content, not.
        let a = document(&[&keys[0]]);
        let b = document(&[&keys[1]]);
        let merged = merge_signatures(&[a.clone(), b]).expect("merge");
        assert!(tally(&root, "targets", &merged).expect("tally").met());
        let mut other = document(&[&keys[2]]);
        other["signed"]["version"] = json!(9);
        assert!(matches!(
            merge_signatures(&[a, other]),
            Err(TrustError::Build(_))
        ));
        assert!(merge_signatures(&[]).is_err());
    }

    #[test]
    fn roots_that_cannot_be_counted_are_refused_when_read() {
        let refused = |signed: Value| RootInfo::from_signed(&signed).expect_err("refused");
        assert!(refused(json!({"_type": "targets", "version": 1})).contains("not a root"));
        assert!(refused(json!({"_type": "root", "keys": {}, "roles": {}})).contains("version"));
        assert!(
            refused(json!({"_type": "root", "version": 1, "keys": {},
                "roles": {"root": {"keyids": [], "threshold": 0}}}))
            .contains("threshold of at least 1")
        );
        // A key id listed twice is one key.
        let root = RootInfo::from_signed(&json!({"_type": "root", "version": 1, "keys": {},
            "roles": {"root": {"keyids": ["b", "a", "b"], "threshold": 1}}}))
        .expect("root");
        assert_eq!(root.roles["root"].keyids, vec!["a", "b"]);
    }

    #[test]
    fn only_ed25519_key_objects_verify() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = fixed::key(dir.path(), "k.pk8", 1);
        let sig = key.sign(b"message").expect("sign");
        let public = key.public_json();
        assert!(verify_signature(&public, b"message", &sig));
        assert!(!verify_signature(&public, b"other", &sig));
        assert!(!verify_signature(&public, b"message", "not hex"));
        let mut rsa = public.clone();
        rsa["keytype"] = json!("rsa");
        assert!(!verify_signature(&rsa, b"message", &sig));
        let mut scheme = public;
        scheme["scheme"] = json!("ed25519-ph");
        assert!(!verify_signature(&scheme, b"message", &sig));
    }

    #[test]
    fn key_ids_that_are_not_ascii_are_described_without_panicking() {
        // Found by the `tuf_metadata` fuzz target: the short form of a key
        // id cut it at byte 12, which panicked when that fell inside a
        // character, so a root naming such a key crashed the message that
        // says who is missing.
        let keyid = "6e13861c702\u{29c}09cf";
        let file = json!({
            "signed": {
                "_type": "root",
                "version": 1,
                "keys": {},
                "roles": {"root": {"keyids": [keyid], "threshold": 1}},
            },
            "signatures": [],
        });
        let root = RootInfo::from_signed(&file["signed"]).expect("parses");
        assert_eq!(root.describe(keyid), "6e13861c702\u{29c}…");
        let counted = tally(&root, "root", &file).expect("tally");
        assert!(
            counted
                .describe(&root)
                .contains("missing any 1 of 6e13861c702"),
            "{}",
            counted.describe(&root)
        );
    }
}
