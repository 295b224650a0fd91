//! Garbage collection racing writers that store a blob, pause, and then
//! commit the index entry that references it, as a push does (ADR 0023).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use airlift_core::Digest;
use airlift_store::gc::{self, Retention};
use airlift_store::{Change, Entry, Store, fsck};

/// Stores `data` as a blob, as a push's upload does.
fn store_blob(store: &Store, data: &[u8]) -> Entry {
    let mut writer = store.blobs.writer().unwrap();
    writer.write_all(data).unwrap();
    let (digest, size) = writer.commit(None).unwrap();
    Entry {
        ecosystem: "oci".into(),
        key: String::new(),
        digest,
        size,
        meta: serde_json::json!({}),
    }
}

/// Commits `entry` under `key` as the next generation, as a push's link does.
fn link(store: &Store, key: &str, mut entry: Entry) {
    entry.key = key.into();
    store
        .meta
        .apply(Change {
            source: format!("push {key}"),
            created_at: 1,
            upserts: vec![entry],
            removals: vec![],
            state: vec![],
        })
        .unwrap();
}

fn retention(grace: Duration) -> Retention {
    Retention {
        keep_generations: 2,
        grace,
    }
}

/// One push, with a collection run in its pause: with no grace period the
/// blob is gone before the entry that references it is committed, and
/// `fsck` finds the entry broken; with one, the blob stays.
#[test]
fn the_grace_period_is_what_keeps_a_blob_between_its_write_and_its_commit() {
    for (grace, lost) in [(Duration::ZERO, true), (Duration::from_secs(60), false)] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_embedded(dir.path()).unwrap();
        let collector = Store::open_embedded(dir.path()).unwrap();
        link(&store, "first", store_blob(&store, b"first"));
        let pushed = store_blob(&store, b"a layer being pushed");
        // The pause between the blob and its entry, long enough for the
        // file system's clock to move past the blob's time.
        std::thread::sleep(Duration::from_millis(30));
        let report = gc::run(&collector, &retention(grace)).unwrap();
        link(&store, "pushed", pushed.clone());
        let check = fsck(&store).unwrap();
        assert_eq!(
            store.blobs.size(&pushed.digest).unwrap().is_none(),
            lost,
            "grace {grace:?}: {report:?}"
        );
        assert_eq!(check.is_clean(), !lost, "grace {grace:?}: {check:?}");
    }
}

/// Writers and collections at once, with pauses far shorter than the grace
/// period: every blob that a kept generation references is still stored.
#[test]
fn pushes_racing_collections_lose_no_referenced_blob() {
    let dir = tempfile::tempdir().unwrap();
    let writers = 4;
    let pushes = 40;
    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(writers + 1));
    let collector = {
        let (home, done, start) = (dir.path().to_path_buf(), done.clone(), start.clone());
        std::thread::spawn(move || {
            let store = Store::open_embedded(&home).unwrap();
            start.wait();
            let mut runs = 0u32;
            let mut removed = 0;
            while !done.load(Ordering::Relaxed) || runs == 0 {
                removed += gc::run(&store, &retention(Duration::from_millis(300)))
                    .unwrap()
                    .blobs_removed;
                runs += 1;
            }
            (runs, removed)
        })
    };
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let (home, start) = (dir.path().to_path_buf(), start.clone());
            std::thread::spawn(move || {
                let store = Store::open_embedded(&home).unwrap();
                start.wait();
                for i in 0..pushes {
                    let blob = store_blob(&store, format!("writer {w} push {i}").as_bytes());
                    // Pauses up to 20 ms, spread by a cheap hash.
                    let pause = Digest::of(format!("{w}/{i}").as_bytes()).as_bytes()[0] % 21;
                    std::thread::sleep(Duration::from_millis(u64::from(pause)));
                    // One tag per writer, moved on every push: the blob of
                    // the previous push becomes garbage.
                    link(&store, &format!("writer-{w}"), blob);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let (runs, _removed) = collector.join().unwrap();
    assert!(runs > 0);
    let store = Store::open_embedded(dir.path()).unwrap();
    let check = fsck(&store).unwrap();
    assert!(check.is_clean(), "{check:?}");
    for generation in store.meta.generations().unwrap() {
        for entry in store.meta.entries(generation.id, None).unwrap() {
            assert!(
                store.blobs.size(&entry.digest).unwrap().is_some(),
                "generation {} references {} ({}), which is gone",
                generation.id,
                entry.digest,
                entry.key
            );
        }
    }
    // And once the writers are done and the grace period is over, the
    // blobs no kept generation references go.
    std::thread::sleep(Duration::from_millis(350));
    gc::run(&store, &retention(Duration::from_millis(300))).unwrap();
    let check = fsck(&store).unwrap();
    assert!(check.is_clean(), "{check:?}");
    assert_eq!(check.unreferenced_blobs, 0, "{check:?}");
}
