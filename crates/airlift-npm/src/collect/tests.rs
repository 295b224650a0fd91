use super::*;

fn spec(registry: &str, credentials: Option<&str>) -> NpmSpec {
    NpmSpec {
        registry: registry.to_owned(),
        lockfiles: Vec::new(),
        packages: vec!["fx-gone".into()],
        optional: true,
        peer: true,
        credentials: credentials.map(str::to_owned),
        os: Vec::new(),
        cpu: Vec::new(),
        libc: Vec::new(),
    }
}

/// Collects `fx-gone` from a registry that answers every packument
/// request with `status`.
async fn collect_answered(status: u16) -> Result<Collected, CollectError> {
    let base = airlift_test_support::answering(status).await;
    let run = airlift_test_support::Collecting::new();
    let planned = plan(&spec(&base, None), run.home.path()).expect("plan");
    collect(&planned, &run.context()).await
}

#[tokio::test]
async fn only_404_means_a_package_is_not_found() {
    let error = collect_answered(404).await.expect_err("nothing to carry");
    assert!(
        error
            .to_string()
            .starts_with("fx-gone: not found at the upstream registry"),
        "{error}"
    );
    let error = collect_answered(410).await.expect_err("gone");
    assert!(
        error.to_string().ends_with(": answered 410 Gone"),
        "{error}"
    );
}

#[test]
fn a_credentials_reference_names_a_token_variable() {
    let unset = plan(
        &spec("http://127.0.0.1:9/", Some("AIRLIFT_TEST_UNSET_REFERENCE")),
        Path::new("."),
    )
    .expect_err("unset");
    assert_eq!(
        unset.to_string(),
        "[npm]: credentials = \"AIRLIFT_TEST_UNSET_REFERENCE\" but AIRLIFT_TEST_UNSET_REFERENCE_TOKEN is not set"
    );
}

#[test]
fn platform_targets_follow_npm_install_checks() {
    let targets = Targets {
        os: vec!["linux".into()],
        cpu: vec!["x64".into()],
        libc: vec!["glibc".into()],
    };
    let m = |v: Value| targets.excludes(&v);
    assert_eq!(m(serde_json::json!({})), None);
    assert_eq!(
        m(serde_json::json!({"os": ["linux"], "cpu": ["x64"]})),
        None
    );
    assert_eq!(m(serde_json::json!({"os": "linux"})), None);
    assert_eq!(m(serde_json::json!({"os": ["!win32"]})), None);
    assert!(m(serde_json::json!({"os": ["win32"]})).is_some_and(|r| r.starts_with("os ")));
    assert!(m(serde_json::json!({"os": ["!linux"]})).is_some());
    assert!(m(serde_json::json!({"cpu": ["arm64"]})).is_some_and(|r| r.starts_with("cpu ")));
    assert!(m(serde_json::json!({"libc": ["musl"]})).is_some_and(|r| r.starts_with("libc ")));
    // No targets: every platform.
    assert!(Targets::default().all());
    assert_eq!(
        Targets::default().excludes(&serde_json::json!({"os": ["aix"]})),
        None
    );
    // libc only matters when a target is Linux.
    let mac = Targets {
        os: vec!["darwin".into()],
        cpu: Vec::new(),
        libc: vec!["glibc".into()],
    };
    assert_eq!(
        mac.excludes(&serde_json::json!({"os": ["darwin"], "libc": ["musl"]})),
        None
    );
}

#[test]
fn specs_split() {
    assert_eq!(split_spec("express@^4"), ("express".into(), "^4".into()));
    assert_eq!(
        split_spec("@types/node@20"),
        ("@types/node".into(), "20".into())
    );
    assert_eq!(
        split_spec("@types/node"),
        ("@types/node".into(), "latest".into())
    );
    assert_eq!(split_spec("lodash"), ("lodash".into(), "latest".into()));
    assert_eq!(split_spec("\u{e9}@1"), ("\u{e9}".into(), "1".into()));
    assert_eq!(split_spec("@"), ("@".into(), "latest".into()));
    assert_eq!(
        unalias("x".into(), "npm:@s/y@^2".into()),
        ("@s/y".into(), "^2".into())
    );
}

#[test]
fn npm_picks_like_npm() {
    let packument = serde_json::json!({
        "name": "p",
        "dist-tags": {"latest": "1.2.0", "next": "2.0.0-rc.1"},
        "versions": {
            "1.0.0": {}, "1.2.0": {}, "1.3.0": {}, "1.4.0": {"deprecated": "broken"},
            "2.0.0-rc.1": {}
        }
    });
    let chain = Vec::new();
    assert_eq!(
        pick("p", &packument, "^1", &chain).expect("pick"),
        "1.2.0",
        "latest wins when it satisfies"
    );
    assert_eq!(
        pick("p", &packument, ">=1.3", &chain).expect("pick"),
        "1.3.0",
        "deprecated avoided"
    );
    assert_eq!(
        pick("p", &packument, "1.4.0", &chain).expect("pick"),
        "1.4.0"
    );
    assert_eq!(
        pick("p", &packument, "next", &chain).expect("pick"),
        "2.0.0-rc.1"
    );
    assert_eq!(
        pick("p", &packument, "latest", &chain).expect("pick"),
        "1.2.0"
    );
    assert_eq!(pick("p", &packument, "*", &chain).expect("pick"), "1.2.0");
    assert!(pick("p", &packument, "^3", &chain).is_err());
    assert!(matches!(
        pick("p", &packument, "git+https://example.com/p.git", &chain),
        Err(CollectError::Unsupported { .. })
    ));
    assert!(matches!(
        pick("p", &packument, "beta", &chain),
        Err(CollectError::Unsatisfiable { .. })
    ));
}
