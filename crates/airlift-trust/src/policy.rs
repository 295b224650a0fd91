//! The operator's policy files, read strictly: the role policy of
//! `airlift keys rotate --policy` and the custody policy of
//! `airlift custody policy`. Key files are resolved against the policy
//! file's directory and must be Ed25519 public key objects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::RolePolicy;
use crate::custody::Policy;

/// A policy file that cannot be used; always the operator's input.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(String);

/// The roles a rotation installs, and how long the new root lasts.
#[derive(Debug)]
pub struct RolesFile {
    /// Each role's keys and threshold.
    pub roles: BTreeMap<String, RolePolicy>,
    /// Days the new root is valid.
    pub expires_days: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RolesToml {
    #[serde(default = "default_root_days")]
    expires_days: i64,
    roles: BTreeMap<String, RoleToml>,
}

fn default_root_days() -> i64 {
    365
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleToml {
    threshold: usize,
    keys: Vec<PathBuf>,
}

/// Reads a role policy (`keys rotate --policy FILE`).
pub fn load_roles(path: &Path) -> Result<RolesFile, PolicyError> {
    let parsed: RolesToml = read_toml(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut roles = BTreeMap::new();
    for (name, role) in parsed.roles {
        if !["root", "targets", "snapshot", "timestamp"].contains(&name.as_str()) {
            return Err(PolicyError(format!(
                "{}: unknown role {name:?} (root, targets, snapshot, timestamp)",
                path.display()
            )));
        }
        let keys = role
            .keys
            .iter()
            .map(|key| public_key(&base.join(key)))
            .collect::<Result<Vec<_>, _>>()?;
        roles.insert(
            name,
            RolePolicy {
                keys,
                threshold: role.threshold,
            },
        );
    }
    if parsed.expires_days < 1 {
        return Err(PolicyError("expires-days must be at least 1".into()));
    }
    Ok(RolesFile {
        roles,
        expires_days: parsed.expires_days,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct CustodyToml {
    signers: BTreeMap<String, PathBuf>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    min_handoffs: usize,
    #[serde(default = "yes")]
    continuity: bool,
}

fn yes() -> bool {
    true
}

/// Reads and checks a custody policy (`custody policy FILE`).
pub fn load_custody(path: &Path) -> Result<Policy, PolicyError> {
    let parsed: CustodyToml = read_toml(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut signers = BTreeMap::new();
    for (name, key) in &parsed.signers {
        let key_path = base.join(key);
        let bytes = std::fs::read(&key_path)
            .map_err(|e| PolicyError(format!("cannot read {}: {e}", key_path.display())))?;
        let key: Value = serde_json::from_slice(&bytes)
            .map_err(|e| PolicyError(format!("{}: {e}", key_path.display())))?;
        signers.insert(name.clone(), key);
    }
    let policy = Policy {
        signers,
        required: parsed.required,
        min_handoffs: parsed.min_handoffs,
        continuity: parsed.continuity,
    };
    policy
        .validate()
        .map_err(|e| PolicyError(format!("{}: {e}", path.display())))?;
    Ok(policy)
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, PolicyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PolicyError(format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| PolicyError(format!("{}: {e}", path.display())))
}

/// An Ed25519 public key object read from `path`.
fn public_key(path: &Path) -> Result<Value, PolicyError> {
    let bytes = std::fs::read(path)
        .map_err(|e| PolicyError(format!("cannot read {}: {e}", path.display())))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| PolicyError(format!("{}: {e}", path.display())))?;
    if value["keytype"] != "ed25519" || value["keyval"]["public"].as_str().is_none() {
        return Err(PolicyError(format!(
            "{}: not an ed25519 public key object (make one with `airlift keys new`)",
            path.display()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_object() -> Value {
        serde_json::json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": "00"}})
    }

    #[test]
    fn a_role_policy_resolves_keys_next_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.pub.json"), key_object().to_string()).expect("key");
        let path = dir.path().join("roles.toml");
        std::fs::write(
            &path,
            "expires-days = 30\n[roles.targets]\nthreshold = 1\nkeys = [\"a.pub.json\"]\n",
        )
        .expect("policy");
        let file = load_roles(&path).expect("valid");
        assert_eq!(file.expires_days, 30);
        assert_eq!(file.roles["targets"].keys.len(), 1);
    }

    #[test]
    fn bad_role_policies_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.pub.json"), "{\"keytype\": \"rsa\"}").expect("key");
        let path = dir.path().join("roles.toml");
        for (text, expected) in [
            (
                "[roles.owner]\nthreshold = 1\nkeys = []\n",
                "unknown role \"owner\"",
            ),
            (
                "[roles.root]\nthreshold = 1\nkeys = [\"a.pub.json\"]\n",
                "not an ed25519",
            ),
            (
                "[roles.root]\nthreshold = 1\nkeys = [\"b.pub.json\"]\n",
                "cannot read",
            ),
            ("expires-days = 0\n[roles]\n", "at least 1"),
            ("colour = 1\n", "colour"),
        ] {
            std::fs::write(&path, text).expect("policy");
            let error = load_roles(&path).expect_err(text).to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn a_custody_policy_must_name_its_required_signers() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("c.pub.json"), key_object().to_string()).expect("key");
        let path = dir.path().join("custody.toml");
        std::fs::write(&path, "required = [\"d\"]\n[signers]\nc = \"c.pub.json\"\n")
            .expect("policy");
        assert!(load_custody(&path).is_err());
        std::fs::write(
            &path,
            "required = [\"c\"]\nmin-handoffs = 1\n[signers]\nc = \"c.pub.json\"\n",
        )
        .expect("policy");
        let policy = load_custody(&path).expect("valid");
        assert_eq!(policy.required, ["c"]);
        assert_eq!(policy.min_handoffs, 1);
        assert!(policy.continuity);
    }
}
