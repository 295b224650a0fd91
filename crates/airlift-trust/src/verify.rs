//! Verifying a bundle's metadata with the TUF client `tough`.
//!
//! The caller copies the metadata into a local directory first (never verify
//! on the medium itself, which could change between reads). Verification runs
//! against a *copy* of the persisted client state, so a rejected bundle leaves
//! the trusted state untouched; the caller swaps the copy in only when the
//! whole import commits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tough::{ExpirationEnforcement, FilesystemTransport, RepositoryLoader};
use url::Url;

use crate::{TargetInfo, TrustError};

/// What verified metadata says.
#[derive(Clone, Debug)]
pub struct VerifiedMetadata {
    /// The timestamp (bundle) version.
    pub version: u64,
    /// The newest root version, after walking the chain.
    pub root_version: u64,
    /// When the timestamp expires.
    pub expires: jiff::Timestamp,
    /// Every target, by name.
    pub targets: BTreeMap<String, TargetInfo>,
}

/// An error and its causes on one line, each cause once.
pub fn render_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Verifies TUF metadata in `metadata_dir` (root chain `N.root.json`,
/// `timestamp.json`, `snapshot.json`, `targets.json`) against `trusted_root`,
/// using and updating the client state in `state_dir`.
pub fn verify_metadata(
    trusted_root: &[u8],
    metadata_dir: &Path,
    state_dir: &Path,
) -> Result<VerifiedMetadata, TrustError> {
    let failure = |message: String| TrustError::Verification {
        path: metadata_dir.to_path_buf(),
        message,
    };
    let metadata_url = directory_url(metadata_dir).map_err(&failure)?;
    std::fs::create_dir_all(state_dir).map_err(TrustError::io("create directory", state_dir))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(TrustError::io(
            "start runtime for",
            PathBuf::from(metadata_dir),
        ))?;
    let repository = runtime
        .block_on(
            RepositoryLoader::new(&trusted_root, metadata_url.clone(), metadata_url)
                .transport(FilesystemTransport)
                .datastore(state_dir)
                .expiration_enforcement(ExpirationEnforcement::Safe)
                .load(),
        )
        .map_err(|e| {
            let message = render_chain(&e);
            // Expiry and rollback are told apart by tough's error type,
            // so that callers never match message text.
            match e {
                tough::error::Error::ExpiredMetadata { .. } => {
                    return TrustError::Expired {
                        path: metadata_dir.to_path_buf(),
                        message,
                    };
                }
                tough::error::Error::OlderMetadata { .. } => {
                    return TrustError::Older {
                        path: metadata_dir.to_path_buf(),
                        message,
                    };
                }
                _ => {}
            }
            // Name who signed and who is missing when a threshold is the
            // cause (tough only counts).
            match diagnose(metadata_dir, trusted_root, false) {
                Some(threshold) => failure(format!("{threshold} ({message})")),
                None => failure(message),
            }
        })?;
    // Count again, strictly: each key once, only valid signatures, against
    // the root tough arrived at.
    if let Some(threshold) = diagnose(metadata_dir, trusted_root, true) {
        return Err(failure(threshold));
    }

    let mut targets = BTreeMap::new();
    for (name, target) in repository.all_targets() {
        let sha256 = target
            .hashes
            .sha256
            .as_ref()
            .try_into()
            .map(airlift_core::Digest::from_bytes)
            .map_err(|_| failure(format!("target {} has no 32-byte sha256", name.raw())))?;
        let custom = serde_json::to_value(&target.custom).map_err(|e| failure(e.to_string()))?;
        targets.insert(
            name.raw().to_owned(),
            TargetInfo {
                length: target.length,
                sha256,
                custom: if target.custom.is_empty() {
                    serde_json::Value::Null
                } else {
                    custom
                },
            },
        );
    }
    Ok(VerifiedMetadata {
        version: repository.timestamp().signed.version.get(),
        root_version: repository.root().signed.version.get(),
        expires: repository.timestamp().signed.expires,
        targets,
    })
}

/// The most bytes read of a root, timestamp or snapshot file while
/// diagnosing a refusal, before any verified metadata gives a length.
const MAX_SMALL_FILE: u64 = 1 << 20;

/// The most bytes of a role file read for the strict count after the TUF
/// client accepted it, when its parent lists no length.
const MAX_VERIFIED_FILE: u64 = 256 << 20;

/// How many newer roots a diagnosis walks (as tough's default).
const MAX_ROOT_UPDATES: u64 = 1024;

/// Reads `path` only if it is at most `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= limit).then_some(bytes)
}

/// What a verified parent says of `name`: its length and SHA-256.
fn listed(parent: &serde_json::Value, name: &str) -> Option<(u64, String)> {
    let meta = &parent["signed"]["meta"][name];
    Some((
        meta["length"].as_u64()?,
        meta["hashes"]["sha256"].as_str()?.to_ascii_lowercase(),
    ))
}

/// Reads `name` from `dir` only if it has the length and SHA-256 that its
/// verified parent lists; otherwise says why not.
fn read_listed(
    dir: &Path,
    name: &str,
    parent_role: &str,
    parent: &serde_json::Value,
    verified_by_tough: bool,
) -> Result<serde_json::Value, Option<String>> {
    let Some((length, sha256)) = listed(parent, name) else {
        // Metadata that lists no length and hash (not airlift's: its writer
        // always lists both): only a file the TUF client already verified
        // is read, within the largest size a role may have.
        if !verified_by_tough {
            return Err(None);
        }
        let bytes = read_bounded(&dir.join(name), MAX_VERIFIED_FILE).ok_or(None)?;
        return serde_json::from_slice(&bytes).map_err(|_| None);
    };
    let mismatch = || {
        Some(format!(
            "{name} does not have the length ({length} bytes) and SHA-256 that the verified {parent_role} lists"
        ))
    };
    let bytes = read_bounded(&dir.join(name), length).ok_or_else(mismatch)?;
    if bytes.len() as u64 != length || airlift_core::Digest::of(&bytes).hex() != sha256 {
        return Err(mismatch());
    }
    serde_json::from_slice(&bytes).map_err(|_| None)
}

/// The first role whose signatures fall short of its threshold, described
/// with names, or `None` when every role checked meets its threshold (then
/// the TUF client's own message says what failed).
///
/// Only verified data is read beyond a small bound, in TUF's order: the root
/// chain from `trusted_root` (a newer root counts only when both the root
/// before it and itself meet their root thresholds), the timestamp, then the
/// snapshot and the targets only when their length and hash match what the
/// verified role before them lists. So a bundle with a huge or forged file
/// cannot make the diagnosis read it, and key names come from trusted roots
/// only, never from a root an attacker wrote. `verified_by_tough` says the
/// TUF client accepted the files (the strict re-count after a success):
/// then a role whose parent lists no length is still counted.
fn diagnose(metadata_dir: &Path, trusted_root: &[u8], verified_by_tough: bool) -> Option<String> {
    use crate::roles::{RootInfo, tally};
    let mut root = RootInfo::parse(trusted_root).ok()?;
    for _ in 0..MAX_ROOT_UPDATES {
        let next = root.version + 1;
        let Some(bytes) = read_bounded(
            &metadata_dir.join(format!("{next}.root.json")),
            MAX_SMALL_FILE,
        ) else {
            break;
        };
        let file: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let by_old = tally(&root, "root", &file).ok()?;
        if !by_old.met() {
            return Some(format!(
                "root version {next} is not signed by the root before it: {}",
                by_old.describe(&root)
            ));
        }
        let new = RootInfo::from_signed(&file["signed"]).ok()?;
        if new.version != next {
            return None;
        }
        let by_new = tally(&new, "root", &file).ok()?;
        if !by_new.met() {
            return Some(format!(
                "root version {next} is not signed by its own keys: {}",
                by_new.describe(&new)
            ));
        }
        root = new;
    }
    let timestamp: serde_json::Value = serde_json::from_slice(&read_bounded(
        &metadata_dir.join("timestamp.json"),
        MAX_SMALL_FILE,
    )?)
    .ok()?;
    let mut parent = ("timestamp", timestamp);
    let first = tally(&root, "timestamp", &parent.1).ok()?;
    if !first.met() {
        return Some(first.describe(&root));
    }
    for role in ["snapshot", "targets"] {
        let file = match read_listed(
            metadata_dir,
            &format!("{role}.json"),
            parent.0,
            &parent.1,
            verified_by_tough,
        ) {
            Ok(file) => file,
            Err(reason) => return reason,
        };
        let counted = tally(&root, role, &file).ok()?;
        if !counted.met() {
            return Some(counted.describe(&root));
        }
        parent = (role, file);
    }
    None
}

/// Reads the version and checks the shape of a root file chosen as trust anchor.
pub fn inspect_root(path: &Path) -> Result<u64, TrustError> {
    let bytes = std::fs::read(path).map_err(TrustError::io("read", path))?;
    let bad = |message: String| TrustError::BadRoot {
        path: path.to_path_buf(),
        message,
    };
    let parsed: tough::schema::Signed<tough::schema::Root> =
        serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    parsed.signed.verify_role(&parsed).map_err(|e| {
        bad(format!(
            "not signed by its own root keys: {}",
            render_chain(&e)
        ))
    })?;
    Ok(parsed.signed.version.get())
}

fn directory_url(dir: &Path) -> Result<Url, String> {
    let absolute = std::path::absolute(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Url::from_directory_path(&absolute)
        .map_err(|()| format!("{} is not a usable directory path", absolute.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keypair::{KeyPair, fixed};
    use crate::metadata::{TufTimes, finish, root_signed, sign_role, targets_signed};
    use std::collections::BTreeMap;

    fn time(text: &str) -> jiff::Timestamp {
        text.parse().expect("time")
    }

    /// The signed `root` of version `version` whose every role is `key`'s.
    fn root(version: u64, key: &KeyPair) -> serde_json::Value {
        let keys = BTreeMap::from([(key.keyid().to_owned(), key.public_json())]);
        let roles = ["root", "targets", "snapshot", "timestamp"]
            .into_iter()
            .map(|r| (r.to_owned(), (vec![key.keyid().to_owned()], 1)))
            .collect();
        root_signed(version, time("2099-01-01T00:00:00Z"), &keys, &roles).expect("root")
    }

    fn times() -> TufTimes {
        TufTimes {
            version: 1,
            timestamp_expires: time("2099-01-01T00:00:00Z"),
            targets_expires: time("2099-01-01T00:00:00Z"),
        }
    }

    /// Writes targets, snapshot and timestamp signed by the given keys.
    fn write_roles(dir: &Path, targets: &KeyPair, snapshot: &KeyPair, timestamp: &KeyPair) {
        let file = sign_role(&targets_signed(&BTreeMap::new(), times()), &[targets]).expect("t");
        let set = finish(file, times(), &[snapshot], &[timestamp]).expect("set");
        std::fs::write(dir.join("targets.json"), set.targets).expect("write");
        std::fs::write(dir.join("snapshot.json"), set.snapshot).expect("write");
        std::fs::write(dir.join("timestamp.json"), set.timestamp).expect("write");
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        metadata: PathBuf,
        state: PathBuf,
        trusted: Vec<u8>,
        site: KeyPair,
        other: KeyPair,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let site = fixed::key(&dir.path().join("keys"), "site-ed25519.pk8", 1);
        let other = fixed::key(&dir.path().join("keys"), "other.pk8", 2);
        let metadata = dir.path().join("metadata");
        std::fs::create_dir_all(&metadata).expect("metadata");
        let trusted = sign_role(&root(1, &site), &[&site]).expect("root");
        std::fs::write(metadata.join("1.root.json"), &trusted).expect("write");
        Fixture {
            state: dir.path().join("state"),
            _dir: dir,
            metadata,
            trusted,
            site,
            other,
        }
    }

    #[test]
    fn metadata_signed_by_the_root_keys_verifies() {
        let f = fixture();
        write_roles(&f.metadata, &f.site, &f.site, &f.site);
        assert_eq!(diagnose(&f.metadata, &f.trusted, false), None);
        let verified = verify_metadata(&f.trusted, &f.metadata, &f.state).expect("verified");
        assert_eq!((verified.version, verified.root_version), (1, 1));
        assert!(verified.targets.is_empty());
    }

    #[test]
    fn a_refusal_names_the_role_whose_threshold_is_not_met() {
        let f = fixture();
        // Timestamp signed by a key the root does not list.
        write_roles(&f.metadata, &f.site, &f.site, &f.other);
        let reason = diagnose(&f.metadata, &f.trusted, false).expect("a reason");
        assert!(
            reason
                .starts_with("timestamp: signed by nobody; 0 of the 1 required; missing any 1 of "),
            "{reason}"
        );
        match verify_metadata(&f.trusted, &f.metadata, &f.state) {
            Err(TrustError::Verification { message, .. }) => {
                assert!(message.starts_with(&reason), "{message}")
            }
            other => panic!("not refused: {other:?}"),
        }
        // Only targets signed by the wrong key: the roles before it pass.
        write_roles(&f.metadata, &f.other, &f.site, &f.site);
        let reason = diagnose(&f.metadata, &f.trusted, false).expect("a reason");
        assert!(reason.starts_with("targets: signed by nobody"), "{reason}");
    }

    #[test]
    fn the_root_chain_is_diagnosed_before_the_roles_it_delegates_to() {
        let f = fixture();
        // Every role is bad, and root version 2 is signed only by its own
        // new key, not by the root before it: that is named first.
        write_roles(&f.metadata, &f.other, &f.other, &f.other);
        let second = sign_role(&root(2, &f.other), &[&f.other]).expect("root 2");
        std::fs::write(f.metadata.join("2.root.json"), second).expect("write");
        let reason = diagnose(&f.metadata, &f.trusted, false).expect("a reason");
        assert!(
            reason.starts_with(
                "root version 2 is not signed by the root before it: root: signed by nobody"
            ),
            "{reason}"
        );
        // Signed by both, root 2 is trusted, and then the roles are its.
        let both = sign_role(&root(2, &f.other), &[&f.other, &f.site]).expect("root 2");
        std::fs::write(f.metadata.join("2.root.json"), both).expect("write");
        assert_eq!(diagnose(&f.metadata, &f.trusted, false), None);
    }

    #[test]
    fn a_file_that_its_verified_parent_does_not_list_is_not_read() {
        let f = fixture();
        write_roles(&f.metadata, &f.site, &f.site, &f.site);
        // A snapshot other than the one the timestamp lists.
        let mut snapshot = std::fs::read(f.metadata.join("snapshot.json")).expect("read");
        snapshot.push(b' ');
        std::fs::write(f.metadata.join("snapshot.json"), snapshot).expect("write");
        let reason = diagnose(&f.metadata, &f.trusted, false).expect("a reason");
        assert!(
            reason.starts_with("snapshot.json does not have the length"),
            "{reason}"
        );
        assert!(
            reason.ends_with("that the verified timestamp lists"),
            "{reason}"
        );
    }
}
