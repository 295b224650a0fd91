//! Small documents of an upstream index: a Python project page, a file of
//! a cargo sparse index, an npm packument.
//!
//! The three ecosystems read their upstream the same way: a document per
//! package under one base URL, read whole within a size cap (with the
//! retries of [`Fetcher::get_small`]), the configured credential sent to
//! the index's own origin and nowhere else, and a few statuses that mean
//! "no such package" rather than a failure. Only the request headers, the
//! cap and those statuses differ, so they are an [`IndexProfile`] constant
//! of each ecosystem and the reading is done once, here.

use airlift_core::SafeUrl;
use reqwest::StatusCode;

use crate::{FetchError, Fetcher, Secret, Small};

/// What differs between the index documents of two ecosystems.
#[derive(Debug, Clone, Copy)]
pub struct IndexProfile {
    /// Request headers sent with every document request (`Accept`, and any
    /// protocol marker the index expects).
    pub headers: &'static [(&'static str, &'static str)],
    /// The largest document read, in bytes; a larger answer is an error.
    pub limit: usize,
    /// Statuses that mean the index has no such package.
    pub not_found: &'static [StatusCode],
}

/// Why a document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No URL can be formed from the base and the document's path.
    #[error("cannot form a URL for {path}")]
    Url {
        /// The document's path under the base.
        path: String,
    },
    /// The request failed (after its retries).
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The index answered one of the profile's "not found" statuses.
    #[error("{url}: answered {status}")]
    NotFound {
        /// The document URL (redacted when shown).
        url: SafeUrl,
        /// The status.
        status: StatusCode,
    },
    /// The index answered another status that is not a success.
    #[error("{url}: answered {status}")]
    Status {
        /// The document URL (redacted when shown).
        url: SafeUrl,
        /// The status.
        status: StatusCode,
    },
}

impl IndexError {
    /// What went wrong, without the URL: for callers whose own message
    /// already names it.
    pub fn detail(&self) -> String {
        match self {
            Self::Url { .. } => self.to_string(),
            Self::Fetch(error) => error.detail(),
            Self::NotFound { status, .. } | Self::Status { status, .. } => {
                format!("answered {status}")
            }
        }
    }
}

/// An upstream index: its base URL, the credential for its origin, and how
/// its documents are asked for.
#[derive(Clone)]
pub struct Index<'a> {
    fetcher: &'a Fetcher,
    base: SafeUrl,
    authorization: Option<Secret>,
    profile: IndexProfile,
}

impl<'a> Index<'a> {
    /// The index at `base` (a URL ending in `/`, so paths join under it),
    /// read through `fetcher`, with `authorization` sent to its origin.
    pub fn new(
        fetcher: &'a Fetcher,
        base: SafeUrl,
        authorization: Option<Secret>,
        profile: IndexProfile,
    ) -> Self {
        Self {
            fetcher,
            base,
            authorization,
            profile,
        }
    }

    /// The base URL.
    pub fn base(&self) -> &SafeUrl {
        &self.base
    }

    /// The URL of `path` (relative to the base, or absolute).
    pub fn url(&self, path: &str) -> Result<SafeUrl, IndexError> {
        self.base
            .expose()
            .join(path)
            .ok()
            .and_then(|u| SafeUrl::parse(u.as_str()).ok())
            .ok_or_else(|| IndexError::Url {
                path: path.to_owned(),
            })
    }

    /// The credential to send to `url`: the configured one when `url` has
    /// the index's scheme, host and port, else none, so a download hosted
    /// elsewhere never sees it.
    pub fn authorization_for(&self, url: &reqwest::Url) -> Option<Secret> {
        crate::same_origin(url, self.base.expose())
            .then(|| self.authorization.clone())
            .flatten()
    }

    /// GETs `url` with the profile's headers and cap, whatever the status.
    pub async fn get(&self, url: &SafeUrl) -> Result<Small, FetchError> {
        let authorization = self.authorization_for(url.expose());
        self.fetcher
            .get_small(
                url,
                self.profile.headers,
                authorization.as_ref(),
                self.profile.limit,
            )
            .await
    }

    /// GETs the document at `url`: a success, or an error that tells a
    /// missing package ([`IndexError::NotFound`]) from a failure.
    pub async fn document(&self, url: &SafeUrl) -> Result<Small, IndexError> {
        let page = self.get(url).await?;
        if self.profile.not_found.contains(&page.status) {
            return Err(IndexError::NotFound {
                url: url.clone(),
                status: page.status,
            });
        }
        if !page.status.is_success() {
            return Err(IndexError::Status {
                url: url.clone(),
                status: page.status,
            });
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-route-per-path HTTP/1.1 server that records each request's
    /// head and answers `(status, body)` by path (404 when unknown).
    async fn server(routes: &'static [(&'static str, u16, &'static str)]) -> (String, Requests) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let seen: Requests = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match socket.read(&mut byte).await {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    log.lock().expect("log").push(head);
                    let (status, body) = routes
                        .iter()
                        .find(|(p, _, _)| *p == path)
                        .map_or((404, ""), |(_, s, b)| (*s, *b));
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        (format!("http://{address}/index/"), seen)
    }

    type Requests = Arc<Mutex<Vec<String>>>;

    const GONE_IS_MISSING: IndexProfile = IndexProfile {
        headers: &[("Accept", "text/plain"), ("cargo-protocol", "version=1")],
        limit: 16,
        not_found: &[
            StatusCode::NOT_FOUND,
            StatusCode::GONE,
            StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
        ],
    };

    const ONLY_404: IndexProfile = IndexProfile {
        headers: &[("Accept", "application/json")],
        limit: 16,
        not_found: &[StatusCode::NOT_FOUND],
    };

    fn fetcher() -> Fetcher {
        Fetcher::new(crate::FetchOptions {
            attempts: 1,
            ..Default::default()
        })
        .expect("client")
    }

    #[tokio::test]
    async fn the_profile_decides_which_statuses_mean_not_found() {
        let (base, _) = server(&[
            ("/index/gone", 410, ""),
            ("/index/ok", 200, "line"),
            ("/index/denied", 403, ""),
        ])
        .await;
        let fetcher = fetcher();
        let base = SafeUrl::parse(&base).expect("url");
        let cargo = Index::new(&fetcher, base.clone(), None, GONE_IS_MISSING);
        let npm = Index::new(&fetcher, base, None, ONLY_404);
        let gone = cargo.url("gone").expect("url");
        assert!(matches!(
            cargo.document(&gone).await,
            Err(IndexError::NotFound { .. })
        ));
        let error = npm.document(&gone).await.unwrap_err();
        assert!(matches!(error, IndexError::Status { .. }), "{error}");
        assert_eq!(error.detail(), "answered 410 Gone");
        for index in [&cargo, &npm] {
            let missing = index.url("missing").expect("url");
            assert!(matches!(
                index.document(&missing).await,
                Err(IndexError::NotFound { .. })
            ));
            let denied = index.url("denied").expect("url");
            assert!(matches!(
                index.document(&denied).await,
                Err(IndexError::Status { .. })
            ));
            let ok = index.url("ok").expect("url");
            assert_eq!(index.document(&ok).await.expect("document").body, b"line");
        }
    }

    #[tokio::test]
    async fn the_credential_and_headers_go_to_the_index_origin_only() {
        let (base, seen) = server(&[("/index/a", 200, "a"), ("/elsewhere", 200, "b")]).await;
        let fetcher = fetcher();
        let index = Index::new(
            &fetcher,
            SafeUrl::parse(&base).expect("url"),
            Some(Secret("Bearer t0ken".into())),
            GONE_IS_MISSING,
        );
        index
            .document(&index.url("a").expect("url"))
            .await
            .expect("a");
        index
            .document(&index.url("/elsewhere").expect("url"))
            .await
            .expect("same origin, other path");
        // Another host name for the same server is another origin.
        let other = SafeUrl::parse(&base.replace("127.0.0.1", "localhost")).expect("url");
        assert!(index.authorization_for(other.expose()).is_none());
        index
            .document(&index.url(&format!("{other}a")).expect("url"))
            .await
            .expect("other origin");
        let seen = seen.lock().expect("log").clone();
        assert_eq!(seen.len(), 3);
        for (n, head) in seen.iter().enumerate() {
            let head = head.to_ascii_lowercase();
            assert_eq!(
                head.contains("authorization: bearer t0ken"),
                n < 2,
                "request {n}: {head}"
            );
            assert!(head.contains("cargo-protocol: version=1"), "{head}");
        }
    }

    #[tokio::test]
    async fn a_document_over_the_cap_is_refused() {
        let (base, _) = server(&[("/index/big", 200, "seventeen bytes!!")]).await;
        let fetcher = fetcher();
        let index = Index::new(
            &fetcher,
            SafeUrl::parse(&base).expect("url"),
            None,
            ONLY_404,
        );
        let error = index
            .document(&index.url("big").expect("url"))
            .await
            .unwrap_err();
        assert_eq!(
            error.detail(),
            "response larger than 16 bytes (after 1 attempts)"
        );
    }
}
