//! The one HTTP client of airlift.
//!
//! Downloads go straight into the store's staged writer while being hashed,
//! so a download is visible only once complete and verified, and a digest
//! mismatch stores nothing. Downloads run with bounded parallelism, retry
//! transient failures with backoff, and resume an interrupted transfer with a
//! `Range` request when the server supports it. URLs are carried as
//! [`SafeUrl`], so credentials never reach a log line or an error message.
//! `file://` URLs read local files through the same verified path.

// Errors carry the (redacted) URL and both digests by value; they are built
// once per failed download, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod credentials;
pub mod index;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use airlift_core::{Digest, SafeUrl};
use airlift_store::{BlobWriter, Store, StoreError};
use futures_util::StreamExt;
pub use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};

/// A download failure; the URL shown is redacted.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("{url}: server answered {status}")]
    Status {
        /// The URL.
        url: SafeUrl,
        /// The status.
        status: StatusCode,
    },
    /// The transfer failed after every retry.
    #[error("{url}: {message} (after {attempts} attempts)")]
    Transfer {
        /// The URL.
        url: SafeUrl,
        /// What failed.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The content does not match the declared digest; nothing was stored.
    #[error(
        "{url}: content does not match the declared digest: expected {expected}, got {actual} ({length} bytes); nothing was stored"
    )]
    DigestMismatch {
        /// The URL.
        url: SafeUrl,
        /// Declared digest.
        expected: Digest,
        /// Digest of what was received.
        actual: Digest,
        /// Bytes received.
        length: u64,
    },
    /// The content does not match the registry's integrity digest (SHA-512
    /// or SHA-1); nothing was stored.
    #[error(
        "{url}: content does not match the stated integrity: expected {expected}, got {actual}; nothing was stored"
    )]
    IntegrityMismatch {
        /// The URL.
        url: SafeUrl,
        /// Stated.
        expected: Box<airlift_core::Integrity>,
        /// Received.
        actual: Box<airlift_core::Integrity>,
    },
    /// The URL scheme is not supported.
    #[error("{url}: unsupported URL scheme (use https, http or file)")]
    Scheme {
        /// The URL.
        url: SafeUrl,
    },
    /// Writing into the store failed.
    #[error("{url}: {source}")]
    Store {
        /// The URL.
        url: SafeUrl,
        /// The cause.
        source: StoreError,
    },
}

impl FetchError {
    /// The URL concerned.
    pub fn url(&self) -> &SafeUrl {
        match self {
            Self::Status { url, .. }
            | Self::Transfer { url, .. }
            | Self::DigestMismatch { url, .. }
            | Self::IntegrityMismatch { url, .. }
            | Self::Scheme { url }
            | Self::Store { url, .. } => url,
        }
    }

    /// What went wrong, without the URL: for callers whose own message
    /// already names it, so it is printed once.
    pub fn detail(&self) -> String {
        let text = self.to_string();
        let prefix = format!("{}: ", self.url());
        match text.strip_prefix(&prefix) {
            Some(rest) => rest.to_owned(),
            None => text,
        }
    }
}

/// The cause of a failed request, once and in plain words: reqwest's own
/// message ("error sending request") hides it in its source chain
/// (connection refused, DNS, TLS, a timeout).
pub fn cause(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    // The innermost cause is the one a person can act on.
    let innermost = parts.last().cloned();
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_body() || error.is_decode() {
        "the response broke off"
    } else if error.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    match innermost {
        Some(inner) => format!("{kind}: {inner}"),
        None => kind.to_owned(),
    }
}

/// One download.
#[derive(Debug, Clone)]
pub struct Request {
    /// Where from.
    pub url: SafeUrl,
    /// The digest the content must have, when known.
    pub expected: Option<Digest>,
    /// An `Authorization` header value to send.
    pub authorization: Option<Secret>,
}

/// Whether two URLs share scheme, host and port: credentials configured
/// for one are only ever sent to the other when this holds.
pub fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// A credential (an `Authorization` header value) that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A small response read whole (manifests, tokens, listings), capped in size.
#[derive(Debug)]
pub struct Small {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// A completed download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// Digest of the content.
    pub digest: Digest,
    /// Length in bytes.
    pub size: u64,
    /// True when the blob was already in the store and nothing was downloaded.
    pub cached: bool,
}

/// Receives download progress.
pub trait FetchProgress: Send + Sync {
    /// A download of `total` bytes (if known) started.
    fn started(&self, _url: &SafeUrl, _total: Option<u64>) {}
    /// `bytes` more arrived.
    fn advanced(&self, _bytes: u64) {}
    /// A download ended, or was not needed (already stored).
    fn finished(&self, _url: &SafeUrl) {}
    /// A batch of `items` downloads is about to start.
    fn planned(&self, _items: u64) {}
}

/// A [`FetchProgress`] that ignores everything.
pub struct Quiet;
impl FetchProgress for Quiet {}

/// Download settings.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Downloads in flight at once.
    pub concurrency: usize,
    /// Attempts per download (first try included).
    pub attempts: u32,
    /// First retry delay; doubles each time.
    pub backoff: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout between two reads of the body.
    pub read_timeout: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            attempts: 4,
            backoff: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The HTTP client.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
}

enum Attempt {
    Done(Box<dyn BlobWriter>),
    /// Retry; keep the writer (resume with Range) when it is still usable.
    Retry(Option<Box<dyn BlobWriter>>, u64, String),
    Fatal(FetchError),
}

impl Fetcher {
    /// A client with the given settings.
    pub fn new(options: FetchOptions) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("airlift/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| cause(&e))?;
        Ok(Self { client, options })
    }

    /// Downloads every request into the store, `concurrency` at a time.
    /// Results come back in request order.
    pub async fn fetch_all(
        &self,
        store: &Store,
        requests: Vec<Request>,
        progress: Arc<dyn FetchProgress>,
    ) -> Vec<Result<Fetched, FetchError>> {
        let concurrency = self.options.concurrency.max(1);
        progress.planned(requests.len() as u64);
        let mut results: Vec<(usize, Result<Fetched, FetchError>)> =
            futures_util::stream::iter(requests.into_iter().enumerate())
                .map(|(index, request)| {
                    let progress = progress.clone();
                    async move { (index, self.fetch(store, &request, progress.as_ref()).await) }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// Like [`Fetcher::fetch_all`], each request also checked against an
    /// integrity digest (npm's SHA-512) while it streams: a mismatch commits
    /// nothing to the store.
    pub async fn fetch_all_checked(
        &self,
        store: &Store,
        requests: Vec<(Request, Option<airlift_core::Integrity>)>,
        progress: Arc<dyn FetchProgress>,
    ) -> Vec<Result<Fetched, FetchError>> {
        let concurrency = self.options.concurrency.max(1);
        progress.planned(requests.len() as u64);
        let mut results: Vec<(usize, Result<Fetched, FetchError>)> =
            futures_util::stream::iter(requests.into_iter().enumerate())
                .map(|(index, (request, integrity))| {
                    let progress = progress.clone();
                    async move {
                        (
                            index,
                            self.fetch_inner(store, &request, integrity, progress.as_ref())
                                .await,
                        )
                    }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, result)| result).collect()
    }

    /// Downloads one URL into the store.
    pub async fn fetch(
        &self,
        store: &Store,
        request: &Request,
        progress: &dyn FetchProgress,
    ) -> Result<Fetched, FetchError> {
        self.fetch_inner(store, request, None, progress).await
    }

    async fn fetch_inner(
        &self,
        store: &Store,
        request: &Request,
        integrity: Option<airlift_core::Integrity>,
        progress: &dyn FetchProgress,
    ) -> Result<Fetched, FetchError> {
        let url = &request.url;
        let store_error = |source| FetchError::Store {
            url: url.clone(),
            source,
        };
        if let Some(expected) = &request.expected
            && let Some(size) = store.blobs.size(expected).map_err(store_error)?
        {
            tracing::debug!(url = %url, "already stored");
            progress.finished(url);
            return Ok(Fetched {
                digest: *expected,
                size,
                cached: true,
            });
        }
        match url.expose().scheme() {
            "http" | "https" => {}
            "file" => return self.fetch_file(store, request).await,
            _ => return Err(FetchError::Scheme { url: url.clone() }),
        }
        let mut writer: Option<Box<dyn BlobWriter>> = None;
        let mut received: u64 = 0;
        let mut last_error = String::new();
        for attempt in 1..=self.options.attempts.max(1) {
            if attempt > 1 {
                let delay = self.options.backoff * 2u32.saturating_pow(attempt - 2);
                tracing::info!(url = %url, attempt, "retrying in {delay:?}: {last_error}");
                tokio::time::sleep(delay).await;
            }
            let current = match writer.take() {
                Some(w) => w,
                None => {
                    received = 0;
                    let staged = store.blobs.writer().map_err(store_error)?;
                    match integrity {
                        Some(expected) => Box::new(Checked {
                            inner: staged,
                            hasher: expected.hasher(),
                            expected,
                        }),
                        None => staged,
                    }
                }
            };
            match self
                .attempt(
                    url,
                    request.authorization.as_ref(),
                    current,
                    received,
                    progress,
                )
                .await
            {
                Attempt::Done(done) => {
                    progress.finished(url);
                    tracing::info!(url = %url, attempt, "downloaded");
                    let (digest, size) = tokio::task::spawn_blocking({
                        let expected = request.expected;
                        move || done.commit(expected.as_ref())
                    })
                    .await
                    .map_err(|e| FetchError::Transfer {
                        url: url.clone(),
                        message: format!("writer task failed: {e}"),
                        attempts: attempt,
                    })?
                    .map_err(|e| match e {
                        StoreError::DigestMismatch {
                            expected,
                            actual,
                            length,
                        } => FetchError::DigestMismatch {
                            url: url.clone(),
                            expected,
                            actual,
                            length,
                        },
                        StoreError::IntegrityMismatch { expected, actual } => {
                            FetchError::IntegrityMismatch {
                                url: url.clone(),
                                expected,
                                actual,
                            }
                        }
                        other => store_error(other),
                    })?;
                    return Ok(Fetched {
                        digest,
                        size,
                        cached: false,
                    });
                }
                Attempt::Retry(kept, count, message) => {
                    writer = kept;
                    received = count;
                    last_error = message;
                }
                Attempt::Fatal(error) => return Err(error),
            }
        }
        Err(FetchError::Transfer {
            url: url.clone(),
            message: last_error,
            attempts: self.options.attempts.max(1),
        })
    }

    async fn attempt(
        &self,
        url: &SafeUrl,
        authorization: Option<&Secret>,
        mut writer: Box<dyn BlobWriter>,
        offset: u64,
        progress: &dyn FetchProgress,
    ) -> Attempt {
        let mut request = self.client.get(url.expose().clone());
        if let Some(secret) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, &secret.0);
        }
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Attempt::Retry(Some(writer), offset, cause(&e)),
        };
        let status = response.status();
        let mut received = offset;
        if offset > 0 {
            let resumed = status == StatusCode::PARTIAL_CONTENT
                && response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with(&format!("bytes {offset}-")));
            if !resumed {
                // The server ignored or refused the range: start over.
                drop(writer);
                if status.is_success() {
                    return Attempt::Retry(None, 0, "server does not resume; restarting".into());
                }
                return Attempt::Retry(None, 0, format!("server answered {status} to a resume"));
            }
        } else if !status.is_success() {
            let retryable = status.is_server_error()
                || status == StatusCode::REQUEST_TIMEOUT
                || status == StatusCode::TOO_MANY_REQUESTS;
            if retryable {
                return Attempt::Retry(None, 0, format!("server answered {status}"));
            }
            return Attempt::Fatal(FetchError::Status {
                url: url.clone(),
                status,
            });
        }
        progress.started(url, response.content_length().map(|l| l + offset));
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    // Small synchronous writes to a local file: the staged writer
                    // hashes as it goes, which keeps a single pass over the data.
                    if let Err(e) = writer.write_all(&bytes) {
                        return Attempt::Fatal(FetchError::Transfer {
                            url: url.clone(),
                            message: format!("cannot write to the store: {e}"),
                            attempts: 1,
                        });
                    }
                    received += bytes.len() as u64;
                    progress.advanced(bytes.len() as u64);
                }
                Err(e) => {
                    return Attempt::Retry(Some(writer), received, cause(&e));
                }
            }
        }
        Attempt::Done(writer)
    }

    /// GETs a small document (a manifest, a token, a listing) with retries on
    /// transport errors and 5xx answers; the body is read whole but never
    /// beyond `limit` bytes. Any status is returned to the caller.
    pub async fn get_small(
        &self,
        url: &SafeUrl,
        headers: &[(&str, &str)],
        authorization: Option<&Secret>,
        limit: usize,
    ) -> Result<Small, FetchError> {
        let mut last_error = String::new();
        for attempt in 1..=self.options.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(self.options.backoff * 2u32.saturating_pow(attempt - 2)).await;
            }
            let mut request = self.client.get(url.expose().clone());
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            if let Some(secret) = authorization {
                request = request.header(reqwest::header::AUTHORIZATION, &secret.0);
            }
            tracing::info!(url = %url, attempt, "GET");
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    last_error = cause(&e);
                    continue;
                }
            };
            let status = response.status();
            if status.is_server_error() {
                last_error = format!("server answered {status}");
                continue;
            }
            let headers = response.headers().clone();
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            let mut broken = None;
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(bytes) if body.len() + bytes.len() > limit => {
                        return Err(FetchError::Transfer {
                            url: url.clone(),
                            message: format!("response larger than {limit} bytes"),
                            attempts: attempt,
                        });
                    }
                    Ok(bytes) => body.extend_from_slice(&bytes),
                    Err(e) => {
                        broken = Some(cause(&e));
                        break;
                    }
                }
            }
            if let Some(message) = broken {
                last_error = message;
                continue;
            }
            return Ok(Small {
                status,
                headers,
                body,
            });
        }
        Err(FetchError::Transfer {
            url: url.clone(),
            message: last_error,
            attempts: self.options.attempts.max(1),
        })
    }

    async fn fetch_file(&self, store: &Store, request: &Request) -> Result<Fetched, FetchError> {
        let url = request.url.clone();
        let store = store.clone();
        let expected = request.expected;
        tokio::task::spawn_blocking(move || {
            let path = url
                .expose()
                .to_file_path()
                .map_err(|()| FetchError::Scheme { url: url.clone() })?;
            let transfer = |message: String| FetchError::Transfer {
                url: url.clone(),
                message,
                attempts: 1,
            };
            let mut file = std::fs::File::open(&path).map_err(|e| transfer(e.to_string()))?;
            let mut writer = store.blobs.writer().map_err(|source| FetchError::Store {
                url: url.clone(),
                source,
            })?;
            // Large reads: the staged writer is unbuffered, and 8 KiB writes
            // would cost a system call each.
            let mut buffer = vec![0u8; 1 << 20];
            loop {
                let n = std::io::Read::read(&mut file, &mut buffer)
                    .map_err(|e| transfer(e.to_string()))?;
                if n == 0 {
                    break;
                }
                writer
                    .write_all(&buffer[..n])
                    .map_err(|e| transfer(e.to_string()))?;
            }
            let (digest, size) = writer.commit(expected.as_ref()).map_err(|e| match e {
                StoreError::DigestMismatch {
                    expected,
                    actual,
                    length,
                } => FetchError::DigestMismatch {
                    url: url.clone(),
                    expected,
                    actual,
                    length,
                },
                source => FetchError::Store {
                    url: url.clone(),
                    source,
                },
            })?;
            Ok(Fetched {
                digest,
                size,
                cached: false,
            })
        })
        .await
        .map_err(|e| FetchError::Transfer {
            url: request.url.clone(),
            message: format!("task failed: {e}"),
            attempts: 1,
        })?
    }
}

/// A staged write that also computes an integrity digest and refuses to
/// commit when it differs from the stated one.
struct Checked {
    inner: Box<dyn BlobWriter>,
    hasher: airlift_core::IntegrityHasher,
    expected: airlift_core::Integrity,
}

impl std::io::Write for Checked {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl BlobWriter for Checked {
    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(StoreError::IntegrityMismatch {
                expected: Box::new(self.expected),
                actual: Box::new(actual),
            });
        }
        self.inner.commit(expected)
    }
}
