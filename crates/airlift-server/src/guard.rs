//! Access control in front of every ecosystem's routes.
//!
//! For each request the ecosystem whose path it is says what the request
//! asks ([`Ecosystem::access`]); the gate checks the caller's credentials
//! (off the async workers when that hashes a password) and decides. An
//! allowed request runs with its [`Caller`] in the request's extensions and
//! as the task's current caller, so that audit events name who made a
//! change. A refused one gets the ecosystem's own answer
//! ([`Ecosystem::refuse`]), is counted in `airlift_auth_failures_total` by
//! reason, and, when it would have changed something, recorded in the audit
//! log. An allowed read of one name is counted once answered: a 404 as a
//! request for a missing name (`airlift_requests_for_missing_names_total`
//! and [`crate::consumption`]), a 2xx as a fetch. A path that no ecosystem claims and that is not one of the server's
//! own pages gets a 404 without reaching any handler: nothing is served
//! without a decision. The web UI (`/ui/`) is decided the same way, as the
//! pseudo-ecosystem `ui` ([`UiPages`]): reading it is `read` on every
//! name, moving an environment `admin` on its name (ADR 0028).

use std::net::SocketAddr;
use std::sync::Arc;

use airlift_access::{Credentials, Decision, Failure, Gate, PeerCertificate};
use airlift_ecosystem::{Access, Action, Caller, Ecosystem, Refusal, Scope};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::consumption::Seen;
use crate::metrics::Metrics;

/// What the guard needs.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) gate: Arc<Gate>,
    pub(crate) ecosystems: Arc<airlift_ecosystem::Registry>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) audit: Option<airlift_ecosystem::AuditHook>,
    pub(crate) consumption: Option<Arc<crate::Consumption>>,
}

/// The web UI as the gate sees it: a pseudo-ecosystem named
/// [`airlift_ui::ACCESS_NAME`] whose requests [`airlift_ui::access`]
/// describes, refused with an HTTP Basic challenge (which a browser
/// answers with its login prompt). It has no table, entries or routes of
/// its own here: the server mounts the UI's routes.
struct UiPages;

impl Ecosystem for UiPages {
    fn about(&self) -> airlift_ecosystem::About {
        airlift_ecosystem::About {
            name: airlift_ui::ACCESS_NAME,
            title: "Web UI",
            table: airlift_ecosystem::Table::none(),
            served_at: "/ui/",
        }
    }

    fn plan(
        &self,
        _declared: &airlift_ecosystem::Declared<'_>,
    ) -> Result<Option<Box<dyn airlift_ecosystem::Plan>>, airlift_ecosystem::Error> {
        Ok(None)
    }

    fn routes(&self, _services: &airlift_ecosystem::Services) -> axum::Router {
        axum::Router::new()
    }

    fn entry_name(&self, _entry: &airlift_store::Entry) -> Option<String> {
        None
    }

    fn access(&self, method: &Method, path: &str) -> Option<Access> {
        airlift_ui::access(method, path)
    }
}

/// The server's own paths, open to everyone: health, readiness, metrics
/// and the `/` page.
fn is_own(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/readyz" | "/metrics")
}

pub(crate) async fn guard(
    State(guard): State<Guard>,
    mut request: Request,
    next: Next,
) -> Response {
    let raw = request.uri().path().to_owned();
    let path = percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .map(|p| p.into_owned())
        .unwrap_or(raw);
    let method = request.method().clone();
    static UI: std::sync::LazyLock<Arc<dyn Ecosystem>> =
        std::sync::LazyLock::new(|| Arc::new(UiPages));
    let claimed = UI
        .access(&method, &path)
        .map(|access| (UI.clone(), access))
        .or_else(|| {
            guard
                .ecosystems
                .iter()
                .find_map(|e| e.access(&method, &path).map(|access| (e.clone(), access)))
        });
    let Some((ecosystem, access)) = claimed else {
        if is_own(&path) {
            return next.run(request).await;
        }
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(256).collect::<String>());
    let base = airlift_http::base_url(
        request.extensions().get::<airlift_http::Scheme>().copied(),
        request.headers(),
    )
    .unwrap_or_default();
    let mut caller = Caller {
        address,
        user_agent,
        ..Caller::default()
    };
    let refusal = |status: StatusCode, message: String, retry_after: Option<u64>| Refusal {
        status,
        message,
        access: Some(access.clone()),
        base: base.clone(),
        service: guard.gate.service().to_owned(),
        retry_after,
    };
    // Credentials from the header; without one, a client certificate the
    // TLS handshake verified.
    let credentials = Credentials::parse(
        request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    )
    .map(
        |credentials| match (credentials, request.extensions().get::<PeerCertificate>()) {
            (Credentials::None, Some(certificate)) => {
                Credentials::Certificate(certificate.0.clone())
            }
            (credentials, _) => credentials,
        },
    );
    let authenticated = match credentials {
        Err(failure) => Err(failure),
        Ok(credentials) => {
            let ip = address.map(|a| a.ip());
            if guard.gate.is_slow(&credentials) {
                let gate = guard.gate.clone();
                tokio::task::spawn_blocking(move || gate.authenticate(&credentials, ip))
                    .await
                    .unwrap_or(Err(Failure::Malformed))
            } else {
                guard.gate.authenticate(&credentials, ip)
            }
        }
    };
    // A refusal: counted by reason, recorded when it refused a change, and
    // answered in the ecosystem's words.
    let refuse = async |reason: &str,
                        status: StatusCode,
                        message: String,
                        retry: Option<u64>,
                        caller: &Caller| {
        guard.metrics.refused(reason);
        let refusal = refusal(status, message, retry);
        refused(
            &guard,
            caller,
            &*ecosystem,
            &access,
            &method,
            &path,
            &refusal,
        )
        .await;
        ecosystem.refuse(&refusal)
    };
    let mut identity = match authenticated {
        Ok(identity) => identity,
        Err(failure) => {
            let (status, retry) = match failure {
                Failure::Limited(seconds) => (StatusCode::TOO_MANY_REQUESTS, Some(seconds)),
                _ => (StatusCode::UNAUTHORIZED, None),
            };
            return refuse(failure.reason(), status, failure.message(), retry, &caller).await;
        }
    };
    // Under an environment (ADR 0027), a registry token names repositories
    // as the client asked for them, `env/<name>/<repository>`, while the
    // routers see `<repository>`.
    if let (Some(mount), Some(grants)) = (
        request.extensions().get::<airlift_http::Mount>(),
        identity.grants.as_mut(),
    ) {
        let prefix = format!("{}/", mount.0.trim_start_matches('/'));
        for (_, scope, _) in grants.iter_mut() {
            if let Scope::Name(name) = scope
                && let Some(repository) = name.strip_prefix(&prefix)
            {
                *scope = Scope::Name(repository.to_owned());
            }
        }
    }
    caller.principal = identity.user.clone();
    caller.token = identity.token.clone();
    match guard
        .gate
        .decide(&identity, ecosystem.name(), &access.scope, access.action)
    {
        Decision::Allow => {
            caller.identity = Some(Arc::new(identity));
            request.extensions_mut().insert(caller.clone());
            // A read of one name, counted once answered: see `consumption`.
            let read = match &access.scope {
                Scope::Name(name)
                    if access.action == Action::Read
                        && (method == Method::GET || method == Method::HEAD) =>
                {
                    Some(name.clone())
                }
                _ => None,
            };
            let response = caller.scope(next.run(request)).await;
            if let Some(name) = read {
                let status = response.status();
                let seen = if status == StatusCode::NOT_FOUND {
                    guard.metrics.missing_name(ecosystem.name());
                    Some(Seen::Missing)
                } else {
                    status.is_success().then_some(Seen::Fetched)
                };
                if let (Some(seen), Some(consumption)) = (seen, &guard.consumption) {
                    let now = jiff::Timestamp::now().as_second();
                    consumption.record(seen, ecosystem.name(), &name, now);
                }
            }
            response
        }
        Decision::Challenge(message) => {
            refuse(
                "unauthenticated",
                StatusCode::UNAUTHORIZED,
                message,
                None,
                &caller,
            )
            .await
        }
        Decision::Deny(message) => {
            refuse("denied", StatusCode::FORBIDDEN, message, None, &caller).await
        }
    }
}

/// Records a refused request that would have changed something.
async fn refused(
    guard: &Guard,
    caller: &Caller,
    ecosystem: &dyn Ecosystem,
    access: &Access,
    method: &axum::http::Method,
    path: &str,
    refusal: &Refusal,
) {
    if access.action == Action::Read {
        return;
    }
    let Some(hook) = guard.audit.clone() else {
        return;
    };
    let detail = serde_json::json!({
        "caller": caller.audit(),
        "ecosystem": ecosystem.name(),
        "action": access.action.as_str(),
        "name": access.scope.to_string(),
        "method": method.as_str(),
        "path": path,
        "status": refusal.status.as_u16(),
        "reason": refusal.message,
    });
    let written = tokio::task::spawn_blocking(move || hook("access-refused", detail)).await;
    if !matches!(written, Ok(Ok(()))) {
        tracing::warn!(
            "the audit log could not record a refused {} of {path}",
            method
        );
    }
}
