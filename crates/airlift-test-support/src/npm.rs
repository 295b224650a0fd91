//! A fake npm registry: full packuments at `/<name>` and tarballs at
//! `/<name>/-/<file>`, built from a list of versions, with one package's
//! stated integrity made wrong on request.

use std::collections::BTreeMap;
use std::sync::Arc;

use airlift_core::Integrity;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// name → (packument without dist, tarballs by file name).
#[derive(Clone, Default)]
pub struct Registry {
    packuments: Arc<BTreeMap<String, Value>>,
    tarballs: Arc<BTreeMap<String, Vec<u8>>>,
}

/// The SHA-512 subresource-integrity string of `bytes`.
pub fn sri(bytes: &[u8]) -> String {
    let mut hasher = Integrity::Sha512([0; 64]).hasher();
    hasher.update(bytes);
    hasher.finish().to_sri()
}

impl Registry {
    /// Versions as (name, version, manifest fields); `latest` per name is
    /// given or the last listed. `bad` names a package whose stated
    /// integrity is wrong. Tarball URLs start with `base`.
    pub fn build(
        base: &str,
        versions: &[(&str, &str, Value)],
        latest: &[(&str, &str)],
        bad: &str,
    ) -> Self {
        let mut packuments: BTreeMap<String, Value> = BTreeMap::new();
        let mut tarballs = BTreeMap::new();
        for (name, version, fields) in versions {
            let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap_or(name));
            let body = format!("tarball of {name}@{version}").into_bytes();
            let integrity = if *name == bad {
                sri(b"other")
            } else {
                sri(&body)
            };
            let mut manifest = fields.clone();
            let object = manifest
                .as_object_mut()
                .expect("manifest fields are a JSON object");
            object.insert("name".into(), json!(name));
            object.insert("version".into(), json!(version));
            object.insert(
                "dist".into(),
                json!({"tarball": format!("{base}/{name}/-/{file}"), "integrity": integrity}),
            );
            tarballs.insert(format!("{name}/-/{file}"), body);
            let packument = packuments.entry((*name).to_owned()).or_insert_with(
                || json!({"name": name, "versions": {}, "dist-tags": {}, "time": {}}),
            );
            packument["versions"][*version] = manifest;
            packument["dist-tags"]["latest"] = json!(version);
        }
        for (name, version) in latest {
            packuments
                .get_mut(*name)
                .expect("`latest` names a listed package")["dist-tags"]["latest"] = json!(version);
        }
        Self {
            packuments: Arc::new(packuments),
            tarballs: Arc::new(tarballs),
        }
    }

    /// Builds the registry as [`Registry::build`] does and serves it on
    /// loopback; its base URL (`http://<address>`, no trailing slash).
    pub async fn serve(
        versions: &[(&str, &str, Value)],
        latest: &[(&str, &str)],
        bad: &str,
    ) -> String {
        let (listener, address) = crate::bind().await;
        let base = format!("http://{address}");
        let registry = Self::build(&base, versions, latest, bad);
        let app = Router::new()
            .route("/{*path}", get(handler))
            .with_state(registry);
        crate::spawn(listener, app);
        base
    }
}

async fn handler(State(registry): State<Registry>, Path(path): Path<String>) -> Response {
    if let Some(body) = registry.tarballs.get(&path) {
        return body.clone().into_response();
    }
    match registry.packuments.get(&path) {
        Some(packument) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            packument.to_string(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
