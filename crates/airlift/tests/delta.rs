//! Delta bundles (ledger and receipt), media-sized parts checked one by one,
//! and the audit trail of both sides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::{Behaviour, Connected, Home, Upstream, noise, sha256_hex, write_config};

/// Collects the connected side's files again, with `docs/readme.txt`
/// changed to `readme` upstream; the upstream serving it is returned.
fn collect_with_a_new_readme(connected: &Connected, readme: &[u8]) -> Upstream {
    let upstream = Upstream::start(HashMap::from([(
        "new/readme.txt".to_string(),
        Behaviour::Serve(readme.to_vec()),
    )]));
    let mut entries: Vec<(String, Option<String>, &str)> = connected
        .files
        .iter()
        .filter(|(path, _)| path != "docs/readme.txt")
        .map(|(path, data)| {
            (
                connected.upstream.url(&format!("up/{path}")),
                Some(sha256_hex(data)),
                path.as_str(),
            )
        })
        .collect();
    entries.push((
        upstream.url("new/readme.txt"),
        Some(sha256_hex(readme)),
        "docs/readme.txt",
    ));
    let config = write_config(connected.work.path(), &entries);
    connected
        .home
        .run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
    upstream
}

/// An isolated home named `name` that trusts the connected side's root.
fn site(connected: &Connected, name: &str) -> Home {
    let home = Home::new();
    home.run(&[
        "init",
        "--trust",
        connected.home.root().to_str().unwrap(),
        "--site",
        name,
    ])
    .ok();
    home
}

#[test]
fn a_delta_carries_only_what_changed_and_imports_over_the_full_set() {
    let connected = Connected::sample();
    let full = connected.work.path().join("full.tar");
    let report = connected
        .home
        .run(&[
            "--json",
            "pack",
            "--destination",
            "site-a",
            "--bundle-version",
            "10",
            "--out",
            full.to_str().unwrap(),
        ])
        .ok()
        .json();
    assert_eq!(report["omitted_blobs"], 0);
    let isolated = site(&connected, "site-a");
    isolated.run(&["import", full.to_str().unwrap()]).ok();

    // One artifact changes upstream: collect it again alongside the others.
    let changed = noise(9, 50_000);
    let _upstream = collect_with_a_new_readme(&connected, &changed);
    let delta = connected.work.path().join("delta.tar");
    let report = connected
        .home
        .run(&[
            "--json",
            "pack",
            "--destination",
            "site-a",
            "--bundle-version",
            "20",
            "--out",
            delta.to_str().unwrap(),
        ])
        .ok()
        .json();
    // The changed file, and the generation's two SBOMs, whose hash of
    // that file changed with it.
    assert_eq!(
        report["blobs"], 3,
        "only the changed blob and the SBOMs are carried: {report}"
    );
    let bytes = report["blob_bytes"].as_u64().unwrap();
    assert!(
        (50_000..50_000 + 8192).contains(&bytes),
        "50000 changed bytes and two small SBOMs: {bytes}"
    );
    let full_size = std::fs::metadata(&full).unwrap().len();
    let delta_size = std::fs::metadata(&delta).unwrap().len();
    assert!(
        delta_size < 50_000 + 32_768,
        "delta {delta_size} bytes for 50000 changed bytes (full {full_size})"
    );

    // A site that never received the full bundle refuses the delta, naming the bundle.
    let fresh = site(&connected, "site-a");
    fresh
        .run(&["import", delta.to_str().unwrap()])
        .fails_with(3, "skips 1: import bundle 1 first");
    // The site that has the rest takes it, and serves the new set.
    isolated.run(&["import", delta.to_str().unwrap()]).ok();
    isolated.run(&["fsck"]).ok();
    let plan = isolated
        .run(&["--json", "plan", delta.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(plan["already_imported"], true, "{plan}");

    // Both sides' audit logs verify and tell what happened.
    isolated.run(&["audit", "verify"]).ok();
    let events: Vec<String> = isolated.run(&["--json", "audit", "export"]).ok().json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(events, ["trust-init", "site-name", "import", "import"]);
    connected.home.run(&["audit", "verify"]).ok();
}

#[test]
fn receipts_drive_deltas_and_parts_are_checked_as_they_are_copied() {
    let connected = Connected::sample();
    let full = connected.pack("full.tar", &["--bundle-version", "10"]);
    let isolated = connected.isolated();
    isolated.run(&["import", full.to_str().unwrap()]).ok();
    let receipt = connected.work.path().join("receipt.json");
    isolated
        .run(&["receipt", "export", "--out", receipt.to_str().unwrap()])
        .ok();

    // A receipt altered in transit is refused.
    let forged = connected.work.path().join("forged.json");
    let text = std::fs::read_to_string(&receipt).unwrap();
    let envelope: serde_json::Value = serde_json::from_str(&text).unwrap();
    let payload = envelope["payload"].as_str().unwrap();
    std::fs::write(&forged, text.replace(payload, "eyJibG9icyI6W119")).unwrap();
    connected
        .home
        .run(&[
            "pack",
            "--receipt",
            forged.to_str().unwrap(),
            "--out",
            connected.work.path().join("x.tar").to_str().unwrap(),
        ])
        .fails_with(2, "the signature does not verify");

    // Nothing changed: a receipt-driven pack carries no blob at all, split for the media.
    let out = connected.work.path().join("delta.tar");
    let report = connected
        .home
        .run(&[
            "--json",
            "pack",
            "--receipt",
            receipt.to_str().unwrap(),
            "--bundle-version",
            "20",
            "--media",
            "4K",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok()
        .json();
    assert_eq!(report["blobs"], 0, "{report}");
    let parts = report["parts"].as_array().unwrap();
    assert!(parts.len() > 1, "{report}");
    for part in parts {
        let path = connected.work.path().join(part["name"].as_str().unwrap());
        connected
            .home
            .run(&["verify", "--part", path.to_str().unwrap()])
            .ok();
    }
    // A part damaged on the medium is caught on its own.
    let second = connected
        .work
        .path()
        .join(parts[1]["name"].as_str().unwrap());
    // The last byte: tar padding, which only the part's own digest covers.
    let mut bytes = std::fs::read(&second).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&second, bytes).unwrap();
    connected
        .home
        .run(&["verify", "--part", second.to_str().unwrap()])
        .fails_with(3, "does not match the table of contents");
    isolated
        .run(&[
            "import",
            connected
                .work
                .path()
                .join("delta.tar.toc.json")
                .to_str()
                .unwrap(),
        ])
        .fails_with(3, "part 2");
}

#[test]
fn a_clock_set_back_cannot_revive_an_expired_bundle() {
    let connected = Connected::sample();
    let first = connected.pack("first.tar", &["--bundle-version", "10"]);
    let second = connected.pack(
        "second.tar",
        &["--bundle-version", "20", "--valid-for", "1h"],
    );
    let isolated = connected.isolated();
    isolated.run(&["import", first.to_str().unwrap()]).ok();
    // The import recorded the time it trusted.
    let db = rusqlite::Connection::open(isolated.path().join("store/index.sqlite")).unwrap();
    let floor: i64 = db
        .query_row(
            "SELECT value FROM state WHERE key = 'time_floor'",
            [],
            |row| row.get::<_, String>(0),
        )
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((floor - now).abs() < 600, "floor {floor}, now {now}");
    // The site has seen a time two hours ahead of this machine's clock (as
    // if the clock had since been set back): the second bundle, valid for
    // one hour by the clock, expired before that and is refused.
    db.execute(
        "UPDATE state SET value = ?1 WHERE key = 'time_floor'",
        [(now + 7200).to_string()],
    )
    .unwrap();
    drop(db);
    isolated
        .run(&["import", second.to_str().unwrap()])
        .fails_with(3, "a time this site has already seen");
}

#[test]
fn bundles_for_a_destination_follow_its_sequence() {
    let connected = Connected::sample();
    let pack = |name: &str, destination: &str, version: &str| {
        connected.pack(
            name,
            &[
                "--destination",
                destination,
                "--bundle-version",
                version,
                "--full",
            ],
        )
    };
    let first = pack("1.tar", "site-a", "10");
    let second = pack("2.tar", "site-a", "20");
    let third = pack("3.tar", "site-a", "30");
    let other = pack("b.tar", "site-b", "40");
    let a = site(&connected, "site-a");
    // Another site's bundle, and a bundle for a named site at an unnamed one.
    a.run(&["import", other.to_str().unwrap()]).fails_with(
        3,
        "packed for destination \"site-b\", but this site is \"site-a\"",
    );
    connected
        .isolated()
        .run(&["import", first.to_str().unwrap()])
        .fails_with(3, "this site is unnamed");
    // A gap says which bundle to import first.
    a.run(&["import", first.to_str().unwrap()]).ok();
    a.run(&["import", third.to_str().unwrap()]).fails_with(
        3,
        "bundle sequence 3 for \"site-a\" skips 2: import bundle 2 first",
    );
    a.run(&["import", second.to_str().unwrap()]).ok();
    a.run(&["import", third.to_str().unwrap()]).ok();
    // The sequence is signed: it is inside the TUF targets.
    let report = a
        .run(&["--json", "verify", third.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(report["already_imported"], true);
    // The connected side checks its media against its own root, as no site.
    connected
        .home
        .run(&[
            "verify",
            third.to_str().unwrap(),
            "--trust",
            connected.home.root().to_str().unwrap(),
        ])
        .ok();
    // A directory bundle carries the statement too.
    let directory = pack("4-dir", "site-a", "50");
    a.run(&["import", directory.to_str().unwrap()]).ok();
    // A delta after a lost bundle names the bundle, not a missing blob.
    connected.pack(
        "5.tar",
        &["--destination", "site-a", "--bundle-version", "60"],
    );
    let after = connected.pack(
        "6.tar",
        &["--destination", "site-a", "--bundle-version", "70"],
    );
    a.run(&["import", after.to_str().unwrap()])
        .fails_with(3, "skips 5: import bundle 5 first");

    // A fork: a ledger that says the last bundle was another one (a second
    // connected side packing for the same site).
    let b = site(&connected, "site-c");
    let first_c = pack("c1.tar", "site-c", "80");
    b.run(&["import", first_c.to_str().unwrap()]).ok();
    let ledger = connected.home.path().join("ledger/site-c.json");
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ledger).unwrap()).unwrap();
    value["last_bundle"] = serde_json::json!(format!("sha256:{}", "0".repeat(64)));
    std::fs::write(&ledger, value.to_string()).unwrap();
    let forked = pack("c2.tar", "site-c", "90");
    b.run(&["import", forked.to_str().unwrap()])
        .fails_with(3, "a fork (another connected side or ledger) is refused");
}

/// Two packs for one destination in the same second used to get the same
/// version: the site refused the second as a rollback, and every later pack
/// as skipping it. Versions now always grow, and an operator whose site
/// missed a bundle re-packs its number with `--sequence`.
#[test]
fn packs_in_the_same_second_import_in_order_and_a_lost_number_can_be_packed_again() {
    let connected = Connected::sample();
    let a = site(&connected, "site-a");
    // The clock is SOURCE_DATE_EPOCH: every pack below is "in the same second".
    let first = connected.pack("1.tar", &["--destination", "site-a"]);
    let second = connected.pack("2.tar", &["--destination", "site-a"]);
    a.run(&["import", first.to_str().unwrap()]).ok();
    a.run(&["import", second.to_str().unwrap()]).ok();
    // Bundle 3 is lost on the way; 4 cannot import without it.
    let _lost = connected.pack("3.tar", &["--destination", "site-a"]);
    let fourth = connected.pack("4.tar", &["--destination", "site-a"]);
    a.run(&["import", fourth.to_str().unwrap()])
        .fails_with(3, "skips 3: import bundle 3 first");
    // A number the ledger has not reached yet is refused.
    connected
        .home
        .run(&[
            "pack",
            "--out",
            connected.work.path().join("x.tar").to_str().unwrap(),
            "--destination",
            "site-a",
            "--sequence",
            "9",
        ])
        .fails_with(2, "only numbers up to 5 can be packed");
    // Number 3 again: it follows bundle 2, carries every blob, imports; the
    // audit log records the re-pack.
    let again = connected.pack(
        "3-again.tar",
        &["--destination", "site-a", "--sequence", "3"],
    );
    a.run(&["import", again.to_str().unwrap()]).ok();
    let log = std::fs::read_to_string(connected.home.path().join("audit/log.jsonl")).unwrap();
    assert!(log.contains("\"repacked_sequence\":3"), "{log}");
    // And the sequence goes on from there.
    let next = connected.pack("4-next.tar", &["--destination", "site-a"]);
    a.run(&["import", next.to_str().unwrap()]).ok();
}

/// After a delta, "import the last bundle again" cannot restore a blob an
/// earlier bundle brought (and the earlier one is a rollback). fsck prints
/// steps that work, and following them restores the site.
#[test]
fn fsck_recovery_advice_works_after_a_delta() {
    let connected = Connected::sample();
    let isolated = site(&connected, "site-a");
    let full = connected.pack("full.tar", &["--destination", "site-a"]);
    isolated.run(&["import", full.to_str().unwrap()]).ok();
    // A delta: one file changes upstream.
    let _upstream = collect_with_a_new_readme(&connected, &noise(11, 20_000));
    let delta = connected.pack("delta.tar", &["--destination", "site-a"]);
    isolated.run(&["import", delta.to_str().unwrap()]).ok();
    // The big file came with the full bundle only; damage it.
    let big = sha256_hex(&connected.files[0].1);
    let blob = isolated
        .path()
        .join("store/blobs/sha256")
        .join(&big[..2])
        .join(&big);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let repair = isolated
        .run(&["fsck", "--repair"])
        .fails_with(5, "airlift receipt export --out receipt.json");
    assert!(
        repair
            .stderr
            .contains("airlift pack --receipt receipt.json --destination site-a"),
        "{}",
        repair.stderr
    );
    // The old advice fails: the last bundle is a delta without the blob.
    isolated
        .run(&["import", delta.to_str().unwrap()])
        .fails_with(3, "is neither in the bundle nor in the store");
    isolated
        .run(&["fsck"])
        .fails_with(5, "the store is damaged");
    // The printed steps work.
    let receipt = connected.work.path().join("receipt.json");
    isolated
        .run(&["receipt", "export", "--out", receipt.to_str().unwrap()])
        .ok();
    let fix = connected.pack(
        "repair.tar.zst",
        &[
            "--receipt",
            receipt.to_str().unwrap(),
            "--destination",
            "site-a",
        ],
    );
    isolated.run(&["import", fix.to_str().unwrap()]).ok();
    isolated.run(&["fsck"]).ok();
}
