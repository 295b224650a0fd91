//! The whole path, end to end: collect from a loopback upstream, pack in every
//! form, import on a second home, serve, and read every file back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Connected, Server, http, sha256_hex};

fn serve_and_compare(connected: &Connected, isolated: &common::Home) {
    let server = Server::start(isolated);
    for (path, data) in &connected.files {
        let (status, headers, body) = http(server.address, "GET", &format!("/files/{path}"), &[]);
        assert_eq!(status, 200, "GET {path}");
        assert_eq!(sha256_hex(&body), sha256_hex(data), "content of {path}");
        assert_eq!(headers["content-length"], data.len().to_string());
        assert_eq!(headers["etag"], format!("\"{}\"", sha256_hex(data)));
    }
}

#[test]
fn every_bundle_form_round_trips_and_serves_the_same_bytes() {
    let connected = Connected::sample();
    for (name, extra) in [
        ("bundle-dir", vec![]),
        ("bundle.tar", vec![]),
        ("bundle.tar.zst", vec![]),
        ("split.tar.zst", vec!["--max-part-size", "64K"]),
    ] {
        let bundle = connected.pack(name, &extra);
        let target = if extra.is_empty() {
            bundle.clone()
        } else {
            let toc = connected.work.path().join(format!("{name}.toc.json"));
            assert!(toc.is_file(), "no table of contents for {name}");
            let parts = std::fs::read_dir(connected.work.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{name}.part-"))
                })
                .count();
            assert!(parts >= 2, "{name} was not split ({parts} parts)");
            toc
        };
        connected
            .home
            .run(&[
                "verify",
                target.to_str().unwrap(),
                "--trust",
                connected.home.root().to_str().unwrap(),
            ])
            .ok();
        let isolated = connected.isolated();
        let imported = isolated
            .run(&["--json", "import", target.to_str().unwrap()])
            .ok();
        assert_eq!(imported.json()["status"], "imported", "{name}");
        isolated.snapshot();
        serve_and_compare(&connected, &isolated);
        let again = isolated.run(&["import", target.to_str().unwrap()]).ok();
        assert!(
            again.stdout.contains("already imported"),
            "{}",
            again.stdout
        );
    }
}

#[test]
fn same_store_keys_and_clock_give_byte_identical_bundles() {
    let connected = Connected::sample();
    for name in ["a.tar.zst", "b.tar.zst"] {
        connected.pack(name, &[]);
    }
    let a = std::fs::read(connected.work.path().join("a.tar.zst")).unwrap();
    let b = std::fs::read(connected.work.path().join("b.tar.zst")).unwrap();
    assert!(a == b, "two packs of the same store differ");
    connected.pack("c.tar", &[]);
    connected.pack("d.tar", &[]);
    let c = std::fs::read(connected.work.path().join("c.tar")).unwrap();
    let d = std::fs::read(connected.work.path().join("d.tar")).unwrap();
    assert!(c == d, "two tar packs of the same store differ");
}

#[test]
fn plan_shows_additions_changes_and_removals() {
    let connected = Connected::sample();
    let first = connected.pack("one.tar", &[]);
    let isolated = connected.isolated();
    let plan = isolated
        .run(&["--json", "plan", first.to_str().unwrap()])
        .ok()
        .json();
    // Three files and the generation's two SBOMs.
    assert_eq!(plan["added"].as_array().unwrap().len(), 5);
    isolated.run(&["import", first.to_str().unwrap()]).ok();

    // Change one file, drop one, add one on the connected side.
    let changed = common::noise(9, 1000);
    let added = b"new".to_vec();
    let work = tempfile::tempdir().unwrap();
    let upstream = common::Upstream::start(
        [
            ("big".to_string(), common::Behaviour::Serve(changed.clone())),
            (
                "readme".to_string(),
                common::Behaviour::Serve(connected.files[1].1.clone()),
            ),
            ("new".to_string(), common::Behaviour::Serve(added.clone())),
        ]
        .into_iter()
        .collect(),
    );
    let config = common::write_config(
        work.path(),
        &[
            (upstream.url("big"), None, "tools/big.bin"),
            (upstream.url("readme"), None, "docs/readme.txt"),
            (upstream.url("new"), None, "new.txt"),
        ],
    );
    connected
        .home
        .run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
    let second = connected.work.path().join("two.tar");
    connected
        .home
        .run_env(
            &["pack", "--out", second.to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", &common::epoch_plus(100))],
        )
        .ok();
    let plan = isolated
        .run(&["--json", "plan", second.to_str().unwrap()])
        .ok()
        .json();
    let keys = |field: &str| -> Vec<String> {
        plan[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys("added"), vec!["new.txt"]);
    // The generation's SBOMs change with the files they list.
    assert_eq!(
        keys("changed"),
        vec!["tools/big.bin", "sbom/cyclonedx.json", "sbom/spdx.json"]
    );
    assert_eq!(keys("removed"), vec!["empty.dat"]);
    assert_eq!(plan["unchanged"], 1);
    // One of five entries removed is over the 10% an import removes
    // unasked: plan says so, and a higher limit lets it through.
    assert_eq!(plan["removals"]["removed"], 1);
    assert!(plan["removals"]["refused"].is_string(), "{plan}");
    // Planning changed nothing; importing does.
    let before = isolated.snapshot();
    assert_eq!(before, isolated.snapshot());
    isolated
        .run(&["import", second.to_str().unwrap()])
        .fails_with(3, "it would remove 1 of the 5 entries served now (20%)");
    assert_eq!(before, isolated.snapshot());
    isolated
        .run(&["import", second.to_str().unwrap(), "--max-removals", "50"])
        .ok();
    let server = Server::start(&isolated);
    let (status, _, body) = http(server.address, "GET", "/files/tools/big.bin", &[]);
    assert_eq!((status, body), (200, changed));
    let (status, _, _) = http(server.address, "GET", "/files/empty.dat", &[]);
    assert_eq!(status, 404, "a removed file is still served");
}

#[test]
fn http_validators_and_ranges() {
    let connected = Connected::sample();
    let bundle = connected.pack("b.tar", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let server = Server::start(&isolated);
    let data = &connected.files[0].1;
    let etag = format!("\"{}\"", sha256_hex(data));

    let (status, headers, body) = http(
        server.address,
        "GET",
        "/files/tools/big.bin",
        &[("Range", "bytes=100-199")],
    );
    assert_eq!(status, 206);
    assert_eq!(body, data[100..200].to_vec());
    assert_eq!(
        headers["content-range"],
        format!("bytes 100-199/{}", data.len())
    );

    let (status, _, body) = http(
        server.address,
        "GET",
        "/files/tools/big.bin",
        &[("Range", "bytes=-10")],
    );
    assert_eq!((status, body), (206, data[data.len() - 10..].to_vec()));

    let (status, headers, _) = http(
        server.address,
        "GET",
        "/files/tools/big.bin",
        &[("Range", "bytes=999999999-")],
    );
    assert_eq!(status, 416);
    assert_eq!(headers["content-range"], format!("bytes */{}", data.len()));

    let (status, _, body) = http(
        server.address,
        "GET",
        "/files/tools/big.bin",
        &[("If-None-Match", &etag)],
    );
    assert_eq!((status, body.len()), (304, 0));

    let (status, _, body) = http(
        server.address,
        "GET",
        "/files/tools/big.bin",
        &[("Range", "bytes=0-9"), ("If-Range", "\"0000\"")],
    );
    assert_eq!(
        (status, body.len()),
        (200, data.len()),
        "If-Range mismatch must give the whole file"
    );

    let (status, headers, _) = http(server.address, "GET", "/files/tools/big.bin", &[]);
    assert_eq!(status, 200);
    let (status, _, _) = http(
        server.address,
        "GET",
        "/files/tools/big.bin",
        &[("If-Modified-Since", &headers["last-modified"])],
    );
    assert_eq!(status, 304);

    let (status, headers, body) = http(server.address, "HEAD", "/files/tools/big.bin", &[]);
    assert_eq!((status, body.len()), (200, 0));
    assert_eq!(headers["content-length"], data.len().to_string());

    for missing in [
        "/files/nope",
        "/files/../etc/passwd",
        "/files/tools/../tools/big.bin",
    ] {
        let (status, _, _) = http(server.address, "GET", missing, &[]);
        assert_eq!(status, 404, "{missing}");
    }

    let (status, _, body) = http(server.address, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    for metric in [
        "airlift_http_requests_total{route=\"files\",status=\"206\"}",
        "airlift_http_response_bytes_total{route=\"files\"}",
        "airlift_http_request_duration_seconds_count{route=\"files\",class=\"2xx\"}",
        "airlift_http_request_duration_seconds_bucket{le=\"60.0\",route=\"files\",class=\"2xx\"}",
        // Three files and the generation's two SBOMs.
        "airlift_store_blobs 5",
        "airlift_generation 1",
        "airlift_last_import_timestamp_seconds",
    ] {
        assert!(text.contains(metric), "metrics lack {metric}:\n{text}");
    }
    assert_eq!(http(server.address, "GET", "/healthz", &[]).0, 200);
    assert_eq!(http(server.address, "GET", "/readyz", &[]).0, 200);
}

/// `airlift plan … | head` closed the pipe early and airlift panicked;
/// it now ends quietly, like `cat`.
#[test]
fn a_closed_pipe_ends_quietly() {
    let connected = Connected::sample();
    let bundle = connected.pack("b.tar", &[]);
    let isolated = connected.isolated();
    let mut child = isolated
        .command(&["--json", "plan", bundle.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

/// Another tool's name for a flag gets a tip naming airlift's.
#[test]
fn an_unknown_flag_names_the_real_one() {
    let home = common::Home::new();
    home.run(&["client-config", "pip", "--server", "http://example.com"])
        .fails_with(2, "airlift calls it '--url'");
}

/// The roots of each ecosystem's routes answered an empty 404; they now
/// say what is served there and how to use it.
#[test]
fn ecosystem_roots_say_what_they_serve() {
    let connected = Connected::sample();
    let bundle = connected.pack("b.tar", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let server = Server::start(&isolated);
    let get = |path: &str| {
        let (status, _, body) = http(server.address, "GET", path, &[]);
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    let (status, body) = get("/files/");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("3 files are served") && body.contains("tools/big.bin 300000"),
        "{body}"
    );
    let (status, body) = get("/npm/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"doc_count\":0"), "{body}");
    let (status, body) = get("/cargo/index/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("cargo sparse registry"), "{body}");
    let (status, body) = get("/apt/");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/apt/airlift.asc"), "{body}");
    let (status, body) = get("/");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("<td>Plain files</td><td><a href=\"/files/\">/files/</a></td><td>3</td>")
            && body.contains("airlift client-config cargo"),
        "{body}"
    );
}

/// `serve --help` offered `--json` and it did nothing; with it, serve says
/// where it listens as one JSON line on stdout.
#[test]
fn serve_json_says_where_it_listens() {
    use std::io::BufRead as _;
    let home = common::Home::new();
    let mut child = home
        .command(&["--json", "serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    let url = value["listening"].as_str().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
}

/// `--log-format json`: every request gets an id (the client's
/// `X-Request-Id` when it is a plain token, else a new one), answered in
/// `X-Request-Id` and carried by the request's access log line, one JSON
/// object a line on stderr.
#[test]
fn json_logs_carry_each_requests_id() {
    use std::io::BufRead as _;
    let connected = Connected::sample();
    let mut child = connected
        .home
        .command(&["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .env("AIRLIFT_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let address: std::net::SocketAddr = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.strip_prefix("airlift serving on http://") {
            break rest.trim().parse().unwrap();
        }
    };
    let (status, headers, _) = http(
        address,
        "GET",
        "/files/docs/readme.txt",
        &[("X-Request-Id", "proxy-7.a_b")],
    );
    assert_eq!(status, 200);
    assert_eq!(headers["x-request-id"], "proxy-7.a_b");
    let (status, headers, _) = http(
        address,
        "GET",
        "/files/nothere",
        &[("X-Request-Id", "not a token!")],
    );
    assert_eq!(status, 404);
    let generated = headers["x-request-id"].clone();
    assert!(
        generated.len() == 16 && generated.bytes().all(|b| b.is_ascii_hexdigit()),
        "{generated}"
    );
    let _ = child.kill();
    let _ = child.wait();
    let mut answered = Vec::new();
    for line in lines {
        let line = line.unwrap();
        let Ok(object) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if object["message"] == "answered" {
            answered.push(object);
        }
    }
    let find = |id: &str| {
        answered
            .iter()
            .find(|o| o["span"]["id"] == id)
            .unwrap_or_else(|| panic!("no access line with id {id}: {answered:#?}"))
            .clone()
    };
    let first = find("proxy-7.a_b");
    assert_eq!(first["status"], 200);
    assert_eq!(first["span"]["path"], "/files/docs/readme.txt");
    assert_eq!(first["span"]["method"], "GET");
    assert_eq!(first["target"], "airlift::access");
    let second = find(&generated);
    assert_eq!(second["status"], 404);
}
