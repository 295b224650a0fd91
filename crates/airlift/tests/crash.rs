//! Crash safety: an import killed at any point leaves a consistent store, and
//! the next import completes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Connected, Server, epoch_plus, http, noise};

fn second_bundle(connected: &Connected, name: &str) -> std::path::PathBuf {
    let out = connected.work.path().join(name);
    connected
        .home
        .run_env(
            &["pack", "--out", out.to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", &epoch_plus(60))],
        )
        .ok();
    out
}

#[test]
fn an_import_aborted_between_steps_completes_on_the_next_run() {
    for failpoint in [
        "import-before-commit",
        "import-mid-adopt",
        "import-after-commit",
    ] {
        let connected = Connected::sample();
        let isolated = connected.isolated();
        let bundle = second_bundle(&connected, "b.tar.zst");
        let crashed = isolated.run_env(
            &["import", bundle.to_str().unwrap()],
            &[("AIRLIFT_FAILPOINT", failpoint)],
        );
        assert_ne!(crashed.code, 0, "{failpoint}: the failpoint did not fire");
        // Whatever happened, the store is consistent.
        isolated.snapshot();
        let retried = isolated
            .run(&["--json", "import", bundle.to_str().unwrap()])
            .ok();
        let status = retried.json()["status"].as_str().unwrap().to_owned();
        let expected = if failpoint == "import-after-commit" {
            "already_imported"
        } else {
            "imported"
        };
        assert_eq!(status, expected, "{failpoint}");
        isolated.snapshot();
        let server = Server::start(&isolated);
        for (path, data) in &connected.files {
            let (code, _, body) = http(server.address, "GET", &format!("/files/{path}"), &[]);
            assert_eq!((code, &body), (200, data), "{failpoint}: {path}");
        }
        drop(server);
        // Trust state is usable: a newer bundle still imports.
        let third = connected.work.path().join("c.tar");
        connected
            .home
            .run_env(
                &["pack", "--out", third.to_str().unwrap()],
                &[("SOURCE_DATE_EPOCH", &epoch_plus(120))],
            )
            .ok();
        isolated.run(&["import", third.to_str().unwrap()]).ok();
    }
}

#[test]
fn an_import_killed_at_random_moments_recovers() {
    let files: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("data/file-{i}.bin"), noise(100 + i, 6_000_000)))
        .collect();
    let connected = Connected::new(files);
    let bundle = second_bundle(&connected, "big.tar");
    for delay_ms in [5u64, 20, 60, 120, 250] {
        let isolated = connected.isolated();
        let mut child = isolated
            .command(&["import", bundle.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        isolated.snapshot();
        let retried = isolated
            .run(&["--json", "import", bundle.to_str().unwrap()])
            .ok();
        let status = retried.json()["status"].as_str().unwrap().to_owned();
        assert!(
            status == "imported" || status == "already_imported",
            "{status}"
        );
        let fsck = isolated.run(&["--json", "fsck"]).ok().json();
        // Six entries and the generation's two SBOMs.
        assert_eq!(fsck["entries_checked"], 8, "after a kill at {delay_ms} ms");
    }
}
