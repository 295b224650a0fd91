//! The client against a repository written by airlift's own metadata
//! writer and served on loopback, so that CI exercises the glue even though
//! it cannot run the conformance suite itself.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use airlift_core::Digest;
use airlift_trust::{SiteKeys, TargetInfo, TufTimes};

/// Serves the files under `root` over HTTP/1.1 on loopback, one connection
/// at a time, until the test ends. Missing files get 404.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = request
                .split(' ')
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            let response = match std::fs::read(root.join(path)) {
                Ok(body) => {
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    head.extend_from_slice(&body);
                    head
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    format!("http://{address}")
}

fn client(metadata_dir: &Path, args: &[&str]) -> bool {
    Command::new(env!("CARGO_BIN_EXE_airlift-tuf-client"))
        .arg("--metadata-dir")
        .arg(metadata_dir)
        .args(args)
        .status()
        .expect("run airlift-tuf-client")
        .success()
}

#[test]
fn refreshes_downloads_and_refuses_tampering() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let now = jiff::Timestamp::now();
    let keys = SiteKeys::init(&dir.path().join("keys"), now, 365).expect("site keys");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("metadata")).expect("metadata dir");
    std::fs::create_dir_all(repo.join("targets/dir")).expect("targets dir");
    let root = std::fs::read(keys.root_path(1)).expect("root");
    std::fs::write(repo.join("metadata/1.root.json"), &root).expect("write root");
    let content = b"hello from the connected side";
    std::fs::write(repo.join("targets/dir/hello.txt"), content).expect("write target");
    let targets = BTreeMap::from([(
        "dir/hello.txt".to_owned(),
        TargetInfo {
            length: content.len() as u64,
            sha256: Digest::of(content),
            custom: serde_json::Value::Null,
        },
    )]);
    let expires = now
        .checked_add(jiff::SignedDuration::from_hours(24))
        .expect("expiry");
    let times = TufTimes {
        version: 1,
        timestamp_expires: expires,
        targets_expires: expires,
    };
    let signer = keys.signers_for("targets").expect("signer")[0];
    let set = airlift_trust::metadata::build(&targets, times, signer).expect("metadata");
    for (name, bytes) in [
        ("targets.json", &set.targets),
        ("snapshot.json", &set.snapshot),
        ("timestamp.json", &set.timestamp),
    ] {
        std::fs::write(repo.join("metadata").join(name), bytes).expect("write metadata");
    }
    let base = serve(repo.clone());
    let metadata_url = format!("{base}/metadata/");
    let targets_url = format!("{base}/targets/");

    let trusted = dir.path().join("trusted");
    let root_file = dir.path().join("initial_root.json");
    std::fs::write(&root_file, &root).expect("write initial root");
    assert!(client(
        &trusted,
        &["init", root_file.to_str().expect("utf-8 path")]
    ));
    assert!(client(
        &trusted,
        &["--metadata-url", &metadata_url, "refresh"]
    ));
    assert_eq!(
        std::fs::read(trusted.join("timestamp.json")).expect("trusted timestamp"),
        set.timestamp,
        "the client keeps the raw bytes it verified"
    );

    let download = |target_dir: &Path| {
        client(
            &trusted,
            &[
                "--metadata-url",
                &metadata_url,
                "--target-name",
                "dir/hello.txt",
                "--target-base-url",
                &targets_url,
                "--target-dir",
                target_dir.to_str().expect("utf-8 path"),
                "download",
            ],
        )
    };
    let downloads = dir.path().join("downloads");
    assert!(download(&downloads));
    assert_eq!(
        std::fs::read(downloads.join("dir%2Fhello.txt")).expect("downloaded target"),
        content
    );

    // A target whose bytes changed on the server is refused.
    std::fs::write(
        repo.join("targets/dir/hello.txt"),
        b"hello from an attacker!!!!!!!",
    )
    .expect("tamper target");
    let fresh = dir.path().join("fresh");
    assert!(!download(&fresh));
    assert!(!fresh.join("dir%2Fhello.txt").exists());

    // A timestamp whose signed part changed without a new signature is
    // refused, and the trusted one is kept.
    let mut forged: serde_json::Value = serde_json::from_slice(&set.timestamp).expect("json");
    forged["signed"]["version"] = 2.into();
    std::fs::write(
        repo.join("metadata/timestamp.json"),
        serde_json::to_vec(&forged).expect("serialize"),
    )
    .expect("write forged timestamp");
    assert!(!client(
        &trusted,
        &["--metadata-url", &metadata_url, "refresh"]
    ));
    assert_eq!(
        std::fs::read(trusted.join("timestamp.json")).expect("trusted timestamp"),
        set.timestamp
    );
}
