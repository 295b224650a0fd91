//! `[[files]]` in `airlift.toml`.

use serde::Deserialize;

/// One declared file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Where to fetch it: `https://`, `http://` or `file://`.
    pub url: String,
    /// The expected SHA-256 (64 hex characters, optionally prefixed `sha256:`).
    #[serde(default)]
    pub sha256: Option<String>,
    /// The path it is served at under `/files/`; defaults to the URL's last segment.
    #[serde(default)]
    pub path: Option<String>,
}

/// Checks that a served path is relative, normalised and harmless.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.len() > 1024 {
        return Err("must be 1 to 1024 characters".into());
    }
    if path.starts_with('/') {
        return Err("must be relative (no leading '/')".into());
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err("must not contain backslashes or control characters".into());
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err("must not contain empty, '.' or '..' components".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a\\b", "a/\n"] {
            assert!(validate_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_path("tools/v1/tool.tar.gz").is_ok());
    }
}
