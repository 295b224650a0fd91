//! Upload sessions: files under the home's `uploads/` directory, streamed
//! to and never held in memory. Each session is bound to the repository it
//! was opened for, expires after a set age (its files then removed, by a
//! sweep or on its next use), and a chunk that fails (a wrong length, a full
//! disk) is cut back off its file, so a refused request stores nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use airlift_core::{Digest, HashingReader};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::blobs::link_blob;
use super::{Registry, Reply, digest_param, lookup, oci, query_value, repository};
use crate::errors::{Code, internal};
use crate::index;

/// How long an upload session stays usable when `airlift serve
/// --upload-expiry` does not say otherwise: a day is far longer than any
/// push takes, and short enough that abandoned sessions do not fill the disk.
pub const DEFAULT_UPLOAD_EXPIRY: Duration = Duration::from_secs(24 * 60 * 60);

/// How often expired sessions are swept after the sweep at start-up.
const SWEEP_EVERY: Duration = Duration::from_secs(60 * 60);

/// The suffix of the file that binds a session to the repository it was
/// opened for. It is written once, when the session opens, so its
/// modification time is the session's age.
const BINDING: &str = ".repository";

/// What a sweep of the upload directory removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// Sessions removed.
    pub sessions: usize,
    /// Bytes their files held.
    pub bytes: u64,
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn expired(opened: SystemTime, now: SystemTime, max_age: Duration) -> bool {
    now.duration_since(opened).is_ok_and(|age| age >= max_age)
}

/// Removes every upload session in `dir` opened `max_age` ago or earlier,
/// with its data, and reports what that reclaimed. A session is as old as
/// its binding file; a data file without one (left by a crash, or by a
/// server that did not bind sessions) is as old as its own last change.
/// Files whose names are not session files are left alone.
pub fn sweep_uploads(dir: &Path, max_age: Duration) -> std::io::Result<Swept> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Swept::default()),
        Err(e) => return Err(e),
    };
    let now = SystemTime::now();
    let mut sessions = BTreeSet::new();
    let mut bytes = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let id = name.strip_suffix(BINDING).unwrap_or(name);
        if !valid_id(id) {
            continue;
        }
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let opened = std::fs::metadata(dir.join(format!("{id}{BINDING}")))
            .and_then(|m| m.modified())
            .or_else(|_| metadata.modified())?;
        if !expired(opened, now, max_age) {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => {
                bytes += metadata.len();
                sessions.insert(id.to_owned());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Swept {
        sessions: sessions.len(),
        bytes,
    })
}

/// Sweeps `dir` now and then every [`SWEEP_EVERY`], for as long as the
/// server runs, so abandoned sessions give their space back.
pub(super) async fn sweep_periodically(dir: PathBuf, max_age: Duration) {
    loop {
        let target = dir.clone();
        match tokio::task::spawn_blocking(move || sweep_uploads(&target, max_age)).await {
            Ok(Ok(swept)) if swept.sessions > 0 => tracing::info!(
                "removed {} expired upload sessions ({} bytes) from {}",
                swept.sessions,
                swept.bytes,
                dir.display()
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("sweeping upload sessions in {}: {e}", dir.display()),
            Err(e) => tracing::warn!("sweeping upload sessions in {}: {e}", dir.display()),
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}

/// Removes a session's data and binding; what is already gone is fine.
async fn remove_session(registry: &Registry, id: &str) {
    let _ = tokio::fs::remove_file(registry.uploads.join(id)).await;
    let _ = tokio::fs::remove_file(registry.uploads.join(format!("{id}{BINDING}"))).await;
}

/// The data file of session `id`, if it was opened for `name` and has not
/// expired: any other repository gets `404 BLOB_UPLOAD_UNKNOWN`, as if the
/// session did not exist, and an expired session is removed on the spot.
async fn session(registry: &Registry, name: &str, id: &str) -> Result<PathBuf, Response> {
    let unknown = || {
        oci(
            Code::BlobUploadUnknown,
            format!("upload {id:?} not found in {name}"),
        )
    };
    if !valid_id(id) {
        return Err(unknown());
    }
    let binding = registry.uploads.join(format!("{id}{BINDING}"));
    let bound = tokio::fs::read_to_string(&binding)
        .await
        .map_err(|_| unknown())?;
    if bound != name {
        return Err(unknown());
    }
    let opened = tokio::fs::metadata(&binding)
        .await
        .and_then(|m| m.modified())
        .map_err(|_| unknown())?;
    if expired(opened, SystemTime::now(), registry.upload_expiry) {
        remove_session(registry, id).await;
        return Err(oci(
            Code::BlobUploadUnknown,
            format!(
                "upload {id} in {name} has expired (sessions last {} seconds); start the upload again",
                registry.upload_expiry.as_secs()
            ),
        ));
    }
    let data = registry.uploads.join(id);
    if tokio::fs::metadata(&data).await.is_err() {
        return Err(unknown());
    }
    Ok(data)
}

fn upload_headers(name: &str, id: &str, size: u64, status: StatusCode) -> Response {
    let mut headers = HeaderMap::new();
    airlift_http::set(
        &mut headers,
        header::LOCATION,
        &format!("/v2/{name}/blobs/uploads/{id}"),
    );
    airlift_http::set(
        &mut headers,
        header::RANGE,
        &format!("0-{}", size.saturating_sub(1)),
    );
    airlift_http::set(
        &mut headers,
        header::HeaderName::from_static("docker-upload-uuid"),
        id,
    );
    airlift_http::set(&mut headers, header::CONTENT_LENGTH, "0");
    (status, headers).into_response()
}

fn disk_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// A failed write of upload data: a full disk (or quota) is the client's to
/// know, as `507 Insufficient Storage`; anything else is an internal error.
fn write_failed(error: std::io::Error) -> Response {
    if !disk_full(&error) {
        return internal(error);
    }
    tracing::error!("registry: upload data not stored: {error}");
    let mut response = oci(
        Code::BlobUploadInvalid,
        "the registry's disk is full: this request's data was not stored; retry once space is freed",
    );
    *response.status_mut() = StatusCode::INSUFFICIENT_STORAGE;
    response
}

/// Why appending a request body failed.
enum AppendFailure {
    /// The response to give.
    Answer(Response),
    /// The body was not the length its `Content-Range` stated.
    Length(u64),
}

/// Appends a request body to an upload file that holds `start` bytes,
/// streaming. With `expected`, the body must be exactly that long. On any
/// failure the file is cut back to `start`, so a refused or broken request
/// stores nothing and a full disk gets back the space the request took.
async fn append(
    path: &Path,
    start: u64,
    expected: Option<u64>,
    body: Body,
) -> Result<u64, AppendFailure> {
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .await
        .map_err(|_| AppendFailure::Answer(oci(Code::BlobUploadUnknown, "upload not found")))?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    let result = async {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                AppendFailure::Answer(oci(
                    Code::BlobUploadInvalid,
                    format!("cannot read the body: {e}"),
                ))
            })?;
            let total = written + chunk.len() as u64;
            if expected.is_some_and(|expected| total > expected) {
                return Err(AppendFailure::Length(total));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| AppendFailure::Answer(write_failed(e)))?;
            written = total;
        }
        file.flush()
            .await
            .map_err(|e| AppendFailure::Answer(write_failed(e)))?;
        match expected {
            Some(expected) if written != expected => Err(AppendFailure::Length(written)),
            _ => Ok(written),
        }
    }
    .await;
    if result.is_err() {
        drop(file);
        let path = path.to_path_buf();
        let cut = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(start))
                .map_err(|e| format!("{}: {e}", path.display()))
        })
        .await;
        if let Ok(Err(e)) = cut {
            tracing::error!("registry: cannot cut a failed upload back: {e}");
        }
    }
    result
}

async fn current_size(path: &Path) -> Result<u64, Response> {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .map_err(|_| oci(Code::BlobUploadUnknown, "upload not found"))
}

/// Opens a session bound to `name`: the binding first, then the empty data
/// file, so a data file never exists without knowing its repository.
async fn new_session(registry: &Registry, name: &str) -> Result<(String, PathBuf), Response> {
    tokio::fs::create_dir_all(&registry.uploads)
        .await
        .map_err(internal)?;
    let id = airlift_core::random_hex(16).map_err(internal)?;
    let created = async {
        tokio::fs::write(registry.uploads.join(format!("{id}{BINDING}")), name).await?;
        tokio::fs::File::create(registry.uploads.join(&id)).await
    }
    .await;
    if let Err(e) = created {
        remove_session(registry, &id).await;
        return Err(write_failed(e));
    }
    let path = registry.uploads.join(&id);
    Ok((id, path))
}

pub(super) async fn start_upload(
    registry: &Registry,
    name: &str,
    pairs: &[(String, String)],
    body: Body,
) -> Reply {
    if let (Some(mount), from) = (query_value(pairs, "mount"), query_value(pairs, "from")) {
        let digest = digest_param(mount)?;
        // A mount reads the repository it mounts from: only a caller who
        // may read it gets the blob linked; anyone else gets a normal
        // upload session, as if the blob were not there.
        let source = match from {
            Some(from) if may_read(registry, from) => {
                lookup(registry, index::blob_key(&repository(from)?, &digest)).await?
            }
            _ => None,
        };
        if let Some(source) = source {
            return link_blob(registry, name, digest, source.size).await;
        }
        // Not mountable: fall through to a normal upload session.
    }
    let expected = query_value(pairs, "digest").map(digest_param).transpose()?;
    let (id, path) = new_session(registry, name).await?;
    if let Some(expected) = expected {
        if let Err(failure) = append(&path, 0, None, body).await {
            remove_session(registry, &id).await;
            return Err(match failure {
                AppendFailure::Answer(response) => response,
                AppendFailure::Length(_) => internal("a body without a stated length"),
            });
        }
        return commit_upload(registry, name, &id, &path, expected).await;
    }
    Ok(upload_headers(name, &id, 0, StatusCode::ACCEPTED))
}

fn content_range(headers: &HeaderMap) -> Option<Result<(u64, u64), ()>> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let value = value
        .trim()
        .trim_start_matches("bytes ")
        .trim_start_matches("bytes=");
    let range = value.split('/').next().unwrap_or(value);
    Some(
        range
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .ok_or(()),
    )
}

/// `416` with the current range, so the client can resume.
fn range_invalid(name: &str, id: &str, size: u64, message: String) -> Response {
    let mut response = oci(Code::RangeInvalid, message);
    airlift_http::set(
        response.headers_mut(),
        header::LOCATION,
        &format!("/v2/{name}/blobs/uploads/{id}"),
    );
    airlift_http::set(
        response.headers_mut(),
        header::RANGE,
        &format!("0-{}", size.saturating_sub(1)),
    );
    response
}

/// A chunk with `Content-Range: <start>-<end>` must continue exactly where
/// the upload stands (`start` is its size) and bring exactly
/// `end - start + 1` bytes; `416` otherwise. Returns that length, checked
/// against `Content-Length` when there is one; the body itself is checked
/// while it streams.
fn chunk_length(
    name: &str,
    id: &str,
    headers: &HeaderMap,
    size: u64,
) -> Result<Option<u64>, Response> {
    let (start, end) = match content_range(headers) {
        None => return Ok(None),
        Some(Ok((start, end))) if start == size => (start, end),
        _ => {
            return Err(range_invalid(
                name,
                id,
                size,
                format!("chunk must start at offset {size}"),
            ));
        }
    };
    if end < start {
        return Err(range_invalid(
            name,
            id,
            size,
            format!("Content-Range {start}-{end} ends before it starts"),
        ));
    }
    let length = end - start + 1;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(declared) = declared
        && declared != length
    {
        return Err(range_invalid(
            name,
            id,
            size,
            format!(
                "Content-Range {start}-{end} states {length} bytes, but Content-Length is {declared}"
            ),
        ));
    }
    Ok(Some(length))
}

/// Appends one chunk of session `id` (PATCH, or the closing PUT's body).
async fn append_chunk(
    name: &str,
    id: &str,
    path: &Path,
    headers: &HeaderMap,
    body: Body,
) -> Result<u64, Response> {
    let size = current_size(path).await?;
    let expected = chunk_length(name, id, headers, size)?;
    match append(path, size, expected, body).await {
        Ok(written) => Ok(size + written),
        Err(AppendFailure::Answer(response)) => Err(response),
        Err(AppendFailure::Length(got)) => Err(range_invalid(
            name,
            id,
            size,
            format!(
                "the chunk brought {got} bytes or more, not the {} its Content-Range states; nothing was stored",
                expected.unwrap_or_default()
            ),
        )),
    }
}

pub(super) async fn patch_upload(
    registry: &Registry,
    name: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let path = session(registry, name, id).await?;
    let size = append_chunk(name, id, &path, headers, body).await?;
    Ok(upload_headers(name, id, size, StatusCode::ACCEPTED))
}

pub(super) async fn finish_upload(
    registry: &Registry,
    name: &str,
    id: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let path = session(registry, name, id).await?;
    let size = current_size(&path).await?;
    chunk_length(name, id, headers, size)?;
    let expected = query_value(pairs, "digest")
        .ok_or_else(|| {
            oci(
                Code::DigestInvalid,
                "the digest query parameter is required",
            )
        })
        .and_then(digest_param)?;
    append_chunk(name, id, &path, headers, body).await?;
    commit_upload(registry, name, id, &path, expected).await
}

/// Hashes a finished upload, and only if it matches moves it into the store.
/// Either way the session is over.
async fn commit_upload(
    registry: &Registry,
    name: &str,
    id: &str,
    path: &Path,
    expected: Digest,
) -> Reply {
    let store = registry.store.clone();
    let file = path.to_path_buf();
    let checked = tokio::task::spawn_blocking(move || -> std::io::Result<(Digest, u64)> {
        let mut reader = HashingReader::new(std::fs::File::open(&file)?);
        std::io::copy(&mut reader, &mut std::io::sink())?;
        let (digest, size) = reader.finish();
        if digest == expected {
            std::fs::File::open(&file)?.sync_all()?;
            store
                .blobs
                .adopt(&file, &digest)
                .map_err(std::io::Error::other)?;
        } else {
            std::fs::remove_file(&file)?;
        }
        Ok((digest, size))
    })
    .await
    .map_err(internal)?
    .map_err(write_failed)?;
    let _ = tokio::fs::remove_file(registry.uploads.join(format!("{id}{BINDING}"))).await;
    let (actual, size) = checked;
    if actual != expected {
        return Err(oci(
            Code::DigestInvalid,
            format!("upload {id} has digest {actual}, not {expected}"),
        ));
    }
    link_blob(registry, name, expected, size).await
}

pub(super) async fn upload_status(registry: &Registry, name: &str, id: &str) -> Reply {
    let path = session(registry, name, id).await?;
    let size = current_size(&path).await?;
    Ok(upload_headers(name, id, size, StatusCode::NO_CONTENT))
}

pub(super) async fn cancel_upload(registry: &Registry, name: &str, id: &str) -> Reply {
    session(registry, name, id).await?;
    remove_session(registry, id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Whether the caller of this request may read repository `name` (always,
/// on a server that does not control access).
fn may_read(registry: &Registry, name: &str) -> bool {
    let Some(gatekeeper) = &registry.gatekeeper else {
        return true;
    };
    let caller = airlift_ecosystem::Caller::current().unwrap_or_default();
    let wanted = [airlift_ecosystem::Action::Read];
    !gatekeeper
        .grant(
            &caller,
            crate::ECOSYSTEM,
            &airlift_ecosystem::Scope::Name(name.to_owned()),
            &wanted,
        )
        .is_empty()
}
