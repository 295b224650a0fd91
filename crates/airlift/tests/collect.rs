//! Collect: verified downloads, retries, Range resume, no credentials in
//! output, strict configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{Behaviour, Home, Upstream, noise, sha256_hex, write_config};

fn blob_count(home: &Home) -> usize {
    let dir = home.path().join("store/blobs/sha256");
    match std::fs::read_dir(&dir) {
        Ok(shards) => shards
            .map(|s| std::fs::read_dir(s.unwrap().path()).unwrap().count())
            .sum(),
        Err(_) => 0,
    }
}

#[test]
fn content_that_does_not_match_the_declared_sha256_is_not_stored() {
    let good = noise(3, 10_000);
    let evil = noise(4, 10_000);
    let upstream = Upstream::start(HashMap::from([
        ("good".to_string(), Behaviour::Serve(good.clone())),
        ("evil".to_string(), Behaviour::Serve(evil.clone())),
    ]));
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let config = write_config(
        work.path(),
        &[
            (upstream.url("good"), Some(sha256_hex(&good)), "good.bin"),
            (upstream.url("evil"), Some(sha256_hex(&good)), "evil.bin"),
        ],
    );
    let run = home
        .run(&["collect", "--config", config.to_str().unwrap()])
        .fails_with(4, "content does not match the declared digest");
    assert!(
        run.stderr.contains(&sha256_hex(&evil)),
        "actual digest not named: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("evil.bin"),
        "path not named: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the index is unchanged"),
        "{}",
        run.stderr
    );
    // Only the good blob is stored; the mismatching one left nothing, not even a temporary.
    assert_eq!(blob_count(&home), 1);
    let tmp = std::fs::read_dir(home.path().join("store/tmp"))
        .unwrap()
        .count();
    assert_eq!(tmp, 0, "staged download left behind");
    // No generation was committed: packing has nothing to pack.
    home.run(&["keys", "init"]).ok();
    let out = work.path().join("b.tar");
    home.run(&["pack", "--out", out.to_str().unwrap()])
        .fails_with(2, "nothing to pack");
}

#[test]
fn an_interrupted_download_resumes_with_a_range_request() {
    let data = noise(5, 2_000_000);
    let upstream = Upstream::start(HashMap::from([(
        "big".to_string(),
        Behaviour::CutOnce(data.clone(), 700_000),
    )]));
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let config = write_config(
        work.path(),
        &[(upstream.url("big"), Some(sha256_hex(&data)), "big.bin")],
    );
    let run = home
        .run(&["--json", "collect", "--config", config.to_str().unwrap()])
        .ok();
    assert_eq!(run.json()["downloaded"], 1);
    let requests = upstream.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let range = requests[1].1.clone().expect("the retry did not resume");
    let offset: usize = range
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(offset > 0 && offset <= 700_000, "resumed at {offset}");
    // A second collect finds the blob already stored and downloads nothing.
    let run = home
        .run(&["--json", "collect", "--config", config.to_str().unwrap()])
        .ok();
    assert_eq!(run.json()["cached"], 1);
    assert_eq!(upstream.requests.lock().unwrap().len(), 2);
}

#[test]
fn server_errors_are_retried_then_reported() {
    let upstream = Upstream::start(HashMap::from([("down".to_string(), Behaviour::Fail)]));
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let config = write_config(work.path(), &[(upstream.url("down"), None, "down.bin")]);
    home.run(&["collect", "--config", config.to_str().unwrap()])
        .fails_with(4, "after 3 attempts");
    assert_eq!(upstream.requests.lock().unwrap().len(), 3);
}

#[test]
fn credentials_never_appear_in_output() {
    let upstream = Upstream::start(HashMap::new());
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let url = upstream.url_with_credentials("missing", "alice", "s3cr3t-pass");
    let config = write_config(work.path(), &[(url, None, "x.bin")]);
    let run = home
        .run(&["-v", "collect", "--config", config.to_str().unwrap()])
        .fails_with(4, "404");
    assert!(
        !run.stderr.contains("s3cr3t-pass") && !run.stdout.contains("s3cr3t-pass"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("alice"), "{}", run.stderr);
    // The credentials were sent as HTTP basic authentication.
    let requests = upstream.requests.lock().unwrap().clone();
    assert!(
        requests[0]
            .2
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic ")),
        "{requests:?}"
    );
}

#[test]
fn configuration_mistakes_name_file_line_and_key() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("airlift.toml");
    let cases = [
        (
            "[[files]]\nurl = \"https://files.example.com/a\"\nsha512 = \"00\"\n",
            "airlift.toml:3:",
            "sha512",
        ),
        ("[[files]]\nurl = 42\n", "airlift.toml:2:", "string"),
        ("[colect]\n", "airlift.toml:1:", "colect"),
        (
            "[[files]]\nurl = \"https://files.example.com/a\"\nsha256 = \"abc\"\n",
            "entry 1",
            "sha256",
        ),
        (
            "[[files]]\nurl = \"https://files.example.com/a\"\npath = \"../../etc/passwd\"\n",
            "entry 1",
            "'..'",
        ),
        (
            "[[files]]\nurl = \"https://files.example.com/a\"\n[[files]]\nurl = \"https://mirror.example.com/a\"\n",
            "entries 1 and 2",
            "\"a\"",
        ),
        (
            "[[files]]\nurl = \"ftp://files.example.com/a\"\n",
            "entry 1",
            "unsupported scheme",
        ),
    ];
    for (text, location, key) in cases {
        std::fs::write(&config, text).unwrap();
        let run = home.run(&["collect", "--config", config.to_str().unwrap()]);
        assert_ne!(run.code, 0, "accepted: {text}");
        assert!(
            run.stderr.contains(location),
            "{text:?}: no {location:?} in {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(key),
            "{text:?}: no {key:?} in {}",
            run.stderr
        );
    }
    home.run(&["collect", "--config", "/nonexistent/airlift.toml"])
        .fails_with(2, "/nonexistent/airlift.toml");
}

/// `file://host/path` used to pass the configuration check and fail only at
/// fetch time; it is refused before anything is fetched.
#[test]
fn a_file_url_with_a_host_is_refused_before_collecting() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let config = write_config(
        work.path(),
        &[(
            "file://fileserver.example.com/srv/tool.tgz".to_string(),
            None,
            "tool.tgz",
        )],
    );
    home.run(&["collect", "--config", config.to_str().unwrap()])
        .fails_with(2, "a file: URL must be a local path");
    assert_eq!(blob_count(&home), 0);
}

/// An empty airlift.toml collects nothing; packing and importing that
/// must not wipe a site that serves something. The import is refused
/// before anything changes, `plan` says it would be, and
/// `--allow-removals` lets an operator who means it go ahead.
#[test]
fn an_empty_bundle_does_not_wipe_a_site() {
    let first = common::Connected::sample();
    let bundle = first.pack("first", &[]);
    let isolated = first.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let before = isolated.snapshot();
    // The same connected home, now collecting from an empty configuration.
    let empty = first.work.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let collected = first
        .home
        .run(&["collect", "--config", empty.to_str().unwrap()])
        .ok();
    assert!(
        collected.stdout.contains("warning: generation") && collected.stdout.contains("drops"),
        "collect did not warn: {}",
        collected.stdout
    );
    let out = first.work.path().join("second");
    let packed = first
        .home
        .run_env(
            &["pack", "--out", out.to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", &common::epoch_plus(60))],
        )
        .ok();
    assert!(
        packed.stdout.contains("warning:"),
        "pack did not warn: {}",
        packed.stdout
    );
    let path = out.to_str().unwrap();
    let plan = isolated.run(&["--json", "plan", path]).ok();
    assert!(
        plan.json()["removals"]["refused"].is_string(),
        "{}",
        plan.stdout
    );
    isolated
        .run(&["import", path])
        .fails_with(3, "more than the 10% allowed");
    assert_eq!(
        isolated.snapshot(),
        before,
        "a refused import changed the store"
    );
    isolated.run(&["import", path, "--allow-removals"]).ok();
    assert_ne!(isolated.snapshot(), before);
}
