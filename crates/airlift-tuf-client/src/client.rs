//! The three commands of the conformance protocol over airlift's trust code.
//!
//! Layout of `--metadata-dir`: the suite reads `root.json`,
//! `timestamp.json`, `snapshot.json` and `targets.json` there, so the client
//! keeps the raw bytes of what it trusts under those names. tough's own
//! datastore (re-serialized metadata and the latest known time, for
//! rollback and clock checks) lives in the `airlift-state` subdirectory,
//! whose name does not end in `.json` so the suite ignores it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use airlift_trust::{RootInfo, TargetInfo, TrustError, VerifiedMetadata};
use tough::{ExpirationEnforcement, Repository, RepositoryLoader, Transport};
use url::Url;

use crate::transport::RecordingTransport;

/// The subdirectory of the metadata directory that holds tough's datastore.
const STATE_DIR: &str = "airlift-state";

/// The top-level roles the suite expects to find in the metadata directory.
const ROLES: [&str; 4] = ["root", "timestamp", "snapshot", "targets"];

/// Why a command failed. Each names the file, URL or target concerned.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The command line lacks something the command needs.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing a local file failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// airlift's own verification refused the metadata.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// tough refused the repository or could not fetch from it.
    #[error("loading the repository at {url} failed: {message}")]
    Load {
        /// The metadata base URL.
        url: Url,
        /// What tough reported, with its causes.
        message: String,
    },
    /// The HTTP client could not be set up.
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// The verified targets do not list the requested target.
    #[error("target {name:?} is not listed in the verified targets metadata")]
    TargetNotFound {
        /// The target path asked for.
        name: String,
    },
    /// A target could not be fetched or does not match its metadata.
    #[error("target {name:?}: {message}")]
    Target {
        /// The target path.
        name: String,
        /// Why.
        message: String,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ClientError {
    let path = path.to_path_buf();
    move |source| ClientError::Io {
        action,
        path,
        source,
    }
}

pub use airlift_trust::verify::render_chain;

/// Trusts `trusted_root`: checks that it is a root signed by its own keys
/// (the protocol allows refusing a bad root here) and stores it as
/// `root.json`, starting with empty client state.
pub fn init(metadata_dir: &Path, trusted_root: &Path) -> Result<(), ClientError> {
    airlift_trust::verify::inspect_root(trusted_root)?;
    let bytes = std::fs::read(trusted_root).map_err(io("read", trusted_root))?;
    std::fs::create_dir_all(metadata_dir).map_err(io("create directory", metadata_dir))?;
    let state = metadata_dir.join(STATE_DIR);
    if state.exists() {
        std::fs::remove_dir_all(&state).map_err(io("remove", &state))?;
    }
    write_atomic(&metadata_dir.join("root.json"), &bytes)
}

/// How much of airlift's verification a refresh runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// tough over HTTP, then `airlift_trust::verify_metadata` over the
    /// fetched files: what `airlift import` would accept.
    Airlift,
    /// tough over HTTP only, without airlift's second pass (its strict
    /// threshold re-count and its Ed25519-only keys). It separates what
    /// tough and this glue do from what airlift adds.
    ToughOnly,
}

/// The targets tough verified, as `verify_metadata` would list them.
fn summarize(repository: &Repository) -> Result<VerifiedMetadata, String> {
    let mut targets = BTreeMap::new();
    for (name, target) in repository.all_targets() {
        let sha256 = <[u8; 32]>::try_from(target.hashes.sha256.as_ref())
            .map(airlift_core::Digest::from_bytes)
            .map_err(|_| format!("target {} has no 32-byte sha256", name.raw()))?;
        targets.insert(
            name.raw().to_owned(),
            TargetInfo {
                length: target.length,
                sha256,
                custom: serde_json::Value::Null,
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

/// The outcome of a successful refresh: what airlift verified, and what
/// fetching its targets needs.
pub struct Refreshed {
    /// The metadata as `airlift_trust::verify_metadata` returned it.
    pub verified: VerifiedMetadata,
    consistent_snapshot: bool,
    targets_url: Url,
    transport: RecordingTransport,
    runtime: tokio::runtime::Runtime,
}

/// Updates the trusted metadata in `metadata_dir` from `metadata_url`.
///
/// The first pass (tough over HTTP) runs on a copy of the client state. If
/// it fails, whatever tough verified and persisted before the failure (a
/// newer root, a newer timestamp) is kept, as the TUF client workflow asks,
/// but in airlift mode only when airlift's strict count accepts it too.
/// If it succeeds, the fetched files are verified again with
/// `airlift_trust::verify_metadata` on a second copy of the state, and only
/// then is the new metadata trusted.
pub fn refresh(
    metadata_dir: &Path,
    metadata_url: &Url,
    targets_url: &Url,
    mode: Mode,
) -> Result<Refreshed, ClientError> {
    let root_path = metadata_dir.join("root.json");
    // A trusted root that does not parse or is not signed by its own keys
    // ends the refresh before any request is made.
    airlift_trust::verify::inspect_root(&root_path)?;
    let trusted_root = std::fs::read(&root_path).map_err(io("read", &root_path))?;
    let state = metadata_dir.join(STATE_DIR);
    std::fs::create_dir_all(&state).map_err(io("create directory", &state))?;
    let work = tempfile::Builder::new()
        .prefix("refresh-")
        .tempdir_in(&state)
        .map_err(io("create a directory in", &state))?;
    let first = work.path().join("first");
    let second = work.path().join("second");
    let fetched = work.path().join("metadata");
    copy_files(&state, &first)?;
    copy_files(&state, &second)?;
    std::fs::create_dir_all(&fetched).map_err(io("create directory", &fetched))?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("start a runtime for", metadata_dir))?;
    let transport = RecordingTransport::new(metadata_url)?;
    let loaded = runtime.block_on(
        RepositoryLoader::new(&trusted_root, metadata_url.clone(), targets_url.clone())
            .transport(transport.clone())
            .datastore(&first)
            .expiration_enforcement(ExpirationEnforcement::Safe)
            .load(),
    );
    let recorded = transport.recorded();
    let repository = match loaded {
        Ok(repository) => repository,
        Err(error) => {
            // Keep what tough verified before the failure, but in airlift
            // mode only when airlift's strict count accepts it too.
            if mode == Mode::ToughOnly || strictly_signed(&trusted_root, &first, &recorded) {
                adopt(&first, &state)?;
                mirror(&state, &recorded, metadata_dir)?;
            }
            return Err(ClientError::Load {
                url: metadata_url.clone(),
                message: render_chain(&error),
            });
        }
    };

    if mode == Mode::ToughOnly {
        let verified = summarize(&repository).map_err(|message| ClientError::Load {
            url: metadata_url.clone(),
            message,
        })?;
        adopt(&first, &state)?;
        mirror(&state, &recorded, metadata_dir)?;
        return Ok(Refreshed {
            verified,
            consistent_snapshot: repository.root().signed.consistent_snapshot,
            targets_url: targets_url.clone(),
            transport,
            runtime,
        });
    }
    for (name, bytes) in &recorded {
        write_atomic(&fetched.join(name), bytes)?;
        // Under consistent snapshots tough fetched `N.snapshot.json` and
        // `N.targets.json`; airlift's bundle layout (and its threshold
        // re-count) reads the unversioned names.
        if let Some(role) = versioned_role(name).filter(|r| *r != "root") {
            write_atomic(&fetched.join(format!("{role}.json")), bytes)?;
        }
    }
    let verified = airlift_trust::verify_metadata(&trusted_root, &fetched, &second)?;
    adopt(&second, &state)?;
    mirror(&state, &recorded, metadata_dir)?;
    Ok(Refreshed {
        verified,
        consistent_snapshot: repository.root().signed.consistent_snapshot,
        targets_url: targets_url.clone(),
        transport,
        runtime,
    })
}

/// Downloads target `name` into `target_dir` unless a verified copy is
/// already there, checking it against the length and SHA-256 that airlift
/// verified (tough checks the same while it streams).
pub fn download(refreshed: &Refreshed, name: &str, target_dir: &Path) -> Result<(), ClientError> {
    let info = refreshed
        .verified
        .targets
        .get(name)
        .ok_or_else(|| ClientError::TargetNotFound {
            name: name.to_owned(),
        })?;
    std::fs::create_dir_all(target_dir).map_err(io("create directory", target_dir))?;
    let path = target_dir.join(file_name_for(name));
    let matches = |bytes: &[u8]| {
        bytes.len() as u64 == info.length && airlift_core::Digest::of(bytes) == info.sha256
    };
    if let Ok(meta) = std::fs::metadata(&path)
        && meta.len() == info.length
        && std::fs::read(&path).is_ok_and(|bytes| matches(&bytes))
    {
        return Ok(());
    }
    let failed = |message: String| ClientError::Target {
        name: name.to_owned(),
        message,
    };
    let url = target_url(
        &refreshed.targets_url,
        name,
        refreshed
            .consistent_snapshot
            .then(|| info.sha256.hex())
            .as_deref(),
    )
    .ok_or_else(|| failed(format!("cannot form a URL under {}", refreshed.targets_url)))?;
    let bytes = refreshed
        .runtime
        .block_on(fetch_capped(&refreshed.transport, url.clone(), info.length))
        .map_err(|message| failed(format!("{url}: {message}")))?;
    if !matches(&bytes) {
        return Err(failed(format!(
            "{url} does not have the verified length ({} bytes) and SHA-256",
            info.length
        )));
    }
    write_atomic(&path, &bytes)
}

/// The URL of target `name` under `base`: each `/`-separated part of the
/// path percent-encoded as one segment and, under consistent snapshots, the
/// hash put before the last part (`dir/HASH.file`), as TUF section 5.7.3
/// asks. (tough's own `read_target` puts it before the whole path.)
fn target_url(base: &Url, name: &str, hash: Option<&str>) -> Option<Url> {
    let mut url = base.clone();
    let mut parts: Vec<String> = name.split('/').map(str::to_owned).collect();
    if let (Some(hash), Some(last)) = (hash, parts.last_mut()) {
        *last = format!("{hash}.{last}");
    }
    url.path_segments_mut().ok()?.pop_if_empty().extend(&parts);
    Some(url)
}

/// Fetches `url` whole, refusing it once it passes `length` bytes.
async fn fetch_capped(
    transport: &RecordingTransport,
    url: Url,
    length: u64,
) -> Result<Vec<u8>, String> {
    use futures_util::StreamExt;
    let mut stream = transport.fetch(url).await.map_err(|e| render_chain(&e))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| render_chain(&e))?);
        if bytes.len() as u64 > length {
            return Err(format!("longer than the {length} bytes its metadata lists"));
        }
    }
    Ok(bytes)
}

/// Whether what tough left in the datastore `work` after a failed load
/// also meets airlift's strict threshold count: each newer root signed by
/// the root before it and by itself, and each stored timestamp, snapshot
/// and targets file fetched in this run signed for its role by the newest
/// root. Files that do not parse, or that cannot be matched to the bytes
/// fetched, count as not signed.
fn strictly_signed(trusted_root: &[u8], work: &Path, recorded: &BTreeMap<String, Vec<u8>>) -> bool {
    use airlift_trust::roles::tally;
    let Ok(mut root) = RootInfo::parse(trusted_root) else {
        return false;
    };
    let newest = std::fs::read(work.join("root.json"))
        .ok()
        .and_then(|b| signed_part(&b))
        .and_then(|s| s["version"].as_u64())
        .unwrap_or(root.version);
    while root.version < newest {
        let next = root.version + 1;
        let Some(file) = recorded
            .get(&format!("{next}.root.json"))
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        else {
            return false;
        };
        let Ok(new) = RootInfo::from_signed(&file["signed"]) else {
            return false;
        };
        let met = |by: &RootInfo| tally(by, "root", &file).is_ok_and(|t| t.met());
        if new.version != next || !met(&root) || !met(&new) {
            return false;
        }
        root = new;
    }
    for role in ["timestamp", "snapshot", "targets"] {
        let Ok(stored) = std::fs::read(work.join(format!("{role}.json"))) else {
            continue;
        };
        let trusted = signed_part(&stored);
        let fetched = recorded
            .iter()
            .filter(|(name, _)| {
                **name == format!("{role}.json") || versioned_role(name) == Some(role)
            })
            .filter_map(|(_, bytes)| serde_json::from_slice::<serde_json::Value>(bytes).ok())
            .find(|file| Some(&file["signed"]) == trusted.as_ref());
        // A file not fetched in this run was trusted before it.
        if let Some(file) = fetched
            && !tally(&root, role, &file).is_ok_and(|t| t.met())
        {
            return false;
        }
    }
    true
}

/// The role of a versioned metadata file name (`3.snapshot.json`).
fn versioned_role(name: &str) -> Option<&str> {
    let (version, rest) = name.split_once('.')?;
    let role = rest.strip_suffix(".json")?;
    (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit())).then_some(role)
}

/// A flat file name for a target path: every byte outside `[A-Za-z0-9_-]`
/// and a `.` that is not the first character are percent-encoded, so a
/// target path can never name a file outside the target directory.
fn file_name_for(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for (i, byte) in target.bytes().enumerate() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' || (byte == b'.' && i > 0) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// Copies the regular files of `from` (not its subdirectories) into `to`.
fn copy_files(from: &Path, to: &Path) -> Result<(), ClientError> {
    std::fs::create_dir_all(to).map_err(io("create directory", to))?;
    for entry in std::fs::read_dir(from).map_err(io("read directory", from))? {
        let entry = entry.map_err(io("read directory", from))?;
        if entry
            .file_type()
            .map_err(io("inspect", &entry.path()))?
            .is_file()
        {
            let target = to.join(entry.file_name());
            std::fs::copy(entry.path(), &target).map_err(io("copy to", &target))?;
        }
    }
    Ok(())
}

/// Makes the files of `state` those of `work`: copies `work`'s files in and
/// removes the files `work` no longer has (tough deletes the trusted
/// timestamp and snapshot after a key rotation).
fn adopt(work: &Path, state: &Path) -> Result<(), ClientError> {
    for entry in std::fs::read_dir(state).map_err(io("read directory", state))? {
        let entry = entry.map_err(io("read directory", state))?;
        let path = entry.path();
        if entry.file_type().map_err(io("inspect", &path))?.is_file()
            && !work.join(entry.file_name()).exists()
        {
            std::fs::remove_file(&path).map_err(io("remove", &path))?;
        }
    }
    for entry in std::fs::read_dir(work).map_err(io("read directory", work))? {
        let entry = entry.map_err(io("read directory", work))?;
        if entry
            .file_type()
            .map_err(io("inspect", &entry.path()))?
            .is_file()
        {
            let bytes = std::fs::read(entry.path()).map_err(io("read", &entry.path()))?;
            write_atomic(&state.join(entry.file_name()), &bytes)?;
        }
    }
    Ok(())
}

/// The `signed` part of a metadata file, if it parses.
fn signed_part(bytes: &[u8]) -> Option<serde_json::Value> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    Some(value.get_mut("signed")?.take())
}

/// Makes the suite-visible files in `metadata_dir` match what tough's
/// datastore in `state` trusts, using the raw bytes fetched in this run
/// when they carry the same `signed` part (tough stores re-serialized
/// metadata, and the suite compares bytes).
fn mirror(
    state: &Path,
    recorded: &BTreeMap<String, Vec<u8>>,
    metadata_dir: &Path,
) -> Result<(), ClientError> {
    for role in ROLES {
        let file = format!("{role}.json");
        let visible = metadata_dir.join(&file);
        let Ok(stored) = std::fs::read(state.join(&file)) else {
            // The root is only ever replaced; the others disappear when
            // tough drops them (after a key rotation).
            if role != "root" {
                match std::fs::remove_file(&visible) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io("remove", &visible)(e)),
                }
            }
            continue;
        };
        let Some(trusted) = signed_part(&stored) else {
            continue;
        };
        if std::fs::read(&visible)
            .ok()
            .and_then(|b| signed_part(&b))
            .is_some_and(|current| current == trusted)
        {
            continue;
        }
        let raw = recorded
            .iter()
            .filter(|(name, _)| **name == file || versioned_role(name) == Some(role))
            .map(|(_, bytes)| bytes)
            .find(|bytes| signed_part(bytes).is_some_and(|s| s == trusted));
        write_atomic(&visible, raw.map_or(&stored, |raw| raw))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// so that a reader never sees a partial file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(io("create a file in", dir))?;
    file.write_all(bytes).map_err(io("write", file.path()))?;
    file.persist(path)
        .map_err(|e| io("replace", path)(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_file_names_stay_inside_the_directory() {
        assert_eq!(file_name_for("file.txt"), "file.txt");
        assert_eq!(file_name_for("a/b.txt"), "a%2Fb.txt");
        assert_eq!(file_name_for("../x"), "%2E.%2Fx");
        assert_eq!(file_name_for(".."), "%2E.");
        assert_eq!(file_name_for(""), "%00");
    }

    #[test]
    fn target_urls_put_the_hash_before_the_file_name() {
        let base = Url::parse("http://127.0.0.1:1/repo/targets/").expect("a URL");
        let url = |name, hash| target_url(&base, name, hash).expect("a URL").to_string();
        assert_eq!(
            url("dir/sub/file.txt", Some("abcd")),
            "http://127.0.0.1:1/repo/targets/dir/sub/abcd.file.txt"
        );
        assert_eq!(
            url("file.txt", None),
            "http://127.0.0.1:1/repo/targets/file.txt"
        );
        assert_eq!(
            url("a b?#", None),
            "http://127.0.0.1:1/repo/targets/a%20b%3F%23"
        );
    }

    #[test]
    fn partial_state_is_kept_only_when_strictly_signed() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let now = jiff::Timestamp::now();
        let keys =
            airlift_trust::SiteKeys::init(&dir.path().join("keys"), now, 365).expect("site keys");
        let root = std::fs::read(keys.root_path(1)).expect("root");
        let expires = now
            .checked_add(jiff::SignedDuration::from_hours(24))
            .expect("expiry");
        let times = airlift_trust::TufTimes {
            version: 1,
            timestamp_expires: expires,
            targets_expires: expires,
        };
        let signer = keys.signers_for("timestamp").expect("signer")[0];
        let set =
            airlift_trust::metadata::build(&BTreeMap::new(), times, signer).expect("metadata");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        std::fs::write(work.join("timestamp.json"), &set.timestamp).expect("write");

        let mut recorded = BTreeMap::from([("timestamp.json".to_owned(), set.timestamp.clone())]);
        assert!(strictly_signed(&root, &work, &recorded));

        // The same content without a signature airlift counts (as when
        // tough accepted a key type that airlift does not count).
        let mut unsigned: serde_json::Value = serde_json::from_slice(&set.timestamp).expect("json");
        unsigned["signatures"] = serde_json::json!([]);
        recorded.insert(
            "timestamp.json".to_owned(),
            serde_json::to_vec(&unsigned).expect("serialize"),
        );
        assert!(!strictly_signed(&root, &work, &recorded));

        // A newer root that tough kept but that was never fetched here.
        let mut newer: serde_json::Value = serde_json::from_slice(&root).expect("json");
        newer["signed"]["version"] = 2.into();
        std::fs::write(
            work.join("root.json"),
            serde_json::to_vec(&newer).expect("serialize"),
        )
        .expect("write");
        recorded.insert("timestamp.json".to_owned(), set.timestamp.clone());
        assert!(!strictly_signed(&root, &work, &recorded));
    }

    #[test]
    fn versioned_names() {
        assert_eq!(versioned_role("3.snapshot.json"), Some("snapshot"));
        assert_eq!(versioned_role("12.root.json"), Some("root"));
        assert_eq!(versioned_role("snapshot.json"), None);
        assert_eq!(versioned_role("timestamp.json"), None);
    }
}
