//! The conformance suite every storage backend must pass.
//!
//! Backends call these functions from their own tests with a factory that
//! makes a fresh, empty store. Each function panics with a message naming the
//! broken guarantee.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};

use airlift_core::Digest;

use crate::{AuditHead, BlobStore, Change, Entry, MetaStore, NewGeneration, StoreError};

/// Runs every blob-store check.
pub fn blob_store(make: &dyn Fn() -> Box<dyn BlobStore>) {
    blob_round_trip(make().as_ref());
    blob_invisible_until_commit(make().as_ref());
    blob_digest_mismatch_stores_nothing(make().as_ref());
    blob_commit_is_idempotent(make().as_ref());
    blob_missing_is_reported(make().as_ref());
}

/// Runs every meta-store check.
pub fn meta_store(make: &dyn Fn() -> Box<dyn MetaStore>) {
    meta_generations_are_immutable(make().as_ref());
    meta_state_commits_with_generation(make().as_ref());
    meta_entries_filter_and_sort(make().as_ref());
    meta_changes_are_incremental_and_old_generations_stay(make().as_ref());
    meta_audit_head_only_grows(make().as_ref());
    meta_records_are_outside_generations(make().as_ref());
    meta_pruning_keeps_newer_generations_exactly(make().as_ref());
}

fn meta_records_are_outside_generations(store: &dyn MetaStore) {
    let start = store.records_version().unwrap();
    assert!(
        store.records("user").unwrap().is_empty(),
        "a new index has users"
    );
    assert!(store.put_record("user", "bob", Some("{}"), true).unwrap());
    assert!(
        store
            .put_record("user", "alice", Some("{\"a\":1}"), true)
            .unwrap()
    );
    assert!(
        matches!(
            store.put_record("user", "bob", Some("{}"), true),
            Err(StoreError::RecordExists { .. })
        ),
        "creating a taken name must be refused"
    );
    let after_puts = store.records_version().unwrap();
    assert_ne!(after_puts, start, "a new record must move the version on");
    assert_eq!(
        store.records("user").unwrap(),
        [
            ("alice".to_owned(), "{\"a\":1}".to_owned()),
            ("bob".to_owned(), "{}".to_owned())
        ],
        "records are sorted by name"
    );
    assert!(
        store.records("token").unwrap().is_empty(),
        "kinds are separate"
    );
    store.commit(NewGeneration::default()).unwrap();
    assert_eq!(
        store.records("user").unwrap().len(),
        2,
        "a generation changed records"
    );
    assert!(store.put_record("user", "bob", None, false).unwrap());
    assert!(
        !store.put_record("user", "bob", None, false).unwrap(),
        "removing twice changed something"
    );
    assert_ne!(
        store.records_version().unwrap(),
        after_puts,
        "a removal must move the version on"
    );
    assert_eq!(store.records("user").unwrap().len(), 1);
}

fn meta_audit_head_only_grows(store: &dyn MetaStore) {
    let head = |size: u64, root: &str| AuditHead {
        size,
        root: root.to_owned(),
    };
    assert_eq!(
        store.audit_head().unwrap(),
        None,
        "a new index records a head"
    );
    store.record_audit_head(&head(2, "aa")).unwrap();
    store.record_audit_head(&head(5, "bb")).unwrap();
    assert_eq!(store.audit_head().unwrap(), Some(head(5, "bb")));
    store
        .record_audit_head(&head(5, "bb"))
        .expect("recording the same head again failed");
    for (refused, what) in [
        (head(4, "cc"), "fewer entries"),
        (head(5, "cc"), "another root"),
    ] {
        let error = store
            .record_audit_head(&refused)
            .expect_err(&format!("a head with {what} was recorded"));
        assert!(
            matches!(error, StoreError::AuditHead { recorded: 5, .. }),
            "{what}: {error}"
        );
    }
    assert_eq!(
        store.audit_head().unwrap(),
        Some(head(5, "bb")),
        "a refused head changed the record"
    );
    assert_eq!(
        store.current().unwrap(),
        None,
        "recording the audit head made a generation"
    );
    // Clearing needs the head as it is recorded.
    assert!(store.clear_audit_head(&head(4, "bb")).is_err());
    assert_eq!(store.audit_head().unwrap(), Some(head(5, "bb")));
    store.clear_audit_head(&head(5, "bb")).unwrap();
    assert_eq!(store.audit_head().unwrap(), None);
    store.record_audit_head(&head(1, "dd")).unwrap();
    assert_eq!(store.audit_head().unwrap(), Some(head(1, "dd")));
}

fn blob_round_trip(store: &dyn BlobStore) {
    let data = b"hello airlift".repeat(1000);
    let mut writer = store.writer().unwrap();
    writer.write_all(&data).unwrap();
    let (digest, length) = writer.commit(Some(&Digest::of(&data))).unwrap();
    assert_eq!(digest, Digest::of(&data));
    assert_eq!(length, data.len() as u64);
    assert_eq!(store.size(&digest).unwrap(), Some(data.len() as u64));
    let mut back = Vec::new();
    store.open(&digest).unwrap().read_to_end(&mut back).unwrap();
    assert_eq!(back, data, "blob read back differs");
    assert_eq!(store.list().unwrap(), vec![digest]);
}

fn blob_invisible_until_commit(store: &dyn BlobStore) {
    let data = b"staged";
    let mut writer = store.writer().unwrap();
    writer.write_all(data).unwrap();
    assert_eq!(
        store.size(&Digest::of(data)).unwrap(),
        None,
        "staged blob visible before commit"
    );
    drop(writer);
    assert!(
        store.list().unwrap().is_empty(),
        "abandoned write became visible"
    );
}

fn blob_digest_mismatch_stores_nothing(store: &dyn BlobStore) {
    let mut writer = store.writer().unwrap();
    writer.write_all(b"actual bytes").unwrap();
    let wrong = Digest::of(b"other bytes");
    match writer.commit(Some(&wrong)) {
        Err(StoreError::DigestMismatch { expected, .. }) => assert_eq!(expected, wrong),
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    assert!(
        store.list().unwrap().is_empty(),
        "mismatching blob was stored"
    );
}

fn blob_commit_is_idempotent(store: &dyn BlobStore) {
    for _ in 0..2 {
        let mut writer = store.writer().unwrap();
        writer.write_all(b"same").unwrap();
        writer.commit(None).unwrap();
    }
    assert_eq!(store.list().unwrap().len(), 1);
}

fn blob_missing_is_reported(store: &dyn BlobStore) {
    let digest = Digest::of(b"absent");
    assert_eq!(store.size(&digest).unwrap(), None);
    match store.open(&digest) {
        Err(StoreError::MissingBlob(d)) => assert_eq!(d, digest),
        Err(other) => panic!("expected MissingBlob, got {other:?}"),
        Ok(_) => panic!("opened a missing blob"),
    }
}

fn entry(key: &str, data: &[u8]) -> Entry {
    Entry {
        ecosystem: "files".into(),
        key: key.into(),
        digest: Digest::of(data),
        size: data.len() as u64,
        meta: serde_json::json!({"source": key}),
    }
}

fn meta_generations_are_immutable(store: &dyn MetaStore) {
    assert!(store.current().unwrap().is_none());
    let first = store
        .commit(NewGeneration {
            source: "one".into(),
            created_at: 1,
            entries: vec![entry("a", b"a"), entry("b", b"b")],
            state: vec![],
        })
        .unwrap();
    let second = store
        .commit(NewGeneration {
            source: "two".into(),
            created_at: 2,
            entries: vec![entry("a", b"a2")],
            state: vec![],
        })
        .unwrap();
    assert!(second.id > first.id);
    assert_eq!(store.current().unwrap().map(|g| g.id), Some(second.id));
    assert_eq!(
        store.entries(first.id, None).unwrap().len(),
        2,
        "old generation changed"
    );
    assert_eq!(store.entries(second.id, None).unwrap().len(), 1);
    let a = store.entry(second.id, "files", "a").unwrap().unwrap();
    assert_eq!(a.digest, Digest::of(b"a2"));
    assert!(store.entry(second.id, "files", "b").unwrap().is_none());
    assert_eq!(store.generations().unwrap().len(), 2);
}

fn meta_state_commits_with_generation(store: &dyn MetaStore) {
    assert_eq!(store.state("k").unwrap(), None);
    store
        .commit(NewGeneration {
            source: "s".into(),
            created_at: 1,
            entries: vec![],
            state: vec![("k".into(), "v1".into())],
        })
        .unwrap();
    assert_eq!(store.state("k").unwrap().as_deref(), Some("v1"));
    // A failing commit (duplicate key) must change neither state nor generation.
    let before = store.current().unwrap();
    let result = store.commit(NewGeneration {
        source: "bad".into(),
        created_at: 2,
        entries: vec![entry("x", b"1"), entry("x", b"2")],
        state: vec![("k".into(), "v2".into())],
    });
    assert!(result.is_err(), "duplicate keys were accepted");
    assert_eq!(
        store.current().unwrap(),
        before,
        "failed commit moved the generation"
    );
    assert_eq!(
        store.state("k").unwrap().as_deref(),
        Some("v1"),
        "failed commit changed state"
    );
}

fn meta_entries_filter_and_sort(store: &dyn MetaStore) {
    let mut other = entry("z", b"z");
    other.ecosystem = "other".into();
    let generation = store
        .commit(NewGeneration {
            source: "s".into(),
            created_at: 1,
            entries: vec![entry("b", b"b"), other, entry("a", b"a")],
            state: vec![],
        })
        .unwrap();
    let files: Vec<String> = store
        .entries(generation.id, Some("files"))
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(files, vec!["a", "b"]);
    assert_eq!(store.entries(generation.id, None).unwrap().len(), 3);
}

fn meta_changes_are_incremental_and_old_generations_stay(store: &dyn MetaStore) {
    let first = store
        .commit(NewGeneration {
            source: "full".into(),
            created_at: 1,
            entries: vec![
                entry("a", b"a"),
                entry("b", b"b"),
                entry("c/1", b"c1"),
                entry("c/2", b"c2"),
            ],
            state: vec![],
        })
        .unwrap();
    let second = store
        .apply(Change {
            source: "push".into(),
            created_at: 2,
            upserts: vec![entry("a", b"a2"), entry("d", b"d")],
            removals: vec![
                ("files".into(), "b".into()),
                ("files".into(), "absent".into()),
            ],
            state: vec![("k".into(), "v".into())],
        })
        .unwrap();
    assert_eq!(second.entries, 4, "live entry count after the change");
    let keys = |g: u64| -> Vec<(String, Digest)> {
        store
            .entries(g, None)
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.digest))
            .collect()
    };
    assert_eq!(
        keys(second.id),
        vec![
            ("a".into(), Digest::of(b"a2")),
            ("c/1".into(), Digest::of(b"c1")),
            ("c/2".into(), Digest::of(b"c2")),
            ("d".into(), Digest::of(b"d")),
        ]
    );
    assert_eq!(keys(first.id).len(), 4, "the earlier generation changed");
    assert_eq!(
        store.entry(first.id, "files", "a").unwrap().unwrap().digest,
        Digest::of(b"a")
    );
    assert!(store.entry(second.id, "files", "b").unwrap().is_none());
    let prefixed: Vec<String> = store
        .entries_with_prefix(second.id, "files", "c/")
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(prefixed, vec!["c/1", "c/2"]);
    assert_eq!(store.state("k").unwrap().as_deref(), Some("v"));
    // A full commit back to the first set restores it exactly.
    let third = store
        .commit(NewGeneration {
            source: "full".into(),
            created_at: 3,
            entries: store.entries(first.id, None).unwrap(),
            state: vec![],
        })
        .unwrap();
    assert_eq!(keys(third.id), keys(first.id));
}

fn meta_pruning_keeps_newer_generations_exactly(store: &dyn MetaStore) {
    assert_eq!(
        store.prune_generations(1, false).unwrap(),
        crate::Pruned::default(),
        "pruning an empty index removed something"
    );
    let mut ids = Vec::new();
    for i in 0..5u8 {
        // "a" changes every time, "b" never, "c" comes and goes.
        let mut entries = vec![entry("a", &[i]), entry("b", b"b")];
        if i % 2 == 0 {
            entries.push(entry("c", &[b'c', i]));
        }
        ids.push(
            store
                .commit(NewGeneration {
                    source: format!("g{i}"),
                    created_at: i64::from(i),
                    entries,
                    state: vec![],
                })
                .unwrap()
                .id,
        );
    }
    let kept = ids[2];
    let before: Vec<Vec<Entry>> = ids[2..]
        .iter()
        .map(|id| store.entries(*id, None).unwrap())
        .collect();
    let wanted: std::collections::BTreeSet<Digest> =
        before.iter().flatten().map(|e| e.digest).collect();
    assert_eq!(
        store.referenced_digests(kept).unwrap(),
        wanted,
        "referenced digests are not those of the kept generations"
    );
    let counted = store.prune_generations(kept, true).unwrap();
    assert_eq!(store.generations().unwrap().len(), 5, "a dry run pruned");
    let pruned = store.prune_generations(kept, false).unwrap();
    assert_eq!(counted, pruned, "the dry run counted otherwise");
    assert_eq!(pruned.generations, 2);
    // Rows seen only by the two pruned generations: a0, a1, c0.
    assert_eq!(pruned.rows, 3);
    let left: Vec<u64> = store.generations().unwrap().iter().map(|g| g.id).collect();
    assert_eq!(left, ids[2..].to_vec());
    for (id, entries) in ids[2..].iter().zip(&before) {
        assert_eq!(
            &store.entries(*id, None).unwrap(),
            entries,
            "kept generation {id} reads otherwise after pruning"
        );
        for e in entries {
            assert_eq!(
                store.entry(*id, &e.ecosystem, &e.key).unwrap().as_ref(),
                Some(e)
            );
        }
    }
    assert_eq!(store.referenced_digests(kept).unwrap(), wanted);
    // The next change still builds on the current generation.
    let next = store
        .apply(Change {
            source: "after".into(),
            created_at: 9,
            upserts: vec![entry("d", b"d")],
            removals: vec![("files".into(), "b".into())],
            state: vec![],
        })
        .unwrap();
    let keys: Vec<String> = store
        .entries(next.id, None)
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, vec!["a", "c", "d"]);
    // The current generation is never pruned, whatever is asked.
    store.prune_generations(u64::MAX, false).unwrap();
    assert_eq!(
        store
            .generations()
            .unwrap()
            .iter()
            .map(|g| g.id)
            .collect::<Vec<_>>(),
        vec![next.id]
    );
    assert_eq!(store.entries(next.id, None).unwrap().len(), 3);
}
