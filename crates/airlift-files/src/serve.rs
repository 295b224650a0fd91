//! `GET/HEAD /files/<path>`: the bytes as collected (or uploaded:
//! `PUT` and `DELETE` are [`crate::upload`]).
//!
//! Validators, conditional requests and ranges come from `airlift-http`;
//! `Last-Modified` is when the serving generation was committed.

use airlift_ecosystem::Services;
use airlift_http::plain;
use airlift_store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The files router, to be nested under `/files`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/{*path}", get(get_file))
        .with_state(store)
}

/// The files router that also takes `PUT` and `DELETE` ([`crate::upload`]),
/// to be nested under `/files`.
pub fn writable_router(services: &Services) -> Router {
    let (put, delete) = (services.clone(), services.clone());
    Router::new()
        .route("/", get(root))
        .route(
            "/{*path}",
            get(get_file)
                .put(
                    move |Path(path): Path<String>, headers: HeaderMap, body: Body| async move {
                        crate::upload::put(&put, &path, &headers, body).await
                    },
                )
                .delete(move |Path(path): Path<String>| async move {
                    crate::upload::delete(&delete, &path).await
                }),
        )
        .with_state(services.store.clone())
}

/// `GET /files/` (with its slash, which the nested router cannot see),
/// merged at the server root.
pub fn root_routes(store: Store) -> Router {
    Router::new().route("/files/", get(root)).with_state(store)
}

/// The most files `GET /files/` lists.
const LISTED: usize = 10_000;

/// `GET /files/`: what is served, one `path size` line each.
pub async fn root(State(store): State<Store>) -> Response {
    airlift_http::listing(store, crate::ECOSYSTEM, |entries| {
        let mut text = format!("{} files are served under /files/:\n", entries.len());
        for entry in entries.iter().take(LISTED) {
            text.push_str(&format!("{} {}\n", entry.key, entry.size));
        }
        if entries.len() > LISTED {
            text.push_str(&format!("… and {} more\n", entries.len() - LISTED));
        }
        text
    })
    .await
}

async fn get_file(
    State(store): State<Store>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    if crate::spec::validate_path(&path).is_err() {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let blob =
        match airlift_http::current_blob(store, crate::ECOSYSTEM, path, "application/octet-stream")
            .await
        {
            Ok(Some(blob)) => blob,
            Ok(None) => return plain(StatusCode::NOT_FOUND, "not found"),
            Err(unavailable) => return unavailable.into_response(),
        };
    let mut extra = HeaderMap::new();
    airlift_http::set(&mut extra, header::CACHE_CONTROL, "public, max-age=60");
    airlift_http::serve_blob(blob, &headers, extra).await
}
