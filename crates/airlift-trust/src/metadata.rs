//! Writing signed TUF metadata.
//!
//! Files are canonical JSON (OLPC), the same form that is signed, so the
//! bytes depend only on content, keys and times: packing the same store with
//! the same keys and clock gives byte-identical metadata.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tough::schema::decoded::{Decoded, Hex};
use tough::schema::key::Key;
use tough::schema::{
    Hashes, Metafile, RoleKeys, RoleType, Root, Signature, Signed, Snapshot, Timestamp,
};

use crate::keypair::KeyPair;
// Written here before `schema` existed; other crates still use these paths.
pub use crate::schema::{canonical_json, format_time};

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

/// The `signed` object of targets metadata listing `targets`.
///
/// Still written as a JSON object, not through tough's `Targets`, on
/// purpose: this function cannot fail (`airlift-bundle`'s pack calls it and
/// signs the value, one approver at a time), and tough's types can refuse
/// what it is given. `TargetName::new` refuses some names (empty, `..`,
/// `/`, anything that resolves to nothing), `Target::custom` is a map where
/// `TargetInfo::custom` is any JSON value, and the version must be non-zero.
/// Building through tough would need a fallible signature, which changes the
/// pack crate. The bytes are the same either way for what tough accepts:
/// `targets_are_what_tough_reads_and_writes_back` reads every pinned
/// targets file into tough's `Signed<Targets>` and writes it back
/// byte for byte.
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

/// The `signed` object of a root: `keys` (public key objects by key id)
/// and, per role, its key ids and threshold.
///
/// Built as tough's `Root`, the type the verifying side reads it into, so a
/// key or role name that tough cannot read is refused here, when the root
/// is written, rather than at import. For what tough reads, the JSON is the
/// same as the object written by hand before (pinned by
/// `roots_are_pinned_byte_for_byte`). It stays a JSON value, not a signed
/// file: a new root collects its signatures one approver at a time.
pub(crate) fn root_signed(
    version: u64,
    expires: jiff::Timestamp,
    keys: &BTreeMap<String, Value>,
    roles: &BTreeMap<String, (Vec<String>, usize)>,
) -> Result<Value, crate::TrustError> {
    let build = |message: String| crate::TrustError::Build(message);
    let version = NonZeroU64::new(version)
        .ok_or_else(|| build("root version 0: TUF versions start at 1".into()))?;
    let mut root = Root {
        spec_version: crate::SPEC_VERSION.to_owned(),
        consistent_snapshot: false,
        version,
        expires: whole_seconds(expires)?,
        keys: HashMap::new(),
        roles: HashMap::new(),
        _extra: HashMap::new(),
    };
    for (keyid, key) in keys {
        let key: Key = serde_json::from_value(key.clone())
            .map_err(|e| build(format!("key {keyid} is not a TUF key tough can read: {e}")))?;
        root.keys.insert(hex_field(keyid)?, key);
    }
    for (name, (keyids, threshold)) in roles {
        let role: RoleType = name
            .parse()
            .map_err(|_| build(format!("{name} is not a role of a TUF root")))?;
        let threshold = NonZeroU64::new(*threshold as u64)
            .ok_or_else(|| build(format!("{name}: a threshold of 0")))?;
        let keyids = keyids
            .iter()
            .map(|id| hex_field(id))
            .collect::<Result<_, _>>()?;
        root.roles.insert(
            role,
            RoleKeys {
                keyids,
                threshold,
                _extra: HashMap::new(),
            },
        );
    }
    serde_json::to_value(&root).map_err(|e| build(e.to_string()))
}

/// A key id or signature as tough holds it: hex, decoded (and written back
/// as the same lowercase hex).
fn hex_field(text: &str) -> Result<Decoded<Hex>, crate::TrustError> {
    hex::decode(text)
        .map(Decoded::<Hex>::from)
        .map_err(|e| crate::TrustError::Build(format!("{text} is not hex: {e}")))
}

/// Snapshot and timestamp over a signed `targets_file`.
///
/// Both are built as tough's own schema types (`Snapshot`, `Timestamp`,
/// `Signed`), the types the verifying side reads them into, and written
/// through [`canonical_json`]: the bytes are the same as the JSON objects
/// written by hand before (pinned by `every_role_is_pinned_byte_for_byte`).
pub fn finish(
    targets_file: Vec<u8>,
    times: TufTimes,
    snapshot_keys: &[&KeyPair],
    timestamp_keys: &[&KeyPair],
) -> Result<MetadataSet, crate::TrustError> {
    let version = NonZeroU64::new(times.version).ok_or_else(|| {
        crate::TrustError::Build("metadata version 0: TUF versions start at 1".into())
    })?;
    let mut snapshot = Snapshot::new(
        crate::SPEC_VERSION.to_owned(),
        version,
        whole_seconds(times.targets_expires)?,
    );
    snapshot
        .meta
        .insert("targets.json".to_owned(), metafile(&targets_file, version));
    let snapshot_file = sign_typed(&snapshot, snapshot_keys)?;
    let mut timestamp = Timestamp::new(
        crate::SPEC_VERSION.to_owned(),
        version,
        whole_seconds(times.timestamp_expires)?,
    );
    timestamp.meta.insert(
        "snapshot.json".to_owned(),
        metafile(&snapshot_file, version),
    );
    let timestamp_file = sign_typed(&timestamp, timestamp_keys)?;
    Ok(MetadataSet {
        targets: targets_file,
        snapshot: snapshot_file,
        timestamp: timestamp_file,
    })
}

/// What a snapshot or timestamp lists of a file: its version, length and
/// SHA-256.
fn metafile(file: &[u8], version: NonZeroU64) -> Metafile {
    Metafile {
        length: Some(file.len() as u64),
        hashes: Some(Hashes {
            sha256: Decoded::from(airlift_core::Digest::of(file).as_bytes().to_vec()),
            _extra: HashMap::new(),
        }),
        version,
        _extra: HashMap::new(),
    }
}

/// `time` cut down to the whole second, as [`format_time`] writes it: tough
/// writes a fraction of a second when there is one, and TUF times have none.
fn whole_seconds(time: jiff::Timestamp) -> Result<jiff::Timestamp, crate::TrustError> {
    time.round(
        jiff::TimestampRound::new()
            .smallest(jiff::Unit::Second)
            .mode(jiff::RoundMode::Floor),
    )
    .map_err(|e| crate::TrustError::Build(format!("expiry time {time}: {e}")))
}

/// Signs a role built as a tough schema type with each key and returns the
/// file bytes: `signed` and the whole `Signed` document both as canonical
/// JSON, signatures in key id order (as [`sign_role`]).
fn sign_typed<T: Serialize + Clone>(
    signed: &T,
    keys: &[&KeyPair],
) -> Result<Vec<u8>, crate::TrustError> {
    let build = |e: serde_json::Error| crate::TrustError::Build(e.to_string());
    let message = canonical_json(&serde_json::to_value(signed).map_err(build)?);
    let mut signatures = keys
        .iter()
        .map(|key| {
            Ok(Signature {
                keyid: hex_field(key.keyid())?,
                sig: hex_field(&key.sign(&message)?)?,
            })
        })
        .collect::<Result<Vec<_>, crate::TrustError>>()?;
    signatures.sort_by(|a, b| a.keyid.as_ref().cmp(b.keyid.as_ref()));
    let document = Signed {
        signed: signed.clone(),
        signatures,
    };
    Ok(canonical_json(
        &serde_json::to_value(&document).map_err(build)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keypair::fixed;

    fn times() -> TufTimes {
        TufTimes {
            version: 7,
            timestamp_expires: "2027-01-02T03:04:05Z".parse().expect("time"),
            // A fraction of a second: TUF times are whole seconds, cut down.
            targets_expires: "2027-02-03T04:05:06.789Z".parse().expect("time"),
        }
    }

    fn targets() -> BTreeMap<String, TargetInfo> {
        let mut targets = BTreeMap::new();
        targets.insert(
            "blobs/sha256/ab".to_owned(),
            TargetInfo {
                length: 3,
                sha256: airlift_core::Digest::of(b"abc"),
                custom: json!({"kind": "blob", "z": [1, "é\"\\"]}),
            },
        );
        targets.insert(
            "index/files.json".to_owned(),
            TargetInfo {
                length: 0,
                sha256: airlift_core::Digest::of(b""),
                custom: Value::Null,
            },
        );
        targets
    }

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn every_role_is_pinned_byte_for_byte() {
        // Pins the exact bytes of targets, snapshot and timestamp for fixed
        // keys and times, so that any change to how they are built (such as
        // building them through tough's schema types) must keep them.
        let dir = tempfile::tempdir().expect("tempdir");
        let site = fixed::key(dir.path(), "site-ed25519.pk8", 1);
        let set = build(&targets(), times(), &site).expect("build");
        assert_eq!(text(&set.targets), PINNED_TARGETS);
        assert_eq!(text(&set.snapshot), PINNED_SNAPSHOT);
        assert_eq!(text(&set.timestamp), PINNED_TIMESTAMP);
        // Two timestamp keys: signatures ordered by key id, whatever order
        // the keys come in.
        let packer = fixed::key(dir.path(), "packer.pk8", 2);
        let one = finish(set.targets.clone(), times(), &[&site], &[&packer, &site]).expect("a");
        let other = finish(set.targets, times(), &[&site], &[&site, &packer]).expect("b");
        assert_eq!(one.timestamp, other.timestamp);
        assert_eq!(text(&one.timestamp), PINNED_TIMESTAMP_TWO_KEYS);
    }

    #[test]
    fn every_role_is_what_tough_reads_and_writes_back() {
        // Each pinned file read into tough's own type and written back as
        // canonical JSON gives the same bytes: nothing in them is a field
        // tough drops or a form it rewrites (such as a time's fraction).
        fn round_trip<T: serde::de::DeserializeOwned + Serialize>(file: &str) -> String {
            let parsed: Signed<T> = serde_json::from_str(file).expect("tough reads it");
            let value = serde_json::to_value(&parsed).expect("tough writes it");
            String::from_utf8(canonical_json(&value)).expect("UTF-8")
        }
        assert_eq!(
            round_trip::<tough::schema::Targets>(PINNED_TARGETS),
            PINNED_TARGETS
        );
        assert_eq!(round_trip::<Snapshot>(PINNED_SNAPSHOT), PINNED_SNAPSHOT);
        assert_eq!(round_trip::<Timestamp>(PINNED_TIMESTAMP), PINNED_TIMESTAMP);
        assert_eq!(
            round_trip::<Timestamp>(PINNED_TIMESTAMP_TWO_KEYS),
            PINNED_TIMESTAMP_TWO_KEYS
        );
    }

    #[test]
    fn version_zero_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = fixed::key(dir.path(), "site-ed25519.pk8", 1);
        let zero = TufTimes {
            version: 0,
            ..times()
        };
        match build(&targets(), zero, &site) {
            Err(crate::TrustError::Build(message)) => {
                assert!(message.contains("version 0"), "{message}")
            }
            other => panic!("not refused: {:?}", other.map(|s| s.timestamp)),
        }
    }

    #[test]
    fn expiry_times_are_cut_to_the_second_as_format_time_writes_them() {
        // Before the epoch too, where cutting toward zero would move the
        // time forward a second: both must floor.
        for text in [
            "2027-02-03T04:05:06.999999999Z",
            "2027-02-03T04:05:06Z",
            "1969-12-31T23:59:59.5Z",
        ] {
            let time: jiff::Timestamp = text.parse().expect("time");
            let cut = whole_seconds(time).expect("cut");
            assert_eq!(cut.subsec_nanosecond(), 0, "{text}");
            assert_eq!(format_time(cut), format_time(time), "{text}");
            assert!(cut <= time, "{text}");
        }
    }

    const PINNED_TARGETS: &str = r##"{"signatures":[{"keyid":"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12","sig":"a5315ea626b598edbdfa20f25bbe7471a2017eaa9c735ab0c68560717160812122ab132072dabcbff999b7e0ccfab6ae54441bb041a1ef5f368cd2efc6726208"}],"signed":{"_type":"targets","expires":"2027-02-03T04:05:06Z","spec_version":"1.0.31","targets":{"blobs/sha256/ab":{"custom":{"kind":"blob","z":[1,"é\"\\"]},"hashes":{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},"length":3},"index/files.json":{"hashes":{"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},"length":0}},"version":7}}"##;
    const PINNED_SNAPSHOT: &str = r##"{"signatures":[{"keyid":"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12","sig":"fc8d6185a5fe6b9c0c5a7dd153a9a4a5a97596633f4cfb159f8b54954c7eec1bf98e84e19750fa0c005ed8ec5bcef938ffc21f1dc23ad417edbf28a5c8126201"}],"signed":{"_type":"snapshot","expires":"2027-02-03T04:05:06Z","meta":{"targets.json":{"hashes":{"sha256":"6f53155d7a1d40418c4b52fb7bc658283979c58924653e423aeda4afbca8b5a7"},"length":619,"version":7}},"spec_version":"1.0.31","version":7}}"##;
    const PINNED_TIMESTAMP: &str = r##"{"signatures":[{"keyid":"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12","sig":"bf453e2106a258a26b1f8bd4c7d97879d30c7b5c89fcc06a2ee82c0257cb936137a9d13222d40558ad5b63680c2c279ec9d7b6004e016421ff3d7e7c7c4e0007"}],"signed":{"_type":"timestamp","expires":"2027-01-02T03:04:05Z","meta":{"snapshot.json":{"hashes":{"sha256":"cd6cc75d5c15775bfa8caf3652fb4017d567124924d8c6b1abbfbe448aff975d"},"length":467,"version":7}},"spec_version":"1.0.31","version":7}}"##;
    const PINNED_TIMESTAMP_TWO_KEYS: &str = r##"{"signatures":[{"keyid":"2a19b91e4d2626c755e701073e8d81ec24082b69b9fc9f69eb0e0ea3562340b9","sig":"5ddb33fd600522654363ab327b8a8ed7b7d333b0cd6c3cef8f4a5435cec0e57c13d23fe0e498f5d17bc3f33e9dfd29b30ffb90c7fc50ab3dff64e50005d45a0f"},{"keyid":"7ab6b86cb2c9684b0ddc10896153aa2595decf4d4327a5ff1a8ab7422c828b12","sig":"bf453e2106a258a26b1f8bd4c7d97879d30c7b5c89fcc06a2ee82c0257cb936137a9d13222d40558ad5b63680c2c279ec9d7b6004e016421ff3d7e7c7c4e0007"}],"signed":{"_type":"timestamp","expires":"2027-01-02T03:04:05Z","meta":{"snapshot.json":{"hashes":{"sha256":"cd6cc75d5c15775bfa8caf3652fb4017d567124924d8c6b1abbfbe448aff975d"},"length":467,"version":7}},"spec_version":"1.0.31","version":7}}"##;
}
