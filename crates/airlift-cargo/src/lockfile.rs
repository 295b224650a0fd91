//! `Cargo.lock`: every package from a registry, with its checksum.

use std::path::{Path, PathBuf};

use airlift_core::Digest;
use serde::Deserialize;

/// A lockfile that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct LockError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// One locked registry package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pin {
    /// The crate name.
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The `.crate` SHA-256 the lockfile records.
    pub checksum: Digest,
    /// `file (name version)`, for messages.
    pub origin: String,
}

#[derive(Deserialize)]
struct Lock {
    version: Option<u32>,
    #[serde(default)]
    package: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

/// Reads a `Cargo.lock` (format 3 or 4): registry packages only; path and
/// git packages are the project's own and are skipped.
pub fn read(path: &Path) -> Result<Vec<Pin>, LockError> {
    let text = std::fs::read_to_string(path).map_err(|e| LockError {
        path: path.to_path_buf(),
        message: format!("cannot read: {e}"),
    })?;
    parse(path, &text)
}

/// Parses the text of a `Cargo.lock`; `path` is only used in messages.
///
/// This is the parsing entry point behind [`read`], public so that it can be
/// fuzzed without a file.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Pin>, LockError> {
    let error = |message: String| LockError {
        path: path.to_path_buf(),
        message,
    };
    let lock: Lock = toml::from_str(text).map_err(|e| error(e.message().trim().to_owned()))?;
    match lock.version {
        Some(3 | 4) => {}
        other => {
            let found =
                other.map_or_else(|| "1 or 2 (no version key)".to_owned(), |v| v.to_string());
            return Err(error(format!(
                "lockfile format {found} is not supported (3 or 4; rewrite it with a current cargo, for example `cargo update --workspace`, which keeps every dependency's version)"
            )));
        }
    }
    let mut pins = Vec::new();
    for package in lock.package {
        let Some(source) = &package.source else {
            continue;
        };
        if !(source.starts_with("registry+") || source.starts_with("sparse+")) {
            continue;
        }
        let origin = format!("{} ({} {})", path.display(), package.name, package.version);
        let checksum = package
            .checksum
            .as_deref()
            .ok_or_else(|| error(format!("{} {}: no checksum", package.name, package.version)))?;
        let checksum = Digest::from_hex(checksum).map_err(|_| {
            error(format!(
                "{} {}: checksum {checksum:?} is not a SHA-256",
                package.name, package.version
            ))
        })?;
        if !crate::index::valid_name(&package.name)
            || semver::Version::parse(&package.version).is_err()
        {
            return Err(error(format!(
                "{} {}: not a valid crate name and version",
                package.name, package.version
            )));
        }
        pins.push(Pin {
            name: package.name,
            version: package.version,
            checksum,
            origin,
        });
    }
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_packages_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("Cargo.lock");
        let hex = "c".repeat(64);
        std::fs::write(
            &path,
            format!(
                "version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://index.example.com/\"\nchecksum = \"{hex}\"\n\n[[package]]\nname = \"g\"\nversion = \"0.1.0\"\nsource = \"git+https://git.example.com/g#abc\"\n"
            ),
        )
        .expect("write");
        let pins = read(&path).expect("reads");
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].name, "itoa");
        std::fs::write(&path, "version = 1\n").expect("write");
        assert!(read(&path).is_err());
        std::fs::write(
            &path,
            "version = 3\n[[package]]\nname = \"x\"\nversion = \"1.0.0\"\nsource = \"registry+https://index.example.com/\"\n",
        )
        .expect("write");
        assert!(
            read(&path)
                .expect_err("no checksum")
                .to_string()
                .contains("x 1.0.0: no checksum")
        );
    }
}
