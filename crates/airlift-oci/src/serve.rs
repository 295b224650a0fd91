//! The `/v2/` API: pull and push (OCI Distribution Spec v1.1).
//!
//! Repository names contain slashes, so one handler parses every path from
//! its end (`…/manifests/<reference>`, `…/blobs/uploads/<id>`,
//! `…/blobs/<digest>`, `…/tags/list`, `…/referrers/<digest>`). Every write is
//! one index change (a new generation) through the same store as imports:
//! blobs are verified against their digest before they become visible, and
//! manifests are checked for the blobs they reference. Upload sessions are
//! files under the home's `uploads/` directory, streamed to, never held in
//! memory; each is bound to the repository it was opened for, expires after
//! a set age (its files then removed, by a sweep or on its next use), and a
//! chunk that fails (a wrong length, a full disk) is cut back off its file.

// Handlers short-circuit with a ready `Response` as their error; it is built
// once per failed request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use airlift_core::{Digest, HashingReader};
use airlift_store::{Change, Entry, Store};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::errors::{Code, OciError, internal};
use crate::index;
use crate::names::{self, DigestProblem, Reference};

/// Largest manifest accepted on push.
pub const MAX_MANIFEST: usize = 4 << 20;

/// Records a change to the index (an event name and its facts) in the
/// site's audit log; an error means the entry was not written.
pub type AuditHook =
    std::sync::Arc<dyn Fn(&str, serde_json::Value) -> Result<(), String> + Send + Sync>;

/// The registry state shared by handlers.
#[derive(Clone)]
pub struct Registry {
    store: Store,
    uploads: PathBuf,
    audit: Option<AuditHook>,
    /// How long an upload session stays usable after it opens.
    upload_expiry: Duration,
}

/// The `/v2/` router, to be merged at the server root.
pub fn router(store: Store, uploads: PathBuf) -> Router {
    router_with_audit(store, uploads, None)
}

/// The `/v2/` router; every push and delete that changes the index is
/// recorded through `audit`.
pub fn router_with_audit(store: Store, uploads: PathBuf, audit: Option<AuditHook>) -> Router {
    router_with_expiry(store, uploads, audit, DEFAULT_UPLOAD_EXPIRY)
}

/// The `/v2/` router, whose upload sessions expire `upload_expiry` after
/// they open. Built inside a tokio runtime (as the server does at start-up),
/// it also starts sweeping expired sessions out of `uploads`: once now, then
/// hourly, so their space comes back even if no client asks for them again.
pub fn router_with_expiry(
    store: Store,
    uploads: PathBuf,
    audit: Option<AuditHook>,
    upload_expiry: Duration,
) -> Router {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(sweep_periodically(uploads.clone(), upload_expiry));
    }
    let registry = Registry {
        store,
        uploads,
        audit,
        upload_expiry,
    };
    Router::new()
        .route("/v2", axum::routing::any(dispatch))
        .route("/v2/", axum::routing::any(dispatch))
        .route("/v2/{*rest}", axum::routing::any(dispatch))
        .with_state(registry)
}

type Reply = Result<Response, Response>;

fn oci(code: Code, message: impl Into<String>) -> Response {
    OciError::new(code, message).into_response()
}

fn query_pairs(request: &Request) -> Vec<(String, String)> {
    request
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn query_value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn digest_param(text: &str) -> Result<Digest, Response> {
    names::parse_digest(text).map_err(|problem| match problem {
        DigestProblem::Invalid => oci(Code::DigestInvalid, format!("invalid digest {text:?}")),
        DigestProblem::Unsupported => oci(
            Code::DigestInvalid,
            format!("unsupported digest algorithm in {text:?}; only sha256 is stored"),
        ),
    })
}

fn repository(name: &str) -> Result<String, Response> {
    if names::valid_repository(name) {
        Ok(name.to_owned())
    } else {
        Err(oci(
            Code::NameInvalid,
            format!("invalid repository name {name:?}"),
        ))
    }
}

async fn dispatch(State(registry): State<Registry>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let rest = path
        .strip_prefix("/v2")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    let method = request.method().clone();
    let result = route(&registry, &method, &rest, request).await;
    let mut response = result.unwrap_or_else(|error| error);
    airlift_http::set(
        response.headers_mut(),
        header::HeaderName::from_static("docker-distribution-api-version"),
        "registry/2.0",
    );
    response
}

async fn route(registry: &Registry, method: &Method, rest: &str, request: Request) -> Reply {
    let read = method == Method::GET || method == Method::HEAD;
    let pairs = query_pairs(&request);
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    if rest.is_empty() {
        return if read {
            Ok((
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{}",
            )
                .into_response())
        } else {
            Err(oci(Code::Unsupported, "method not allowed"))
        };
    }
    if rest == "_catalog" && read {
        return catalog(registry, &pairs).await;
    }
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        let name = repository(name)?;
        return match *method {
            Method::GET | Method::HEAD => get_manifest(registry, &name, reference, &headers).await,
            Method::PUT => put_manifest(registry, &name, reference, &pairs, &headers, body).await,
            Method::DELETE => delete_manifest(registry, &name, reference).await,
            _ => Err(oci(Code::Unsupported, "method not allowed")),
        };
    }
    if let Some((name, tail)) = rest.rsplit_once("/blobs/uploads") {
        let name = repository(name)?;
        let id = tail.trim_start_matches('/');
        return match (method.clone(), id.is_empty()) {
            (Method::POST, true) => start_upload(registry, &name, &pairs, body).await,
            (Method::PATCH, false) => patch_upload(registry, &name, id, &headers, body).await,
            (Method::PUT, false) => {
                finish_upload(registry, &name, id, &pairs, &headers, body).await
            }
            (Method::GET, false) => upload_status(registry, &name, id).await,
            (Method::DELETE, false) => cancel_upload(registry, &name, id).await,
            _ => Err(oci(Code::Unsupported, "method not allowed")),
        };
    }
    if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        let name = repository(name)?;
        let digest = digest_param(digest)?;
        return match *method {
            Method::GET | Method::HEAD => get_blob(registry, &name, &digest, &headers).await,
            Method::DELETE => delete_blob(registry, &name, &digest).await,
            _ => Err(oci(Code::Unsupported, "method not allowed")),
        };
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        let name = repository(name)?;
        return if read {
            tags_list(registry, &name, &pairs).await
        } else {
            Err(oci(Code::Unsupported, "method not allowed"))
        };
    }
    if let Some((name, digest)) = rest.rsplit_once("/referrers/") {
        let name = repository(name)?;
        let digest = digest_param(digest)?;
        return if read {
            referrers(registry, &name, &digest, &pairs).await
        } else {
            Err(oci(Code::Unsupported, "method not allowed"))
        };
    }
    Err(oci(Code::NameUnknown, "no such endpoint"))
}

/// Runs index work on the blocking pool.
async fn blocking<T: Send + 'static>(
    registry: &Registry,
    work: impl FnOnce(&Store) -> Result<T, airlift_store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    let store = registry.store.clone();
    tokio::task::spawn_blocking(move || work(&store))
        .await
        .map_err(internal)?
        .map_err(internal)
}

async fn lookup(registry: &Registry, key: String) -> Result<Option<Entry>, Response> {
    blocking(registry, move |store| match store.meta.current()? {
        Some(generation) => store.meta.entry(generation.id, crate::ECOSYSTEM, &key),
        None => Ok(None),
    })
    .await
}

async fn with_prefix(registry: &Registry, prefix: String) -> Result<Vec<Entry>, Response> {
    blocking(registry, move |store| match store.meta.current()? {
        Some(generation) => {
            store
                .meta
                .entries_with_prefix(generation.id, crate::ECOSYSTEM, &prefix)
        }
        None => Ok(Vec::new()),
    })
    .await
}

async fn change(
    registry: &Registry,
    source: String,
    upserts: Vec<Entry>,
    removals: Vec<String>,
) -> Result<(), Response> {
    let detail = registry.audit.as_ref().map(|_| {
        serde_json::json!({
            "change": source,
            "upserts": upserts
                .iter()
                .map(|e| serde_json::json!({"key": e.key, "digest": e.digest, "size": e.size}))
                .collect::<Vec<_>>(),
            "removals": removals,
        })
    });
    blocking(registry, move |store| {
        store.meta.apply(Change {
            source,
            created_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            upserts,
            removals: removals
                .into_iter()
                .map(|key| (crate::ECOSYSTEM.to_owned(), key))
                .collect(),
            state: Vec::new(),
        })
    })
    .await?;
    if let (Some(hook), Some(detail)) = (registry.audit.clone(), detail) {
        let written = tokio::task::spawn_blocking(move || hook("registry-change", detail))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
        if let Err(e) = written {
            return Err(internal(format!(
                "the registry change was stored but the audit log could not record it: {e}"
            )));
        }
    }
    Ok(())
}

fn digest_headers(digest: &Digest) -> HeaderMap {
    let mut headers = HeaderMap::new();
    airlift_http::set(
        &mut headers,
        header::HeaderName::from_static("docker-content-digest"),
        &digest.to_string(),
    );
    headers
}

/// Headers of a `201 Created`: the content digest and where it now lives.
fn created_headers(digest: &Digest, location: &str) -> HeaderMap {
    let mut headers = digest_headers(digest);
    airlift_http::set(&mut headers, header::LOCATION, location);
    headers
}

// ---- manifests ---------------------------------------------------------

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

async fn get_manifest(
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

async fn put_manifest(
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
    let meta = index::manifest_meta(&parsed, &media_type);
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
            json!({"media_type": media_type}),
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

async fn delete_manifest(registry: &Registry, name: &str, reference: &str) -> Reply {
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

// ---- blobs -------------------------------------------------------------

async fn get_blob(registry: &Registry, name: &str, digest: &Digest, headers: &HeaderMap) -> Reply {
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

async fn delete_blob(registry: &Registry, name: &str, digest: &Digest) -> Reply {
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
async fn link_blob(registry: &Registry, name: &str, digest: Digest, size: u64) -> Reply {
    change(
        registry,
        format!("push {name} blob {digest}"),
        vec![index::entry(
            index::blob_key(name, &digest),
            digest,
            size,
            json!({}),
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

// ---- upload sessions ---------------------------------------------------

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
async fn sweep_periodically(dir: PathBuf, max_age: Duration) {
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

async fn start_upload(
    registry: &Registry,
    name: &str,
    pairs: &[(String, String)],
    body: Body,
) -> Reply {
    if let (Some(mount), from) = (query_value(pairs, "mount"), query_value(pairs, "from")) {
        let digest = digest_param(mount)?;
        let source = match from {
            Some(from) => lookup(registry, index::blob_key(&repository(from)?, &digest)).await?,
            None => None,
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

async fn patch_upload(
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

async fn finish_upload(
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

async fn upload_status(registry: &Registry, name: &str, id: &str) -> Reply {
    let path = session(registry, name, id).await?;
    let size = current_size(&path).await?;
    Ok(upload_headers(name, id, size, StatusCode::NO_CONTENT))
}

async fn cancel_upload(registry: &Registry, name: &str, id: &str) -> Reply {
    session(registry, name, id).await?;
    remove_session(registry, id).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- listings ----------------------------------------------------------

/// Applies `n`/`last` pagination; returns the page and whether more follow.
fn paginate(
    items: Vec<String>,
    pairs: &[(String, String)],
) -> Result<(Vec<String>, bool), Response> {
    let last = query_value(pairs, "last");
    let mut items: Vec<String> = items
        .into_iter()
        .filter(|item| last.is_none_or(|last| item.as_str() > last))
        .collect();
    let limit = match query_value(pairs, "n") {
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| oci(Code::Unsupported, format!("invalid n {n:?}")))?,
        ),
        None => None,
    };
    let more = limit.is_some_and(|n| items.len() > n);
    if let Some(n) = limit {
        items.truncate(n);
    }
    Ok((items, more))
}

fn listing(body: Value, next: Option<String>) -> Response {
    let mut headers = HeaderMap::new();
    airlift_http::set(&mut headers, header::CONTENT_TYPE, "application/json");
    if let Some(next) = next {
        airlift_http::set(
            &mut headers,
            header::LINK,
            &format!("<{next}>; rel=\"next\""),
        );
    }
    (StatusCode::OK, headers, body.to_string()).into_response()
}

async fn tags_list(registry: &Registry, name: &str, pairs: &[(String, String)]) -> Reply {
    let prefix = index::tag_prefix(name);
    let tags: Vec<String> = with_prefix(registry, prefix.clone())
        .await?
        .into_iter()
        .filter_map(|e| e.key.strip_prefix(&prefix).map(str::to_owned))
        .collect();
    if tags.is_empty()
        && with_prefix(registry, index::manifest_prefix(name))
            .await?
            .is_empty()
    {
        return Err(oci(
            Code::NameUnknown,
            format!("repository {name} not found"),
        ));
    }
    let (page, more) = paginate(tags, pairs)?;
    let next = if more {
        page.last()
            .map(|last| format!("/v2/{name}/tags/list?n={}&last={last}", page.len()))
    } else {
        None
    };
    Ok(listing(json!({"name": name, "tags": page}), next))
}

async fn catalog(registry: &Registry, pairs: &[(String, String)]) -> Reply {
    let entries = blocking(registry, |store| match store.meta.current()? {
        Some(generation) => store.meta.entries(generation.id, Some(crate::ECOSYSTEM)),
        None => Ok(Vec::new()),
    })
    .await?;
    let repositories: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.key.starts_with("m:") || e.key.starts_with("t:"))
        .filter_map(|e| index::repository_of(&e.key).map(str::to_owned))
        .collect();
    let (page, more) = paginate(repositories.into_iter().collect(), pairs)?;
    let next = if more {
        page.last()
            .map(|last| format!("/v2/_catalog?n={}&last={last}", page.len()))
    } else {
        None
    };
    Ok(listing(json!({"repositories": page}), next))
}

async fn referrers(
    registry: &Registry,
    name: &str,
    digest: &Digest,
    pairs: &[(String, String)],
) -> Reply {
    let filter = query_value(pairs, "artifactType").map(str::to_owned);
    let subject = digest.to_string();
    let mut manifests: BTreeMap<String, Value> = BTreeMap::new();
    for entry in with_prefix(registry, index::manifest_prefix(name)).await? {
        if entry.meta["subject"].as_str() != Some(subject.as_str()) {
            continue;
        }
        let artifact_type = entry.meta["artifact_type"].as_str().map(str::to_owned);
        if filter.is_some() && artifact_type != filter {
            continue;
        }
        let mut descriptor = json!({
            "mediaType": entry.meta["media_type"],
            "digest": entry.digest.to_string(),
            "size": entry.size,
        });
        if let Some(artifact_type) = artifact_type {
            descriptor["artifactType"] = json!(artifact_type);
        }
        if entry.meta["annotations"].is_object() {
            descriptor["annotations"] = entry.meta["annotations"].clone();
        }
        manifests.insert(entry.digest.to_string(), descriptor);
    }
    let body = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests.into_values().collect::<Vec<_>>(),
    });
    let mut headers = HeaderMap::new();
    airlift_http::set(
        &mut headers,
        header::CONTENT_TYPE,
        "application/vnd.oci.image.index.v1+json",
    );
    if filter.is_some() {
        airlift_http::set(
            &mut headers,
            header::HeaderName::from_static("oci-filters-applied"),
            "artifactType",
        );
    }
    Ok((StatusCode::OK, headers, body.to_string()).into_response())
}
