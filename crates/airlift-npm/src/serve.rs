//! The npm registry under `/npm/`:
//!
//! - `GET /npm/<name>`, `/npm/@scope%2fname`, `/npm/@scope/name`: the
//!   packument of the carried versions: full (`application/json`, with
//!   `time`) or abbreviated (`application/vnd.npm.install-v1+json`), every
//!   `dist.tarball` pointing at this server, `dist-tags` limited to carried
//!   versions (`latest` is the newest carried release when the upstream's
//!   was not carried); `ETag` and 304;
//! - `GET /npm/<name>/-/<file>.tgz`: the tarball as collected (also at the
//!   server root, for clients that drop the registry's path prefix when they
//!   rewrite lockfile URLs);
//! - `POST /npm/-/npm/v1/security/advisories/bulk` and `…/audits/quick`:
//!   no advisories, until scan data exists; `GET /npm/-/ping`;
//! - publishing (`PUT`, `DELETE`, `GET /npm/-/whoami`): [`crate::publish`].

use std::collections::BTreeMap;
use std::io::Read;

use airlift_core::Digest;
use airlift_ecosystem::{Caller, Services};
use airlift_store::{Entry, Store};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Map, Value};

use crate::index::{PACKAGE, VERSION};
use crate::range::{compare, parse_version};

/// The abbreviated packument media type.
pub const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

/// Rendered packuments of one generation, keyed by (name, abbreviated,
/// base URL); emptied when the generation changes or when it would grow
/// past [`CACHE_LIMIT`] bytes.
#[derive(Default)]
struct Cache {
    generation: u64,
    bytes: usize,
    pages: std::collections::HashMap<(String, bool, String), (String, bytes::Bytes)>,
}

/// Most bytes of rendered packuments kept in memory.
const CACHE_LIMIT: usize = 64 << 20;

#[derive(Clone)]
struct AppState {
    store: Store,
    cache: std::sync::Arc<std::sync::Mutex<Cache>>,
    /// What publishing needs; `None` for a read-only registry.
    services: Option<Services>,
}

/// The read-only npm router, to be nested under `/npm`.
pub fn router(store: Store) -> Router {
    with_state(AppState {
        store,
        cache: Default::default(),
        services: None,
    })
}

/// The npm router that also accepts publishing ([`crate::publish`]), to
/// be nested under `/npm`.
pub fn publishing_router(services: &Services) -> Router {
    with_state(AppState {
        store: services.store.clone(),
        cache: Default::default(),
        services: Some(services.clone()),
    })
}

fn with_state(state: AppState) -> Router {
    Router::new()
        .route("/", get(registry_root).with_state(state.store.clone()))
        .route("/{*path}", any(dispatch))
        .with_state(state)
}

/// `GET /npm/`, merged at the server root.
pub fn root_routes(store: Store) -> Router {
    Router::new()
        .route("/npm/", get(registry_root))
        .with_state(store)
}

/// `GET /npm/`: the registry's own document, as a CouchDB-style registry
/// answers it (`db_name`, `doc_count`).
async fn registry_root(State(store): State<Store>) -> Response {
    let count = airlift_http::read_current(store, "npm registry root", |store, generation| {
        Ok(store
            .meta
            .entries_with_prefix(generation.id, crate::ECOSYSTEM, crate::index::PACKAGE)?
            .len())
    })
    .await;
    match count {
        Ok(count) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({
                "db_name": "airlift",
                "doc_count": count,
                "hint": "configure npm with `airlift client-config npm --url <this server>`",
            })
            .to_string(),
        )
            .into_response(),
        Err(_) => airlift_http::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// Tarball routes at the server root (`/<name>/-/<file>`,
/// `/@scope/<name>/-/<file>`), merged by the server.
pub fn root_tarballs(store: Store) -> Router {
    Router::new()
        .route("/{name}/-/{file}", get(root_unscoped))
        .route("/{scope}/{name}/-/{file}", get(root_scoped))
        .with_state(store)
}

async fn root_unscoped(
    State(store): State<Store>,
    Path((name, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    tarball(store, &name, &file, &headers).await
}

async fn root_scoped(
    State(store): State<Store>,
    Path((scope, name, file)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !scope.starts_with('@') {
        return json_error(StatusCode::NOT_FOUND, "not found");
    }
    tarball(store, &format!("{scope}/{name}"), &file, &headers).await
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "error": message }).to_string(),
    )
        .into_response()
}

fn json(body: String, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn dispatch(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    caller: Option<axum::Extension<Caller>>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match (method.as_str(), path.as_str(), &state.services) {
        ("GET" | "HEAD", "-/ping", _) => return json("{}".into(), "application/json"),
        ("GET", "-/whoami", _) => return crate::publish::whoami(caller.as_deref()),
        ("GET" | "PUT" | "DELETE", _, Some(services))
            if crate::publish::dist_tags_target(&path).is_some() =>
        {
            return crate::publish::dist_tags(services, &method, &path, &headers, body).await;
        }
        ("PUT" | "DELETE", _, Some(services))
            if crate::publish::unpublish_target(&path).is_some() =>
        {
            return crate::publish::unpublish(
                services,
                &path,
                method == Method::PUT,
                &headers,
                body,
            )
            .await;
        }
        ("PUT", _, Some(services)) if !path.starts_with("-/") && !path.contains("/-/") => {
            let name = path.trim_end_matches('/');
            return crate::publish::publish(services, name, &headers, body).await;
        }
        ("POST", "-/npm/v1/security/advisories/bulk", _) => {
            return json("{}".into(), "application/json");
        }
        ("POST", "-/npm/v1/security/audits/quick", _) => {
            let report = serde_json::json!({
                "actions": [], "advisories": {}, "muted": [],
                "metadata": {
                    "vulnerabilities": {"info": 0, "low": 0, "moderate": 0, "high": 0, "critical": 0},
                    "dependencies": 0, "devDependencies": 0, "optionalDependencies": 0, "totalDependencies": 0
                }
            });
            return json(report.to_string(), "application/json");
        }
        ("GET" | "HEAD", _, _) => {}
        (_, _, services) => {
            let (message, allow) = match services {
                Some(_) => ("method not allowed here", "GET, HEAD, PUT, DELETE"),
                None => ("this registry is read-only", "GET, HEAD"),
            };
            let mut response = json_error(StatusCode::METHOD_NOT_ALLOWED, message);
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
            return response;
        }
    }
    if let Some((name, file)) = path.split_once("/-/") {
        let name = crate::tarball_package(name);
        return tarball(state.store, name, file, &headers).await;
    }
    let name = path.trim_end_matches('/').to_owned();
    if !crate::valid_name(&name) {
        return json_error(StatusCode::NOT_FOUND, "not found");
    }
    let Some(base) = airlift_http::mounted_base_url(
        extensions.get::<airlift_http::Scheme>().copied(),
        extensions.get::<airlift_http::Mount>(),
        &headers,
    ) else {
        return json_error(StatusCode::BAD_REQUEST, "a Host header is required");
    };
    let abbreviated = prefers_abbreviated(&headers);
    let built = airlift_http::read_current(
        state.store.clone(),
        "npm packument",
        move |_, generation| cached(&state, generation, name, base, abbreviated),
    )
    .await;
    let (etag, body) = match built {
        Ok(Some(found)) => found,
        Ok(None) => return json_error(StatusCode::NOT_FOUND, "not found"),
        Err(_) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, "index unavailable"),
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == "*" || t.trim().trim_start_matches("W/") == etag)
        }) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if abbreviated {
                ABBREVIATED
            } else {
                "application/json"
            }),
        );
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Host, X-Forwarded-Host, X-Forwarded-Proto"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    response
}

/// A packument of `generation` (the current one) from the cache, or
/// rendered and cached: (ETag, body).
fn cached(
    state: &AppState,
    generation: &airlift_store::Generation,
    name: String,
    base: String,
    abbreviated: bool,
) -> Result<Option<(String, bytes::Bytes)>, airlift_store::StoreError> {
    let key = (name, abbreviated, base);
    if let Ok(cache) = state.cache.lock()
        && cache.generation == generation.id
        && let Some(found) = cache.pages.get(&key)
    {
        return Ok(Some(found.clone()));
    }
    let Some(body) = packument(&state.store, generation, &key.0, &key.2, abbreviated)? else {
        return Ok(None);
    };
    let etag = format!("\"{}\"", Digest::of(body.as_bytes()).hex());
    let body = bytes::Bytes::from(body);
    if let Ok(mut cache) = state.cache.lock() {
        if cache.generation != generation.id || cache.bytes + body.len() > CACHE_LIMIT {
            *cache = Cache {
                generation: generation.id,
                ..Cache::default()
            };
        }
        cache.bytes += body.len();
        cache.pages.insert(key, (etag.clone(), body.clone()));
    }
    Ok(Some((etag, body)))
}

/// Whether the client ranks the abbreviated form above full JSON.
fn prefers_abbreviated(headers: &HeaderMap) -> bool {
    let mut abbreviated = -1.0f32;
    let mut full = -1.0f32;
    for value in headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.trim().parse().ok())
                })
                .unwrap_or(1.0f32);
            match media.as_str() {
                ABBREVIATED => abbreviated = abbreviated.max(q),
                "application/json" | "*/*" | "application/*" => full = full.max(q),
                _ => {}
            }
        }
    }
    abbreviated > 0.0 && abbreviated >= full
}

const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "os",
    "cpu",
    "libc",
    "deprecated",
    "funding",
    "license",
    "_hasShrinkwrap",
    "hasInstallScript",
];

/// Builds a packument from `generation`, or `None` when the package is not
/// carried. The generation is the one the cache entry is filed under, so a
/// generation committed meanwhile cannot end up cached as the older one.
pub(crate) fn packument(
    store: &Store,
    generation: &airlift_store::Generation,
    name: &str,
    base: &str,
    abbreviated: bool,
) -> Result<Option<String>, airlift_store::StoreError> {
    let versions = store.meta.entries_with_prefix(
        generation.id,
        crate::ECOSYSTEM,
        &format!("{VERSION}{name}/"),
    )?;
    if versions.is_empty() {
        return Ok(None);
    }
    let document: Value =
        match store
            .meta
            .entry(generation.id, crate::ECOSYSTEM, &format!("{PACKAGE}{name}"))?
        {
            Some(entry) => read_document(store, &entry).unwrap_or(Value::Null),
            None => Value::Null,
        };
    let mut carried: Vec<(semver::Version, String, Value, Value)> = versions
        .iter()
        .filter_map(|e| {
            let text = e.key.rsplit('/').next()?.to_owned();
            let version = parse_version(&text)?;
            let mut manifest = e.meta.get("manifest").cloned().unwrap_or(Value::Null);
            if let Some(dist) = manifest.get_mut("dist").and_then(Value::as_object_mut) {
                dist.insert(
                    "tarball".into(),
                    format!("{base}/npm/{name}/-/{}-{text}.tgz", crate::base_name(name)).into(),
                );
            }
            Some((
                version,
                text,
                manifest,
                e.meta.get("time").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect();
    carried.sort_by(|a, b| compare(&a.0, &b.0));
    let mut tags = Map::new();
    if let Some(upstream) = document.get("dist-tags").and_then(Value::as_object) {
        for (tag, version) in upstream {
            if carried
                .iter()
                .any(|(_, text, _, _)| Some(text.as_str()) == version.as_str())
            {
                tags.insert(tag.clone(), version.clone());
            }
        }
    }
    if !tags.contains_key("latest")
        && let Some((_, text, _, _)) = carried
            .iter()
            .rev()
            .find(|(v, _, _, _)| v.pre.is_empty())
            .or_else(|| carried.last())
    {
        tags.insert("latest".into(), text.clone().into());
    }
    let modified = document
        .get("time")
        .and_then(|t| t.get("modified"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut out = Map::new();
    if abbreviated {
        let mut versions = Map::new();
        for (_, text, manifest, _) in &carried {
            let mut small = Map::new();
            for field in ABBREVIATED_FIELDS {
                if let Some(value) = manifest.get(*field) {
                    small.insert((*field).into(), value.clone());
                }
            }
            let scripts = manifest.get("scripts");
            if !small.contains_key("hasInstallScript")
                && ["preinstall", "install", "postinstall"]
                    .iter()
                    .any(|s| scripts.and_then(|x| x.get(*s)).is_some())
            {
                small.insert("hasInstallScript".into(), true.into());
            }
            versions.insert(text.clone(), Value::Object(small));
        }
        out.insert("name".into(), name.into());
        out.insert("modified".into(), modified);
        out.insert("dist-tags".into(), Value::Object(tags));
        out.insert("versions".into(), Value::Object(versions));
    } else {
        let mut versions = Map::new();
        let mut time = BTreeMap::new();
        for key in ["created", "modified"] {
            if let Some(value) = document
                .get("time")
                .and_then(|t| t.get(key))
                .filter(|v| !v.is_null())
            {
                time.insert(key.to_owned(), value.clone());
            }
        }
        for (_, text, manifest, published) in &carried {
            versions.insert(text.clone(), manifest.clone());
            if !published.is_null() {
                time.insert(text.clone(), published.clone());
            }
        }
        out.insert("_id".into(), name.into());
        out.insert("name".into(), name.into());
        if let Some(description) = document.get("description").filter(|d| !d.is_null()) {
            out.insert("description".into(), description.clone());
        }
        out.insert("dist-tags".into(), Value::Object(tags));
        out.insert("versions".into(), Value::Object(versions));
        out.insert("time".into(), Value::Object(time.into_iter().collect()));
    }
    Ok(Some(Value::Object(out).to_string()))
}

fn read_document(store: &Store, entry: &Entry) -> Option<Value> {
    let blob = store.blobs.open(&entry.digest).ok()?;
    let mut bytes = Vec::new();
    blob.take(16 << 20).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn tarball(store: Store, name: &str, file: &str, headers: &HeaderMap) -> Response {
    if !crate::valid_name(name) {
        return json_error(StatusCode::NOT_FOUND, "not found");
    }
    let Some(version) = file
        .strip_prefix(&format!("{}-", crate::base_name(name)))
        .and_then(|rest| rest.strip_suffix(".tgz"))
        .filter(|v| parse_version(v).is_some())
        .map(str::to_owned)
    else {
        return json_error(StatusCode::NOT_FOUND, "not found");
    };
    airlift_http::serve_entry(
        store,
        crate::ECOSYSTEM,
        format!("{VERSION}{name}/{version}"),
        "application/octet-stream",
        headers,
        json_error(StatusCode::NOT_FOUND, "no such version"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_form() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(value).expect("header"),
            );
            prefers_abbreviated(&headers)
        };
        assert!(with(
            "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
        ));
        assert!(!with("application/json"));
        assert!(!with(
            "application/vnd.npm.install-v1+json;q=0.5, application/json"
        ));
        assert!(!prefers_abbreviated(&HeaderMap::new()));
    }
}
