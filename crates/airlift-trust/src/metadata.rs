//! Writing signed TUF metadata.
//!
//! Files are canonical JSON (OLPC), the same form that is signed, so the
//! bytes depend only on content, keys and times: packing the same store with
//! the same keys and clock gives byte-identical metadata.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keys::KeyPair;

/// A target as listed in targets metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Length in bytes.
    pub length: u64,
    /// SHA-256 of the content.
    pub sha256: airlift_core::Digest,
    /// Application data (`custom`), such as the kind of target.
    pub custom: Value,
}

/// Versions and expiry times of one bundle's metadata.
#[derive(Clone, Copy, Debug)]
pub struct TufTimes {
    /// Version of targets, snapshot and timestamp.
    pub version: u64,
    /// Expiry of the timestamp (the transfer window).
    pub timestamp_expires: jiff::Timestamp,
    /// Expiry of snapshot and targets.
    pub targets_expires: jiff::Timestamp,
}

/// The three metadata files a pack writes (root versions come from the keys).
pub struct MetadataSet {
    /// `targets.json`
    pub targets: Vec<u8>,
    /// `snapshot.json`
    pub snapshot: Vec<u8>,
    /// `timestamp.json`
    pub timestamp: Vec<u8>,
}

/// Formats a time as TUF wants it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// OLPC canonical JSON of a value.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    // Serializing a `Value` into a Vec cannot fail: no I/O, string keys only.
    if value.serialize(&mut serializer).is_err() {
        out.clear();
    }
    out
}

/// Signs a role's `signed` object with each key and returns the file bytes.
pub fn sign_role(signed: &Value, keys: &[&KeyPair]) -> Result<Vec<u8>, crate::TrustError> {
    let message = canonical_json(signed);
    let mut signatures: Vec<Value> = keys
        .iter()
        .map(|key| Ok(json!({"keyid": key.keyid(), "sig": key.sign(&message)?})))
        .collect::<Result<_, crate::TrustError>>()?;
    signatures.sort_by(|a, b| a["keyid"].as_str().cmp(&b["keyid"].as_str()));
    Ok(canonical_json(
        &json!({"signatures": signatures, "signed": signed}),
    ))
}

fn hashes(bytes: &[u8]) -> Value {
    json!({"sha256": airlift_core::Digest::of(bytes).hex()})
}

/// The `signed` object of targets metadata listing `targets`.
pub fn targets_signed(targets: &BTreeMap<String, TargetInfo>, times: TufTimes) -> Value {
    let listed: serde_json::Map<String, Value> = targets
        .iter()
        .map(|(name, info)| {
            let mut target =
                json!({"length": info.length, "hashes": {"sha256": info.sha256.hex()}});
            if !info.custom.is_null() {
                target["custom"] = info.custom.clone();
            }
            (name.clone(), target)
        })
        .collect();
    json!({
        "_type": "targets",
        "spec_version": crate::SPEC_VERSION,
        "version": times.version,
        "expires": format_time(times.targets_expires),
        "targets": listed,
    })
}

/// Builds and signs targets, snapshot and timestamp for `targets`, every
/// role with one key.
pub fn build(
    targets: &BTreeMap<String, TargetInfo>,
    times: TufTimes,
    signer: &KeyPair,
) -> Result<MetadataSet, crate::TrustError> {
    let targets_file = sign_role(&targets_signed(targets, times), &[signer])?;
    finish(targets_file, times, &[signer], &[signer])
}

/// Snapshot and timestamp over a signed `targets_file`.
pub fn finish(
    targets_file: Vec<u8>,
    times: TufTimes,
    snapshot_keys: &[&KeyPair],
    timestamp_keys: &[&KeyPair],
) -> Result<MetadataSet, crate::TrustError> {
    let snapshot_signed = json!({
        "_type": "snapshot",
        "spec_version": crate::SPEC_VERSION,
        "version": times.version,
        "expires": format_time(times.targets_expires),
        "meta": {"targets.json": {
            "version": times.version,
            "length": targets_file.len(),
            "hashes": hashes(&targets_file),
        }},
    });
    let snapshot_file = sign_role(&snapshot_signed, snapshot_keys)?;
    let timestamp_signed = json!({
        "_type": "timestamp",
        "spec_version": crate::SPEC_VERSION,
        "version": times.version,
        "expires": format_time(times.timestamp_expires),
        "meta": {"snapshot.json": {
            "version": times.version,
            "length": snapshot_file.len(),
            "hashes": hashes(&snapshot_file),
        }},
    });
    let timestamp_file = sign_role(&timestamp_signed, timestamp_keys)?;
    Ok(MetadataSet {
        targets: targets_file,
        snapshot: snapshot_file,
        timestamp: timestamp_file,
    })
}
