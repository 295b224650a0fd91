//! The bundle layout and its limits, defined once.

use airlift_core::Digest;

use crate::BundleError;

/// Format identifier in `airlift-bundle.json`.
pub const FORMAT: &str = "airlift-bundle/1";
/// The unsigned pointer file.
pub const POINTER: &str = "airlift-bundle.json";
/// Directory of TUF metadata.
pub const METADATA_DIR: &str = "metadata";
/// Directory of targets.
pub const TARGETS_DIR: &str = "targets";

/// Largest accepted root metadata file.
pub const MAX_ROOT_SIZE: u64 = 1 << 20;
/// Largest accepted timestamp or snapshot file.
pub const MAX_SMALL_METADATA_SIZE: u64 = 1 << 20;
/// Largest accepted targets file.
pub const MAX_TARGETS_SIZE: u64 = 256 << 20;
/// Largest accepted pointer file.
pub const MAX_POINTER_SIZE: u64 = 64 << 10;
/// Largest accepted index document (it is parsed in memory).
pub const MAX_INDEX_SIZE: u64 = 256 << 20;
/// Largest number of root versions a bundle may carry.
pub const MAX_ROOTS: u64 = 1024;
/// The signed pack statement: destination, sequence, previous bundle.
pub const PACK_STATEMENT: &str = "custody/pack.json";
/// Largest accepted pack statement.
pub const MAX_STATEMENT_SIZE: u64 = 64 << 10;
/// Longest accepted entry name.
pub const MAX_NAME: usize = 200;

/// The target name of a blob.
pub fn blob_target(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

/// The target name of an ecosystem's index document.
pub fn index_target(ecosystem: &str) -> String {
    format!("index/{ecosystem}.json")
}

/// What an entry name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// `airlift-bundle.json`
    Pointer,
    /// `metadata/<file>`: one of the TUF files; the string is the file name.
    Metadata(String),
    /// `targets/<target name>`
    Target(String),
}

/// Classifies and validates an entry name. Names are never used as file
/// system paths as given: callers map them to paths they build themselves.
pub fn classify(name: &str) -> Result<EntryKind, BundleError> {
    let refuse = |reason: &str| BundleError::entry(name, reason);
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(refuse("empty or too long name"));
    }
    if name.starts_with('/') {
        return Err(refuse("absolute path"));
    }
    if !name.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'/')
    }) {
        return Err(refuse("name outside [a-z0-9._/-]"));
    }
    if name
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(refuse("empty, '.' or '..' path component"));
    }
    if name == POINTER {
        return Ok(EntryKind::Pointer);
    }
    if let Some(file) = name.strip_prefix("metadata/") {
        let known = matches!(file, "timestamp.json" | "snapshot.json" | "targets.json")
            || root_version(file).is_some();
        return if known {
            Ok(EntryKind::Metadata(file.to_owned()))
        } else {
            Err(refuse("unknown metadata file"))
        };
    }
    if let Some(target) = name.strip_prefix("targets/") {
        let valid = match target.strip_prefix("blobs/sha256/") {
            Some(hex) => Digest::from_hex(hex).is_ok(),
            None if target == PACK_STATEMENT => true,
            None => target
                .strip_prefix("index/")
                .and_then(|rest| rest.strip_suffix(".json"))
                .is_some_and(|eco| !eco.is_empty() && !eco.contains('/')),
        };
        return if valid {
            Ok(EntryKind::Target(target.to_owned()))
        } else {
            Err(refuse(
                "target name is neither blobs/sha256/<hex>, index/<ecosystem>.json nor custody/pack.json",
            ))
        };
    }
    Err(refuse("not part of the bundle layout"))
}

/// `N.root.json` → N.
pub fn root_version(file: &str) -> Option<u64> {
    let number = file.strip_suffix(".root.json")?;
    if number.is_empty() || number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok().filter(|v| (1..=MAX_ROOTS).contains(v))
}

/// Size cap of a metadata or pointer file.
pub fn metadata_limit(kind: &EntryKind) -> u64 {
    match kind {
        EntryKind::Pointer => MAX_POINTER_SIZE,
        EntryKind::Metadata(file) if file == "targets.json" => MAX_TARGETS_SIZE,
        EntryKind::Metadata(file) if root_version(file).is_some() => MAX_ROOT_SIZE,
        _ => MAX_SMALL_METADATA_SIZE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_odd_names_are_refused() {
        for name in [
            "../etc/passwd",
            "/etc/passwd",
            "targets/../metadata/root.json",
            "targets/blobs/sha256/./x",
            "targets//index/files.json",
            "metadata/evil.json",
            "metadata/01.root.json",
            "targets/index/a/b.json",
            "targets/blobs/sha256/ABC",
            "Targets/index/files.json",
            "targets/index/files.json\0",
            "",
        ] {
            assert!(classify(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn layout_names_are_accepted() {
        assert_eq!(
            classify("airlift-bundle.json").ok(),
            Some(EntryKind::Pointer)
        );
        assert_eq!(
            classify("metadata/12.root.json").ok(),
            Some(EntryKind::Metadata("12.root.json".into()))
        );
        assert_eq!(
            classify("targets/index/files.json").ok(),
            Some(EntryKind::Target("index/files.json".into()))
        );
        let blob = format!("targets/{}", blob_target(&Digest::of(b"x")));
        assert!(matches!(classify(&blob), Ok(EntryKind::Target(_))));
    }
}
