//! Manifests: pull with content negotiation, push with every referenced
//! blob and index entry checked to be in the repository, and delete (a tag,
//! or a manifest with the tags that point at it). A pushed manifest's media
//! type becomes the `Content-Type` of every pull, so it is checked here to be
//! one a browser will neither render nor run.

use std::path::PathBuf;

use airlift_core::Digest;
use airlift_store::Entry;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::{
    MAX_MANIFEST, Registry, Reply, change, created_headers, digest_headers, digest_param, lookup,
    oci, with_prefix,
};
use crate::errors::{Code, internal};
use crate::index;
use crate::names::{self, Reference};

async fn resolve(registry: &Registry, name: &str, reference: &str) -> Result<Entry, Response> {
    let unknown = || {
        oci(
            Code::ManifestUnknown,
            format!("manifest {reference} not found in {name}"),
        )
    };
    let digest = match names::parse_reference(reference) {
        Some(Reference::Digest(digest)) => digest,
        Some(Reference::Tag(tag)) => {
            lookup(registry, index::tag_key(name, &tag))
                .await?
                .ok_or_else(unknown)?
                .digest
        }
        None => {
            return Err(oci(
                Code::ManifestInvalid,
                format!("invalid reference {reference:?}"),
            ));
        }
    };
    lookup(registry, index::manifest_key(name, &digest))
        .await?
        .ok_or_else(unknown)
}

pub(super) async fn get_manifest(
    registry: &Registry,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
) -> Reply {
    let entry = resolve(registry, name, reference).await?;
    let media_type = entry.meta["media_type"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json");
    // A media type stored before pushes were checked is not echoed as the
    // Content-Type: a browser could render it.
    let media_type = match media_type_problem(media_type) {
        None => media_type.to_owned(),
        Some(_) => "application/octet-stream".to_owned(),
    };
    if !accepts(headers, &media_type) {
        return Err(oci(
            Code::ManifestUnknown,
            format!(
                "{reference} in {name} is a {media_type}, which the client's Accept headers do not include"
            ),
        ));
    }
    let blob = airlift_http::Blob {
        digest: entry.digest,
        size: entry.size,
        path: registry.store.blobs.local_path(&entry.digest),
        modified: None,
        content_type: media_type,
    };
    Ok(airlift_http::serve_blob(blob, headers, digest_headers(&entry.digest)).await)
}

/// Content negotiation: clients send one or several `Accept` headers, each
/// possibly a list. Manifests are served byte-exact (never converted), so a
/// manifest whose media type the client did not list is reported unknown, as
/// the CNCF registry does for an index asked for by a client that only takes
/// image manifests. No `Accept` at all, or a wildcard, takes anything.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut listed = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let item = item.split(';').next().unwrap_or("").trim();
            if item.is_empty() {
                continue;
            }
            listed = true;
            if item == media_type || item == "*/*" || item == "application/*" {
                return true;
            }
        }
    }
    !listed
}

/// Reads a request body into memory, refusing more than `limit` bytes.
async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, Response> {
    let mut stream = body.into_data_stream();
    let mut data = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| oci(Code::ManifestInvalid, format!("cannot read the body: {e}")))?;
        if data.len() + chunk.len() > limit {
            return Err(oci(
                Code::SizeInvalid,
                format!("body larger than {limit} bytes"),
            ));
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

/// The longest media type a manifest may have: RFC 6838 allows 127
/// characters for each of the type and the subtype.
const MAX_MEDIA_TYPE: usize = 255;

/// The longest `Content-Type` header a manifest push may send, parameters
/// included.
const MAX_CONTENT_TYPE: usize = 1024;

/// Why `media_type` cannot be a manifest's media type, or `None` when it
/// can. A manifest's media type is sent back as the `Content-Type` of every
/// pull, so it must be a well-formed media type (RFC 6838 section 4.2: a
/// restricted name, `/`, a restricted name, nothing else), of the
/// `application` type, as every OCI and Docker manifest type is (artifacts
/// may use any `application/…` type), and not one a browser renders as a
/// document or runs (HTML, XML, SVG, script). Anything else would let a push
/// put a page on the registry's origin; the CNCF registry refuses such
/// types too.
fn media_type_problem(media_type: &str) -> Option<&'static str> {
    fn restricted_name(name: &str) -> bool {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
            && name.len() <= 127
            && chars.all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    }
    if media_type.len() > MAX_MEDIA_TYPE {
        return Some("is longer than 255 characters");
    }
    let Some((kind, subtype)) = media_type.split_once('/') else {
        return Some("is not of the form type/subtype");
    };
    if !restricted_name(kind) || !restricted_name(subtype) {
        return Some("is not a well-formed media type (RFC 6838)");
    }
    if !kind.eq_ignore_ascii_case("application") {
        return Some("is not an application/… media type");
    }
    let subtype = subtype.to_ascii_lowercase();
    let rendered = subtype.contains("html")
        || subtype == "xml"
        || subtype.ends_with("+xml")
        || subtype.contains("svg")
        || subtype.contains("javascript")
        || subtype.contains("ecmascript")
        || subtype == "x-shockwave-flash"
        || subtype == "pdf";
    if rendered {
        return Some("is a type browsers render or run");
    }
    None
}

/// The refusal of a bad media type, quoting at most its start.
fn bad_media_type(source: &str, media_type: &str, problem: &str) -> Response {
    let mut shown: String = media_type.chars().take(80).collect();
    if shown.len() < media_type.len() {
        shown.push('…');
    }
    oci(
        Code::ManifestInvalid,
        format!("{source} {shown:?} {problem}"),
    )
}

/// The media type of a manifest push's `Content-Type` header, without its
/// parameters, checked like the manifest's own `mediaType`; the parameters
/// must be printable ASCII.
fn pushed_content_type(headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let bytes = value.as_bytes();
    if bytes.len() > MAX_CONTENT_TYPE {
        return Err(oci(
            Code::ManifestInvalid,
            format!("Content-Type is longer than {MAX_CONTENT_TYPE} bytes"),
        ));
    }
    if !bytes.iter().all(|b| (b' '..=b'~').contains(b)) {
        return Err(oci(
            Code::ManifestInvalid,
            "Content-Type has a control or non-ASCII character",
        ));
    }
    let text = String::from_utf8_lossy(bytes);
    let media_type = text.split(';').next().unwrap_or("").trim();
    if let Some(problem) = media_type_problem(media_type) {
        return Err(bad_media_type("Content-Type", media_type, problem));
    }
    Ok(Some(media_type.to_owned()))
}

pub(super) async fn put_manifest(
    registry: &Registry,
    name: &str,
    reference: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
    body: Body,
) -> Reply {
    let content_type = pushed_content_type(headers)?;
    let body = read_limited(body, MAX_MANIFEST).await?;
    let digest = Digest::of(&body);
    let mut tags: Vec<String> = Vec::new();
    match names::parse_reference(reference) {
        Some(Reference::Digest(expected)) if expected != digest => {
            return Err(oci(
                Code::DigestInvalid,
                format!("manifest content has digest {digest}, not {expected}"),
            ));
        }
        Some(Reference::Digest(_)) => {}
        Some(Reference::Tag(tag)) => tags.push(tag),
        None => {
            return Err(oci(
                Code::ManifestInvalid,
                format!("invalid reference {reference:?}"),
            ));
        }
    }
    for (key, value) in pairs {
        if key == "tag" {
            if !names::valid_tag(value) {
                return Err(oci(Code::ManifestInvalid, format!("invalid tag {value:?}")));
            }
            tags.push(value.clone());
        }
    }
    let parsed: Value = serde_json::from_slice(&body)
        .map_err(|e| oci(Code::ManifestInvalid, format!("manifest is not JSON: {e}")))?;
    if !parsed.is_object() {
        return Err(oci(Code::ManifestInvalid, "manifest is not a JSON object"));
    }
    let declared = match parsed.get("mediaType") {
        None => None,
        Some(Value::String(text)) => {
            if let Some(problem) = media_type_problem(text) {
                return Err(bad_media_type("mediaType", text, problem));
            }
            Some(text.clone())
        }
        Some(_) => return Err(oci(Code::ManifestInvalid, "mediaType is not a string")),
    };
    let media_type = declared
        .or(content_type)
        .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
    // Every blob an image manifest references must be in this repository,
    // except non-distributable layers, which by definition are not pushed.
    for (field, text) in index::referenced_blobs(&parsed) {
        let Some(text) = text else {
            return Err(oci(
                Code::ManifestInvalid,
                format!("a {field} descriptor has no digest"),
            ));
        };
        require(
            registry,
            name,
            &text,
            field.as_str(),
            Code::ManifestBlobUnknown,
            index::blob_key,
        )
        .await?;
    }
    // Manifests listed by an index must be in this repository too.
    if let Some(list) = parsed.get("manifests").and_then(Value::as_array) {
        for descriptor in list {
            let Some(text) = descriptor["digest"].as_str() else {
                return Err(oci(Code::ManifestInvalid, "an index entry has no digest"));
            };
            require(
                registry,
                name,
                text,
                "index entry",
                Code::ManifestUnknown,
                index::manifest_key,
            )
            .await?;
        }
    }
    let subject = parsed["subject"]["digest"].as_str().map(str::to_owned);
    // Store the bytes exactly as pushed.
    let store = registry.store.clone();
    let bytes = body.clone();
    let stored = tokio::task::spawn_blocking(move || -> Result<(), airlift_store::StoreError> {
        let mut writer = store.blobs.writer()?;
        std::io::Write::write_all(&mut writer, &bytes).map_err(|e| {
            airlift_store::StoreError::Io {
                action: "write manifest",
                path: PathBuf::from("<manifest>"),
                source: e,
            }
        })?;
        writer.commit(Some(&digest))?;
        Ok(())
    })
    .await
    .map_err(internal)?;
    stored.map_err(internal)?;
    let mut meta = index::manifest_meta(&parsed, &media_type);
    // When it was pushed, for retention rules (`airlift gc`).
    let pushed_at = super::unix_now();
    meta["pushed_at"] = json!(pushed_at);
    let size = body.len() as u64;
    let mut upserts = vec![index::entry(
        index::manifest_key(name, &digest),
        digest,
        size,
        meta,
    )];
    for tag in &tags {
        upserts.push(index::entry(
            index::tag_key(name, tag),
            digest,
            size,
            json!({"media_type": media_type, "pushed_at": pushed_at}),
        ));
    }
    change(
        registry,
        format!("push {name}@{digest}"),
        upserts,
        Vec::new(),
    )
    .await?;
    let mut headers = created_headers(&digest, &format!("/v2/{name}/manifests/{digest}"));
    if let Some(subject) = subject {
        airlift_http::set(
            &mut headers,
            header::HeaderName::from_static("oci-subject"),
            &subject,
        );
    }
    for tag in &tags {
        if let Ok(value) = header::HeaderValue::from_str(tag) {
            headers.append(header::HeaderName::from_static("oci-tag"), value);
        }
    }
    Ok((StatusCode::CREATED, headers).into_response())
}

/// Checks that the descriptor digest `text` names something present in the
/// repository (`key` builds its index key); `missing` is the error code otherwise.
async fn require(
    registry: &Registry,
    name: &str,
    text: &str,
    what: &str,
    missing: Code,
    key: fn(&str, &Digest) -> String,
) -> Result<(), Response> {
    let digest = digest_param(text).map_err(|_| {
        oci(
            Code::ManifestInvalid,
            format!("{what} digest {text:?} is invalid"),
        )
    })?;
    if lookup(registry, key(name, &digest)).await?.is_none() {
        return Err(oci(missing, format!("{what} {digest} is not in {name}")));
    }
    Ok(())
}

pub(super) async fn delete_manifest(registry: &Registry, name: &str, reference: &str) -> Reply {
    match names::parse_reference(reference) {
        Some(Reference::Tag(tag)) => {
            let key = index::tag_key(name, &tag);
            if lookup(registry, key.clone()).await?.is_none() {
                return Err(oci(
                    Code::ManifestUnknown,
                    format!("tag {tag} not found in {name}"),
                ));
            }
            change(
                registry,
                format!("delete {name}:{tag}"),
                Vec::new(),
                vec![key],
            )
            .await?;
        }
        Some(Reference::Digest(digest)) => {
            let key = index::manifest_key(name, &digest);
            if lookup(registry, key.clone()).await?.is_none() {
                return Err(oci(
                    Code::ManifestUnknown,
                    format!("manifest {digest} not found in {name}"),
                ));
            }
            // Tags pointing at it go with it.
            let mut removals = vec![key];
            removals.extend(
                with_prefix(registry, index::tag_prefix(name))
                    .await?
                    .into_iter()
                    .filter(|e| e.digest == digest)
                    .map(|e| e.key),
            );
            change(
                registry,
                format!("delete {name}@{digest}"),
                Vec::new(),
                removals,
            )
            .await?;
        }
        None => {
            return Err(oci(
                Code::ManifestInvalid,
                format!("invalid reference {reference:?}"),
            ));
        }
    }
    Ok(StatusCode::ACCEPTED.into_response())
}
