//! Separate roles with thresholds: a root rotation signed by the old and
//! new root keys, the two-person rule on targets with approvals from
//! separate machines, and the importer walking the root chain and counting
//! signatures strictly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Connected, Home};

/// Packs again with the approvals in `request`.
fn pack_approved(connected: &Connected, out: &Path, request: &Path) -> common::Run {
    connected.home.run(&[
        "pack",
        "--out",
        out.to_str().unwrap(),
        "--approved",
        request.to_str().unwrap(),
    ])
}

/// An approver, on a machine of their own, signs `request` with `key`.
fn approve(request: &Path, key: &Path) -> common::Run {
    Home::new().run(&[
        "approve",
        request.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ])
}

fn new_key(home: &Home, name: &str, dir: &Path) {
    home.run(&["keys", "new", name, "--dir", dir.to_str().unwrap()])
        .ok();
}

/// A connected side whose root v2 has root 2-of-3 (root-a here, root-b and
/// root-c offline), targets 2-of-3 approvers, and a packer key for snapshot
/// and timestamp.
fn rotated() -> (Connected, tempfile::TempDir) {
    let connected = Connected::sample();
    let keys = connected.home.path().join("keys");
    let away = tempfile::tempdir().unwrap();
    new_key(&connected.home, "root-a", &keys);
    new_key(&connected.home, "packer", &keys);
    for name in ["root-b", "root-c", "alice", "bob", "carol"] {
        new_key(&connected.home, name, away.path());
    }
    let a = away.path().display();
    let k = keys.display();
    let policy = away.path().join("roles.toml");
    std::fs::write(
        &policy,
        format!(
            "expires-days = 90\n\
             [roles.root]\nthreshold = 2\nkeys = [\"{k}/root-a.pub.json\", \"{a}/root-b.pub.json\", \"{a}/root-c.pub.json\"]\n\
             [roles.targets]\nthreshold = 2\nkeys = [\"{a}/alice.pub.json\", \"{a}/bob.pub.json\", \"{a}/carol.pub.json\"]\n\
             [roles.snapshot]\nthreshold = 1\nkeys = [\"{k}/packer.pub.json\"]\n\
             [roles.timestamp]\nthreshold = 1\nkeys = [\"{k}/packer.pub.json\"]\n"
        ),
    )
    .unwrap();
    // The old root (the site key) signs, but the new root needs 2 of 3 and
    // only root-a is here: the new root waits.
    let run = connected
        .home
        .run(&["keys", "rotate", "--policy", policy.to_str().unwrap()])
        .fails_with(6, "root version 2 needs more signatures");
    assert!(
        run.stderr.contains("new root root: signed by root-a")
            && run.stderr.contains("missing any 1 of")
            && run.stderr.contains("root-b ("),
        "{}",
        run.stderr
    );
    let pending = keys.join("roots/2.root.pending.json");
    connected
        .home
        .run(&[
            "approve",
            pending.to_str().unwrap(),
            "--key",
            away.path().join("root-b.pk8").to_str().unwrap(),
        ])
        .ok();
    connected.home.run(&["keys", "rotate", "--finish"]).ok();
    assert!(keys.join("roots/2.root.json").is_file());
    (connected, away)
}

#[test]
fn two_approvers_are_needed_and_the_importer_walks_the_new_root() {
    let (connected, away) = rotated();
    let listing = connected.home.run(&["keys", "list"]).ok().stdout;
    assert!(
        listing.contains("targets: 2 of ") && listing.contains("alice ("),
        "{listing}"
    );
    assert!(
        listing.contains("packer (") && listing.contains("[here]"),
        "{listing}"
    );

    let out = connected.work.path().join("b.tar");
    let request = connected.work.path().join("b.tar.approval.json");
    connected
        .home
        .run(&["pack", "--out", out.to_str().unwrap()])
        .fails_with(
            6,
            "targets: signed by nobody; 0 of the 2 required; missing any 2 of",
        );
    assert!(request.is_file() && !out.exists());
    let approve_as = |who: &str| approve(&request, &away.path().join(format!("{who}.pk8"))).ok();
    let shown = approve_as("alice").stdout;
    assert!(
        shown.contains("alice signed") && shown.contains("5 entries (files 3, site 2)"),
        "{shown}"
    );
    pack_approved(&connected, &out, &request).fails_with(6, "targets: signed by alice (");
    // An approval by a key the root does not list counts for nothing.
    let stranger = tempfile::tempdir().unwrap();
    new_key(&connected.home, "mallory", stranger.path());
    approve(&request, &stranger.path().join("mallory.pk8")).ok();
    pack_approved(&connected, &out, &request)
        .fails_with(6, "1 of the 2 required; missing any 1 of");
    approve_as("bob");
    let report = connected
        .home
        .run(&[
            "--json",
            "pack",
            "--out",
            out.to_str().unwrap(),
            "--approved",
            request.to_str().unwrap(),
        ])
        .ok()
        .json();
    let approvers = report["approved_by"].to_string();
    assert!(
        approvers.contains("alice") && approvers.contains("bob"),
        "{approvers}"
    );

    // The isolated side trusts root v1 and walks to v2 inside the bundle.
    let isolated = connected.isolated();
    isolated.run(&["import", out.to_str().unwrap()]).ok();
    let log = isolated.run(&["audit", "export"]).ok().stdout;
    assert!(log.contains("import"), "{log}");
}

#[test]
fn a_packer_alone_cannot_forge_approvals_with_duplicate_signatures() {
    let (connected, away) = rotated();
    let out = connected.work.path().join("b");
    let request = connected.work.path().join("b.approval.json");
    connected
        .home
        .run(&["pack", "--out", out.to_str().unwrap()])
        .fails_with(6, "not approved yet");
    approve(&request, &away.path().join("alice.pk8")).ok();
    // The packer copies alice's signature to reach the threshold, then
    // re-signs snapshot and timestamp with its own key.
    let mut document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&request).unwrap()).unwrap();
    let sig = document["targets"]["signatures"][0].clone();
    document["targets"]["signatures"] = serde_json::json!([sig.clone(), sig]);
    let targets = airlift_trust::metadata::canonical_json(&document["targets"]);
    let times = airlift_trust::TufTimes {
        version: document["targets"]["signed"]["version"].as_u64().unwrap(),
        timestamp_expires: document["timestamp_expires"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        targets_expires: document["targets_expires"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    };
    let packer =
        airlift_trust::KeyPair::load(&connected.home.path().join("keys/packer.pk8")).unwrap();
    let set = airlift_trust::metadata::finish(targets, times, &[&packer], &[&packer]).unwrap();
    // Write a directory bundle by hand: approve it alone, then swap in the
    // forged metadata.
    approve(&request, &away.path().join("carol.pk8")).ok();
    pack_approved(&connected, &out, &request).ok();
    std::fs::write(out.join("metadata/targets.json"), &set.targets).unwrap();
    std::fs::write(out.join("metadata/snapshot.json"), &set.snapshot).unwrap();
    std::fs::write(out.join("metadata/timestamp.json"), &set.timestamp).unwrap();
    let mut pointer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("airlift-bundle.json")).unwrap()).unwrap();
    pointer["bundle_id"] = serde_json::json!(airlift_core::Digest::of(&set.timestamp).to_string());
    std::fs::write(
        out.join("airlift-bundle.json"),
        airlift_trust::metadata::canonical_json(&pointer),
    )
    .unwrap();
    let isolated = connected.isolated();
    let before = isolated.snapshot();
    let run = isolated.run(&["import", out.to_str().unwrap()]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("targets: signed by alice (")
            && run.stderr.contains("1 of the 2 required"),
        "{}",
        run.stderr
    );
    assert_eq!(isolated.snapshot(), before);

    // A bundle whose root chain skips version 2 is refused too.
    let skipped = connected.work.path().join("skipped");
    std::process::Command::new("cp")
        .args(["-r", out.to_str().unwrap(), skipped.to_str().unwrap()])
        .status()
        .unwrap();
    std::fs::remove_file(skipped.join("metadata/2.root.json")).unwrap();
    let run = isolated.run(&["import", skipped.to_str().unwrap()]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert_eq!(isolated.snapshot(), before);
}
