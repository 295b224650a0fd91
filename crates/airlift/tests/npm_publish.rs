//! `npm publish` into the registry under `/npm/`: what is accepted shows up
//! in the packument beside imported versions and installs; what does not
//! check out (integrity, names, size, a version published before) is
//! refused with nothing stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use airlift_core::Integrity;
use base64::Engine;
use common::{Home, Server};
use serde_json::{Value, json};

/// A small stand-in for a tarball (the registry stores it as bytes).
fn tarball(version: &str) -> Vec<u8> {
    format!("package contents of @corp/tool {version}").into_bytes()
}

fn sha512(bytes: &[u8]) -> String {
    let mut hasher = Integrity::Sha512([0; 64]).hasher();
    hasher.update(bytes);
    hasher.finish().to_sri()
}

fn sha1_hex(bytes: &[u8]) -> String {
    let mut hasher = Integrity::Sha1([0; 20]).hasher();
    hasher.update(bytes);
    match hasher.finish() {
        Integrity::Sha1(b) => b.iter().map(|b| format!("{b:02x}")).collect(),
        Integrity::Sha512(_) => unreachable!(),
    }
}

/// The document `npm publish` sends for `name@version` with `bytes`.
fn document(name: &str, version: &str, bytes: &[u8]) -> Value {
    let file = format!("{name}-{version}.tgz");
    json!({
        "_id": name,
        "name": name,
        "description": "a tool made inside",
        "dist-tags": {"latest": version},
        "versions": {
            version: {
                "name": name,
                "version": version,
                "main": "index.js",
                "readme": "# long readme",
                "dist": {
                    "integrity": sha512(bytes),
                    "shasum": sha1_hex(bytes),
                    "tarball": format!("http://elsewhere/npm/{name}/-/{file}"),
                },
            },
        },
        "access": null,
        "_attachments": {
            file: {
                "content_type": "application/octet-stream",
                "data": base64::engine::general_purpose::STANDARD.encode(bytes),
                "length": bytes.len(),
            },
        },
    })
}

fn put(server: &Server, path: &str, body: &Value) -> (u16, Value) {
    let (status, _, answer) = common::request(
        server.address,
        "PUT",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    (
        status,
        serde_json::from_slice(&answer).unwrap_or(Value::Null),
    )
}

fn packument(server: &Server, name: &str) -> (u16, Value) {
    let (status, _, body) = common::http(server.address, "GET", &format!("/npm/{name}"), &[]);
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

const TOOL: &str = "/npm/@corp%2ftool";

#[test]
fn a_published_version_is_served_with_its_tarball_and_audited() {
    let home = Home::new();
    let server = Server::start(&home);
    let bytes = tarball("1.0.0");
    let (status, answer) = put(&server, TOOL, &document("@corp/tool", "1.0.0", &bytes));
    assert_eq!(status, 201, "{answer}");

    let (status, doc) = packument(&server, "@corp%2ftool");
    assert_eq!(status, 200);
    assert_eq!(doc["dist-tags"]["latest"], "1.0.0");
    assert_eq!(doc["description"], "a tool made inside");
    let version = &doc["versions"]["1.0.0"];
    assert_eq!(version["dist"]["integrity"], sha512(&bytes));
    assert!(version.get("readme").is_none(), "{version}");
    let url = version["dist"]["tarball"].as_str().unwrap();
    assert_eq!(
        url,
        format!("http://{}/npm/@corp/tool/-/tool-1.0.0.tgz", server.address)
    );
    assert!(doc["time"]["1.0.0"].as_str().is_some(), "{doc}");
    let path = url.split_once(&server.address.to_string()).unwrap().1;
    let (status, _, got) = common::http(server.address, "GET", path, &[]);
    assert_eq!((status, got), (200, bytes));

    // A second version joins the first; latest moves.
    let (status, _) = put(
        &server,
        TOOL,
        &document("@corp/tool", "1.1.0", &tarball("1.1.0")),
    );
    assert_eq!(status, 201);
    let (_, doc) = packument(&server, "@corp/tool");
    assert_eq!(doc["dist-tags"]["latest"], "1.1.0");
    assert!(doc["versions"]["1.0.0"].is_object() && doc["versions"]["1.1.0"].is_object());

    // The audit log names who published.
    let export = home.run(&["--json", "audit", "export"]).ok().json();
    let text = export.to_string();
    assert!(text.contains("publish @corp/tool@1.1.0"), "{text}");
    assert!(text.contains("\"principal\":\"writer\""), "{text}");

    // whoami says who the token is.
    let (status, _, body) = common::http(server.address, "GET", "/npm/-/whoami", &[]);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["username"],
        "writer"
    );
}

#[test]
fn publishing_over_a_published_version_is_refused() {
    let home = Home::new();
    let server = Server::start(&home);
    let first = tarball("1.0.0");
    assert_eq!(
        put(&server, TOOL, &document("@corp/tool", "1.0.0", &first)).0,
        201
    );
    let other = b"different contents".to_vec();
    let (status, answer) = put(&server, TOOL, &document("@corp/tool", "1.0.0", &other));
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("cannot publish over the previously published version"),
        "{answer}"
    );
    let (_, _, got) = common::http(
        server.address,
        "GET",
        "/npm/@corp/tool/-/tool-1.0.0.tgz",
        &[],
    );
    assert_eq!(got, first, "the first tarball stays");
}

#[test]
fn a_tarball_that_does_not_match_its_digests_is_refused_and_nothing_is_stored() {
    let home = Home::new();
    let server = Server::start(&home);
    let bytes = tarball("1.0.0");
    let mut bad = document("@corp/tool", "1.0.0", &bytes);
    bad["versions"]["1.0.0"]["dist"]["integrity"] = sha512(b"something else").into();
    let (status, answer) = put(&server, TOOL, &bad);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("integrity mismatch"),
        "{answer}"
    );

    let mut bad = document("@corp/tool", "1.0.0", &bytes);
    bad["versions"]["1.0.0"]["dist"]["shasum"] = sha1_hex(b"something else").into();
    let (status, answer) = put(&server, TOOL, &bad);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("shasum mismatch")
    );

    let mut bad = document("@corp/tool", "1.0.0", &bytes);
    bad["versions"]["1.0.0"]["dist"] = json!({});
    let (status, answer) = put(&server, TOOL, &bad);
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("neither"));

    assert_eq!(packument(&server, "@corp/tool").0, 404);
}

#[test]
fn names_and_versions_must_agree_with_the_url_and_each_other() {
    let home = Home::new();
    let server = Server::start(&home);
    let bytes = tarball("1.0.0");
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/npm/@corp%2fother",
            document("@corp/tool", "1.0.0", &bytes),
            "the URL names",
        ),
        (
            "/npm/@corp%2ftool",
            {
                let mut d = document("@corp/tool", "1.0.0", &bytes);
                d["versions"]["1.0.0"]["name"] = "@corp/else".into();
                d
            },
            "names package \"@corp/else\"",
        ),
        (
            "/npm/@corp%2ftool",
            {
                let mut d = document("@corp/tool", "1.0.0", &bytes);
                d["versions"]["1.0.0"]["version"] = "2.0.0".into();
                d
            },
            "says version \"2.0.0\"",
        ),
        (
            "/npm/@corp%2ftool",
            {
                let mut d = document("@corp/tool", "1.0.0", &bytes);
                d["dist-tags"]["latest"] = "0.9.0".into();
                d
            },
            "dist-tag \"latest\" points at",
        ),
        (
            "/npm/@corp%2ftool",
            {
                let mut d = document("@corp/tool", "1.0.0", &bytes);
                d["_attachments"]["@corp/tool-1.0.0.tgz"]["length"] = 3.into();
                d
            },
            "decodes to",
        ),
    ];
    for (path, body, needle) in cases {
        let (status, answer) = put(&server, path, &body);
        assert_eq!(status, 400, "{path}: {answer}");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    assert_eq!(packument(&server, "@corp/tool").0, 404);
    assert_eq!(packument(&server, "@corp/other").0, 404);
}

/// Sends a PUT whose head says `head_extra` and whose body is `body`;
/// returns the status (the server may answer before reading the body).
fn raw_put(address: SocketAddr, auth: &str, head_extra: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "PUT {TOOL} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n{head_extra}\r\n"
    )
    .unwrap();
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn an_oversized_body_is_refused_with_413() {
    let home = Home::new();
    let server = Server::start(&home);
    // Said up front: refused before the body is read.
    let status = raw_put(
        server.address,
        &server.auth,
        &format!("Content-Length: {}\r\n", (64 << 20) + 1),
        b"",
    );
    assert_eq!(status, 413);
    // Not said (chunked): refused once the body passes the limit.
    let chunk = vec![b' '; 1 << 20];
    let mut body = Vec::new();
    for _ in 0..65 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let status = raw_put(
        server.address,
        &server.auth,
        "Transfer-Encoding: chunked\r\n",
        &body,
    );
    assert_eq!(status, 413);
    assert_eq!(packument(&server, "@corp/tool").0, 404);
}

#[test]
fn anonymous_callers_cannot_publish() {
    let home = Home::new();
    let server = Server::start(&home);
    let body = document("@corp/tool", "1.0.0", &tarball("1.0.0")).to_string();
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        TOOL,
        &[("Authorization", "")],
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    let (status, _, _) = common::http(
        server.address,
        "GET",
        "/npm/-/whoami",
        &[("Authorization", "")],
    );
    assert_eq!(status, 401);
    assert_eq!(packument(&server, "@corp/tool").0, 404);
}

/// `npm unpublish @corp/tool@1.0.0`: the packument without that version by
/// PUT, then a DELETE of its tarball under the path npm makes of its URL.
#[test]
fn unpublishing_a_version_removes_it_and_leaves_the_others() {
    let home = Home::new();
    let server = Server::start(&home);
    for version in ["1.0.0", "1.1.0"] {
        let body = document("@corp/tool", version, &tarball(version));
        assert_eq!(put(&server, TOOL, &body).0, 201);
    }
    let (_, mut doc) = packument(&server, "@corp/tool");
    doc["versions"].as_object_mut().unwrap().remove("1.0.0");
    let (status, answer) = put(&server, "/npm/@corp%2ftool/-rev/undefined", &doc);
    assert_eq!(status, 200, "{answer}");
    let (status, _, _) = common::request(
        server.address,
        "DELETE",
        "/npm/npm/@corp/tool/-/tool-1.0.0.tgz/-rev/undefined",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    let (_, doc) = packument(&server, "@corp/tool");
    assert!(doc["versions"]["1.0.0"].is_null(), "{doc}");
    assert!(doc["versions"]["1.1.0"].is_object(), "{doc}");
    let (status, _, _) = common::http(
        server.address,
        "GET",
        "/npm/@corp/tool/-/tool-1.0.0.tgz",
        &[],
    );
    assert_eq!(status, 404);

    // The whole package.
    let (status, _, _) = common::request(
        server.address,
        "DELETE",
        "/npm/@corp%2ftool/-rev/undefined",
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(packument(&server, "@corp/tool").0, 404);
}

/// A published version of a package that was collected (or imported)
/// joins the same packument, and both tarballs are served.
#[test]
fn a_published_version_joins_the_collected_versions_of_its_package() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = runtime.block_on(airlift_test_support::npm::Registry::serve(
        &[("fx-left", "1.0.0", json!({}))],
        &[],
        "",
    ));
    let home = Home::new();
    let config = home.path().join("npm.toml");
    std::fs::write(
        &config,
        format!("[npm]\nregistry = \"{base}/\"\npackages = [\"fx-left@1.0.0\"]\n"),
    )
    .unwrap();
    home.run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
    let server = Server::start(&home);
    let bytes = tarball("2.0.0");
    let (status, answer) = put(
        &server,
        "/npm/fx-left",
        &document("fx-left", "2.0.0", &bytes),
    );
    assert_eq!(status, 201, "{answer}");
    let (_, doc) = packument(&server, "fx-left");
    assert_eq!(doc["dist-tags"]["latest"], "2.0.0", "{doc}");
    for version in ["1.0.0", "2.0.0"] {
        let url = doc["versions"][version]["dist"]["tarball"]
            .as_str()
            .unwrap();
        let path = url.split_once(&server.address.to_string()).unwrap().1;
        let (status, _, _) = common::http(server.address, "GET", path, &[]);
        assert_eq!(status, 200, "{version}: {path}");
    }
    let (_, _, got) = common::http(
        server.address,
        "GET",
        "/npm/fx-left/-/fx-left-2.0.0.tgz",
        &[],
    );
    assert_eq!(got, bytes);
    // The collected version stays unpublishable over.
    let (status, _) = put(
        &server,
        "/npm/fx-left",
        &document("fx-left", "1.0.0", &bytes),
    );
    assert_eq!(status, 409);
}

/// `npm dist-tag add|ls|rm`: tags point at published versions only.
#[test]
fn dist_tags_are_added_listed_and_removed() {
    let home = Home::new();
    let server = Server::start(&home);
    for version in ["1.0.0", "1.1.0"] {
        let body = document("@corp/tool", version, &tarball(version));
        assert_eq!(put(&server, TOOL, &body).0, 201);
    }
    let tags = "/npm/-/package/@corp%2ftool/dist-tags";
    let (status, answer) = put(&server, &format!("{tags}/beta"), &json!("1.0.0"));
    assert_eq!(status, 200, "{answer}");
    let (status, _, body) = common::http(server.address, "GET", tags, &[]);
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!({"latest": "1.1.0", "beta": "1.0.0"})
    );
    assert_eq!(
        packument(&server, "@corp/tool").1["dist-tags"]["beta"],
        "1.0.0"
    );
    let (status, _) = put(&server, &format!("{tags}/beta"), &json!("9.9.9"));
    assert_eq!(status, 404);
    let (status, _) = put(&server, &format!("{tags}/1.x"), &json!("1.0.0"));
    assert_eq!(status, 400);
    let (status, _, _) =
        common::request(server.address, "DELETE", &format!("{tags}/beta"), &[], b"");
    assert_eq!(status, 200);
    assert!(packument(&server, "@corp/tool").1["dist-tags"]["beta"].is_null());
    let (status, _, _) =
        common::request(server.address, "DELETE", &format!("{tags}/beta"), &[], b"");
    assert_eq!(status, 404);
}
