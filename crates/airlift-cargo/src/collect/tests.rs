use super::*;

fn spec(index: &str, credentials: Option<&str>) -> CargoSpec {
    CargoSpec {
        index: format!("sparse+{index}"),
        lockfiles: Vec::new(),
        crates: vec!["fx-gone".into()],
        features: BTreeMap::new(),
        dev: false,
        credentials: credentials.map(str::to_owned),
    }
}

/// Collects `fx-gone` from an index that has a `config.json` and answers
/// every index file with `status`.
async fn collect_answered(status: u16) -> Result<Collected, CollectError> {
    let status = StatusCode::from_u16(status).expect("status");
    let app = axum::Router::new()
        .route(
            "/config.json",
            axum::routing::get(|| async { r#"{"dl":"http://127.0.0.1:9/dl"}"# }),
        )
        .fallback(move || async move { status });
    let base = format!("http://{}/", airlift_test_support::serve(app).await);
    let run = airlift_test_support::Collecting::new();
    let planned = plan(&spec(&base, None), run.home.path()).expect("plan");
    collect(&planned, &run.context()).await
}

#[tokio::test]
async fn gone_and_unavailable_for_legal_reasons_mean_not_found_as_for_cargo() {
    for status in [404, 410, 451] {
        let error = collect_answered(status)
            .await
            .expect_err("nothing to carry");
        assert!(
            matches!(error, CollectError::NotFound { .. }),
            "{status}: {error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("fx-gone: not found in the upstream index"),
            "{error}"
        );
    }
    let error = collect_answered(403).await.expect_err("refused");
    assert!(
        error.to_string().ends_with(": answered 403 Forbidden"),
        "{error}"
    );
}

#[test]
fn a_credentials_reference_names_a_token_variable() {
    let base = Path::new(".");
    let unset = plan(
        &spec("http://127.0.0.1:9/", Some("AIRLIFT_TEST_UNSET_REFERENCE")),
        base,
    )
    .expect_err("unset");
    assert_eq!(
        unset.to_string(),
        "[cargo]: credentials = \"AIRLIFT_TEST_UNSET_REFERENCE\" but AIRLIFT_TEST_UNSET_REFERENCE_TOKEN is not set"
    );
    let bad = plan(&spec("http://127.0.0.1:9/", Some("my registry")), base).expect_err("bad");
    assert!(
        bad.to_string()
            .contains("must name environment variables (letters, digits and _)"),
        "{bad}"
    );
}

#[test]
fn download_urls_follow_the_template() {
    let d = Digest::of(b"x");
    assert_eq!(
        download_url("https://dl.example.com/api/v1/crates", "serde", "1.0.0", &d),
        "https://dl.example.com/api/v1/crates/serde/1.0.0/download"
    );
    assert_eq!(
        download_url(
            "https://dl.example.com/{prefix}/{crate}/{crate}-{version}.crate",
            "Serde",
            "1.0.0",
            &d
        ),
        "https://dl.example.com/Se/rd/Serde/Serde-1.0.0.crate"
    );
    assert_eq!(
        download_url(
            "https://dl.example.com/{lowerprefix}/{sha256-checksum}",
            "abc",
            "1.0.0",
            &d
        ),
        format!("https://dl.example.com/3/a/{}", d.hex())
    );
}

fn release(line: &str) -> Release {
    index::parse_file("x", line.as_bytes())
        .expect("line")
        .remove(0)
}

#[test]
fn features_enable_optional_dependencies() {
    let hex = "a".repeat(64);
    let line = format!(
        r#"{{"name":"x","vers":"1.0.0","cksum":"{hex}","deps":[
          {{"name":"always","req":"^1","kind":"normal"}},
          {{"name":"builder","req":"^1","kind":"build"}},
          {{"name":"tester","req":"^1","kind":"dev"}},
          {{"name":"opt-a","req":"^1","optional":true}},
          {{"name":"opt-b","req":"^1","optional":true}},
          {{"name":"opt-c","req":"^1","optional":true}},
          {{"name":"renamed","package":"real-name","req":"^2","optional":true,"default_features":false}}
        ],"features":{{"default":["a"],"a":["opt-a/extra"],"weak":["opt-b?/w"]}},"features2":{{"r":["dep:renamed","renamed/f"]}}}}"#
    )
    .replace('\n', "");
    let r = release(&line);
    let names = |needs: &[Need]| needs.iter().map(|n| n.name.clone()).collect::<Vec<_>>();
    let mut notes = Vec::new();
    let base = Activation {
        features: BTreeSet::new(),
        default: true,
        dev: false,
    };
    let needs = expand(&r, &base, &["x".into()], &mut notes, &BTreeSet::new()).expect("expands");
    assert_eq!(names(&needs), ["always", "builder", "opt-a"]);
    assert!(needs[2].features.contains("extra"));
    let more = Activation {
        features: ["weak".to_owned(), "r".to_owned(), "opt-c".to_owned()].into(),
        default: false,
        dev: true,
    };
    let needs = expand(&r, &more, &["x".into()], &mut notes, &BTreeSet::new()).expect("expands");
    // The weak `opt-b?/w` brings opt-b: cargo's lockfile resolver
    // reaches it, so `cargo generate-lockfile` in the gap needs it.
    assert_eq!(
        names(&needs),
        ["always", "builder", "tester", "opt-b", "opt-c", "real-name"]
    );
    assert!(needs[3].features.contains("w"));
    assert!(!needs[5].default && needs[5].features.contains("f"));
    let bad = Activation {
        features: ["nope".to_owned()].into(),
        ..base
    };
    let error = expand(
        &r,
        &bad,
        &["x 1.0.0".into(), "root".into()],
        &mut notes,
        &bad.features,
    )
    .expect_err("unknown");
    assert!(
        error
            .to_string()
            .contains("x 1.0.0: has no feature \"nope\""),
        "{error}"
    );
}

#[tokio::test]
async fn newer_unyanked_upstream_versions_are_recorded() {
    let body = b"the crate file".to_vec();
    let hex = Digest::of(&body).hex();
    let line = |vers: &str, yanked: bool| {
        format!(
            r#"{{"name":"fx-lib","vers":"{vers}","deps":[],"cksum":"{hex}","features":{{}},"yanked":{yanked}}}"#
        )
    };
    let file = [
        line("0.9.0", false),
        line("1.0.0", false),
        line("1.1.0", false),
        line("1.2.0", true),
        line("2.0.0-rc.1", false),
    ]
    .join("\n");
    let (listener, address) = airlift_test_support::bind().await;
    let config = format!(r#"{{"dl":"http://{address}/dl"}}"#);
    let app = axum::Router::new()
        .route(
            "/config.json",
            axum::routing::get(move || async move { config }),
        )
        .route(
            "/fx/-l/fx-lib",
            axum::routing::get(move || async move { file }),
        )
        .route(
            "/dl/fx-lib/{version}/download",
            axum::routing::get(move || async move { body }),
        );
    airlift_test_support::spawn(listener, app);
    let mut spec = spec(&format!("http://{address}/"), None);
    spec.crates = vec!["fx-lib@=1.0.0".into()];
    let run = airlift_test_support::Collecting::new();
    let planned = plan(&spec, run.home.path()).expect("plan");
    let collected = collect(&planned, &run.context()).await.expect("collects");
    assert_eq!(collected.crates, 1);
    assert_eq!(
        collected.upstream,
        [airlift_ecosystem::UpstreamVersions {
            name: "fx-lib".into(),
            versions: vec!["1.1.0".into(), "2.0.0-rc.1".into()],
        }],
        "newer than the carried 1.0.0, the yanked 1.2.0 left out"
    );
}

/// A `.crate`: a gzipped tar of `<name>-<version>/Cargo.toml` stating
/// `license` and a source file.
fn crate_file(name: &str, version: &str, license: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nlicense = \"{license}\"\n");
    for (path, content) in [("Cargo.toml", manifest.as_str()), ("src/lib.rs", "")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(
                &mut header,
                format!("{name}-{version}/{path}"),
                content.as_bytes(),
            )
            .expect("appends");
    }
    let tar = builder.into_inner().expect("finishes");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, &tar).expect("compresses");
    encoder.finish().expect("finishes")
}

/// Collect records the licence each `.crate`'s manifest states, and the
/// index lines give the dependency edges among what it carried.
#[tokio::test]
async fn collected_crates_have_their_licences_and_dependencies() {
    use airlift_ecosystem::Ecosystem as _;
    let app_crate = crate_file("fx-app", "1.0.0", "MIT OR Apache-2.0");
    let lib_crate = crate_file("fx-lib", "1.2.0", "Zlib");
    let line = |name: &str, deps: &str, crate_file: &[u8]| {
        format!(
            r#"{{"name":"{name}","vers":"{}","deps":[{deps}],"cksum":"{}","features":{{}},"yanked":false}}"#,
            if name == "fx-app" { "1.0.0" } else { "1.2.0" },
            Digest::of(crate_file).hex()
        )
    };
    let files: std::collections::HashMap<String, Vec<u8>> = [
        ("/config.json".to_owned(), br#"{"dl":"dl"}"#.to_vec()),
        (
            "/fx/-a/fx-app".to_owned(),
            line(
                "fx-app",
                r#"{"name":"fx-lib","req":"^1","features":[],"optional":false,"default_features":true,"target":null,"kind":"normal"}"#,
                &app_crate,
            )
            .into_bytes(),
        ),
        ("/fx/-l/fx-lib".to_owned(), line("fx-lib", "", &lib_crate).into_bytes()),
        ("/dl/fx-app/1.0.0/download".to_owned(), app_crate.clone()),
        ("/dl/fx-lib/1.2.0/download".to_owned(), lib_crate.clone()),
    ]
    .into_iter()
    .collect();
    let files = std::sync::Arc::new(files);
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let files = files.clone();
        async move {
            match files.get(uri.path()) {
                Some(body) => (StatusCode::OK, body.clone()),
                None => (StatusCode::NOT_FOUND, Vec::new()),
            }
        }
    });
    let base = format!("http://{}/", airlift_test_support::serve(app).await);
    let run = airlift_test_support::Collecting::new();
    let mut declared = spec(&base, None);
    declared.crates = vec!["fx-app".into()];
    let planned = plan(&declared, run.home.path()).expect("plan");
    let collected = collect(&planned, &run.context()).await.expect("collects");
    let keys: Vec<&str> = collected.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["c:fx-app/1.0.0", "c:fx-lib/1.2.0"]);
    let cargo = crate::ecosystem::Cargo;
    let licenses: Vec<Vec<String>> = collected
        .entries
        .iter()
        .map(|e| cargo.package(e).expect("a crate").licenses)
        .collect();
    assert_eq!(licenses, [vec!["MIT OR Apache-2.0"], vec!["Zlib"]]);
    assert_eq!(cargo.dependencies(&collected.entries), [(0, 1)]);
}
