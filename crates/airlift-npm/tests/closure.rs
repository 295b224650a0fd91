//! Closure and verification against a mock registry on loopback.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use airlift_core::Integrity;
use airlift_fetch::{FetchOptions, Fetcher, Quiet};
use airlift_npm::collect::{CollectError, Collected, collect, plan};
use airlift_npm::spec::NpmSpec;
use airlift_store::Store;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// name → (packument without dist, tarballs by file name).
#[derive(Clone, Default)]
struct Registry {
    packuments: Arc<BTreeMap<String, Value>>,
    tarballs: Arc<BTreeMap<String, Vec<u8>>>,
}

fn sri(bytes: &[u8]) -> String {
    let mut hasher = Integrity::Sha512([0; 64]).hasher();
    hasher.update(bytes);
    hasher.finish().to_sri()
}

/// Versions as (name, version, manifest fields); `latest` per name is given
/// or the last listed. `bad` names a package whose stated integrity is wrong.
fn build(
    base: &str,
    versions: &[(&str, &str, Value)],
    latest: &[(&str, &str)],
    bad: &str,
) -> Registry {
    let mut packuments: BTreeMap<String, Value> = BTreeMap::new();
    let mut tarballs = BTreeMap::new();
    for (name, version, fields) in versions {
        let file = format!("{}-{version}.tgz", name.rsplit('/').next().unwrap());
        let body = format!("tarball of {name}@{version}").into_bytes();
        let integrity = if *name == bad {
            sri(b"other")
        } else {
            sri(&body)
        };
        let mut manifest = fields.clone();
        let object = manifest.as_object_mut().unwrap();
        object.insert("name".into(), json!(name));
        object.insert("version".into(), json!(version));
        object.insert(
            "dist".into(),
            json!({"tarball": format!("{base}/{name}/-/{file}"), "integrity": integrity}),
        );
        tarballs.insert(format!("{name}/-/{file}"), body);
        let packument = packuments
            .entry((*name).to_owned())
            .or_insert_with(|| json!({"name": name, "versions": {}, "dist-tags": {}, "time": {}}));
        packument["versions"][*version] = manifest;
        packument["dist-tags"]["latest"] = json!(version);
    }
    for (name, version) in latest {
        packuments.get_mut(*name).unwrap()["dist-tags"]["latest"] = json!(version);
    }
    Registry {
        packuments: Arc::new(packuments),
        tarballs: Arc::new(tarballs),
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

async fn run(
    versions: &[(&str, &str, Value)],
    latest: &[(&str, &str)],
    bad: &str,
    packages: &[&str],
) -> Result<Collected, CollectError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let registry = build(&base, versions, latest, bad);
    let app = Router::new()
        .route("/{*path}", get(handler))
        .with_state(registry);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let home = tempfile::tempdir().unwrap();
    let store = Store::open_embedded(home.path()).unwrap();
    let fetcher = Fetcher::new(FetchOptions {
        attempts: 1,
        ..FetchOptions::default()
    })
    .unwrap();
    let spec = NpmSpec {
        registry: format!("{base}/"),
        lockfiles: Vec::new(),
        packages: packages.iter().map(|p| (*p).to_owned()).collect(),
        optional: true,
        peer: true,
        credentials: None,
        os: Vec::new(),
        cpu: Vec::new(),
        libc: Vec::new(),
    };
    let planned = plan(&spec, home.path()).unwrap();
    collect(&store, &fetcher, &planned, 4, Arc::new(Quiet)).await
}

fn carried(collected: &Collected) -> Vec<String> {
    collected
        .entries
        .iter()
        .filter_map(|e| e.key.strip_prefix("v:"))
        .map(|k| {
            let (name, version) = k.rsplit_once('/').unwrap();
            format!("{name}@{version}")
        })
        .collect()
}

#[tokio::test]
async fn closure_follows_npm() {
    let versions = [
        (
            "app",
            "1.0.0",
            json!({
                "dependencies": {"lib": "^1", "alias": "npm:@s/real@^2", "bundled": "^1"},
                "optionalDependencies": {"opt": "^1", "ghost": "^1"},
                "peerDependencies": {"peer": ">=1", "maybe": "^1"},
                "peerDependenciesMeta": {"maybe": {"optional": true}},
                "bundleDependencies": ["bundled"]
            }),
        ),
        ("lib", "1.1.0", json!({})),
        ("lib", "1.2.0", json!({})),
        ("@s/real", "2.0.0", json!({})),
        ("@s/real", "2.1.0", json!({"deprecated": "use 2.0"})),
        ("opt", "1.0.0", json!({"os": ["win32"]})),
        ("peer", "3.0.0", json!({})),
        ("maybe", "1.0.0", json!({})),
        ("bundled", "1.0.0", json!({})),
    ];
    let collected = run(&versions, &[("lib", "1.1.0")], "", &["app"])
        .await
        .unwrap();
    assert_eq!(
        carried(&collected),
        [
            "@s/real@2.0.0",
            "app@1.0.0",
            "lib@1.1.0",
            "opt@1.0.0",
            "peer@3.0.0"
        ],
        "latest wins when it satisfies; a deprecated version is avoided; optional peers and bundled packages are not fetched"
    );
    assert!(
        collected.notes.iter().any(|n| n.contains("ghost")),
        "a missing optional dependency is a note: {:?}",
        collected.notes
    );
    assert_eq!(collected.packages, 5);
}

#[tokio::test]
async fn integrity_mismatch_is_refused() {
    let versions = [("good", "1.0.0", json!({})), ("evil", "1.0.0", json!({}))];
    let error = run(&versions, &[], "evil", &["good", "evil"])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("evil@1.0.0: integrity mismatch"),
        "{error}"
    );
}

#[tokio::test]
async fn an_optional_failure_does_not_hide_a_real_need() {
    let versions = [
        ("a", "1.0.0", json!({"optionalDependencies": {"x": "^9"}})),
        ("b", "1.0.0", json!({"dependencies": {"x": "^9"}})),
        ("x", "1.0.0", json!({})),
    ];
    let error = run(&versions, &[], "", &["a", "b"])
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("x: no version matches \"^9\""), "{error}");
    assert!(error.contains("b@1.0.0"), "{error}");
}
