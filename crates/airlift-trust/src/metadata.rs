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

/// OLPC canonical JSON of a value, byte for byte as python-tuf
/// (securesystemslib's `encode_canonical`) writes it: no white space,
/// object keys in code-point order, strings as UTF-8 with only `"` and `\`
/// escaped, integers in decimal. A document with a float has no canonical
/// form; for one the result is empty (metadata airlift builds has none).
///
/// This is our own writer, not the `olpc_cjson` formatter, which
/// differs from python-tuf in two ways found by the differential test
/// (`tests/diff`): it rewrites strings to Unicode NFC, and it orders keys by
/// their escaped, quoted bytes, so `"a b"` sorts before `"a"` and `"a#"`
/// before `"a\""`. Either changes the signed bytes, and a signature made
/// over one form does not verify over the other.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if write_canonical(value, &mut out).is_err() {
        out.clear();
    }
    out
}

/// The one thing without a canonical form: a number that is not an integer.
struct NotCanonical;

fn write_canonical(value: &Value, out: &mut Vec<u8>) -> Result<(), NotCanonical> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => out.extend_from_slice(i.to_string().as_bytes()),
            (None, Some(u)) => out.extend_from_slice(u.to_string().as_bytes()),
            (None, None) => return Err(NotCanonical),
        },
        Value::String(s) => write_canonical_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorted here, whatever order the map keeps: `str`'s order is
            // the order of code points, which is Python's.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical_string(key, out);
                out.push(b':');
                write_canonical(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_canonical_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for byte in s.bytes() {
        if matches!(byte, b'"' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_is_what_python_tuf_writes() {
        // Found by the differential test against securesystemslib
        // (tests/diff): keys in code-point order, even where a key is a
        // prefix of another or holds a quote, and strings left as they are
        // (not rewritten to NFC).
        let value = json!({"a b": 1, "a": 2, "a#": 3, "a\"": 4, "!": [true, null, "e\u{301}\\"]});
        let expected =
            "{\"!\":[true,null,\"e\u{301}\\\\\"],\"a\":2,\"a b\":1,\"a\\\"\":4,\"a#\":3}";
        assert_eq!(
            String::from_utf8(canonical_json(&value)).ok().as_deref(),
            Some(expected)
        );
        assert_eq!(
            canonical_json(&json!([u64::MAX, i64::MIN, "\n\t\u{0}"])),
            "[18446744073709551615,-9223372036854775808,\"\n\t\u{0}\"]".as_bytes()
        );
        assert!(canonical_json(&json!({"x": 1.5})).is_empty());
    }
}
