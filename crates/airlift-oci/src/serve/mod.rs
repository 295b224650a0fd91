//! The `/v2/` API: pull and push (OCI Distribution Spec v1.1).
//!
//! Repository names contain slashes, so one handler parses every path from
//! its end (`…/manifests/<reference>`, `…/blobs/uploads/<id>`,
//! `…/blobs/<digest>`, `…/tags/list`, `…/referrers/<digest>`). Every write is
//! one index change (a new generation) through the same store as imports:
//! blobs are verified against their digest before they become visible, and
//! manifests are checked for the blobs they reference.
//!
//! The handlers are split the way the CNCF distribution registry splits
//! its own, one private module per kind of resource: `manifests`, `blobs`,
//! `uploads` (sessions streamed to files under the home's `uploads/`
//! directory, each bound to its repository and expiring after a set age) and
//! `listings` (catalog, tags, referrers). This module holds what they share:
//! the router and its state, the dispatch from path to handler, index reads
//! and writes, and the shape of errors.

// Handlers short-circuit with a ready `Response` as their error; it is built
// once per failed request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::time::Duration;

use airlift_core::Digest;
use airlift_store::{Change, Entry, Store};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::errors::{Code, OciError, internal};
use crate::names::{self, DigestProblem};

mod blobs;
mod listings;
mod manifests;
mod token;
mod uploads;

pub(crate) use token::challenge_scope;

pub use uploads::{DEFAULT_UPLOAD_EXPIRY, Swept, sweep_uploads};

use blobs::{delete_blob, get_blob};
use listings::{catalog, referrers, tags_list};
use manifests::{delete_manifest, get_manifest, put_manifest};
use uploads::{
    cancel_upload, finish_upload, patch_upload, start_upload, sweep_periodically, upload_status,
};

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
    /// The server's access decisions, for the token endpoint and for
    /// cross-repository mounts (which read another repository).
    gatekeeper: Option<std::sync::Arc<dyn airlift_ecosystem::Gatekeeper>>,
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
    router_with_gatekeeper(store, uploads, audit, upload_expiry, None)
}

/// The `/v2/` router of a server that controls access: `/v2/token` issues
/// registry tokens through `gatekeeper`, and a cross-repository mount
/// happens only when the caller may read the repository mounted from.
pub fn router_with_gatekeeper(
    store: Store,
    uploads: PathBuf,
    audit: Option<AuditHook>,
    upload_expiry: Duration,
    gatekeeper: Option<std::sync::Arc<dyn airlift_ecosystem::Gatekeeper>>,
) -> Router {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(sweep_periodically(uploads.clone(), upload_expiry));
    }
    let registry = Registry {
        store,
        uploads,
        audit,
        upload_expiry,
        gatekeeper,
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
    if rest == "token" && read {
        return Ok(token::token(registry, &pairs).await);
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
        if method == Method::POST && id.is_empty() {
            mount_needs_wider_token(registry, &name, &pairs, &parts.extensions, &headers)?;
        }
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

/// The time now, in Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
    let caller = airlift_ecosystem::Caller::current();
    let detail = registry.audit.as_ref().map(|_| {
        serde_json::json!({
            "change": source,
            "caller": caller.as_ref().map(airlift_ecosystem::Caller::audit),
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

/// A cross-repository mount reads the repository it mounts from. When the
/// caller's registry token does not cover that but the caller may read it,
/// the answer is a challenge that names both scopes, as docker/distribution
/// answers, so that the client comes back with a token for both and the
/// blob is linked instead of uploaded again. A caller who may not read it
/// gets a normal upload session (see `start_upload`), which says nothing of
/// what the other repository holds.
fn mount_needs_wider_token(
    registry: &Registry,
    name: &str,
    pairs: &[(String, String)],
    extensions: &axum::http::Extensions,
    headers: &HeaderMap,
) -> Result<(), Response> {
    use airlift_ecosystem::{Action, Caller, Scope};
    let (Some(gatekeeper), Some(_), Some(from)) = (
        &registry.gatekeeper,
        query_value(pairs, "mount"),
        query_value(pairs, "from"),
    ) else {
        return Ok(());
    };
    if !names::valid_repository(from) {
        return Ok(());
    }
    let caller = Caller::current().unwrap_or_default();
    let source = Scope::Name(from.to_owned());
    let covered = !gatekeeper
        .grant(&caller, crate::ECOSYSTEM, &source, &[Action::Read])
        .is_empty();
    if covered || !gatekeeper.principal_may(&caller, crate::ECOSYSTEM, &source, Action::Read) {
        return Ok(());
    }
    let base = airlift_http::base_url(extensions.get::<airlift_http::Scheme>().copied(), headers)
        .unwrap_or_default();
    let mut response = oci(
        Code::Unauthorized,
        format!("mounting from {from} needs a token that may pull it"),
    );
    let challenge = format!(
        "Bearer realm=\"{base}/v2/token\",service=\"{}\",scope=\"{} {}\"",
        gatekeeper.service(),
        token::challenge_scope(name, Action::Write),
        token::challenge_scope(from, Action::Read),
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    Err(response)
}
