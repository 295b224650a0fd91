//! `airlift sbom --image` and `airlift scan --image`: images pushed to
//! `airlift serve` (and an OCI image layout on disk) are read layer by
//! layer; their packages become SBOM components with purls and licences,
//! and scan subjects matched against the carried advisories; an index picks
//! its platform; an image not carried, a platform not there and a layer
//! that was altered are clear errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::Path;

use common::{Home, Server, sha256_hex};

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";

/// A dpkg status of one architecture: libssl3 (built from openssl, which
/// the Debian advisory names), base-files, and a package only configured.
fn dpkg_status(architecture: &str) -> String {
    format!(
        "Package: base-files\nStatus: install ok installed\nArchitecture: {architecture}\nVersion: 12.4+deb12u5\n\n\
         Package: libssl3\nStatus: install ok installed\nArchitecture: {architecture}\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\n\
         Package: oldtool\nStatus: deinstall ok config-files\nArchitecture: {architecture}\nVersion: 1.0-1\n"
    )
}

/// A gzip tar layer of `files` (path, contents).
fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_cksum();
        builder.append_data(&mut header, path, *data).unwrap();
    }
    let plain = builder.into_inner().unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&plain).unwrap();
    gzip.finish().unwrap()
}

/// The layers of an image for `architecture`: the distribution's files,
/// then a Python distribution.
fn image_layers(architecture: &str) -> Vec<Vec<u8>> {
    let status = dpkg_status(architecture);
    vec![
        layer(&[
            ("etc/os-release", OS_RELEASE.as_bytes()),
            ("var/lib/dpkg/status", status.as_bytes()),
        ]),
        layer(&[(
            "usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache-2.0\n\nlong description\n",
        )]),
    ]
}

fn config(architecture: &str) -> Vec<u8> {
    format!(r#"{{"architecture":"{architecture}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#).into_bytes()
}

/// An OCI image manifest of `config` and gzip `layers`.
fn manifest(config: &[u8], layers: &[Vec<u8>]) -> Vec<u8> {
    let descriptor = |media_type: &str, data: &[u8]| {
        serde_json::json!({
            "mediaType": media_type,
            "digest": format!("sha256:{}", sha256_hex(data)),
            "size": data.len(),
        })
    };
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers
            .iter()
            .map(|l| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l))
            .collect::<Vec<_>>(),
    }))
    .unwrap()
}

fn index(children: &[(&[u8], &str)]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children.iter().map(|(manifest, architecture)| serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(manifest)),
            "size": manifest.len(),
            "platform": {"os": "linux", "architecture": architecture},
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

fn push_blob(server: &Server, repository: &str, data: &[u8]) {
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
}

fn push_manifest(
    server: &Server,
    repository: &str,
    reference: &str,
    media_type: &str,
    data: &[u8],
) {
    let (status, _, body) = common::request(
        server.address,
        "PUT",
        &format!("/v2/{repository}/manifests/{reference}"),
        &[
            ("Content-Type", media_type),
            ("Authorization", &server.auth),
        ],
        data,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

/// Pushes the image of `architecture` (its blobs and manifest, by digest)
/// and returns the manifest.
fn push_image(server: &Server, architecture: &str) -> Vec<u8> {
    let config = config(architecture);
    let layers = image_layers(architecture);
    push_blob(server, "team/app", &config);
    for layer in &layers {
        push_blob(server, "team/app", layer);
    }
    let manifest = manifest(&config, &layers);
    push_manifest(
        server,
        "team/app",
        &format!("sha256:{}", sha256_hex(&manifest)),
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    manifest
}

/// The advisories carried: a Debian 12 one naming the source package
/// openssl, a PyPI one for requests, and one for a version not installed.
fn collect_advisories(home: &Home, dir: &Path) {
    let osv = dir.join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    let record = |id: &str, ecosystem: &str, name: &str, fixed: &str| {
        serde_json::json!({
            "schema_version": "1.6.0",
            "id": id,
            "modified": "2026-12-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }],
        })
    };
    for record in [
        record("DSA-9999-1", "Debian:12", "openssl", "3.0.13-1~deb12u1"),
        record("GHSA-aaaa-bbbb-cccc", "PyPI", "requests", "2.32.0"),
        record("GHSA-old0-0000-0001", "PyPI", "requests", "2.0.0"),
    ] {
        let id = record["id"].as_str().unwrap().to_owned();
        std::fs::write(
            osv.join(format!("{id}.json")),
            serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
    }
    let config = dir.join("airlift.toml");
    std::fs::write(
        &config,
        "[advisories]\nsources = [{ directory = \"osv\" }]\n",
    )
    .unwrap();
    home.run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
}

fn purls(document: &serde_json::Value) -> Vec<String> {
    document["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["purl"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn pushed_images_have_their_packages_in_sbom_and_scan() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    collect_advisories(&home, work.path());

    let server = Server::start(&home);
    let amd64 = push_image(&server, "amd64");
    push_manifest(
        &server,
        "team/app",
        "1.0",
        "application/vnd.oci.image.manifest.v1+json",
        &amd64,
    );
    let arm64 = push_image(&server, "arm64");
    let multi = index(&[(&amd64, "amd64"), (&arm64, "arm64")]);
    push_manifest(
        &server,
        "team/app",
        "multi",
        "application/vnd.oci.image.index.v1+json",
        &multi,
    );
    drop(server);
    let amd64_digest = format!("sha256:{}", sha256_hex(&amd64));

    // The SBOM of a tag: every installed package with its purl and licence,
    // describing the image.
    let bom = home.run(&["sbom", "--image", "team/app:1.0"]).ok().json();
    let found = purls(&bom);
    assert_eq!(
        found,
        [
            "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl",
            "pkg:pypi/requests@2.31.0",
        ],
        "{bom:#}"
    );
    let requests = &bom["components"][2];
    assert_eq!(requests["name"], "requests");
    assert_eq!(requests["version"], "2.31.0");
    assert_eq!(requests["licenses"][0]["license"]["name"], "Apache-2.0");
    let described = &bom["metadata"]["component"];
    assert_eq!(described["type"], "container");
    assert_eq!(described["name"], "team/app");
    assert_eq!(described["version"], amd64_digest.as_str());

    // SPDX too, named after the image; and by digest, the same packages.
    let spdx = home
        .run(&["sbom", "--image", "team/app:1.0", "--format", "spdx"])
        .ok()
        .json();
    assert_eq!(spdx["name"], format!("team/app@{amd64_digest}"));
    assert_eq!(spdx["packages"].as_array().unwrap().len(), 3);
    let by_digest = home
        .run(&["sbom", "--image", &format!("team/app@{amd64_digest}")])
        .ok()
        .json();
    assert_eq!(purls(&by_digest), found);

    // The scan matches Debian packages by their source package.
    let report = home
        .run(&["--json", "scan", "--image", "team/app:1.0"])
        .ok()
        .json();
    assert_eq!(report["image"], format!("team/app@{amd64_digest}"));
    let mut findings: Vec<(String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_owned(),
                f["subject"]["name"].as_str().unwrap().to_owned(),
                f["subject"]["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    findings.sort();
    assert_eq!(
        findings,
        [
            (
                "DSA-9999-1".into(),
                "openssl".into(),
                "3.0.11-1~deb12u2".into()
            ),
            (
                "GHSA-aaaa-bbbb-cccc".into(),
                "requests".into(),
                "2.31.0".into()
            ),
        ],
        "{report:#}"
    );
    assert_eq!(report["scanned"]["Debian:12"], 2, "{report:#}");

    // An index: linux/amd64 by default, another platform when asked.
    let default = home.run(&["sbom", "--image", "team/app:multi"]).ok().json();
    assert_eq!(purls(&default), found);
    let arm = home
        .run(&[
            "sbom",
            "--image",
            "team/app:multi",
            "--platform",
            "linux/arm64",
        ])
        .ok()
        .json();
    assert!(
        purls(&arm)
            .iter()
            .any(|p| p.starts_with("pkg:deb/debian/libssl3@") && p.contains("arch=arm64")),
        "{arm:#}"
    );
    assert_eq!(
        arm["metadata"]["component"]["version"],
        format!("sha256:{}", sha256_hex(&arm64))
    );
    home.run(&[
        "scan",
        "--image",
        "team/app:multi",
        "--platform",
        "linux/arm64",
    ])
    .ok();
    home.run(&[
        "sbom",
        "--image",
        "team/app:multi",
        "--platform",
        "linux/s390x",
    ])
    .fails_with(
        2,
        "no manifest for platform linux/s390x (it has linux/amd64, linux/arm64)",
    );
    home.run(&["sbom", "--image", "team/app:multi", "--platform", "linux"])
        .fails_with(2, "os/architecture");

    // Not carried: named, with a hint.
    home.run(&["sbom", "--image", "team/other:1.0"])
        .fails_with(2, "image team/other:1.0 is not carried");
    home.run(&["scan", "--image", "team/app"])
        .fails_with(2, "image team/app is not carried");
}

/// Writes an OCI image layout of one image and returns the path of its
/// first layer's blob.
fn write_layout(dir: &Path, architecture: &str) -> std::path::PathBuf {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| {
        let path = blobs.join(sha256_hex(data));
        std::fs::write(&path, data).unwrap();
        path
    };
    let config = config(architecture);
    let layers = image_layers(architecture);
    put(&config);
    let first = put(&layers[0]);
    put(&layers[1]);
    let manifest = manifest(&config, &layers);
    put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", sha256_hex(&manifest)),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    first
}

#[test]
fn an_oci_layout_is_read_with_every_layer_checked() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let first_layer = write_layout(&layout, "amd64");
    let reference = format!("oci-layout:{}", layout.display());

    let bom = home.run(&["sbom", "--image", &reference]).ok().json();
    assert_eq!(purls(&bom).len(), 3, "{bom:#}");
    let tagged = home
        .run(&["sbom", "--image", &format!("{reference}:v1")])
        .ok()
        .json();
    assert_eq!(purls(&tagged), purls(&bom));
    home.run(&["sbom", "--image", &format!("{reference}:v2")])
        .fails_with(2, "no manifest is named \"v2\" (names: v1)");

    // One byte of a layer changed, its length kept: the digest check
    // refuses it, naming the layer.
    let mut bytes = std::fs::read(&first_layer).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&first_layer, &bytes).unwrap();
    let digest = first_layer
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    home.run(&["sbom", "--image", &reference]).fails_with(
        2,
        &format!("layer sha256:{digest} does not hash to its digest"),
    );

    // A layer gone: named before anything is read.
    std::fs::remove_file(&first_layer).unwrap();
    home.run(&["sbom", "--image", &reference])
        .fails_with(2, "is missing");

    // Not a layout at all.
    home.run(&[
        "sbom",
        "--image",
        &format!("oci-layout:{}", work.path().display()),
    ])
    .fails_with(2, "oci-layout");
}

/// Collect reads every image it carries and attaches the SBOM of its
/// layers as an OCI referrer (CycloneDX, next to the upstream's own
/// referrers); the generation's own SBOMs are carried as signed entries and
/// served at `/sbom/`; both cross the gap in the bundle, and collecting the
/// same image again writes no new SBOM bytes.
#[test]
fn collect_attaches_image_sboms_and_carries_the_generation_sbom() {
    let upstream = Home::new();
    let server = Server::start(&upstream);
    let manifest = push_image(&server, "amd64");
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    push_manifest(
        &server,
        "team/app",
        "1.0",
        "application/vnd.oci.image.manifest.v1+json",
        &manifest,
    );
    let connected = common::Connected::sample();
    let config = connected.work.path().join("images.toml");
    std::fs::write(
        &config,
        format!(
            "[[oci]]\nimage = \"{}/team/app:1.0\"\nplain_http = true\n",
            server.address
        ),
    )
    .unwrap();
    let collect = || {
        connected
            .home
            .run(&["--json", "collect", "--config", config.to_str().unwrap()])
            .ok()
            .json()
    };
    let first = collect();
    assert_eq!(first["image_sboms"], 1, "{first}");
    let sbom_entries = |home: &Home| -> Vec<String> {
        let store = airlift_store::Store::open_embedded(home.path()).unwrap();
        let current = store.meta.current().unwrap().unwrap();
        store
            .meta
            .entries(current.id, None)
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.ecosystem == "site" || e.meta["artifact_type"] == "application/vnd.cyclonedx+json"
            })
            .map(|e| format!("{} {} {}", e.ecosystem, e.key, e.digest))
            .collect()
    };
    let before = sbom_entries(&connected.home);
    assert_eq!(before.len(), 3, "{before:?}");
    let second = collect();
    assert_eq!(second["image_sboms"], 1);
    assert_eq!(
        sbom_entries(&connected.home),
        before,
        "collecting the same image again changed its SBOMs"
    );
    drop(server);

    let bundle = connected.pack("images.tar", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let inside = Server::start(&isolated);
    let get = |path: &str| {
        let (status, headers, body) = common::request(inside.address, "GET", path, &[], b"");
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        (headers, body)
    };

    // The image's referrers: airlift's SBOM, readable through the API.
    let (_, body) = get(&format!("/v2/team/app/referrers/{manifest_digest}"));
    let referrers: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let listed = referrers["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{referrers}");
    assert_eq!(listed[0]["artifactType"], "application/vnd.cyclonedx+json");
    assert!(
        listed[0]["annotations"]["dev.airlift.sbom.generator"].is_string(),
        "{referrers}"
    );
    let referrer = listed[0]["digest"].as_str().unwrap();
    let (_, body) = get(&format!("/v2/team/app/manifests/{referrer}"));
    let artifact: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(artifact["subject"]["digest"], manifest_digest.as_str());
    let layer = artifact["layers"][0]["digest"].as_str().unwrap();
    let (_, body) = get(&format!("/v2/team/app/blobs/{layer}"));
    let image_sbom: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(image_sbom["bomFormat"], "CycloneDX");
    let inside_image = purls(&image_sbom);
    assert!(
        inside_image
            .iter()
            .any(|p| p.starts_with("pkg:deb/debian/libssl3@")),
        "{inside_image:?}"
    );
    assert!(
        inside_image.contains(&"pkg:pypi/requests@2.31.0".to_owned()),
        "{inside_image:?}"
    );
    assert_eq!(
        image_sbom["metadata"]["component"]["version"],
        manifest_digest.as_str()
    );

    // The generation's SBOMs, carried and served.
    let (headers, body) = get("/sbom/cyclonedx.json");
    assert_eq!(headers["content-type"], "application/vnd.cyclonedx+json");
    let site: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let carried = purls(&site);
    // The image is a component; its referrers (the SBOM) are not.
    assert_eq!(
        carried,
        vec![format!(
            "pkg:oci/app@{}?repository_url=team%2Fapp",
            manifest_digest.replace(':', "%3A")
        )]
    );
    let (headers, body) = get("/sbom/spdx.json");
    assert_eq!(headers["content-type"], "application/spdx+json");
    let spdx: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let (_, body) = get("/sbom/");
    let listing = String::from_utf8(body).unwrap();
    assert!(listing.contains("cyclonedx.json"), "{listing}");
    let (status, _, _) = common::request(inside.address, "GET", "/sbom/other.json", &[], b"");
    assert_eq!(status, 404);
}
