//! Blobs: pull (with ranges, through the shared blob server), delete (the
//! repository's link only; the bytes stay for other repositories and
//! bundles), and the link that makes a verified blob part of a repository,
//! which both a finished upload and a cross-repository mount end with.

use airlift_core::Digest;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

use super::{Registry, Reply, change, created_headers, digest_headers, lookup, oci};
use crate::errors::Code;
use crate::index;

pub(super) async fn get_blob(
    registry: &Registry,
    name: &str,
    digest: &Digest,
    headers: &HeaderMap,
) -> Reply {
    let entry = lookup(registry, index::blob_key(name, digest))
        .await?
        .ok_or_else(|| {
            oci(
                Code::BlobUnknown,
                format!("blob {digest} not found in {name}"),
            )
        })?;
    let blob = airlift_http::Blob {
        digest: entry.digest,
        size: entry.size,
        path: registry.store.blobs.local_path(&entry.digest),
        modified: None,
        content_type: "application/octet-stream".into(),
    };
    Ok(airlift_http::serve_blob(blob, headers, digest_headers(digest)).await)
}

pub(super) async fn delete_blob(registry: &Registry, name: &str, digest: &Digest) -> Reply {
    let key = index::blob_key(name, digest);
    if lookup(registry, key.clone()).await?.is_none() {
        return Err(oci(
            Code::BlobUnknown,
            format!("blob {digest} not found in {name}"),
        ));
    }
    change(
        registry,
        format!("delete {name} blob {digest}"),
        Vec::new(),
        vec![key],
    )
    .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// Links a stored blob into a repository and answers 201.
pub(super) async fn link_blob(registry: &Registry, name: &str, digest: Digest, size: u64) -> Reply {
    change(
        registry,
        format!("push {name} blob {digest}"),
        vec![index::entry(
            index::blob_key(name, &digest),
            digest,
            size,
            json!({"pushed_at": super::unix_now()}),
        )],
        Vec::new(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        created_headers(&digest, &format!("/v2/{name}/blobs/{digest}")),
    )
        .into_response())
}
