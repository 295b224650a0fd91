//! The OCI registry: push over HTTP on the connected side, carry the images
//! in a bundle, pull them byte-exact on the isolated side; and bad pushes
//! refused with the specification's error codes, storing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airlift_test_support::oci::{self, image_manifest};
use common::{Connected, Home, Server, sha256_hex};

fn push_blob(server: &Server, repository: &str, data: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256_hex(data));
    let (status, _, body) = common::request(
        server.address,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/?digest={digest}"),
        &[
            ("Content-Type", "application/octet-stream"),
            ("Authorization", &server.auth),
        ],
        data,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    digest
}

fn error_code(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    value["errors"][0]["code"].as_str().unwrap_or("").to_owned()
}

/// An image pushed as `team/app:1.4`.
struct Pushed {
    config_digest: String,
    layer_digest: String,
    manifest: Vec<u8>,
    manifest_digest: String,
}

/// Pushes a config, one layer and the manifest tying them, as `team/app:1.4`.
fn push_image(server: &Server, config: &[u8], layer: &[u8]) -> Pushed {
    let config_digest = push_blob(server, "team/app", config);
    let layer_digest = push_blob(server, "team/app", layer);
    let manifest = image_manifest(&config_digest, config.len(), &layer_digest, layer.len());
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    let (status, headers, _) = common::request(
        server.address,
        "PUT",
        "/v2/team/app/manifests/1.4",
        &[
            ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
            ("Authorization", &server.auth),
        ],
        &manifest,
    );
    assert_eq!(status, 201);
    assert_eq!(headers["docker-content-digest"], manifest_digest);
    Pushed {
        config_digest,
        layer_digest,
        manifest,
        manifest_digest,
    }
}

#[test]
fn pushed_images_cross_the_gap_byte_exact() {
    let connected = Connected::sample();
    let server = Server::start(&connected.home);
    let layer = common::noise(42, 200_000);
    let Pushed {
        layer_digest,
        manifest,
        manifest_digest,
        ..
    } = push_image(&server, br#"{"architecture":"amd64","os":"linux"}"#, &layer);
    drop(server);

    let images = connected.home.run(&["--json", "images"]).ok().json();
    assert_eq!(images[0]["repository"], "team/app");
    assert_eq!(images[0]["tag"], "1.4");

    let bundle = connected.pack("images.tar.zst", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let server = Server::start(&isolated);
    for reference in ["1.4", manifest_digest.as_str()] {
        let (status, headers, body) = common::request(
            server.address,
            "GET",
            &format!("/v2/team/app/manifests/{reference}"),
            &[(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )],
            b"",
        );
        assert_eq!(status, 200, "{reference}");
        assert!(body == manifest, "manifest bytes changed across the gap");
        assert_eq!(
            headers["content-type"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(headers["docker-content-digest"], manifest_digest);
    }
    // Content negotiation: a client that only takes indexes is told the
    // image manifest is unknown (manifests are never converted).
    let (status, _, body) = common::request(
        server.address,
        "GET",
        "/v2/team/app/manifests/1.4",
        &[("Accept", "application/vnd.oci.image.index.v1+json")],
        b"",
    );
    assert_eq!(
        (status, error_code(&body).as_str()),
        (404, "MANIFEST_UNKNOWN")
    );
    let (status, _, body) = common::request(
        server.address,
        "GET",
        &format!("/v2/team/app/blobs/{layer_digest}"),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(body == layer, "layer bytes changed across the gap");
    let (_, _, body) = common::request(server.address, "GET", "/v2/team/app/tags/list", &[], b"");
    let tags: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["1.4"]));
    let (_, _, body) = common::request(server.address, "GET", "/v2/_catalog", &[], b"");
    let catalog: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!(["team/app"]));
    // The files from the same bundle are still served next to the images.
    let (status, _, _) = common::request(server.address, "GET", "/files/docs/readme.txt", &[], b"");
    assert_eq!(status, 200);
}

#[test]
fn bad_pushes_get_the_specification_error_and_store_nothing() {
    let home = Home::new();
    let server = Server::start(&home);
    let blobs_dir = home.path().join("store/blobs/sha256");
    let count_blobs = || -> usize {
        std::fs::read_dir(&blobs_dir)
            .map(|shards| {
                shards
                    .map(|s| std::fs::read_dir(s.unwrap().path()).unwrap().count())
                    .sum()
            })
            .unwrap_or(0)
    };
    let missing = format!("sha256:{}", "a".repeat(64));
    type Case<'a> = (
        &'a str,
        String,
        Vec<(&'a str, &'a str)>,
        Vec<u8>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            "manifest referencing a missing blob",
            "/v2/team/app/manifests/v1".into(),
            vec![("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            image_manifest(&missing, 2, &missing, 2),
            400,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            "upload whose content does not match its digest",
            format!("/v2/team/app/blobs/uploads/?digest={missing}"),
            vec![],
            b"not the content you are looking for".to_vec(),
            400,
            "DIGEST_INVALID",
        ),
        (
            "non-canonical digest",
            format!(
                "/v2/team/app/blobs/uploads/?digest=sha256:{}",
                "A".repeat(64)
            ),
            vec![],
            b"x".to_vec(),
            400,
            "DIGEST_INVALID",
        ),
        (
            "oversized manifest",
            "/v2/team/app/manifests/big".into(),
            vec![("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            vec![b' '; 5 << 20],
            413,
            "SIZE_INVALID",
        ),
        (
            "manifest that is not JSON",
            "/v2/team/app/manifests/v1".into(),
            vec![("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            b"{not json".to_vec(),
            400,
            "MANIFEST_INVALID",
        ),
        (
            "manifest pushed by the wrong digest",
            format!("/v2/team/app/manifests/{missing}"),
            vec![("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
            b"{}".to_vec(),
            400,
            "DIGEST_INVALID",
        ),
    ];
    for (label, path, headers, body, status, code) in cases {
        let method = if path.contains("/manifests/") {
            "PUT"
        } else {
            "POST"
        };
        let mut headers = headers;
        headers.push(("Authorization", &server.auth));
        let (got, _, answer) = common::request(server.address, method, &path, &headers, &body);
        assert_eq!(
            (got, error_code(&answer).as_str()),
            (status, code),
            "{label}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    for path in [
        "/v2/../etc/manifests/latest",
        "/v2/Team/App/manifests/latest",
        "/v2/team//app/manifests/latest",
        "/v2/team/app%2f..%2f..%2fx/manifests/latest",
    ] {
        let (status, _, answer) = common::request(server.address, "GET", path, &[], b"");
        assert!(status == 400 || status == 404, "{path}: {status}");
        if status == 400 {
            assert_eq!(error_code(&answer), "NAME_INVALID", "{path}");
        }
    }
    assert_eq!(count_blobs(), 0, "a refused push stored a blob");
    let uploads = home.path().join("uploads");
    let leftovers = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0, "a refused upload left its session file");
    let generations = home.run(&["--json", "images"]).ok().json();
    assert_eq!(generations, serde_json::json!([]));
}

fn write_oci_config(dir: &std::path::Path, image: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("airlift.toml");
    std::fs::write(
        &path,
        format!("[[oci]]\nimage = \"{image}\"\nplain_http = true\n{extra}"),
    )
    .unwrap();
    path
}

#[test]
fn images_are_collected_from_a_registry_and_served_byte_exact_across_the_gap() {
    // The upstream is another airlift registry on loopback.
    let upstream = Home::new();
    let server = Server::start(&upstream);
    let config = br#"{"architecture":"arm64","os":"linux"}"#;
    let layer = common::noise(7, 300_000);
    let Pushed {
        config_digest,
        layer_digest,
        manifest,
        manifest_digest,
    } = push_image(&server, config, &layer);
    // A signature in the cosign tag convention, and an SBOM as an OCI 1.1 referrer.
    let signature = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        config.len()
    );
    let signature_tag = format!("sha256-{}.sig", &manifest_digest[7..]);
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        &format!("/v2/team/app/manifests/{signature_tag}"),
        &[("Authorization", &server.auth)],
        signature.as_bytes(),
    );
    assert_eq!(status, 201);
    let sbom = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config_digest}","size":{}}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{}}}}}"#,
        config.len(),
        manifest.len()
    );
    let sbom_digest = format!("sha256:{}", sha256_hex(sbom.as_bytes()));
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        &format!("/v2/team/app/manifests/{sbom_digest}"),
        &[("Authorization", &server.auth)],
        sbom.as_bytes(),
    );
    assert_eq!(status, 201);

    let connected = Connected::sample();
    let config_file = write_oci_config(
        connected.work.path(),
        &format!("{}/team/app:1.4", server.address),
        "as = \"mirror/app\"\n",
    );
    let run = connected
        .home
        .run(&[
            "--json",
            "collect",
            "--config",
            config_file.to_str().unwrap(),
        ])
        .ok()
        .json();
    assert_eq!(run["images"], 1);
    assert_eq!(run["manifests"], 3, "image, signature and SBOM");
    drop(server);

    let bundle = connected.pack("images.tar", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let inside = Server::start(&isolated);
    let (status, headers, body) = common::request(
        inside.address,
        "GET",
        "/v2/mirror/app/manifests/1.4",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(body == manifest, "manifest bytes changed");
    assert_eq!(headers["docker-content-digest"], manifest_digest);
    let (_, _, body) = common::request(
        inside.address,
        "GET",
        &format!("/v2/mirror/app/manifests/{manifest_digest}"),
        &[],
        b"",
    );
    assert!(body == manifest, "pinned digest does not resolve");
    let (status, _, body) = common::request(
        inside.address,
        "GET",
        &format!("/v2/mirror/app/blobs/{layer_digest}"),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(body == layer, "layer bytes changed");
    let (status, _, _) = common::request(
        inside.address,
        "GET",
        &format!("/v2/mirror/app/manifests/{signature_tag}"),
        &[],
        b"",
    );
    assert_eq!(status, 200, "the cosign signature tag did not cross");
    let (_, _, body) = common::request(
        inside.address,
        "GET",
        &format!("/v2/mirror/app/referrers/{manifest_digest}"),
        &[],
        b"",
    );
    let referrers: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(referrers["manifests"][0]["digest"], sbom_digest);
    assert_eq!(
        referrers["manifests"][0]["artifactType"],
        "application/spdx+json"
    );
}

#[test]
fn collect_answers_a_bearer_challenge_and_refuses_wrong_blobs() {
    let config = br#"{"os":"linux"}"#.to_vec();
    let layer = common::noise(9, 50_000);
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let layer_digest = format!("sha256:{}", sha256_hex(&layer));
    let manifest = image_manifest(&config_digest, config.len(), &layer_digest, layer.len());
    let token = "s3cr3t-token";
    let upstream = oci::Registry::with_token(token)
        .manifest("team/app", "1.0", manifest.clone())
        .blob("team/app", &config_digest, config.clone())
        // The registry serves the wrong bytes for the layer.
        .blob("team/app", &layer_digest, common::noise(10, 50_000))
        .start();
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let config_file = write_oci_config(
        work.path(),
        &format!("{}/team/app:1.0", upstream.address),
        "referrers = false\ncredentials = \"TEAM_REGISTRY\"\n",
    );
    // A credentials reference whose variables are missing is bad input.
    home.run(&["collect", "--config", config_file.to_str().unwrap()])
        .fails_with(2, "TEAM_REGISTRY_USERNAME is not set");
    let run = home
        .run_env(
            &["collect", "--config", config_file.to_str().unwrap()],
            &[
                ("TEAM_REGISTRY_USERNAME", "ci"),
                ("TEAM_REGISTRY_PASSWORD", "hunter2-pass"),
            ],
        )
        .fails_with(4, &format!("blob {layer_digest}"));
    assert!(
        !run.stderr.contains("hunter2-pass"),
        "the password leaked: {}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was stored"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(token),
        "the token leaked: {}",
        run.stderr
    );
    let requests = upstream.requests.lock().unwrap().clone();
    assert!(
        requests.iter().any(|r| r.0.starts_with("token")),
        "no token request: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.2.as_deref() == Some("Bearer s3cr3t-token")),
        "the token was never used: {requests:?}"
    );
    // The token was asked for with the referenced credentials (HTTP basic).
    let basic = format!("Basic {}", base64_encode(b"ci:hunter2-pass"));
    assert!(
        requests
            .iter()
            .any(|r| r.0.starts_with("token") && r.2.as_deref() == Some(basic.as_str())),
        "the token request did not carry the credentials: {requests:?}"
    );
    // The wrong layer is not in the store; nothing was committed to the index.
    let layer_path = home.path().join(format!(
        "store/blobs/sha256/{}/{}",
        &layer_digest[7..9],
        &layer_digest[7..]
    ));
    assert!(!layer_path.exists(), "the mismatching layer was stored");
    let images = home.run(&["--json", "images"]).ok().json();
    assert_eq!(images, serde_json::json!([]));
}

fn base64_encode(data: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An import replaces the whole index, which used to erase what was pushed
/// inside the gap. It is refused before anything changes, unless the
/// operator says `--allow-removals`.
#[test]
fn an_import_does_not_remove_images_pushed_inside_the_gap() {
    let connected = Connected::sample();
    let first = connected.pack("first", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", first.to_str().unwrap()]).ok();
    {
        let server = Server::start(&isolated);
        push_image(&server, b"{}", &common::noise(3, 1000));
    }
    let before = isolated.snapshot();
    // A newer bundle of the same files, which knows nothing of the push.
    let second = connected.pack_newer("second");
    let plan = isolated
        .run(&["--json", "plan", second.to_str().unwrap()])
        .ok()
        .json();
    assert!(
        plan["removals"]["local"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k.as_str().unwrap().contains("team/app")),
        "{plan}"
    );
    isolated
        .run(&["import", second.to_str().unwrap()])
        .fails_with(3, "that no imported bundle brought (pushed to this server");
    assert_eq!(isolated.snapshot(), before);
    isolated
        .run(&["import", second.to_str().unwrap(), "--allow-removals"])
        .ok();
}

/// A site that hosts `team/*`: what is pushed there survives every import,
/// a push anywhere else is refused (that is imported content), a bundle
/// that brings a hosted name is refused naming it, and `pack --hosted`
/// carries hosted content out while a plain pack leaves it home.
#[test]
fn hosted_images_survive_imports_and_bundles_cannot_bring_hosted_names() {
    let connected = Connected::sample();
    let isolated = connected.hosting_site("oci", "team/*");
    let pushed = {
        let server = Server::start(&isolated);
        let pushed = push_image(&server, b"{}", &common::noise(3, 1000));
        let (status, _, body) = common::request(
            server.address,
            "POST",
            "/v2/mirror/app/blobs/uploads/",
            &[("Authorization", &server.auth)],
            b"",
        );
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 403, "{body}");
        assert!(
            body.contains("mirror/app in oci is imported content"),
            "{body}"
        );
        pushed
    };

    // A newer bundle that knows nothing of the push imports without
    // --allow-removals, and the pushed image stays.
    let second = connected.pack_newer("second");
    let plan = isolated
        .run(&["--json", "plan", second.to_str().unwrap()])
        .ok()
        .json();
    assert!(
        plan["removals"]["hosted_kept"].as_u64().unwrap() > 0,
        "{plan}"
    );
    assert!(plan["removals"].get("refused").is_none(), "{plan}");
    isolated.run(&["import", second.to_str().unwrap()]).ok();
    let images = isolated.run(&["--json", "images"]).ok().json();
    assert_eq!(images[0]["repository"], "team/app", "{images}");
    assert_eq!(images[0]["digest"], pushed.manifest_digest.as_str());
    isolated.run(&["fsck"]).ok();

    // A bundle that brings team/app (pushed on the connected side) is
    // refused before anything changes, naming the conflict.
    {
        let server = Server::start(&connected.home);
        push_image(&server, b"{\"other\":1}", &common::noise(4, 1000));
    }
    let third = connected.work.path().join("third");
    connected
        .home
        .run_env(
            &["pack", "--out", third.to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", &common::epoch_plus(120))],
        )
        .ok();
    let before = isolated.snapshot();
    isolated
        .run(&["import", third.to_str().unwrap()])
        .fails_with(3, "under names this site hosts (oci/");
    assert_eq!(isolated.snapshot(), before);

    // Packing on the hosting site: hosted content only with --hosted.
    isolated.run(&["keys", "init"]).ok();
    let plain = connected.work.path().join("plain");
    isolated
        .run(&["pack", "--out", plain.to_str().unwrap()])
        .ok();
    let with = connected.work.path().join("with-hosted");
    isolated
        .run(&["pack", "--hosted", "--out", with.to_str().unwrap()])
        .ok();
    let listed = |bundle: &std::path::Path| {
        let index =
            std::fs::read_to_string(bundle.join("targets/index/oci.json")).unwrap_or_default();
        index.contains("t:team/app:1.4")
    };
    assert!(!listed(&plain), "a plain pack carried hosted content");
    assert!(listed(&with), "pack --hosted left hosted content out");
}

/// Pushes an image with its own config and layer as `team/app:<tag>`;
/// returns its manifest digest.
fn push_tagged(server: &Server, tag: &str) -> String {
    let config = format!("{{\"tag\":\"{tag}\"}}");
    let config_digest = push_blob(server, "team/app", config.as_bytes());
    let layer = common::noise(tag.len() as u64 * 31 + 7, 2000);
    let layer_digest = push_blob(server, "team/app", &layer);
    let manifest = image_manifest(&config_digest, config.len(), &layer_digest, layer.len());
    let (status, headers, _) = common::request(
        server.address,
        "PUT",
        &format!("/v2/team/app/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &manifest,
    );
    assert_eq!(status, 201);
    headers["docker-content-digest"].clone()
}

/// `[[retention]]` keeps the newest N tags of a hosted repository and
/// removes manifests no kept tag reaches once they are old enough, but
/// never a referrer of a kept image; `gc` then reclaims their blobs, and a
/// dry run reports the same without changing anything.
#[test]
fn retention_rules_keep_the_newest_tags_and_referrers_of_kept_images() {
    let home = Home::new();
    std::fs::write(
        home.path().join("access.toml"),
        "[[rule]]\nread = [\"anonymous\"]\nwrite = [\"writer\"]\n\n[[retention]]\necosystems = [\"oci\"]\nnames = [\"team/*\"]\nkeep_tags = 2\nuntagged_days = 0\n",
    )
    .unwrap();
    let server = Server::start(&home);
    let mut digests = Vec::new();
    for tag in ["one", "two", "three", "four"] {
        digests.push(push_tagged(&server, tag));
        // Push times are in seconds: the newest must be told apart.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    // An SBOM of the newest image, as an untagged referrer.
    let config_digest = push_blob(&server, "team/app", b"{}");
    let sbom = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{{"mediaType":"application/vnd.oci.empty.v1+json","digest":"{config_digest}","size":2}},"layers":[],"subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1}}}}"#,
        digests[3]
    );
    let sbom_digest = format!("sha256:{}", sha256_hex(sbom.as_bytes()));
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        &format!("/v2/team/app/manifests/{sbom_digest}"),
        &[],
        sbom.as_bytes(),
    );
    assert_eq!(status, 201);
    drop(server);

    let planned = home
        .run(&["--json", "gc", "--dry-run", "--grace", "0s", "--keep", "1"])
        .ok()
        .json();
    assert_eq!(planned["retention"]["tags"], 2, "{planned}");
    assert_eq!(planned["retention"]["manifests"], 2, "{planned}");
    let served = |tag: &str| {
        let server = Server::start(&home);
        common::http(
            server.address,
            "GET",
            &format!("/v2/team/app/manifests/{tag}"),
            &[],
        )
        .0
    };
    assert_eq!(served("one"), 200, "a dry run removed a tag");

    let done = home
        .run(&["--json", "gc", "--grace", "0s", "--keep", "1"])
        .ok()
        .json();
    assert_eq!(done["retention"], planned["retention"], "{done}");
    // Two configs and the layer "one" and "two" share (same seed).
    assert_eq!(done["retention"]["blob_links"], 3, "{done}");
    assert!(done["bytes_reclaimed"].as_u64().unwrap() > 0, "{done}");
    for (tag, status) in [("one", 404), ("two", 404), ("three", 200), ("four", 200)] {
        assert_eq!(served(tag), status, "{tag}");
    }
    assert_eq!(
        served(&digests[0]),
        404,
        "an expired manifest is still served"
    );
    assert_eq!(
        served(&sbom_digest),
        200,
        "the referrer of a kept image went"
    );
    home.run(&["fsck"]).ok();
    let audit = home.run(&["audit", "export"]).ok().stdout;
    assert!(audit.contains(" retention {"), "{audit}");
}
