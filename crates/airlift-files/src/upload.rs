//! `PUT /files/<path>` and `DELETE /files/<path>`: files made inside the
//! site (an in-gap CI's artifacts), stored like collected ones.
//!
//! The body streams into a blob, never whole in memory, and is checked
//! against the checksum the client states (`X-Checksum-Sha256: <hex>`, or
//! `Digest: sha-256=<base64>`) before anything becomes visible. A request
//! must say how long it is (`Content-Length`) or send its body chunked; at
//! most [`MAX_FILE`] bytes either way. A PUT over an existing path replaces
//! it in a new generation; the audit event of each change names the caller.

use airlift_core::Digest;
use airlift_ecosystem::Services;
use airlift_store::{Entry, StoreError};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::StreamExt;

/// The largest file a PUT may store.
pub const MAX_FILE: u64 = 16 << 30;

/// A refused request, in plain text as the other `/files/` answers.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        airlift_http::plain(self.0, &self.1)
    }
}

fn internal(message: impl std::fmt::Display) -> Refused {
    tracing::error!("file upload failed: {message}");
    Refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the file could not be stored: {message}"),
    )
}

/// The checksum the client states, if any.
fn stated_checksum(headers: &HeaderMap) -> Result<Option<Digest>, Refused> {
    let bad = |message: String| Refused(StatusCode::BAD_REQUEST, message);
    if let Some(value) = headers.get("x-checksum-sha256") {
        let text = value
            .to_str()
            .map_err(|_| bad("X-Checksum-Sha256 is not text".into()))?;
        return Digest::from_hex(&text.trim().to_ascii_lowercase())
            .map(Some)
            .map_err(|e| bad(format!("X-Checksum-Sha256: {e}")));
    }
    for value in headers.get_all("digest") {
        let text = value
            .to_str()
            .map_err(|_| bad("Digest is not text".into()))?;
        for item in text.split(',') {
            let Some((algorithm, encoded)) = item.trim().split_once('=') else {
                continue;
            };
            if !algorithm.eq_ignore_ascii_case("sha-256") {
                continue;
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| bad(format!("Digest sha-256 is not base64: {e}")))?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad("Digest sha-256 is not 32 bytes".into()))?;
            return Ok(Some(Digest::from_bytes(bytes)));
        }
    }
    Ok(None)
}

/// `PUT /files/<path>`.
pub async fn put(services: &Services, path: &str, headers: &HeaderMap, body: Body) -> Response {
    match put_checked(services, path, headers, body).await {
        Ok(response) => response,
        Err(refused) => refused.into_response(),
    }
}

async fn put_checked(
    services: &Services,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refused> {
    crate::spec::validate_path(path)
        .map_err(|e| Refused(StatusCode::BAD_REQUEST, format!("path {path:?} {e}")))?;
    let too_large = || {
        Refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than {} GiB, the most a PUT may store",
                MAX_FILE >> 30
            ),
        )
    };
    let length = match headers.get(header::CONTENT_LENGTH) {
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    Refused(
                        StatusCode::BAD_REQUEST,
                        "Content-Length is not a number".into(),
                    )
                })?,
        ),
        None => None,
    };
    let chunked = headers
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if length.is_none() && !chunked {
        return Err(Refused(
            StatusCode::LENGTH_REQUIRED,
            "send Content-Length, or the body chunked".into(),
        ));
    }
    if length.is_some_and(|n| n > MAX_FILE) {
        return Err(too_large());
    }
    let expected = stated_checksum(headers)?;

    // The body streams through a channel into a blocking writer.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(8);
    let store = services.store.clone();
    let writing = tokio::task::spawn_blocking(move || {
        let mut writer = store.blobs.writer()?;
        while let Some(chunk) = receiver.blocking_recv() {
            std::io::Write::write_all(&mut writer, &chunk).map_err(|source| StoreError::Io {
                action: "write uploaded file",
                path: "blob".into(),
                source,
            })?;
        }
        Ok::<_, StoreError>(writer)
    });
    let mut stream = body.into_data_stream();
    let mut received = 0u64;
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                failure = Some(Refused(
                    StatusCode::BAD_REQUEST,
                    format!("the body broke off after {received} bytes: {e}"),
                ));
                break;
            }
        };
        received += chunk.len() as u64;
        if received > MAX_FILE {
            failure = Some(too_large());
            break;
        }
        if sender.send(chunk).await.is_err() {
            break;
        }
    }
    drop(sender);
    let writer = writing.await.map_err(internal)?.map_err(internal)?;
    if let Some(failure) = failure {
        // The writer is dropped uncommitted: nothing becomes visible.
        return Err(failure);
    }
    let committed = tokio::task::spawn_blocking(move || writer.commit(expected.as_ref()))
        .await
        .map_err(internal)?;
    let (digest, size) = match committed {
        Ok(done) => done,
        Err(StoreError::DigestMismatch {
            expected, actual, ..
        }) => {
            return Err(Refused(
                StatusCode::BAD_REQUEST,
                format!(
                    "checksum mismatch: the request states sha256:{}, the body hashes to sha256:{}; nothing was stored",
                    expected.hex(),
                    actual.hex()
                ),
            ));
        }
        Err(other) => return Err(internal(other)),
    };
    let entry = Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: path.to_owned(),
        digest,
        size,
        meta: serde_json::json!({"source": "uploaded"}),
    };
    airlift_ecosystem::publish::commit_change(
        services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("put /files/{path}"),
        vec![entry],
        Vec::new(),
    )
    .await
    .map_err(internal)?;
    let mut response = airlift_http::plain(
        StatusCode::CREATED,
        &format!(
            "stored /files/{path}: {size} bytes, sha256:{}",
            digest.hex()
        ),
    );
    airlift_http::set(
        response.headers_mut(),
        header::HeaderName::from_static("x-checksum-sha256"),
        &digest.hex(),
    );
    Ok(response)
}

/// `DELETE /files/<path>`.
pub async fn delete(services: &Services, path: &str) -> Response {
    if crate::spec::validate_path(path).is_err() {
        return airlift_http::plain(StatusCode::NOT_FOUND, "not found");
    }
    let key = path.to_owned();
    let found = airlift_http::read_current(
        services.store.clone(),
        "file delete",
        move |store, generation| store.meta.entry(generation.id, crate::ECOSYSTEM, &key),
    )
    .await;
    match found {
        Ok(Some(_)) => {}
        Ok(None) => return airlift_http::plain(StatusCode::NOT_FOUND, "not found"),
        Err(unavailable) => return unavailable.into_response(),
    }
    match airlift_ecosystem::publish::commit_change(
        services,
        crate::ECOSYSTEM,
        "registry-change",
        format!("delete /files/{path}"),
        Vec::new(),
        vec![path.to_owned()],
    )
    .await
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => internal(e).into_response(),
    }
}
