//! The wanted list across the gap: the server counts reads of names it
//! does not carry (and fetches of those it does), the counts survive a
//! restart, `airlift receipt export` signs them into the receipt, and
//! `airlift wanted RECEIPT` on the connected side turns them into
//! `airlift.toml` lines. A tampered receipt is refused; a flood of made-up
//! names stays bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine as _;
use common::{Connected, Home, Server, http};

/// Stops the server as a service manager does (SIGTERM), so that it
/// flushes its counts, and waits for it to exit.
fn stop(mut server: Server) {
    let pid = server.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = server.child.wait().unwrap();
    assert!(exited.success(), "serve exited with {exited}");
}

fn get(server: &Server, path: &str) -> u16 {
    http(server.address, "GET", path, &[]).0
}

fn imported() -> (Connected, Home) {
    let connected = Connected::sample();
    let bundle = connected.pack("bundle", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    (connected, isolated)
}

fn export(isolated: &Home, name: &str) -> (std::path::PathBuf, serde_json::Value) {
    let out = isolated.path().join(name);
    let run = isolated
        .run(&[
            "--json",
            "receipt",
            "export",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
    (out, run.json())
}

#[test]
fn names_asked_for_inside_become_airlift_toml_lines_outside() {
    let (connected, isolated) = imported();
    let server = Server::start(&isolated);
    for path in [
        "/pypi/simple/nothere/",
        "/pypi/files/nothere/nothere-1.0.tar.gz",
        "/npm/nothere",
        "/v2/team/nothere/manifests/1.0",
        "/cargo/index/no/th/nothere",
        "/files/docs/missing.txt",
    ] {
        assert_eq!(get(&server, path), 404, "{path}");
    }
    assert_eq!(get(&server, "/files/docs/readme.txt"), 200);
    // A name longer than any package's is answered, and not kept.
    let long = format!("/npm/{}", "x".repeat(300));
    assert_eq!(get(&server, &long), 404);
    stop(server);
    // Counts survive the restart and add up.
    let server = Server::start(&isolated);
    assert_eq!(get(&server, "/pypi/simple/nothere/"), 404);
    let metrics = String::from_utf8(http(server.address, "GET", "/metrics", &[]).2).unwrap();
    assert!(
        metrics.contains("airlift_requests_for_missing_names_total{ecosystem=\"pypi\"} 1"),
        "{metrics}"
    );
    stop(server);

    let (receipt, exported) = export(&isolated, "receipt.json");
    assert_eq!(exported["wanted"], 5, "{exported:#}");
    // Carried and never fetched: the two other files.
    assert_eq!(exported["unused"], 2, "{exported:#}");
    assert!(exported["counted_since"].is_string(), "{exported:#}");

    // The connected side reads it; its own home needs nothing of the
    // isolated side but the receipt.
    let run = connected
        .home
        .run(&["--json", "wanted", receipt.to_str().unwrap()])
        .ok();
    let report = run.json();
    let wanted = report["wanted"].as_array().unwrap();
    assert_eq!(wanted.len(), 5, "{report:#}");
    assert_eq!(wanted[0]["ecosystem"], "pypi", "{report:#}");
    assert_eq!(wanted[0]["name"], "nothere");
    assert_eq!(wanted[0]["requests"], 3);
    let names: Vec<String> = wanted
        .iter()
        .map(|w| format!("{}:{}", w["ecosystem"], w["name"]).replace('"', ""))
        .collect();
    for expected in [
        "npm:nothere",
        "oci:team/nothere",
        "cargo:nothere",
        "files:docs/missing.txt",
    ] {
        assert!(names.contains(&expected.to_owned()), "{names:?}");
    }
    let unused: Vec<&str> = report["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(unused, ["empty.dat", "tools/big.bin"]);
    // Every snippet is TOML (commented lines included), and the tables
    // name what was asked for.
    let config = &report["config"];
    let pypi: toml::Table = toml::from_str(config["pypi"].as_str().unwrap()).unwrap();
    assert_eq!(pypi["pypi"]["packages"][0].as_str(), Some("nothere"));
    let npm: toml::Table = toml::from_str(config["npm"].as_str().unwrap()).unwrap();
    assert_eq!(npm["npm"]["packages"][0].as_str(), Some("nothere"));
    let cargo: toml::Table = toml::from_str(config["cargo"].as_str().unwrap()).unwrap();
    assert_eq!(cargo["cargo"]["crates"][0].as_str(), Some("nothere"));
    for commented in ["oci", "files"] {
        let text = config[commented].as_str().unwrap();
        let parsed: toml::Table = toml::from_str(text).unwrap();
        assert!(parsed.is_empty(), "{commented}: {text}");
    }
    assert!(
        config["oci"]
            .as_str()
            .unwrap()
            .contains("# image = \"<registry>/team/nothere:<tag>\""),
        "{config:#}"
    );

    // And for people: per ecosystem, the requests and the lines.
    let human = connected
        .home
        .run(&["wanted", receipt.to_str().unwrap()])
        .ok()
        .stdout;
    for needle in [
        "pypi: 1 name, 3 requests",
        "[pypi]\npackages = [\n    \"nothere\",\n]",
        "[npm]",
        "# [[oci]]",
        "files: 2 carried names not fetched",
    ] {
        assert!(human.contains(needle), "{needle:?} in\n{human}");
    }
}

#[test]
fn a_tampered_receipt_is_refused() {
    let (connected, isolated) = imported();
    let server = Server::start(&isolated);
    assert_eq!(get(&server, "/pypi/simple/nothere/"), 404);
    stop(server);
    let (receipt, _) = export(&isolated, "receipt.json");
    // Someone on the way adds a name to the signed payload.
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut payload: serde_json::Value = serde_json::from_slice(
        &engine
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    payload["wanted"][0]["name"] = "evil".into();
    envelope["payload"] = engine.encode(payload.to_string()).into();
    let tampered = isolated.path().join("tampered.json");
    std::fs::write(&tampered, envelope.to_string()).unwrap();
    connected
        .home
        .run(&["wanted", tampered.to_str().unwrap()])
        .fails_with(2, "the signature does not verify");
    // The genuine one still reads.
    connected
        .home
        .run(&["wanted", receipt.to_str().unwrap()])
        .ok();
}

/// Sends `paths` as GETs pipelined on one connection and reads every
/// answer, so that a flood takes seconds, not a connection each.
fn flood(server: &Server, paths: Vec<String>) {
    let mut stream = TcpStream::connect(server.address).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let host = server.address.to_string();
    let auth = server.auth.clone();
    let count = paths.len();
    let sender = std::thread::spawn(move || {
        let mut batch = String::new();
        for (i, path) in paths.iter().enumerate() {
            let close = if i + 1 == count {
                "Connection: close\r\n"
            } else {
                ""
            };
            batch.push_str(&format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n{close}\r\n"
            ));
            if batch.len() > 1 << 16 {
                writer.write_all(batch.as_bytes()).unwrap();
                batch.clear();
            }
        }
        writer.write_all(batch.as_bytes()).unwrap();
    });
    let mut answers = Vec::new();
    stream.read_to_end(&mut answers).unwrap();
    sender.join().unwrap();
    let text = String::from_utf8_lossy(&answers);
    assert_eq!(text.matches("HTTP/1.1 404").count(), count);
}

#[test]
fn a_flood_of_made_up_names_stays_bounded() {
    let (_connected, isolated) = imported();
    let server = Server::start(&isolated);
    for _ in 0..3 {
        assert_eq!(get(&server, "/pypi/simple/really-wanted/"), 404);
    }
    flood(
        &server,
        (0..100_000)
            .map(|i| format!("/pypi/simple/junk-{i}/"))
            .collect(),
    );
    stop(server);
    let store = airlift_store::Store::open_embedded(isolated.path()).unwrap();
    let records = store.meta.records("consumption").unwrap();
    let (_, pypi) = records.iter().find(|(name, _)| name == "pypi").unwrap();
    let record: serde_json::Value = serde_json::from_str(pypi).unwrap();
    let kept = record["wanted"].as_object().unwrap();
    assert!(kept.len() <= 10_000, "{} names kept", kept.len());
    assert_eq!(kept["really-wanted"]["requests"], 3);
    let kept_requests: u64 = kept.values().map(|c| c["requests"].as_u64().unwrap()).sum();
    assert_eq!(
        kept_requests + record["wanted_overflow"].as_u64().unwrap(),
        100_003
    );
    assert!(pypi.len() < 1 << 20, "{} bytes", pypi.len());
    drop(store);
    // The receipt carries the most asked for first, capped.
    let (receipt, exported) = export(&isolated, "receipt.json");
    assert_eq!(exported["wanted"], 1000, "{exported:#}");
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    let payload: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["wanted"][0]["name"], "really-wanted");
}
