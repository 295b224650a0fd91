//! Bad input, tampered content: every bundle with a flipped byte, a foreign
//! or forged signature, an expired timestamp or an older version than the
//! site holds is refused with a clear error, and the isolated store is left
//! exactly as it was (same generation, same last bundle, fsck clean). After
//! each refusal the genuine bundle still imports, which proves the refusal
//! did not poison the trusted state. A damaged store is found by fsck and
//! repaired by importing again. Archive and part structure: `bad_archives.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;

use common::scenario::{Scenario, biggest_blob, copy_dir, flip_byte};
use common::{Connected, epoch_plus};

#[test]
fn flipped_byte_in_a_blob_is_refused() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second", &[]);
    let tampered = scenario.connected.work.path().join("tampered");
    copy_dir(&genuine, &tampered);
    let blob = biggest_blob(&tampered);
    flip_byte(&blob, 12345);
    let name = blob.file_name().unwrap().to_string_lossy().into_owned();
    scenario.refused(
        &tampered,
        3,
        &format!("target blobs/sha256/{name} does not match the signed metadata"),
    );
    // Counted for /metrics, the only write the refusal made.
    assert_eq!(scenario.refusals(), [("tampered".to_owned(), 1)].into());
    scenario.genuine_still_imports(&genuine);
}

#[test]
fn a_refusal_that_cannot_be_counted_is_still_a_refusal() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second", &[]);
    let tampered = scenario.connected.work.path().join("tampered");
    copy_dir(&genuine, &tampered);
    flip_byte(&biggest_blob(&tampered), 12345);
    // The index refuses every write of the operations' counts.
    let db =
        rusqlite::Connection::open(scenario.isolated.path().join("store/index.sqlite")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER no_insert BEFORE INSERT ON records WHEN NEW.kind = 'operations'
             BEGIN SELECT RAISE(ABORT, 'counts are read-only here'); END;
         CREATE TRIGGER no_update BEFORE UPDATE ON records WHEN NEW.kind = 'operations'
             BEGIN SELECT RAISE(ABORT, 'counts are read-only here'); END;",
    )
    .unwrap();
    drop(db);
    let run = scenario
        .isolated
        .run(&["import", tampered.to_str().unwrap()])
        .fails_with(3, "does not match the signed metadata");
    assert!(
        run.stderr
            .contains("the refusal was not recorded for the metrics"),
        "{}",
        run.stderr
    );
    assert!(scenario.refusals().is_empty());
    assert_eq!(scenario.isolated.snapshot(), scenario.before);
    // An import whose count cannot be written is imported all the same.
    scenario.genuine_still_imports(&genuine);
}

#[test]
fn flipped_byte_in_metadata_is_refused() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second", &[]);
    for (file, offset, needle) in [
        ("targets.json", 200, "TUF verification of"),
        ("snapshot.json", 150, "TUF verification of"),
        ("timestamp.json", 100, "TUF verification of"),
        ("1.root.json", 300, "differs from the trusted root"),
    ] {
        let tampered = scenario
            .connected
            .work
            .path()
            .join(format!("tampered-{file}"));
        copy_dir(&genuine, &tampered);
        flip_byte(&tampered.join("metadata").join(file), offset);
        scenario.refused(&tampered, 3, needle);
    }
    // The signed metadata fails its signatures; a root that differs from
    // the trusted one is altered content.
    assert_eq!(
        scenario.refusals(),
        [("signature".to_owned(), 3), ("tampered".to_owned(), 1)].into()
    );
    scenario.genuine_still_imports(&genuine);
}

#[test]
fn a_bundle_signed_by_another_key_is_refused() {
    let scenario = Scenario::new();
    let other = Connected::sample();
    let foreign = other.pack("foreign", &[]);
    scenario.refused(&foreign, 3, "differs from the trusted root");
    // The same bundle carrying a copy of the genuine root: the signatures decide.
    fs::copy(
        scenario.connected.home.root(),
        foreign.join("metadata/1.root.json"),
    )
    .unwrap();
    scenario.refused(&foreign, 3, "threshold");
}

#[test]
fn an_expired_bundle_is_refused() {
    let scenario = Scenario::new();
    let out = scenario.connected.work.path().join("old.tar");
    let two_days_ago = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 86_400)
        .to_string();
    scenario
        .connected
        .home
        .run_env(
            // A high version, so that expiry (not rollback) is what refuses it.
            &[
                "pack",
                "--out",
                out.to_str().unwrap(),
                "--valid-for",
                "1d",
                "--bundle-version",
                &epoch_plus(600),
            ],
            &[("SOURCE_DATE_EPOCH", &two_days_ago)],
        )
        .ok();
    scenario.refused(&out, 3, "expired");
    assert_eq!(scenario.refusals(), [("expired".to_owned(), 1)].into());
}

#[test]
fn an_older_bundle_after_a_newer_one_is_refused_and_a_replay_is_a_no_op() {
    let scenario = Scenario::new();
    let older = scenario.connected.work.path().join("older");
    let middle = scenario.connected.work.path().join("middle");
    scenario
        .connected
        .home
        .run_env(
            &["pack", "--out", middle.to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", &epoch_plus(30))],
        )
        .ok();
    // Same content, different clock: a different bundle with a lower version than `newer`.
    scenario
        .connected
        .home
        .run_env(
            &["pack", "--out", older.to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", &epoch_plus(10))],
        )
        .ok();
    let newer = scenario.newer("newer", &[]);
    scenario.genuine_still_imports(&newer);
    let after = scenario.isolated.snapshot();
    for stale in [
        &older,
        &middle,
        &scenario.connected.work.path().join("first"),
    ] {
        scenario
            .isolated
            .run(&["import", stale.to_str().unwrap()])
            .fails_with(3, "is not newer than the last imported version");
        assert_eq!(scenario.isolated.snapshot(), after);
    }
    let replay = scenario
        .isolated
        .run(&["import", newer.to_str().unwrap()])
        .ok();
    assert!(
        replay.stdout.contains("already imported"),
        "{}",
        replay.stdout
    );
    assert_eq!(scenario.isolated.snapshot(), after);
    assert_eq!(scenario.refusals(), [("rollback".to_owned(), 3)].into());
}

#[test]
fn pack_never_overwrites_a_bundle_or_its_parts() {
    let connected = Connected::sample();
    let out = connected.pack("b.tar.zst", &["--max-part-size", "64K"]);
    connected
        .home
        .run(&[
            "pack",
            "--out",
            out.to_str().unwrap(),
            "--max-part-size",
            "64K",
        ])
        .fails_with(2, "already exists");
    connected
        .home
        .run(&["pack", "--out", out.to_str().unwrap()])
        .fails_with(2, "already exists");
}

#[test]
fn a_damaged_store_is_found_by_fsck_and_repaired_by_importing_again() {
    let scenario = Scenario::new();
    let blobs = scenario.isolated.path().join("store/blobs/sha256");
    let shard = fs::read_dir(&blobs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let blob = fs::read_dir(&shard)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    flip_byte(&blob, 0);
    let name = blob.file_name().unwrap().to_string_lossy().into_owned();
    scenario
        .isolated
        .run(&["fsck"])
        .fails_with(5, "fsck --repair");
    let run = scenario.isolated.run(&["fsck", "--repair"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stdout
            .contains(&format!("corrupt blob sha256:{name} (removed)")),
        "{}",
        run.stdout
    );
    assert!(!blob.exists(), "the corrupt blob is still there");
    let first = scenario.connected.work.path().join("first");
    let run = scenario
        .isolated
        .run(&["import", first.to_str().unwrap()])
        .ok();
    assert!(
        run.stdout.contains("restored 1 missing blobs"),
        "{}",
        run.stdout
    );
    assert_eq!(scenario.isolated.snapshot(), scenario.before);
}

/// A refusal used to describe signers with the key names of the newest root
/// file in the bundle, signed or not, so an attacker's root chose what the
/// operator read. Names now come from trusted roots only.
#[test]
fn a_forged_root_cannot_put_names_in_the_refusal() {
    let scenario = Scenario::new();
    let genuine = scenario.newer("second", &[]);
    let forged = scenario.connected.work.path().join("forged-root");
    copy_dir(&genuine, &forged);
    let mut root: serde_json::Value =
        serde_json::from_slice(&fs::read(forged.join("metadata/1.root.json")).unwrap()).unwrap();
    let evil = "ab".repeat(32);
    root["signed"]["version"] = serde_json::json!(2);
    root["signed"]["keys"] = serde_json::json!({
        evil.clone(): {
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": "00".repeat(32)},
            "x-airlift-name": "mallory-says-trust-me",
        }
    });
    for role in ["root", "targets", "snapshot", "timestamp"] {
        root["signed"]["roles"][role] = serde_json::json!({"keyids": [evil], "threshold": 1});
    }
    fs::write(forged.join("metadata/2.root.json"), root.to_string()).unwrap();
    for command in ["verify", "import"] {
        let run = scenario
            .isolated
            .run(&[command, forged.to_str().unwrap()])
            .fails_with(3, "root version 2 is not signed by the root before it");
        assert!(
            !run.stderr.contains("mallory"),
            "{command} printed a name from an unsigned root: {}",
            run.stderr
        );
    }
    assert_eq!(scenario.isolated.snapshot(), scenario.before);
    scenario.genuine_still_imports(&genuine);
}
