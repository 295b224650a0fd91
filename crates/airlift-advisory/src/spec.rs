//! `[advisories]` in `airlift.toml`: where the OSV databases come from.
//!
//! ```toml
//! [advisories]
//! sources = [
//!   { url = "https://advisories.example.com/PyPI/all.zip" },
//!   { directory = "advisories/site" },
//! ]
//! ```
//!
//! A URL source is an OSV export archive (a zip of OSV JSON records, as the
//! OSV project exports one per ecosystem); a directory source is a tree of
//! OSV JSON files, relative to the configuration file.

use std::path::{Path, PathBuf};

use airlift_core::SafeUrl;
use serde::Deserialize;

/// The `[advisories]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvisoriesSpec {
    /// The sources, in order; a record in two of them is kept once, the
    /// most recently modified.
    pub sources: Vec<SourceSpec>,
}

/// One source of `[advisories]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// An OSV export archive (`.zip`).
    pub url: Option<String>,
    /// The archive's SHA-256, when pinned.
    pub sha256: Option<String>,
    /// A directory of OSV JSON files.
    pub directory: Option<PathBuf>,
}

/// A source, checked.
#[derive(Clone, Debug)]
pub enum Source {
    /// An archive to download.
    Archive {
        /// Where from.
        url: SafeUrl,
        /// Its pinned digest.
        expected: Option<airlift_core::Digest>,
    },
    /// A directory to read.
    Directory(PathBuf),
}

impl Source {
    /// How it is named in messages and the database's description (a URL
    /// without its credentials).
    pub fn describe(&self) -> String {
        match self {
            Source::Archive { url, .. } => url.redacted(),
            Source::Directory(path) => path.display().to_string(),
        }
    }
}

/// A declaration that cannot be collected as written.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Neither or both of `url` and `directory`.
    #[error("[advisories] source {index}: give exactly one of url and directory")]
    OneOf {
        /// 1-based source number.
        index: usize,
    },
    /// The URL does not parse or has a scheme that cannot be fetched.
    #[error("[advisories] source {index}: url {url:?} {reason}")]
    Url {
        /// 1-based source number.
        index: usize,
        /// The URL (hidden when it could carry credentials).
        url: String,
        /// Why.
        reason: String,
    },
    /// The digest is malformed.
    #[error("[advisories] source {index}: sha256 {value:?} is not 64 lowercase hex characters")]
    Digest {
        /// 1-based source number.
        index: usize,
        /// The value.
        value: String,
    },
    /// No source at all.
    #[error("[advisories] declares no sources")]
    Empty,
}

/// Checks the declared sources; directories are resolved from `base`.
pub fn plan(spec: &AdvisoriesSpec, base: &Path) -> Result<Vec<Source>, SpecError> {
    if spec.sources.is_empty() {
        return Err(SpecError::Empty);
    }
    let mut sources = Vec::new();
    for (position, source) in spec.sources.iter().enumerate() {
        let index = position + 1;
        match (&source.url, &source.directory) {
            (Some(url), None) => {
                let shown = if url.contains('@') {
                    "<hidden: contains '@'>".to_owned()
                } else {
                    url.clone()
                };
                let parsed = SafeUrl::parse(url).map_err(|e| SpecError::Url {
                    index,
                    url: shown.clone(),
                    reason: format!("is not a URL: {e}"),
                })?;
                if !matches!(parsed.expose().scheme(), "https" | "http" | "file") {
                    return Err(SpecError::Url {
                        index,
                        url: shown,
                        reason: "has an unsupported scheme (use https, http or file)".into(),
                    });
                }
                let expected = match &source.sha256 {
                    None => None,
                    Some(value) => {
                        let hex = value.strip_prefix("sha256:").unwrap_or(value);
                        Some(airlift_core::Digest::from_hex(hex).map_err(|_| {
                            SpecError::Digest {
                                index,
                                value: value.clone(),
                            }
                        })?)
                    }
                };
                sources.push(Source::Archive {
                    url: parsed,
                    expected,
                });
            }
            (None, Some(directory)) if source.sha256.is_none() => {
                sources.push(Source::Directory(base.join(directory)));
            }
            _ => return Err(SpecError::OneOf { index }),
        }
    }
    Ok(sources)
}
