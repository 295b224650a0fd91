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

fn render_chain(error: &dyn std::error::Error) -> String {
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
            // Name who signed and who is missing when a threshold is the
            // cause (tough only counts).
            match diagnose(metadata_dir, None) {
                Some(threshold) => failure(format!("{threshold} ({message})")),
                None => failure(message),
            }
        })?;
    // Count again, strictly: each key once, only valid signatures, against
    // the root tough arrived at.
    let root_version = repository.root().signed.version.get();
    if let Some(threshold) = diagnose(metadata_dir, Some((root_version, trusted_root))) {
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

/// The first role whose signatures fall short of its threshold, described
/// with names, using root `version` (the newest root file in the directory
/// when `None`).
fn diagnose(metadata_dir: &Path, root: Option<(u64, &[u8])>) -> Option<String> {
    let newest = || {
        let mut best: Option<(u64, PathBuf)> = None;
        for entry in std::fs::read_dir(metadata_dir).ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(v) = name
                .strip_suffix(".root.json")
                .and_then(|v| v.parse::<u64>().ok())
                && best.as_ref().is_none_or(|(b, _)| v > *b)
            {
                best = Some((v, entry.path()));
            }
        }
        best
    };
    let bytes = match root {
        Some((version, trusted)) => {
            match std::fs::read(metadata_dir.join(format!("{version}.root.json"))) {
                Ok(bytes) => bytes,
                Err(_) => trusted.to_vec(),
            }
        }
        None => std::fs::read(newest()?.1).ok()?,
    };
    let info = crate::roles::RootInfo::parse(&bytes).ok()?;
    for role in ["timestamp", "snapshot", "targets"] {
        let Ok(text) = std::fs::read(metadata_dir.join(format!("{role}.json"))) else {
            continue;
        };
        let Ok(file) = serde_json::from_slice::<serde_json::Value>(&text) else {
            continue;
        };
        if let Ok(tally) = crate::roles::tally(&info, role, &file)
            && !tally.met()
        {
            return Some(tally.describe(&info));
        }
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
