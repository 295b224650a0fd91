//! The airlift server: one axum app mounting every protocol.
//!
//! Routes: `/files/…` (plain files), `/v2/…` (the OCI registry, pull and
//! push), `/pypi/simple/…` and `/pypi/files/…` (the Python Simple API),
//! `/cargo/index/…` and `/cargo/api/v1/crates/…` (a cargo sparse registry),
//! `/npm/…` (an npm registry; tarballs also at `/<name>/-/<file>`),
//! `/apt/<archive>/…` (signed apt repositories), `/healthz` (the process is up),
//! `/readyz` (the index answers), `/metrics` (Prometheus text), and the web
//! UI at `/ui/` (`airlift-ui`), behind the same gate. Every request
//! passes through one middleware that gives it an id (the client's
//! `X-Request-Id` when it is a plain token, else a new one; answered in
//! `X-Request-Id` and carried by every log line of the request), counts it
//! by route and status, adds the bytes it announced to the served-bytes
//! counter, and logs it (target `airlift::access`, at `info`); every answer gets
//! `X-Content-Type-Options: nosniff` and, unless its route set its own, a
//! `Content-Security-Policy` that lets nothing load or run.
//!
//! [`listener`] serves the app over HTTP/1.1, plain or TLS, with idle,
//! header and body timeouts and a bound on open connections.

pub mod consumption;
mod environments;
mod guard;
mod home;
pub mod listener;
mod metrics;
mod monitoring;
pub mod operations;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use airlift_ecosystem::Registry;
use airlift_store::Store;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

pub use airlift_ui::{ACCESS_NAME as UI_ACCESS_NAME, Site as UiSite};
pub use consumption::Consumption;
pub use listener::{Limits, fit_to_open_files, raise_open_files_limit, serve_listener};
pub use metrics::{DRIFT_RECORD, Metrics};
pub use monitoring::{AUDIT_VERIFY_MAX_INTERVAL, AUDIT_VERIFY_MIN_INTERVAL, AuditCheck, KeyExpiry};

/// Server failures.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Serving stopped with an error.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

#[derive(Clone)]
struct AppState {
    store: Store,
    metrics: Arc<Metrics>,
}

/// What the server needs besides the store.
#[derive(Clone, Default)]
pub struct Services {
    /// Records changes made through the server (registry pushes and
    /// deletes).
    pub audit: Option<airlift_ecosystem::AuditHook>,
    /// How long an upload session stays usable after it opens; `None` is
    /// the ecosystem's default.
    pub upload_expiry: Option<std::time::Duration>,
    /// Ecosystem-specific services by type (the apt signer, an
    /// `Arc<airlift_apt::serve::Signer>`, without which `/apt/` serves
    /// packages but no Release).
    pub extensions: axum::http::Extensions,
    /// The ecosystems to mount, in order; `/` lists them.
    pub ecosystems: Arc<Registry>,
    /// Access control: every request to an ecosystem is authenticated and
    /// authorized by it. `None` serves everyone everything (tests, and
    /// embedding without access control).
    pub gate: Option<Arc<airlift_access::Gate>>,
    /// The metrics to serve, when the caller records into them too (the
    /// CLI's scheduled garbage collection); new ones otherwise.
    pub metrics: Option<Arc<Metrics>>,
    /// Where reads of names are counted (missing and fetched), for the
    /// caller to flush into the index (see [`consumption`]). Access
    /// control counts them, so only with a `gate`; `None` counts nothing.
    pub consumption: Option<Arc<Consumption>>,
    /// What the web UI at `/ui/` reads besides the store: the audit log
    /// and the home (the default shows neither).
    pub ui: UiSite,
    /// Host names whose requests are answered from an environment, at the
    /// root: host name (lowercase, without port) to environment (ADR 0027).
    pub environment_hosts: std::collections::BTreeMap<String, String>,
}

/// Builds the application with no ecosystem mounted: health, readiness,
/// metrics and the `/` page. `uploads` holds upload sessions; it must be on
/// the same file system as the blob store.
pub fn app(store: Store, uploads: PathBuf) -> Router {
    app_with(store, uploads, Services::default())
}

/// Builds the application: every ecosystem of the services mounted with
/// its routes, and `/` listing them.
pub fn app_with(store: Store, uploads: PathBuf, services: Services) -> Router {
    let Services {
        audit,
        upload_expiry,
        extensions,
        ecosystems,
        gate,
        metrics,
        consumption,
        ui,
        environment_hosts,
    } = services;
    let metrics = metrics.unwrap_or_else(|| Arc::new(Metrics::new()));
    let state = AppState {
        store: store.clone(),
        metrics: metrics.clone(),
    };
    let rows: Arc<Vec<home::Row>> = Arc::new(
        ecosystems
            .iter()
            .map(|e| home::Row::of(e.as_ref()))
            .collect(),
    );
    // The routers of one view of the index: the default environment's,
    // or a named one's under its `mount` (ADR 0027).
    let site_metrics = metrics.clone();
    let build: environments::Build = Arc::new(move |store: Store, mount: &str| {
        let context = airlift_ecosystem::Services {
            store: store.clone(),
            uploads: uploads.clone(),
            audit: audit.clone(),
            upload_expiry,
            extensions: extensions.clone(),
            gatekeeper: gate
                .clone()
                .map(|gate| gate as Arc<dyn airlift_ecosystem::Gatekeeper>),
        };
        let rows = rows.clone();
        let default_view = mount.is_empty();
        let mount: Arc<str> = Arc::from(if mount.is_empty() {
            String::new()
        } else {
            format!("/env/{mount}")
        });
        let home_store = store.clone();
        let mut app = Router::new().route(
            "/",
            get(move || home::page(home_store.clone(), rows.clone(), mount.clone())),
        );
        for ecosystem in ecosystems.iter() {
            app = app.merge(ecosystem.routes(&context));
        }
        // The web UI, in the default view only: it shows every environment
        // itself (ADR 0028).
        if default_view {
            app = app.merge(airlift_ui::routes(airlift_ui::Ui {
                store: store.clone(),
                ecosystems: ecosystems.clone(),
                log: ui.log.clone(),
                home: ui.home.clone(),
                audit: audit.clone(),
                drift_record: DRIFT_RECORD,
            }));
        }
        // A path no router knows gets a 404 that says so, not an empty body.
        let mut app = app.fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") });
        if let Some(gate) = gate.clone() {
            let guard = guard::Guard {
                gate,
                ecosystems: ecosystems.clone(),
                metrics: site_metrics.clone(),
                audit: audit.clone(),
                consumption: consumption.clone(),
            };
            app = app.layer(middleware::from_fn_with_state(guard, guard::guard));
        }
        app
    });
    let environments = environments::Environments {
        store: store.clone(),
        build: build.clone(),
        routers: Arc::default(),
        hosts: Arc::new(environment_hosts),
    };
    let site = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_handler))
        .with_state(state.clone())
        .merge(build(store, ""));
    // The environments' dispatcher runs before any routing (a router with
    // nothing but a fallback), so that a request it hands to an
    // environment's routers carries no path parameters of the default's.
    Router::new()
        .fallback_service(site)
        .layer(middleware::from_fn_with_state(
            environments,
            environments::dispatch,
        ))
        .layer(middleware::from_fn_with_state(state, count))
        .layer(middleware::map_response(protect))
}

/// The `Content-Security-Policy` for answers that are not meant to be
/// rendered by a browser: nothing may load, run or frame them.
pub const NO_CONTENT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Every answer is data for package managers and registry clients, never a
/// page, yet a browser may be pointed at any of them, and some carry bytes
/// that clients pushed (manifests, blobs). So every answer gets
/// `X-Content-Type-Options: nosniff`, which stops a browser from guessing an
/// executable type, and, unless the route set its own (as a future page meant
/// for browsers would), a `Content-Security-Policy` that lets nothing load
/// or run.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static(NO_CONTENT_POLICY),
        );
    }
    response
}

/// Connections the kernel completes and queues before the server accepts
/// them. The usual default of 128 overflows in a burst of connections (a
/// client pool starting, or a flood), and every overflowed client then waits
/// a full second to retry; the kernel caps this at `net.core.somaxconn`.
const ACCEPT_QUEUE: u32 = 4096;

/// Binds the listener and reports the bound address (port 0 picks one).
async fn bind(
    address: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<tokio::net::TcpListener, ServerError> {
    let bound = || -> std::io::Result<tokio::net::TcpListener> {
        let socket = if address.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(ACCEPT_QUEUE)
    };
    let listener = bound().map_err(|source| ServerError::Bind { address, source })?;
    ready(listener.local_addr().map_err(ServerError::Serve)?);
    Ok(listener)
}

/// Serves HTTPS with `tls` until Ctrl-C or SIGTERM. `ready` receives the
/// bound address. Each connection is a TLS handshake, then HTTP/1.1 served by
/// the same application as plain HTTP, within `limits` (see [`listener`]).
pub async fn serve_tls(
    store: Store,
    uploads: PathBuf,
    services: Services,
    address: SocketAddr,
    limits: Limits,
    tls: std::sync::Arc<rustls::ServerConfig>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let app = app_with(store, uploads, services);
    serve_until_signal(app, address, limits, Some(tls), ready).await
}

/// Serves plain HTTP/1.1 until Ctrl-C or SIGTERM, within `limits` (see
/// [`listener`]). `ready` receives the bound address.
pub async fn serve(
    store: Store,
    uploads: PathBuf,
    services: Services,
    address: SocketAddr,
    limits: Limits,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let app = app_with(store, uploads, services);
    serve_until_signal(app, address, limits, None, ready).await
}

/// Binds, raises the open-files limit and serves `app` until a signal.
async fn serve_until_signal(
    app: Router,
    address: SocketAddr,
    limits: Limits,
    tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    let limits = fit_to_open_files(limits, raise_open_files_limit());
    let listener = bind(address, ready).await?;
    serve_listener(listener, app, limits, tls, shutdown_signal()).await
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

fn route_label(path: &str) -> &'static str {
    match environments::unmounted(path).as_ref() {
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/metrics" => "metrics",
        p if p == "/ui" || p.starts_with("/ui/") => "ui",
        p if p.starts_with("/files/") => "files",
        p if p == "/v2" || p.starts_with("/v2/") => "oci",
        p if p.starts_with("/pypi/") => "pypi",
        p if p.starts_with("/cargo/") => "cargo",
        p if p.starts_with("/apt/") => "apt",
        p if p.starts_with("/npm/") || p.contains("/-/") => "npm",
        _ => "other",
    }
}

/// The id of a request: the client's `X-Request-Id` when it is 1 to 64
/// letters, digits, `-`, `_` or `.` (so that a proxy's id follows the
/// request into these logs), else the process's random prefix and a
/// counter.
fn request_id(request: &Request) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    if let Some(given) = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
    {
        return given.to_owned();
    }
    let prefix = PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.finish()
    });
    let counter = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}{counter:08x}", prefix >> 32)
}

async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    use tracing::Instrument as _;
    let route = route_label(request.uri().path());
    let id = request_id(&request);
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %request.method(),
        path = %request.uri().path()
    );
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let bytes = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let seconds = started.elapsed().as_secs_f64();
    state
        .metrics
        .observe(route, response.status().as_u16(), bytes, seconds);
    span.in_scope(|| {
        tracing::info!(
            target: "airlift::access",
            status = response.status().as_u16(),
            bytes,
            duration_ms = seconds * 1000.0,
            route,
            "answered"
        );
    });
    response
}

async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.meta.current()).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("index unavailable: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("index check failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let metrics = state.metrics.clone();
    match tokio::task::spawn_blocking(move || metrics.render(&store)).await {
        Ok(Ok(text)) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("metrics unavailable: {e}\n"),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("metrics failed: {e}\n"),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    /// A route that sets its own policy (a page meant for browsers) keeps
    /// it; every other answer gets the one that lets nothing load, and every
    /// answer says nosniff.
    #[tokio::test]
    async fn a_route_that_sets_its_own_policy_keeps_it() {
        const OWN: &str = "default-src 'self'";
        let app = Router::new()
            .route(
                "/page",
                get(|| async { ([(header::CONTENT_SECURITY_POLICY, OWN)], "page") }),
            )
            .route("/data", get(|| async { "data" }))
            .layer(middleware::map_response(protect));
        for (path, policy) in [("/page", OWN), ("/data", NO_CONTENT_POLICY)] {
            let request = Request::get(path)
                .body(axum::body::Body::empty())
                .expect("ok");
            let response = app.clone().oneshot(request).await.expect("ok");
            let headers = response.headers();
            let policies: Vec<_> = headers
                .get_all(header::CONTENT_SECURITY_POLICY)
                .iter()
                .collect();
            assert_eq!(policies, [policy], "{path}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        }
    }
}
