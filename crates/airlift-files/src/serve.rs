//! `GET/HEAD /files/<path>`: the bytes as collected, with validators and ranges.
//!
//! Every response carries `Content-Length`, `ETag` (the blob digest, strong)
//! and `Last-Modified` (when the serving generation was committed).
//! `If-None-Match` and `If-Modified-Since` give 304; a single `Range` gives
//! 206, an unsatisfiable one 416; `If-Range` that does not match gives the
//! whole file. Several ranges in one request are answered with the whole file,
//! which RFC 9110 allows.

use std::io::SeekFrom;

use airlift_store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Read buffer for streaming files: big enough for loopback line rate.
const STREAM_BUFFER: usize = 256 * 1024;

/// The files router, to be nested under `/files`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/{*path}", get(get_file))
        .with_state(store)
}

struct Found {
    digest: airlift_core::Digest,
    size: u64,
    modified: i64,
    path: Option<std::path::PathBuf>,
}

async fn lookup(store: Store, path: String) -> Result<Option<Found>, String> {
    tokio::task::spawn_blocking(move || {
        let Some(generation) = store.meta.current().map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let entry = store
            .meta
            .entry(generation.id, crate::ECOSYSTEM, &path)
            .map_err(|e| e.to_string())?;
        Ok(entry.map(|entry| Found {
            path: store.blobs.local_path(&entry.digest),
            digest: entry.digest,
            size: entry.size,
            modified: generation.created_at,
        }))
    })
    .await
    .map_err(|e| e.to_string())?
}

fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

async fn get_file(
    State(store): State<Store>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    if crate::spec::validate_path(&path).is_err() {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let found = match lookup(store, path).await {
        Ok(Some(found)) => found,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "not found"),
        Err(e) => {
            tracing::error!("files lookup failed: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "index unavailable");
        }
    };
    let etag = format!("\"{}\"", found.digest.hex());
    let modified =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(found.modified.max(0) as u64);
    let last_modified = httpdate::fmt_http_date(modified);
    let mut response_headers = HeaderMap::new();
    let set = |headers: &mut HeaderMap, name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(&mut response_headers, header::ETAG, &etag);
    set(&mut response_headers, header::LAST_MODIFIED, &last_modified);
    set(&mut response_headers, header::ACCEPT_RANGES, "bytes");
    set(
        &mut response_headers,
        header::CACHE_CONTROL,
        "public, max-age=60",
    );

    if not_modified(&headers, &etag, modified) {
        return (StatusCode::NOT_MODIFIED, response_headers).into_response();
    }

    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) if if_range_allows(&headers, &etag, &last_modified) => {
            parse_range(value, found.size)
        }
        _ => RangeRequest::Whole,
    };
    let (status, start, length) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0, found.size),
        RangeRequest::Partial(start, end) => {
            set(
                &mut response_headers,
                header::CONTENT_RANGE,
                &format!("bytes {start}-{end}/{}", found.size),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeRequest::Unsatisfiable => {
            set(
                &mut response_headers,
                header::CONTENT_RANGE,
                &format!("bytes */{}", found.size),
            );
            return (StatusCode::RANGE_NOT_SATISFIABLE, response_headers).into_response();
        }
    };
    set(
        &mut response_headers,
        header::CONTENT_TYPE,
        "application/octet-stream",
    );
    set(
        &mut response_headers,
        header::CONTENT_LENGTH,
        &length.to_string(),
    );

    let Some(blob_path) = found.path else {
        return plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "blob backend has no local files",
        );
    };
    let mut file = match tokio::fs::File::open(&blob_path).await {
        Ok(file) => file,
        Err(e) => {
            tracing::error!(digest = %found.digest, "cannot open blob: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "blob unavailable");
        }
    };
    if start > 0
        && let Err(e) = file.seek(SeekFrom::Start(start)).await
    {
        tracing::error!(digest = %found.digest, "cannot seek blob: {e}");
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "blob unavailable");
    }
    let body = Body::from_stream(ReaderStream::with_capacity(
        file.take(length),
        STREAM_BUFFER,
    ));
    (status, response_headers, body).into_response()
}

fn not_modified(headers: &HeaderMap, etag: &str, modified: std::time::SystemTime) -> bool {
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
        return modified <= since;
    }
    false
}

fn if_range_allows(headers: &HeaderMap, etag: &str, last_modified: &str) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(value) => value == etag || value == last_modified,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Whole,
    Partial(u64, u64),
    Unsatisfiable,
}

/// Parses a single `bytes=` range against a size; anything else is the whole file.
fn parse_range(value: &str, size: u64) -> RangeRequest {
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
