//! `airlift gc`: old generations and the blobs only they referenced go,
//! the reported bytes are the bytes of the files removed, the store stays
//! consistent, and the collection is in the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use airlift_core::Digest;
use airlift_store::{Entry, NewGeneration, Store};
use common::Home;

/// Stores `data` and returns an entry `key` for it.
fn put(store: &Store, key: &str, data: &[u8]) -> Entry {
    let mut writer = store.blobs.writer().unwrap();
    writer.write_all(data).unwrap();
    let (digest, size) = writer.commit(None).unwrap();
    Entry {
        ecosystem: "files".into(),
        key: key.into(),
        digest,
        size,
        meta: serde_json::json!({}),
    }
}

/// Makes every stored blob look stored three hours ago, except `fresh`.
fn age_all_but(store: &Store, fresh: &Digest) {
    for digest in store.blobs.list().unwrap() {
        if digest != *fresh {
            std::fs::File::options()
                .write(true)
                .open(store.blobs.local_path(&digest).unwrap())
                .unwrap()
                .set_modified(SystemTime::now() - Duration::from_secs(3 * 3600))
                .unwrap();
        }
    }
}

/// Every blob file of the home, with its length.
fn blob_files(store: &Store) -> BTreeMap<Digest, (PathBuf, u64)> {
    store
        .blobs
        .list()
        .unwrap()
        .into_iter()
        .map(|digest| {
            let path = store.blobs.local_path(&digest).unwrap();
            let length = std::fs::metadata(&path).unwrap().len();
            (digest, (path, length))
        })
        .collect()
}

/// Four generations in which `tools/app.bin` changes each time, one stray
/// blob stored long ago and never referenced, and one stored just now.
/// Returns the fresh stray's digest.
fn four_generations(home: &Home) -> Digest {
    let store = Store::open_embedded(home.path()).unwrap();
    let stable = put(&store, "docs/readme.txt", b"the same in every generation\n");
    for version in 0..4u8 {
        let app = put(
            &store,
            "tools/app.bin",
            &vec![version; 1000 + usize::from(version) * 777],
        );
        store
            .meta
            .commit(NewGeneration {
                source: "collect".into(),
                created_at: i64::from(version),
                entries: vec![stable.clone(), app],
                state: vec![],
            })
            .unwrap();
    }
    put(
        &store,
        "stray",
        b"stored long ago by a push that never finished",
    );
    let fresh = put(&store, "fresh", b"stored just now by a push in progress").digest;
    age_all_but(&store, &fresh);
    fresh
}

#[test]
fn gc_removes_what_only_old_generations_referenced_and_reports_its_bytes() {
    let home = Home::new();
    let fresh = four_generations(&home);
    let store = Store::open_embedded(home.path()).unwrap();
    let before = blob_files(&store);
    assert_eq!(before.len(), 7);

    let planned = home
        .run(&["--json", "gc", "--dry-run", "--keep", "2"])
        .ok()
        .json();
    assert_eq!(blob_files(&store), before, "a dry run removed blobs");
    assert_eq!(
        store.meta.generations().unwrap().len(),
        4,
        "a dry run pruned"
    );

    let done = home.run(&["--json", "gc", "--keep", "2"]).ok().json();
    let after = blob_files(&store);
    let removed: Vec<_> = before.keys().filter(|d| !after.contains_key(d)).collect();
    // The app of generations 1 and 2, and the old stray.
    assert_eq!(removed.len(), 3, "{done}");
    let removed_bytes: u64 = removed.iter().map(|d| before[*d].1).sum();
    assert_eq!(done["blobs_removed"], 3, "{done}");
    assert_eq!(done["bytes_reclaimed"], removed_bytes, "{done}");
    assert_eq!(done["generations_pruned"], 2, "{done}");
    assert_eq!(done["generations_kept"], 2, "{done}");
    assert_eq!(done["blobs_kept"], 4, "{done}");
    assert_eq!(done["blobs_in_grace"], 1, "{done}");
    assert!(
        after.contains_key(&fresh),
        "a blob younger than the grace period went"
    );
    for field in [
        "blobs_removed",
        "bytes_reclaimed",
        "generations_pruned",
        "rows_pruned",
        "blobs_kept",
    ] {
        assert_eq!(
            planned[field], done[field],
            "{field}: the dry run said otherwise"
        );
    }
    assert_eq!(planned["dry_run"], true);
    assert_eq!(done["dry_run"], false);

    let fsck = home.run(&["--json", "fsck"]).ok().json();
    assert_eq!(fsck["broken_entries"], serde_json::json!([]), "{fsck}");
    assert_eq!(fsck["corrupt_blobs"], serde_json::json!([]), "{fsck}");
    assert_eq!(fsck["unreferenced_blobs"], 1, "{fsck}");

    // One audit event, the real run's, with its counts.
    let export = home.run(&["--json", "audit", "export"]).ok().json();
    let events: Vec<&serde_json::Value> = export["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "gc")
        .collect();
    assert_eq!(events.len(), 1, "{export}");
    assert_eq!(
        events[0]["detail"]["bytes_reclaimed"], removed_bytes,
        "{export}"
    );
    home.run(&["audit", "verify"]).ok();

    // Nothing is left to collect: a second run removes nothing.
    let again = home.run(&["--json", "gc", "--keep", "2"]).ok().json();
    assert_eq!(again["blobs_removed"], 0, "{again}");
    assert_eq!(again["generations_pruned"], 0, "{again}");
}

#[test]
fn gc_in_words_and_with_no_grace() {
    let home = Home::new();
    let fresh = four_generations(&home);
    let run = home.run(&["gc", "--keep", "1", "--grace", "0s"]).ok();
    assert!(
        run.stdout.starts_with("removed 5 blobs ("),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("and 3 old generations"),
        "{}",
        run.stdout
    );
    let store = Store::open_embedded(home.path()).unwrap();
    assert_eq!(store.blobs.size(&fresh).unwrap(), None);
    let fsck = home.run(&["--json", "fsck"]).ok().json();
    assert_eq!(fsck["unreferenced_blobs"], 0, "{fsck}");
}

#[test]
fn gc_refuses_bad_options_and_waits_for_an_import() {
    let home = Home::new();
    home.run(&["gc", "--keep", "0"]).fails_with(2, "--keep");
    home.run(&["gc", "--grace", "1"])
        .fails_with(2, "needs a unit");
    let quarantine = home.path().join("quarantine");
    std::fs::create_dir_all(&quarantine).unwrap();
    let lock = std::fs::File::create(quarantine.join(".lock")).unwrap();
    lock.lock().unwrap();
    home.run(&["gc"])
        .fails_with(1, "garbage collection cannot run beside it");
    // A collect holds the same lock while it downloads.
    std::fs::write(home.path().join("empty.toml"), "").unwrap();
    home.run(&[
        "collect",
        "--config",
        home.path().join("empty.toml").to_str().unwrap(),
    ])
    .fails_with(1, "collect cannot run beside it");
    drop(lock);
    home.run(&["gc"]).ok();
}

/// `serve --gc-every` collects on its schedule: the stale blobs and old
/// generations go while the server runs, `/metrics` counts the run and its
/// bytes, the audit log records it as scheduled, and fsck stays clean.
#[test]
fn serve_collects_garbage_on_its_schedule() {
    let home = Home::new();
    let fresh = four_generations(&home);
    let store = Store::open_embedded(home.path()).unwrap();
    let server = common::Server::start_with(
        &home,
        &["--gc-every", "1s", "--gc-keep", "2", "--gc-grace", "10m"],
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        let (_, _, body) = common::http(server.address, "GET", "/metrics", &[]);
        let text = String::from_utf8_lossy(&body).into_owned();
        if text.contains("airlift_gc_runs_total 1") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(metrics.contains("airlift_gc_runs_total 1"), "{metrics}");
    let reclaimed: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("airlift_gc_reclaimed_bytes_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(reclaimed > 0, "{metrics}");
    drop(server);
    assert_eq!(store.meta.generations().unwrap().len(), 2);
    assert!(
        blob_files(&store).contains_key(&fresh),
        "the fresh blob went"
    );
    home.run(&["fsck"]).ok();
    let audit = home.run(&["audit", "export"]).ok().stdout;
    assert!(
        audit
            .lines()
            .any(|l| l.contains(" gc {") && l.contains("\"scheduled\":true")),
        "{audit}"
    );
}
