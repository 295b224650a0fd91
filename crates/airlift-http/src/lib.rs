//! Serving stored blobs over HTTP, shared by every protocol that hands out
//! bytes from the store (plain files, OCI blobs, packages).
//!
//! [`serve_blob`] answers with `Content-Length`, a strong `ETag` (the blob's
//! SHA-256), `Accept-Ranges`, optional `Last-Modified`, honours
//! `If-None-Match`/`If-Modified-Since` (304), a single `Range` (206, or 416
//! when unsatisfiable) and `If-Range`, and streams the file in chunks read
//! with positioned reads into reusable buffers, never holding it whole in
//! memory. Several ranges in one request get the whole body, which RFC
//! 9110 allows.
//!
//! Blobs are read, not memory-mapped: a mapped file that shrinks or fails
//! to read faults (SIGBUS) in whatever code touches the page, and over TLS
//! that is rustls, in user space, which kills the server. A failed read
//! fails one response instead (see ADR 0020).

use std::path::PathBuf;
use std::time::SystemTime;

use airlift_core::Digest;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A blob to serve.
pub struct Blob {
    /// Its digest (the ETag).
    pub digest: Digest,
    /// Its length.
    pub size: u64,
    /// Its local file.
    pub path: Option<PathBuf>,
    /// When it last changed, if the protocol has such a notion.
    pub modified: Option<SystemTime>,
    /// The `Content-Type`.
    pub content_type: String,
}

/// The scheme clients use to reach this listener (`http` or `https`), set
/// as a request extension by the server, for protocols whose documents must
/// carry absolute URLs (the cargo `config.json`, npm tarball links).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheme(pub &'static str);

/// The base URL a client reached this server with: the listener's scheme and
/// the request's `Host` (a `X-Forwarded-Proto`/`X-Forwarded-Host` from a
/// reverse proxy wins). `None` when there is no usable host.
pub fn base_url(scheme: Option<Scheme>, headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let host = header("x-forwarded-host").or_else(|| header("host"))?;
    if host
        .chars()
        .any(|c| c.is_whitespace() || c == '/' || c == '@')
    {
        return None;
    }
    let scheme = match header("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        Some("http") => "http",
        _ => scheme.map_or("http", |s| s.0),
    };
    Some(format!("{scheme}://{host}"))
}

/// The path under which the server mounted the router answering this
/// request (`/env/staging`: an environment, ADR 0027), set as a request
/// extension, so that documents carrying absolute URLs (npm tarball links,
/// cargo's `dl`) keep clients inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount(pub std::sync::Arc<str>);

/// [`base_url`] followed by the [`Mount`] path, if any.
pub fn mounted_base_url(
    scheme: Option<Scheme>,
    mount: Option<&Mount>,
    headers: &HeaderMap,
) -> Option<String> {
    let base = base_url(scheme, headers)?;
    Some(match mount {
        Some(mount) => format!("{base}{}", mount.0),
        None => base,
    })
}

/// The answer when the index cannot be read: `500 index unavailable`. The
/// cause is logged, not sent; a router with its own error body (npm's
/// JSON) maps it to that instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

impl IntoResponse for Unavailable {
    fn into_response(self) -> Response {
        plain(StatusCode::INTERNAL_SERVER_ERROR, "index unavailable")
    }
}

/// Reads the current generation of the index for one request: `read` runs
/// on a blocking thread (the index is SQLite) with the store and the
/// current generation. Before the first generation there is nothing to
/// read, and the answer is `T::default()` (no entry, no entries). A failed
/// read, or a read that panics, is logged as `"{what} failed"` and fails
/// this request only, as [`Unavailable`].
pub async fn read_current<T, F>(
    store: airlift_store::Store,
    what: &str,
    read: F,
) -> Result<T, Unavailable>
where
    T: Default + Send + 'static,
    F: FnOnce(
            &airlift_store::Store,
            &airlift_store::Generation,
        ) -> Result<T, airlift_store::StoreError>
        + Send
        + 'static,
{
    let result = tokio::task::spawn_blocking(move || match store.meta.current()? {
        Some(generation) => read(&store, &generation),
        None => Ok(T::default()),
    })
    .await;
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            tracing::error!("{what} failed: {e}");
            Err(Unavailable)
        }
        Err(e) => {
            tracing::error!("{what} failed: {e}");
            Err(Unavailable)
        }
    }
}

/// The blob that `(ecosystem, key)` names in the current generation, with
/// the generation's time as its `Last-Modified`; `None` when there is no
/// such entry.
pub async fn current_blob(
    store: airlift_store::Store,
    ecosystem: &'static str,
    key: String,
    content_type: &str,
) -> Result<Option<Blob>, Unavailable> {
    let content_type = content_type.to_owned();
    read_current(
        store,
        &format!("{ecosystem} lookup"),
        move |store, generation| {
            let entry = store.meta.entry(generation.id, ecosystem, &key)?;
            Ok(entry.map(|e| Blob {
                path: store.blobs.local_path(&e.digest),
                digest: e.digest,
                size: e.size,
                modified: Some(
                    std::time::UNIX_EPOCH
                        + std::time::Duration::from_secs(generation.created_at.max(0) as u64),
                ),
                content_type,
            }))
        },
    )
    .await
}

/// Serves the blob that `(ecosystem, key)` names in the current generation,
/// as package files are served: immutable caching, validators and ranges.
/// `missing` is the protocol's own answer when there is no such entry.
pub async fn serve_entry(
    store: airlift_store::Store,
    ecosystem: &'static str,
    key: String,
    content_type: &str,
    request: &HeaderMap,
    missing: Response,
) -> Response {
    let blob = match current_blob(store, ecosystem, key, content_type).await {
        Ok(Some(blob)) => blob,
        Ok(None) => return missing,
        Err(unavailable) => return unavailable.into_response(),
    };
    let mut extra = HeaderMap::new();
    set(
        &mut extra,
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable",
    );
    serve_blob(blob, request, extra).await
}

/// Sets a header when the value is valid.
pub fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// A short plain-text answer (an error or a refusal), as every protocol
/// gives when it has no format of its own for it.
pub fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The entries of one ecosystem in the serving generation, rendered by
/// `render` as a plain-text answer: what the root of an ecosystem's routes
/// says, instead of an empty 404.
pub async fn listing(
    store: airlift_store::Store,
    ecosystem: &'static str,
    render: fn(&[airlift_store::Entry]) -> String,
) -> Response {
    let entries = read_current(
        store,
        &format!("listing {ecosystem}"),
        move |store, generation| store.meta.entries(generation.id, Some(ecosystem)),
    )
    .await;
    match entries {
        Ok(entries) => plain(StatusCode::OK, render(&entries).trim_end()),
        Err(Unavailable) => plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// Answers a GET or HEAD for `blob`, adding `extra` headers to every answer.
pub async fn serve_blob(blob: Blob, request: &HeaderMap, extra: HeaderMap) -> Response {
    let etag = format!("\"{}\"", blob.digest.hex());
    let last_modified = blob.modified.map(httpdate::fmt_http_date);
    let mut headers = extra;
    set(&mut headers, header::ETAG, &etag);
    if let Some(value) = &last_modified {
        set(&mut headers, header::LAST_MODIFIED, value);
    }
    set(&mut headers, header::ACCEPT_RANGES, "bytes");

    if not_modified(request, &etag, blob.modified) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    let range = match request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) if if_range_allows(request, &etag, last_modified.as_deref()) => {
            parse_range(value, blob.size)
        }
        _ => RangeRequest::Whole,
    };
    let (status, start, length) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, blob.size),
        RangeRequest::Partial(start, end) => {
            set(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{}", blob.size),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            set(
                &mut headers,
                header::CONTENT_RANGE,
                &format!("bytes */{}", blob.size),
            );
            return (StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response();
        }
    };
    set(&mut headers, header::CONTENT_TYPE, &blob.content_type);
    set(&mut headers, header::CONTENT_LENGTH, &length.to_string());
    let Some(path) = blob.path else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "blob backend has no local files",
        );
    };
    let file = match std::fs::File::open(&path) {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(digest = %blob.digest, "cannot open blob: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "blob unavailable");
        }
    };
    let body = Body::from_stream(chunks(file, path, blob.digest, start, length));
    (status, headers, body).into_response()
}

/// Bytes per read. Large enough that the per-read costs (a hop to the
/// blocking pool, a system call) vanish next to the copy, small enough that
/// a buffer stays in the CPU's cache between the read that fills it and the
/// socket write that empties it.
const CHUNK: usize = 512 << 10;

/// Full-size buffers kept for reuse across responses, at most this many:
/// enough for every response in flight on a busy server to find one.
const POOL: usize = 64;

/// Reusable read buffers. A fresh buffer costs page faults and zeroing on
/// every chunk; a reused one is already mapped and warm.
static BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// One chunk of a blob, handed to hyper as `Bytes`; its buffer goes back
/// to the pool once hyper has written it.
struct Chunk {
    buffer: Vec<u8>,
    length: usize,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.buffer[..self.length]
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        if self.buffer.len() == CHUNK
            && let Ok(mut pool) = BUFFERS.lock()
            && pool.len() < POOL
        {
            pool.push(std::mem::take(&mut self.buffer));
        }
    }
}

/// Reads `size` bytes at `offset` with positioned reads (`pread`): a file
/// that is shorter than the blob (cut, or replaced outside airlift) or an
/// I/O error is an error of this read, never a fault in the process.
fn read_chunk(
    file: &std::fs::File,
    path: &std::path::Path,
    offset: u64,
    size: usize,
) -> std::io::Result<bytes::Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buffer = if size == CHUNK {
        BUFFERS
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
            .unwrap_or_else(|| vec![0; CHUNK])
    } else {
        vec![0; size]
    };
    let mut filled = 0;
    while filled < size {
        match file.read_at(&mut buffer[filled..size], offset + filled as u64) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} ends at byte {}, before the blob does",
                        path.display(),
                        offset + filled as u64
                    ),
                ));
            }
            Ok(read) => filled += read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("reading {}: {e}", path.display()),
                ));
            }
        }
    }
    Ok(bytes::Bytes::from_owner(Chunk {
        buffer,
        length: size,
    }))
}

/// The bytes `[start, start + length)` of a stored blob as a stream of
/// chunks read on the blocking pool, one read ahead of the socket, so the
/// file is read while hyper writes the previous chunk. A read that fails
/// ends the stream with its error, which makes hyper abort this one
/// response (its `Content-Length` is already sent); nothing else is
/// touched.
fn chunks(
    file: std::fs::File,
    path: PathBuf,
    digest: Digest,
    start: u64,
    length: u64,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static {
    type Pending = tokio::task::JoinHandle<std::io::Result<bytes::Bytes>>;
    struct Reader {
        file: std::sync::Arc<std::fs::File>,
        path: std::sync::Arc<PathBuf>,
        next: u64,
        end: u64,
    }
    impl Reader {
        /// Starts reading the next chunk, if any is left.
        fn spawn(&mut self) -> Option<Pending> {
            if self.next >= self.end {
                return None;
            }
            let size = (CHUNK as u64).min(self.end - self.next) as usize;
            let (file, path, offset) = (self.file.clone(), self.path.clone(), self.next);
            self.next += size as u64;
            Some(tokio::task::spawn_blocking(move || {
                read_chunk(&file, &path, offset, size)
            }))
        }
    }
    let reader = Reader {
        file: std::sync::Arc::new(file),
        path: std::sync::Arc::new(path),
        next: start,
        end: start + length,
    };
    // The first read starts when hyper first asks for the body, so a HEAD
    // (whose body is dropped unread) reads nothing.
    futures_util::stream::unfold(Some((reader, None::<Pending>)), move |state| async move {
        let (mut reader, pending) = state?;
        let current = match pending {
            Some(pending) => pending,
            None => reader.spawn()?,
        };
        let read = match current.await {
            Ok(read) => read,
            Err(e) => Err(std::io::Error::other(e)),
        };
        match read {
            Ok(chunk) => {
                let ahead = reader.spawn();
                Some((Ok(chunk), Some((reader, ahead))))
            }
            Err(e) => {
                tracing::error!(%digest, "blob read failed, response cut short: {e}");
                Some((Err(e), None))
            }
        }
    })
}

fn not_modified(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(value) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return value
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == "*" || tag == etag);
    }
    if let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        return modified.is_some_and(|modified| modified <= since);
    }
    false
}

fn if_range_allows(headers: &HeaderMap, etag: &str, last_modified: Option<&str>) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(value) => value == etag || Some(value) == last_modified,
    }
}

/// What a `Range` header asks of a blob, as [`parse_range`] reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// The whole blob (no usable single `bytes=` range): a `200`.
    Whole,
    /// The bytes from the first to the second offset, both inclusive and
    /// inside the blob: a `206`.
    Partial(u64, u64),
    /// A range that starts past the end: a `416`.
    Unsatisfiable,
}

/// Parses a single `bytes=` range against a size; anything else is the whole file.
///
/// This is the parsing entry point [`serve_blob`] uses for the client's
/// `Range` header, public so that it can be fuzzed on its own.
pub fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), parse(first), parse(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(size.saturating_sub(suffix), size - 1)
            }
        }
        (false, Some(start), end) => {
            if start >= size {
                return RangeRequest::Unsatisfiable;
            }
            let end = match (last.trim().is_empty(), end) {
                (true, _) => size - 1,
                (false, Some(end)) if end >= start => end.min(size - 1),
                _ => return RangeRequest::Whole,
            };
            RangeRequest::Partial(start, end)
        }
        _ => RangeRequest::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// The chunks of `[start, start + length)` of `path`, each read's
    /// outcome in order.
    fn read_all(
        path: &std::path::Path,
        start: u64,
        length: u64,
    ) -> Vec<std::io::Result<bytes::Bytes>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let file = std::fs::File::open(path).expect("open");
        let digest = Digest::of(b"");
        runtime.block_on(chunks(file, path.to_path_buf(), digest, start, length).collect())
    }

    fn scratch(name: &str, data: &[u8]) -> PathBuf {
        let path = std::env::temp_dir().join(format!("airlift-http-{}-{name}", std::process::id()));
        std::fs::write(&path, data).expect("write");
        path
    }

    #[test]
    fn chunks_send_exactly_the_range_asked_for() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 1000)).map(|i| (i % 251) as u8).collect();
        let path = scratch("whole", &data);
        for (start, length) in [(0, data.len()), (7, CHUNK + 3), (CHUNK, CHUNK), (5, 0)] {
            let mut sent = Vec::new();
            for chunk in read_all(&path, start as u64, length as u64) {
                sent.extend_from_slice(&chunk.expect("read"));
            }
            assert!(sent == data[start..start + length], "{start}+{length}");
        }
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_file_shorter_than_the_blob_ends_the_stream_with_an_error() {
        let data = vec![7u8; CHUNK + 100];
        let path = scratch("short", &data);
        // The index says the blob is longer than the file now is.
        let outcomes = read_all(&path, 0, (CHUNK * 3) as u64);
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            outcomes.len(),
            2,
            "one full chunk, then the error, then nothing"
        );
        assert_eq!(outcomes[0].as_ref().map(|c| c.len()).ok(), Some(CHUNK));
        let error = outcomes[1].as_ref().expect_err("an error");
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(
            error.to_string().contains("before the blob does"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn reads_see_the_current_generation_and_failures_fail_the_request_only() {
        let home = tempfile::tempdir().expect("home");
        let store = airlift_store::Store::open_embedded(home.path()).expect("store");
        // Before the first generation, there is nothing to read.
        let empty = read_current(store.clone(), "test", |_, _| -> Result<u64, _> {
            panic!("read without a generation")
        })
        .await;
        assert_eq!(empty, Ok(0));
        store
            .meta
            .commit(airlift_store::NewGeneration {
                source: "test".into(),
                created_at: 1,
                entries: Vec::new(),
                state: Vec::new(),
            })
            .expect("commit");
        let id = read_current(store.clone(), "test", |_, generation| Ok(generation.id)).await;
        assert_eq!(id, Ok(1));
        let failed = read_current(store.clone(), "test", |_, _| -> Result<u64, _> {
            Err(airlift_store::StoreError::Corrupt(
                "the disk went away".into(),
            ))
        })
        .await;
        assert_eq!(failed, Err(Unavailable));
        let panicked = read_current(store.clone(), "test", |_, _| -> Result<u64, _> {
            panic!("a bug in one request")
        })
        .await;
        assert_eq!(panicked, Err(Unavailable));
        let answer = Unavailable.into_response();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let missing = current_blob(store, "files", "nothing".into(), "text/plain").await;
        assert!(matches!(missing, Ok(None)));
    }

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeRequest::Partial(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeRequest::Partial(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeRequest::Partial(90, 99));
        assert_eq!(
            parse_range("bytes=-1000", 100),
            RangeRequest::Partial(0, 99)
        );
        assert_eq!(
            parse_range("bytes=50-1000", 100),
            RangeRequest::Partial(50, 99)
        );
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-3", 100), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Whole);
    }
}
