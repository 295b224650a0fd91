//! The sparse registry under `/cargo`:
//!
//! - `GET /cargo/index/config.json`: `dl` and `api` as absolute URLs of
//!   this server (scheme of the listener, `Host` of the request), and
//!   `auth-required` (RFC 3139) when anonymous callers may not read every
//!   crate, so that cargo sends its token with every request;
//! - `GET /cargo/index/<bucket>/<name>`: the index file, one upstream line
//!   per carried version, byte for byte, with an `ETag` (304 on
//!   `If-None-Match`);
//! - `GET /cargo/api/v1/crates/<name>/<version>/download`: the `.crate`.

use airlift_core::Digest;
use airlift_http::plain;
use airlift_store::Store;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::index::{CRATE, path, valid_name};

/// Whether the registry asks cargo for a token on every request.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuthRequired(pub bool);

/// The cargo router, to be nested under `/cargo`.
pub fn router(store: Store) -> Router {
    router_with_auth(store, AuthRequired(false))
}

/// The cargo router; `config.json` says `auth-required` as `auth` does.
pub fn router_with_auth(store: Store, auth: AuthRequired) -> Router {
    Router::new()
        .route("/index", get(root))
        .route(
            "/index/config.json",
            get(config).layer(axum::Extension(auth)),
        )
        .route("/index/{*path}", get(index_file))
        .route("/api/v1/crates/{name}/{version}/download", get(download))
        .with_state(store)
}

/// `GET /cargo/index/`, merged at the server root.
pub fn root_routes(store: Store) -> Router {
    Router::new()
        .route("/cargo/index/", get(root))
        .with_state(store)
}

/// `GET /cargo/index/`: what this sparse registry holds and how to use it.
pub async fn root(State(store): State<Store>) -> Response {
    airlift_http::listing(store, crate::ECOSYSTEM, |entries| {
        let versions = entries.iter().filter(|e| e.key.starts_with(CRATE)).count();
        let crates: std::collections::BTreeSet<&str> = entries
            .iter()
            .filter_map(|e| e.key.strip_prefix(CRATE))
            .filter_map(|k| k.split_once('/').map(|(name, _)| name))
            .collect();
        format!(
            "a cargo sparse registry (RFC 2789) of {} crates, {versions} versions\n\
             point cargo at it with the output of `airlift client-config cargo --url <this server>`\n",
            crates.len()
        )
    })
    .await
}

async fn config(
    scheme: Option<axum::Extension<airlift_http::Scheme>>,
    mount: Option<axum::Extension<airlift_http::Mount>>,
    auth: Option<axum::Extension<AuthRequired>>,
    headers: HeaderMap,
) -> Response {
    let Some(base) =
        airlift_http::mounted_base_url(scheme.map(|s| s.0), mount.as_deref(), &headers)
    else {
        return plain(StatusCode::BAD_REQUEST, "a Host header is required");
    };
    let mut body = serde_json::json!({
        "dl": format!("{base}/cargo/api/v1/crates"),
        "api": format!("{base}/cargo"),
    });
    if auth.is_some_and(|a| a.0.0) {
        body["auth-required"] = serde_json::Value::Bool(true);
    }
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            // It names this server as the client reached it.
            (header::CACHE_CONTROL, "no-cache"),
            (header::VARY, "Host, X-Forwarded-Host, X-Forwarded-Proto"),
        ],
        body.to_string(),
    )
        .into_response()
}

async fn index_file(
    State(store): State<Store>,
    Path(requested): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(name) = requested.rsplit('/').next().filter(|n| valid_name(n)) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    // Only the canonical, lowercase path is an index file.
    if path(name) != requested {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let prefix = format!("{CRATE}{name}/");
    let lookup =
        airlift_http::read_current(store, "cargo index lookup", move |store, generation| {
            store
                .meta
                .entries_with_prefix(generation.id, crate::ECOSYSTEM, &prefix)
        })
        .await;
    let entries = match lookup {
        Ok(entries) => entries,
        Err(unavailable) => return unavailable.into_response(),
    };
    let mut lines: Vec<(semver::Version, String)> = entries
        .iter()
        .filter_map(|e| {
            let version = e.key.rsplit('/').next()?;
            Some((
                semver::Version::parse(version).ok()?,
                e.meta.get("line")?.as_str()?.to_owned(),
            ))
        })
        .collect();
    if lines.is_empty() {
        return plain(StatusCode::NOT_FOUND, "no such crate");
    }
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let mut body = String::new();
    for (_, line) in lines {
        body.push_str(&line);
        body.push('\n');
    }
    let etag = format!("\"{}\"", Digest::of(body.as_bytes()).hex());
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
    };
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    response
}

async fn download(
    State(store): State<Store>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !valid_name(&name) || semver::Version::parse(&version).is_err() {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    airlift_http::serve_entry(
        store,
        crate::ECOSYSTEM,
        format!("{CRATE}{}/{version}", name.to_ascii_lowercase()),
        "application/gzip",
        &headers,
        plain(StatusCode::NOT_FOUND, "no such crate version"),
    )
    .await
}
