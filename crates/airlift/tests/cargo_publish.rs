//! The cargo registry web API: `cargo publish` (`PUT
//! /cargo/api/v1/crates/new`), yank and unyank, owners. What is published
//! is served next to imported crates; each kind of bad publish is refused
//! in the API's error shape with nothing stored.

mod common;

use common::{Home, Server};

/// A publish body: length-prefixed metadata, length-prefixed `.crate`.
fn body(metadata: &serde_json::Value, krate: &[u8]) -> Vec<u8> {
    let json = metadata.to_string();
    let mut out = Vec::new();
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(&(krate.len() as u32).to_le_bytes());
    out.extend_from_slice(krate);
    out
}

fn metadata(name: &str, vers: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "vers": vers,
        "deps": [{
            "name": "fx-core", "version_req": "^0.3", "features": ["extra"],
            "optional": false, "default_features": true, "target": null,
            "kind": "normal", "registry": null, "explicit_name_in_toml": "core2"
        }],
        "features": {"default": [], "json": ["dep:core2"]},
        "authors": ["someone"], "description": "a crate", "license": "MIT",
        "keywords": [], "categories": [], "badges": {}, "links": null
    })
}

fn send(
    server: &Server,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let mut headers = vec![];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    let (status, _, body) = common::request(server.address, method, path, &headers, body);
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, json)
}

fn index_lines(server: &Server, path: &str) -> (u16, Vec<serde_json::Value>) {
    let (status, _, body) =
        common::http(server.address, "GET", &format!("/cargo/index/{path}"), &[]);
    let lines = String::from_utf8_lossy(&body)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (status, lines)
}

fn detail(json: &serde_json::Value) -> String {
    json["errors"][0]["detail"]
        .as_str()
        .map_or_else(|| json.to_string(), str::to_owned)
}

/// A publish is served as an index line built from its metadata with the
/// `.crate`'s checksum, and downloads; the same version again (even with
/// other build metadata) is refused; yank and unyank flip `yanked`; the
/// owners are who published.
#[test]
fn published_crates_are_served_yanked_and_never_replaced() {
    let home = Home::new();
    let server = Server::start(&home);
    let krate = b"pretend this is a gzipped tarball".to_vec();
    let (status, json) = send(
        &server,
        "PUT",
        "/cargo/api/v1/crates/new",
        None,
        &body(&metadata("corp-util", "0.1.0"), &krate),
    );
    assert_eq!(status, 200, "{json}");
    assert!(json["warnings"].is_object(), "{json}");

    let (status, lines) = index_lines(&server, "co/rp/corp-util");
    assert_eq!(status, 200);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["name"], "corp-util");
    assert_eq!(line["vers"], "0.1.0");
    assert_eq!(line["cksum"], airlift_core::Digest::of(&krate).hex());
    assert_eq!(line["yanked"], false);
    assert_eq!(line["deps"][0]["name"], "core2");
    assert_eq!(line["deps"][0]["package"], "fx-core");
    assert_eq!(line["deps"][0]["req"], "^0.3");
    assert_eq!(line["features"], serde_json::json!({"default": []}));
    assert_eq!(
        line["features2"],
        serde_json::json!({"json": ["dep:core2"]})
    );

    let (status, _, downloaded) = common::http(
        server.address,
        "GET",
        "/cargo/api/v1/crates/corp-util/0.1.0/download",
        &[],
    );
    assert_eq!((status, downloaded), (200, krate.clone()));

    // The licence the publish metadata states is the crate's in an SBOM.
    let run = home.run(&["sbom"]).ok();
    let bom: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let published = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == "cargo:c:corp-util/0.1.0")
        .unwrap_or_else(|| panic!("{bom:#}"));
    assert_eq!(
        published["licenses"],
        serde_json::json!([{"license": {"name": "MIT"}}])
    );

    for vers in ["0.1.0", "0.1.0+other-build"] {
        let (status, json) = send(
            &server,
            "PUT",
            "/cargo/api/v1/crates/new",
            None,
            &body(&metadata("corp-util", vers), b"other bytes"),
        );
        assert_eq!(status, 400, "{vers}: {json}");
        assert!(detail(&json).contains("is already uploaded"), "{json}");
    }
    let (_, lines) = index_lines(&server, "co/rp/corp-util");
    assert_eq!(lines.len(), 1, "{lines:?}");

    let (status, json) = send(
        &server,
        "DELETE",
        "/cargo/api/v1/crates/corp-util/0.1.0/yank",
        None,
        b"",
    );
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["ok"], true);
    let (_, lines) = index_lines(&server, "co/rp/corp-util");
    assert_eq!(lines[0]["yanked"], true, "{lines:?}");
    assert_eq!(lines[0]["cksum"], airlift_core::Digest::of(&krate).hex());
    let (status, json) = send(
        &server,
        "PUT",
        "/cargo/api/v1/crates/corp-util/0.1.0/unyank",
        None,
        b"",
    );
    assert_eq!(status, 200, "{json}");
    let (_, lines) = index_lines(&server, "co/rp/corp-util");
    assert_eq!(lines[0]["yanked"], false, "{lines:?}");
    let (status, json) = send(
        &server,
        "DELETE",
        "/cargo/api/v1/crates/corp-util/9.9.9/yank",
        None,
        b"",
    );
    assert_eq!(status, 404, "{json}");
    assert!(json["errors"][0]["detail"].is_string(), "{json}");

    let (status, json) = send(
        &server,
        "GET",
        "/cargo/api/v1/crates/corp-util/owners",
        None,
        b"",
    );
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["users"][0]["login"], "writer", "{json}");
    let (status, json) = send(
        &server,
        "PUT",
        "/cargo/api/v1/crates/corp-util/owners",
        None,
        br#"{"users":["someone"]}"#,
    );
    assert_eq!(status, 200, "{json}");
    assert!(
        json["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("access rules"),
        "{json}"
    );
}

/// Each bad publish is refused with the API's error shape, and leaves no
/// index file behind.
#[test]
fn bad_publishes_are_refused_with_nothing_stored() {
    let home = Home::new();
    let server = Server::start(&home);
    let good = body(&metadata("corp-util", "0.1.0"), b"bytes");
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"more");
    let mut bad_dep = metadata("corp-util", "0.1.0");
    bad_dep["deps"][0]["version_req"] = "not a requirement".into();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "an invalid name",
            body(&metadata("corp/util", "0.1.0"), b"x"),
            400,
            "not a valid crate name",
        ),
        (
            "an invalid version",
            body(&metadata("corp-util", "one"), b"x"),
            400,
            "version \"one\"",
        ),
        (
            "an invalid dependency",
            body(&bad_dep, b"x"),
            400,
            "is not valid",
        ),
        (
            "metadata that is not JSON",
            {
                let mut b = 3u32.to_le_bytes().to_vec();
                b.extend_from_slice(b"{{{");
                b
            },
            400,
            "metadata is not valid",
        ),
        (
            "metadata larger than the limit",
            (64u32 << 20).to_le_bytes().to_vec(),
            413,
            "larger than",
        ),
        (
            "a body cut inside the metadata",
            good[..20].to_vec(),
            400,
            "ends inside the metadata",
        ),
        (
            "a body cut inside the .crate",
            good[..good.len() - 2].to_vec(),
            400,
            "before the end of the .crate",
        ),
        (
            "a body that goes on after the .crate",
            trailing,
            400,
            "goes on after",
        ),
        (
            "an empty .crate",
            body(&metadata("corp-util", "0.1.0"), b""),
            400,
            "is empty",
        ),
        ("no body", Vec::new(), 400, "ends before the length"),
    ];
    for (what, bytes, expected, needle) in cases {
        let (status, json) = send(&server, "PUT", "/cargo/api/v1/crates/new", None, &bytes);
        assert_eq!(status, expected, "{what}: {json}");
        assert!(detail(&json).contains(needle), "{what}: {json}");
    }
    let (status, lines) = index_lines(&server, "co/rp/corp-util");
    assert_eq!((status, lines.len()), (404, 0));
    // The .crate cut short was never committed as a blob.
    let cut = airlift_core::Digest::of(b"byt").hex();
    assert!(
        !contains_file(home.path(), &cut),
        "a blob of the cut .crate was stored"
    );
}

/// Whether a file named `name` is anywhere under `dir`.
fn contains_file(dir: &std::path::Path, name: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let path = e.path();
            if path.is_dir() {
                contains_file(&path, name)
            } else {
                e.file_name().to_string_lossy() == name
            }
        })
}

/// The path names no crate, so the server lets any writer reach the
/// handler; the handler asks about the crate in the metadata. A writer of
/// every crate may publish only under the hosted `corp-*`, and a reader
/// may not publish or yank at all.
#[test]
fn the_crate_in_the_metadata_is_authorized() {
    let home = Home::new();
    std::fs::write(
        home.path().join("access.toml"),
        "[[rule]]\nread = [\"authenticated\"]\n\n[[rule]]\necosystems = [\"cargo\"]\nwrite = [\"writer\"]\n\n[[hosted]]\necosystems = [\"cargo\"]\nnames = [\"corp-*\"]\n",
    )
    .unwrap();
    home.run(&["user", "add", "reader"]).ok();
    let made = home
        .run(&["--json", "token", "create", "read", "--user", "reader"])
        .ok()
        .json();
    let reader = made["secret"].as_str().unwrap().to_owned();
    let server = Server::start(&home);

    let (status, json) = send(
        &server,
        "PUT",
        "/cargo/api/v1/crates/new",
        None,
        &body(&metadata("other-util", "0.1.0"), b"bytes"),
    );
    assert_eq!(status, 403, "{json}");
    assert!(json["errors"][0]["detail"].is_string(), "{json}");
    let (status, json) = send(
        &server,
        "PUT",
        "/cargo/api/v1/crates/new",
        Some(&reader),
        &body(&metadata("corp-util", "0.1.0"), b"bytes"),
    );
    assert_eq!(status, 403, "{json}");
    let (status, json) = send(
        &server,
        "PUT",
        "/cargo/api/v1/crates/new",
        None,
        &body(&metadata("corp-util", "0.1.0"), b"bytes"),
    );
    assert_eq!(status, 200, "{json}");
    let (status, json) = send(
        &server,
        "DELETE",
        "/cargo/api/v1/crates/corp-util/0.1.0/yank",
        Some(&reader),
        b"",
    );
    assert_eq!(status, 403, "{json}");
    let (status, _, _) = common::http(
        server.address,
        "GET",
        "/cargo/index/ot/he/other-util",
        &[("Authorization", &reader)],
    );
    assert_eq!(status, 404);
}

/// On a site that hosts `corp-*`, a published crate is hosted content: a
/// newer bundle imports without `--allow-removals`, and the crate's index
/// line and download stay.
#[test]
fn crates_published_under_hosted_names_survive_imports() {
    let connected = common::Connected::sample();
    let isolated = connected.hosting_site("cargo", "corp-*");
    let krate = b"a crate published inside the gap".to_vec();
    {
        let server = Server::start(&isolated);
        let (status, answer) = send(
            &server,
            "PUT",
            "/cargo/api/v1/crates/new",
            None,
            &body(&metadata("corp-util", "0.1.0"), &krate),
        );
        assert_eq!(status, 200, "{answer}");
    }
    let second = connected.pack_newer("second");
    isolated.run(&["import", second.to_str().unwrap()]).ok();
    let server = Server::start(&isolated);
    let (status, lines) = index_lines(&server, "co/rp/corp-util");
    assert_eq!(status, 200);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (status, _, served) = common::http(
        server.address,
        "GET",
        "/cargo/api/v1/crates/corp-util/0.1.0/download",
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(served, krate);
}
