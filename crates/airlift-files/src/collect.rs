//! Fetching declared files into the store.

use std::sync::Arc;

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::{FetchError, FetchProgress, Fetcher, Request};
use airlift_store::{Entry, Store};

use crate::spec::{FileSpec, validate_path};

/// A declared file that cannot be collected as written.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The URL does not parse.
    #[error("[[files]] entry {index}: url {url:?} is not a URL: {reason}")]
    Url {
        /// 1-based entry number.
        index: usize,
        /// The URL text (credentials are not echoed: only what failed to parse).
        url: String,
        /// Why.
        reason: String,
    },
    /// The sha256 is malformed.
    #[error("[[files]] entry {index} ({url}): sha256 {value:?} is not 64 lowercase hex characters")]
    Digest {
        /// 1-based entry number.
        index: usize,
        /// The URL, redacted.
        url: String,
        /// The value.
        value: String,
    },
    /// The path is unusable.
    #[error("[[files]] entry {index} ({url}): path {path:?} {reason}")]
    Path {
        /// 1-based entry number.
        index: usize,
        /// The URL, redacted.
        url: String,
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The URL scheme cannot be fetched.
    #[error(
        "[[files]] entry {index}: url {url} has an unsupported scheme (use https, http or file)"
    )]
    Scheme {
        /// 1-based entry number.
        index: usize,
        /// The URL, redacted.
        url: String,
    },
    /// A `file:` URL that names another host.
    #[error(
        "[[files]] entry {index}: url {url} names a host; a file: URL must be a local path (file:///path/to/file)"
    )]
    FileHost {
        /// 1-based entry number.
        index: usize,
        /// The URL, redacted.
        url: String,
    },
    /// Two entries claim the same path.
    #[error("[[files]] entries {first} and {second} both serve {path:?}")]
    Duplicate {
        /// First entry.
        first: usize,
        /// Second entry.
        second: usize,
        /// The path.
        path: String,
    },
}

/// A declared file, checked.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The served path.
    pub path: String,
    /// The source.
    pub url: SafeUrl,
    /// The declared digest.
    pub expected: Option<Digest>,
}

/// Checks the declared files and works out their paths.
pub fn plan(specs: &[FileSpec]) -> Result<Vec<Planned>, SpecError> {
    let mut planned: Vec<Planned> = Vec::new();
    for (position, spec) in specs.iter().enumerate() {
        let index = position + 1;
        let url = SafeUrl::parse(&spec.url).map_err(|e| SpecError::Url {
            index,
            // The text failed to parse, so it cannot be redacted reliably:
            // show it only when it cannot hold credentials.
            url: if spec.url.contains('@') {
                "<hidden: contains '@'>".into()
            } else {
                spec.url.clone()
            },
            reason: e.to_string(),
        })?;
        if !matches!(url.expose().scheme(), "https" | "http" | "file") {
            return Err(SpecError::Scheme {
                index,
                url: url.redacted(),
            });
        }
        if url.expose().scheme() == "file" && url.expose().to_file_path().is_err() {
            return Err(SpecError::FileHost {
                index,
                url: url.redacted(),
            });
        }
        let expected = match &spec.sha256 {
            None => None,
            Some(value) => {
                let hex = value.strip_prefix("sha256:").unwrap_or(value);
                Some(Digest::from_hex(hex).map_err(|_| SpecError::Digest {
                    index,
                    url: url.redacted(),
                    value: value.clone(),
                })?)
            }
        };
        let path = match &spec.path {
            Some(path) => path.clone(),
            None => url
                .expose()
                .path_segments()
                .and_then(|mut segments| segments.next_back())
                .filter(|s| !s.is_empty())
                .map(|s| {
                    percent_encoding::percent_decode_str(s)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .ok_or_else(|| SpecError::Path {
                    index,
                    url: url.redacted(),
                    path: String::new(),
                    reason: "cannot be derived from the URL; set path".into(),
                })?,
        };
        validate_path(&path).map_err(|reason| SpecError::Path {
            index,
            url: url.redacted(),
            path: path.clone(),
            reason,
        })?;
        if let Some(first) = planned.iter().position(|p| p.path == path) {
            return Err(SpecError::Duplicate {
                first: first + 1,
                second: index,
                path,
            });
        }
        planned.push(Planned {
            path,
            url,
            expected,
        });
    }
    Ok(planned)
}

/// The outcome of collecting files.
pub struct Collected {
    /// Index entries of every file that arrived.
    pub entries: Vec<Entry>,
    /// Files downloaded now.
    pub downloaded: u64,
    /// Files already in the store.
    pub cached: u64,
    /// Bytes of all files.
    pub bytes: u64,
    /// Failures, by path.
    pub failures: Vec<(String, FetchError)>,
}

/// Fetches every planned file into the store.
pub async fn collect(
    store: &Store,
    fetcher: &Fetcher,
    planned: &[Planned],
    progress: Arc<dyn FetchProgress>,
) -> Collected {
    let requests = planned
        .iter()
        .map(|p| Request {
            url: p.url.clone(),
            expected: p.expected,
            authorization: None,
        })
        .collect();
    let results = fetcher.fetch_all(store, requests, progress).await;
    let mut collected = Collected {
        entries: Vec::new(),
        downloaded: 0,
        cached: 0,
        bytes: 0,
        failures: Vec::new(),
    };
    for (file, result) in planned.iter().zip(results) {
        match result {
            Ok(fetched) => {
                if fetched.cached {
                    collected.cached += 1;
                } else {
                    collected.downloaded += 1;
                }
                collected.bytes += fetched.size;
                collected.entries.push(crate::index::entry(
                    &file.path,
                    fetched.digest,
                    fetched.size,
                    &file.url,
                ));
            }
            Err(error) => collected.failures.push((file.path.clone(), error)),
        }
    }
    collected
}
