//! Closure and verification against a mock registry on loopback
//! (airlift-test-support's `npm::Registry`).
#![allow(clippy::unwrap_used)]

use airlift_npm::collect::{CollectError, Collected, collect, plan};
use airlift_npm::spec::NpmSpec;
use airlift_test_support::npm::Registry;
use serde_json::{Value, json};

async fn run(
    versions: &[(&str, &str, Value)],
    latest: &[(&str, &str)],
    bad: &str,
    packages: &[&str],
) -> Result<Collected, CollectError> {
    let base = Registry::serve(versions, latest, bad).await;
    let collecting = airlift_test_support::Collecting::new();
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
    let planned = plan(&spec, collecting.home.path()).unwrap();
    collect(&planned, &collecting.context()).await
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
    let upstream: Vec<(&str, Vec<&str>)> = collected
        .upstream
        .iter()
        .map(|u| {
            (
                u.name.as_str(),
                u.versions.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        upstream,
        [
            ("@s/real", vec!["2.1.0"]),
            ("app", vec![]),
            ("lib", vec!["1.2.0"]),
            ("opt", vec![]),
            ("peer", vec![]),
        ],
        "every carried package with the versions newer than it, deprecated ones kept"
    );
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
