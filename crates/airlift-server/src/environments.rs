//! Environments served under a prefix (ADR 0027).
//!
//! `/env/<name>/…` serves every ecosystem's routes as environment `<name>`
//! sees the index (`/env/staging/pypi/simple/`, `/env/staging/npm/…`), and
//! `/v2/env/<name>/<repository>/…` serves its images, since the OCI
//! distribution spec fixes `/v2/` at the root of the host (`docker pull
//! host/env/staging/team/app:1.0`). Each environment's routers are the
//! ecosystems' own, built once over an
//! [`airlift_store::environment::Pinned`] view of the index, whose current
//! generation is the environment's pin read on every request: a promotion
//! or a rollback is served from the next request on, with no restart.
//!
//! Environments are read-only: anything but `GET` and `HEAD` is refused
//! (pushes and publishes go to the default environment, which every import
//! moves). Redirects and `Link` headers that name a path on this server
//! are rewritten to stay inside the environment; npm's and cargo's absolute
//! URLs do so through [`airlift_http::Mount`]. A `/v2/env/<name>/…` path
//! whose `<name>` is no environment is left to the registry, so a
//! repository named `env/…` still works unless an environment takes its
//! name.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use airlift_store::Store;
use airlift_store::environment::{self, Pinned};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Builds the routers of one environment over its view of the store.
pub(crate) type Build = Arc<dyn Fn(Store, &str) -> Router + Send + Sync>;

/// The environments' routers, built when first asked for.
#[derive(Clone)]
pub(crate) struct Environments {
    pub(crate) store: Store,
    pub(crate) build: Build,
    pub(crate) routers: Arc<Mutex<HashMap<String, Router>>>,
    /// Host name (lowercase, no port) to the environment it serves.
    pub(crate) hosts: Arc<std::collections::BTreeMap<String, String>>,
}

impl Environments {
    fn router(&self, name: &str) -> Router {
        if let Ok(routers) = self.routers.lock()
            && let Some(router) = routers.get(name)
        {
            return router.clone();
        }
        let view = Store {
            blobs: self.store.blobs.clone(),
            meta: Arc::new(Pinned::new(self.store.meta.clone(), name)),
        };
        let router = (self.build)(view, name);
        if let Ok(mut routers) = self.routers.lock() {
            routers.insert(name.to_owned(), router.clone());
        }
        router
    }
}

/// Where a request goes: the environment, the path its routers see, and
/// whether it came in through the registry (`/v2/env/…`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    pub(crate) name: &'a str,
    pub(crate) path: String,
    pub(crate) registry: bool,
}

/// The environment a path addresses, if any.
pub(crate) fn target(path: &str) -> Option<Target<'_>> {
    if let Some(rest) = path.strip_prefix("/env/") {
        let (name, rest) = rest.split_once('/').unwrap_or((rest, ""));
        return Some(Target {
            name,
            path: format!("/{rest}"),
            registry: false,
        });
    }
    let rest = path.strip_prefix("/v2/env/")?;
    let (name, rest) = rest.split_once('/')?;
    Some(Target {
        name,
        path: format!("/v2/{rest}"),
        registry: true,
    })
}

/// The route label of a path under an environment: its ecosystem's.
pub(crate) fn unmounted(path: &str) -> std::borrow::Cow<'_, str> {
    match target(path) {
        Some(target) => target.path.into(),
        None => path.into(),
    }
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

/// The middleware: serves `/env/…` and `/v2/env/…` from the environment's
/// routers, everything else from the default ones.
pub(crate) async fn dispatch(
    State(environments): State<Environments>,
    request: Request,
    next: Next,
) -> Response {
    let by_host = host_environment(&environments.hosts, &request);
    let (name, path, registry, mount) = match (&by_host, target(request.uri().path())) {
        (Some(name), _) => {
            if matches!(request.uri().path(), "/healthz" | "/readyz" | "/metrics") {
                return next.run(request).await;
            }
            let path = request.uri().path().to_owned();
            let registry = path == "/v2" || path.starts_with("/v2/");
            (name.clone(), path, registry, String::new())
        }
        (
            None,
            Some(Target {
                name,
                path,
                registry,
            }),
        ) => (name.to_owned(), path, registry, format!("/env/{name}")),
        (None, None) => return next.run(request).await,
    };
    let exists = if environment::valid_name(&name) {
        let meta = environments.store.meta.clone();
        let asked = name.clone();
        let found = tokio::task::spawn_blocking(move || environment::get(meta.as_ref(), &asked))
            .await
            .map_err(|e| e.to_string())
            .and_then(|found| found.map_err(|e| e.to_string()));
        match found {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::error!("environment {name}: {e}");
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "index unavailable\n".into(),
                );
            }
        }
    } else {
        false
    };
    if !exists {
        if registry && by_host.is_none() {
            // A repository whose name starts with `env/`.
            return next.run(request).await;
        }
        return refuse(
            StatusCode::NOT_FOUND,
            format!("there is no environment {name:?} on this server\n"),
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "environment {name:?} is read-only: push and publish to the default environment (the same path without the environment), then promote\n"
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let (mut parts, body) = request.into_parts();
    let rewritten = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    parts.uri = match rewritten.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "bad path\n".into()),
    };
    parts
        .extensions
        .insert(airlift_http::Mount(Arc::from(mount.as_str())));
    let request = Request::from_parts(parts, body);
    let mut router = environments.router(&name);
    let mut response = match tower_service::Service::call(&mut router, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if by_host.is_some() {
        // Served at the root of its own host: paths need no prefix.
        return response;
    }
    for name_of in [header::LOCATION, header::LINK] {
        let Some(value) = response
            .headers()
            .get(&name_of)
            .and_then(|v| v.to_str().ok())
        else {
            continue;
        };
        let inside = inside(value, &name);
        if let Ok(value) = HeaderValue::from_str(&inside) {
            response.headers_mut().insert(name_of, value);
        }
    }
    response
}

/// The environment the request's host serves, if it is one of `hosts`.
fn host_environment(
    hosts: &std::collections::BTreeMap<String, String>,
    request: &Request,
) -> Option<String> {
    if hosts.is_empty() {
        return None;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())?;
    // Without the port; an IPv6 literal keeps its brackets.
    let name = match host.strip_prefix('[') {
        Some(rest) => rest
            .split_once(']')
            .map_or(host, |(inside, _)| &host[..inside.len() + 2]),
        None => host.split(':').next().unwrap_or(host),
    };
    hosts.get(&name.to_ascii_lowercase()).cloned()
}

/// A `Location` or `Link` value moved inside environment `name`: a path
/// on this server (`/pypi/simple/x/`, `</v2/app/tags/list?…>`) gets the
/// environment's prefix; anything else is left alone.
fn inside(value: &str, name: &str) -> String {
    let (open, path) = match value.strip_prefix('<') {
        Some(rest) => ("<", rest),
        None => ("", value),
    };
    if !path.starts_with('/') || path.starts_with("//") {
        return value.to_owned();
    }
    match path.strip_prefix("/v2/") {
        Some(rest) => format!("{open}/v2/env/{name}/{rest}"),
        None => format!("{open}/env/{name}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_mapped_into_the_environment() {
        let t = target("/env/staging/pypi/simple/").expect("env");
        assert_eq!(
            (t.name, t.path.as_str(), t.registry),
            ("staging", "/pypi/simple/", false)
        );
        let t = target("/env/staging").expect("env");
        assert_eq!((t.name, t.path.as_str()), ("staging", "/"));
        let t = target("/v2/env/prod/team/app/manifests/1.0").expect("oci");
        assert_eq!(
            (t.name, t.path.as_str(), t.registry),
            ("prod", "/v2/team/app/manifests/1.0", true)
        );
        assert!(target("/v2/env").is_none());
        assert!(target("/pypi/simple/").is_none());
        assert_eq!(unmounted("/env/a/npm/x"), "/npm/x");
    }

    #[test]
    fn hosts_name_environments_whatever_the_port() {
        let hosts: std::collections::BTreeMap<String, String> = [
            ("staging.example.com".to_owned(), "staging".to_owned()),
            ("[::1]".to_owned(), "local".to_owned()),
        ]
        .into();
        let asked = |host: &str| {
            let request = Request::get("/v2/")
                .header(header::HOST, host)
                .body(axum::body::Body::empty())
                .expect("request");
            host_environment(&hosts, &request)
        };
        assert_eq!(asked("staging.example.com").as_deref(), Some("staging"));
        assert_eq!(
            asked("Staging.Example.com:8443").as_deref(),
            Some("staging")
        );
        assert_eq!(asked("[::1]:8080").as_deref(), Some("local"));
        assert_eq!(asked("production.example.com"), None);
    }

    #[test]
    fn redirects_stay_inside() {
        assert_eq!(inside("/pypi/simple/x/", "s"), "/env/s/pypi/simple/x/");
        assert_eq!(
            inside("</v2/app/tags/list?n=1&last=a>; rel=\"next\"", "s"),
            "</v2/env/s/app/tags/list?n=1&last=a>; rel=\"next\""
        );
        assert_eq!(
            inside("https://example.com/x", "s"),
            "https://example.com/x"
        );
        assert_eq!(inside("//example.com/x", "s"), "//example.com/x");
    }
}
