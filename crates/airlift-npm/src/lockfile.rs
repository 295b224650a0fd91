//! `package-lock.json` (lockfileVersion 2 and 3) and `npm-shrinkwrap.json`:
//! every registry package, with its version and integrity.

use std::path::{Path, PathBuf};

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
    /// The package name (the real one, for aliases).
    pub name: String,
    /// The exact version.
    pub version: String,
    /// The `integrity` the lockfile records, when it does.
    pub integrity: Option<String>,
    /// `file (node_modules/…)`, for messages.
    pub origin: String,
}

/// Reads a lockfile: entries under `node_modules/` that come from a
/// registry; links, workspace packages and bundled packages are skipped.
pub fn read(path: &Path) -> Result<Vec<Pin>, LockError> {
    let error = |message: String| LockError {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// Parses the text of a `package-lock.json` or `npm-shrinkwrap.json`;
/// `path` is only used in messages.
///
/// This is the parsing entry point behind [`read`], public so that it can be
/// fuzzed without a file.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Pin>, LockError> {
    let error = |message: String| LockError {
        path: path.to_path_buf(),
        message,
    };
    let lock: serde_json::Value =
        serde_json::from_str(text).map_err(|e| error(format!("not JSON: {e}")))?;
    let version = lock.get("lockfileVersion").and_then(|v| v.as_u64());
    if !matches!(version, Some(2 | 3)) {
        let found = version.map_or_else(|| "missing".to_owned(), |v| v.to_string());
        return Err(error(format!(
            "lockfileVersion {found} is not supported (2 or 3; npm 7 and later write them: run `npm install --package-lock-only` with a current npm)"
        )));
    }
    let packages = lock
        .get("packages")
        .and_then(|p| p.as_object())
        .ok_or_else(|| error("no \"packages\" object".into()))?;
    let mut pins = Vec::new();
    for (key, entry) in packages {
        let Some(position) = key.rfind("node_modules/") else {
            continue;
        };
        let flag = |name: &str| entry.get(name).and_then(|v| v.as_bool()).unwrap_or(false);
        if flag("link") || flag("inBundle") {
            continue;
        }
        let name = entry
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or(&key[position + "node_modules/".len()..])
            .to_owned();
        let origin = format!("{} ({key})", path.display());
        let resolved = entry.get("resolved").and_then(|v| v.as_str()).unwrap_or("");
        if !(resolved.is_empty()
            || resolved.starts_with("https://")
            || resolved.starts_with("http://"))
        {
            return Err(error(format!(
                "{key}: resolved {resolved:?} is not a registry tarball (git, file and link packages cannot be mirrored from a registry)"
            )));
        }
        let version = entry
            .get("version")
            .and_then(|v| v.as_str())
            .ok_or_else(|| error(format!("{key}: no version")))?;
        if !crate::valid_name(&name) || crate::range::parse_version(version).is_none() {
            return Err(error(format!(
                "{key}: {name}@{version} is not a valid name and version"
            )));
        }
        pins.push(Pin {
            name,
            version: version.to_owned(),
            integrity: entry
                .get("integrity")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            origin,
        });
    }
    pins.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    pins.dedup_by(|a, b| a.name == b.name && a.version == b.version);
    Ok(pins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_packages_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("package-lock.json");
        std::fs::write(
            &path,
            r#"{"name":"app","lockfileVersion":3,"packages":{
              "":{"name":"app","dependencies":{"a":"^1"}},
              "node_modules/a":{"version":"1.0.0","resolved":"https://registry.example.com/a/-/a-1.0.0.tgz","integrity":"sha512-AAAA"},
              "node_modules/a/node_modules/@s/b":{"version":"2.0.0","resolved":"https://registry.example.com/@s/b/-/b-2.0.0.tgz"},
              "node_modules/alias":{"name":"a","version":"1.0.0","resolved":"https://registry.example.com/a/-/a-1.0.0.tgz"},
              "node_modules/ws":{"resolved":"packages/ws","link":true},
              "packages/ws":{"version":"0.0.1"}
            }}"#,
        )
        .expect("write");
        let pins = read(&path).expect("reads");
        let names: Vec<String> = pins
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(names, ["@s/b@2.0.0", "a@1.0.0"]);
        std::fs::write(&path, r#"{"lockfileVersion":1,"dependencies":{}}"#).expect("write");
        assert!(read(&path).is_err());
        std::fs::write(
            &path,
            r#"{"lockfileVersion":2,"packages":{"node_modules/g":{"version":"1.0.0","resolved":"git+ssh://git@example.com/g.git"}}}"#,
        )
        .expect("write");
        assert!(
            read(&path)
                .expect_err("git")
                .to_string()
                .contains("node_modules/g")
        );
    }
}
