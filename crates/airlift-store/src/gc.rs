//! Garbage collection: old generations out of the index, then blobs that
//! no kept generation references out of the blob store.
//!
//! Two steps, in this order:
//!
//! 1. **Retention.** The newest [`Retention::keep_generations`] generations
//!    are kept, and so are the current generation and the newest one made by
//!    an import (the next import compares against it to tell what came
//!    from inside the gap, and a delta bundle omits the blobs it carried),
//!    and every generation an environment serves or can roll back to
//!    ([`environment::oldest_pinned`](crate::environment::oldest_pinned)).
//!    Generations are row versions (ADR 0006), so keeping a generation keeps
//!    every newer one too: everything older than the oldest kept generation
//!    is pruned ([`MetaStore::prune_generations`](crate::MetaStore::prune_generations)).
//! 2. **Mark and sweep.** The cutoff `now - grace` is taken, then the
//!    digests referenced by the kept generations are read in one query
//!    ([`MetaStore::referenced_digests`](crate::MetaStore::referenced_digests): the mark), then every stored blob
//!    outside that set is removed if it was committed before the cutoff
//!    ([`BlobStore::remove_if_older`](crate::BlobStore::remove_if_older): the sweep, which reads each blob's
//!    time only when it comes to it).
//!
//! # Why a blob that is in use is never removed
//!
//! Writers (a push, an import, a collect) store a blob first and commit the
//! index entry that references it afterwards, and garbage collection runs
//! while they do. Take a blob `B` that the index references when the
//! collection ends. If the entry was committed before the mark, `B` is in
//! the marked set and stays. Otherwise the entry was committed after the
//! mark, by a writer that committed `B` to the blob store at some time `W`
//! before that; committing a blob, even one already stored, sets its time to
//! the commit's (`FsBlobStore` installs a fresh copy by rename), so `B`'s
//! time is at least `W` when the sweep looks at it. The sweep removes `B`
//! only if that time is before `cutoff = T - grace`, where `T` (when the
//! cutoff was taken) is before the mark, which is before the entry's commit
//! `C`. So `B` is lost only if `C - W > grace`: the writer took longer than
//! the grace period between storing a blob and committing the entry that
//! references it. The grace period is the bound on that gap, and with a
//! grace of zero the race does lose blobs (`tests/gc_race.rs` shows both).
//!
//! A writer that finds a blob already stored and does not commit it again
//! (collect and import skip blobs they have) gets no fresh time: such a
//! blob is protected only if it is referenced at the mark. That is why
//! `airlift gc` refuses to run during an import (it takes the import lock),
//! and why the default grace (an hour) is long.
//!
//! A mount of a blob from another repository links a blob that some entry
//! references at that moment: if that entry was there at the mark, the blob
//! was marked; if it came later, the argument above applies to it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::blob::Swept;
use crate::{Store, StoreError};

/// What to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retention {
    /// How many of the newest generations to keep (at least one: the
    /// current generation is always kept).
    pub keep_generations: usize,
    /// Blobs committed more recently than this are kept even when nothing
    /// references them: a writer may not have committed its entry yet.
    pub grace: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep_generations: 5,
            grace: Duration::from_secs(60 * 60),
        }
    }
}

/// What a collection removed (or, in a dry run, would remove).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct GcReport {
    /// True when nothing was removed.
    pub dry_run: bool,
    /// The oldest generation kept, if there is any generation.
    pub oldest_kept: Option<u64>,
    /// Generations kept.
    pub generations_kept: u64,
    /// Generations pruned from the index.
    pub generations_pruned: u64,
    /// Entry row versions pruned from the index.
    pub rows_pruned: u64,
    /// Blobs the kept generations reference.
    pub blobs_referenced: u64,
    /// Blobs removed.
    pub blobs_removed: u64,
    /// The bytes those blobs held.
    pub bytes_reclaimed: u64,
    /// Blobs kept: referenced ones and unreferenced ones within the grace period.
    pub blobs_kept: u64,
    /// Of the kept blobs, those nothing references, kept for the grace period.
    pub blobs_in_grace: u64,
    /// Abandoned staged writes removed.
    pub staged_removed: u64,
    /// The bytes those held.
    pub staged_bytes: u64,
    /// Wall-clock seconds the collection took.
    pub seconds: f64,
    /// Blobs looked at per second.
    pub blobs_per_second: f64,
}

/// The oldest generation to keep under `retention`, or `None` when the
/// index has no generation.
pub fn oldest_kept(store: &Store, retention: &Retention) -> Result<Option<u64>, StoreError> {
    let generations = store.meta.generations()?;
    let keep = retention.keep_generations.max(1);
    let Some(newest_kept) = generations.iter().rev().take(keep).map(|g| g.id).min() else {
        return Ok(None);
    };
    let current = store.meta.current()?.map(|g| g.id);
    let last_import = generations
        .iter()
        .rev()
        .find(|g| g.source.starts_with("import "))
        .map(|g| g.id);
    // Every generation an environment serves or can roll back to
    // (ADR 0027).
    let pinned = crate::environment::oldest_pinned(store.meta.as_ref()).map_err(|e| match e {
        crate::environment::EnvironmentError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    })?;
    Ok([Some(newest_kept), current, last_import, pinned]
        .into_iter()
        .flatten()
        .min())
}

/// What [`run`] would do, without changing anything.
pub fn plan(store: &Store, retention: &Retention) -> Result<GcReport, StoreError> {
    collect(store, retention, true)
}

/// Prunes old generations and sweeps unreferenced blobs and abandoned
/// staged writes, in the order the module documentation explains.
pub fn run(store: &Store, retention: &Retention) -> Result<GcReport, StoreError> {
    collect(store, retention, false)
}

fn collect(store: &Store, retention: &Retention, dry_run: bool) -> Result<GcReport, StoreError> {
    let started = Instant::now();
    let mut report = GcReport {
        dry_run,
        ..GcReport::default()
    };
    // 1. Retention: decided first, so that the mark below sees the index
    // as it is after pruning. Generations committed from now on are newer
    // than `oldest`, so they are kept.
    let oldest = oldest_kept(store, retention)?;
    report.oldest_kept = oldest;
    if let Some(oldest) = oldest {
        let pruned = store.meta.prune_generations(oldest, dry_run)?;
        report.generations_pruned = pruned.generations;
        report.rows_pruned = pruned.rows;
        report.generations_kept = store
            .meta
            .generations()?
            .iter()
            .filter(|g| g.id >= oldest)
            .count() as u64;
    }
    // 2. The cutoff, before the mark (the order the safety argument needs).
    let cutoff = SystemTime::now()
        .checked_sub(retention.grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    // 3. Mark. Without a generation nothing is referenced.
    let referenced: BTreeSet<_> = match oldest {
        Some(oldest) => store.meta.referenced_digests(oldest)?,
        None => BTreeSet::new(),
    };
    // 4. Sweep, reading each blob's time as it comes to it.
    let mut looked_at = 0u64;
    store.blobs.for_each_blob(&mut |digest| {
        looked_at += 1;
        if referenced.contains(&digest) {
            report.blobs_referenced += 1;
            report.blobs_kept += 1;
            return Ok(());
        }
        match store.blobs.remove_if_older(&digest, cutoff, dry_run)? {
            Swept::Removed(bytes) => {
                report.blobs_removed += 1;
                report.bytes_reclaimed += bytes;
            }
            Swept::Fresh => {
                report.blobs_kept += 1;
                report.blobs_in_grace += 1;
            }
            Swept::Gone => {}
        }
        Ok(())
    })?;
    let (staged, staged_bytes) = store.blobs.sweep_staged(cutoff, dry_run)?;
    report.staged_removed = staged;
    report.staged_bytes = staged_bytes;
    report.seconds = started.elapsed().as_secs_f64();
    report.blobs_per_second = if report.seconds > 0.0 {
        looked_at as f64 / report.seconds
    } else {
        0.0
    };
    Ok(report)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write;

    use airlift_core::Digest;

    use super::*;
    use crate::{Entry, NewGeneration};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_embedded(dir.path()).unwrap();
        (dir, store)
    }

    /// Stores `data` and returns the entry `key` for it.
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

    /// Makes a stored blob look committed `age` ago.
    fn age(store: &Store, digest: &Digest, age: Duration) {
        let path = store.blobs.local_path(digest).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    fn commit(store: &Store, source: &str, entries: Vec<Entry>) -> u64 {
        store
            .meta
            .commit(NewGeneration {
                source: source.into(),
                created_at: 1,
                entries,
                state: vec![],
            })
            .unwrap()
            .id
    }

    const OLD: Duration = Duration::from_secs(3 * 60 * 60);

    fn keep(n: usize) -> Retention {
        Retention {
            keep_generations: n,
            ..Retention::default()
        }
    }

    /// An environment pinned to an old generation, or able to roll back to
    /// one, keeps it and its blobs (ADR 0027).
    #[test]
    fn generations_an_environment_can_serve_are_kept() {
        let (_dir, store) = store();
        let mut ids = Vec::new();
        for i in 0..5 {
            let e = put(&store, "changing", format!("v{i}").as_bytes());
            ids.push(commit(&store, "collect", vec![e]));
        }
        let meta = store.meta.as_ref();
        crate::environment::create(meta, "production", Some(ids[1]), 0, "ops", 1).unwrap();
        crate::environment::move_to(meta, "production", ids[2], "ops", 2).unwrap();
        let report = run(&store, &keep(1)).unwrap();
        assert_eq!(report.oldest_kept, Some(ids[1]));
        assert_eq!(store.meta.entries(ids[1], None).unwrap().len(), 1);
        crate::environment::delete(meta, "production").unwrap();
        let report = run(&store, &keep(1)).unwrap();
        assert_eq!(report.oldest_kept, Some(ids[4]));
    }

    #[test]
    fn pruning_keeps_the_newest_generations_as_they_were() {
        let (_dir, store) = store();
        let stable = put(&store, "stable", b"stable");
        let mut ids = Vec::new();
        for i in 0..6 {
            let changing = put(&store, "changing", format!("v{i}").as_bytes());
            let mut entries = vec![stable.clone(), changing];
            if i % 2 == 0 {
                entries.push(put(
                    &store,
                    &format!("only-{i}"),
                    format!("o{i}").as_bytes(),
                ));
            }
            ids.push(commit(&store, "collect", entries));
        }
        let before: Vec<Vec<Entry>> = ids
            .iter()
            .map(|id| store.meta.entries(*id, None).unwrap())
            .collect();
        let report = run(&store, &keep(3)).unwrap();
        assert_eq!(report.oldest_kept, Some(ids[3]));
        assert_eq!(report.generations_pruned, 3);
        assert_eq!(report.generations_kept, 3);
        assert!(report.rows_pruned > 0, "{report:?}");
        let left: Vec<u64> = store
            .meta
            .generations()
            .unwrap()
            .iter()
            .map(|g| g.id)
            .collect();
        assert_eq!(left, ids[3..].to_vec());
        for (i, id) in ids.iter().enumerate().skip(3) {
            assert_eq!(
                store.meta.entries(*id, None).unwrap(),
                before[i],
                "kept generation {id} changed"
            );
        }
        assert_eq!(
            store.meta.current().unwrap().map(|g| g.id),
            ids.last().copied()
        );
        assert!(crate::fsck(&store).unwrap().is_clean());
    }

    #[test]
    fn a_blob_only_a_pruned_generation_references_is_swept() {
        let (_dir, store) = store();
        let gone = put(&store, "a", b"first version, only in generation one");
        commit(&store, "collect", vec![gone.clone()]);
        let kept = put(&store, "a", b"second");
        commit(&store, "collect", vec![kept.clone()]);
        age(&store, &gone.digest, OLD);
        age(&store, &kept.digest, OLD);
        let report = run(&store, &keep(1)).unwrap();
        assert_eq!(report.generations_pruned, 1);
        assert_eq!(report.blobs_removed, 1, "{report:?}");
        assert_eq!(report.bytes_reclaimed, gone.size);
        assert_eq!(report.blobs_kept, 1);
        assert_eq!(store.blobs.size(&gone.digest).unwrap(), None);
        assert_eq!(store.blobs.size(&kept.digest).unwrap(), Some(kept.size));
        let fsck = crate::fsck(&store).unwrap();
        assert!(fsck.is_clean() && fsck.unreferenced_blobs == 0, "{fsck:?}");
    }

    #[test]
    fn a_blob_of_a_kept_generation_stays_however_old() {
        let (_dir, store) = store();
        let old = put(&store, "a", b"a");
        commit(&store, "collect", vec![old.clone()]);
        commit(&store, "collect", vec![put(&store, "a", b"b")]);
        age(&store, &old.digest, OLD);
        let report = run(&store, &keep(2)).unwrap();
        assert_eq!(report.blobs_removed, 0, "{report:?}");
        assert!(store.blobs.size(&old.digest).unwrap().is_some());
    }

    #[test]
    fn a_fresh_unreferenced_blob_is_kept_for_the_grace_period() {
        let (_dir, store) = store();
        commit(&store, "collect", vec![put(&store, "a", b"a")]);
        let fresh = put(&store, "pushed", b"written, not yet committed");
        let report = run(&store, &Retention::default()).unwrap();
        assert_eq!(report.blobs_removed, 0, "{report:?}");
        assert_eq!(report.blobs_in_grace, 1);
        assert!(store.blobs.size(&fresh.digest).unwrap().is_some());
        // Past the grace period, it goes.
        age(&store, &fresh.digest, OLD);
        let report = run(&store, &Retention::default()).unwrap();
        assert_eq!(report.blobs_removed, 1, "{report:?}");
        assert_eq!(store.blobs.size(&fresh.digest).unwrap(), None);
    }

    #[test]
    fn committing_a_stored_blob_again_makes_it_fresh() {
        let (_dir, store) = store();
        commit(&store, "collect", vec![]);
        let blob = put(&store, "x", b"stored long ago, written again by a push");
        age(&store, &blob.digest, OLD);
        put(&store, "x", b"stored long ago, written again by a push");
        let report = run(&store, &Retention::default()).unwrap();
        assert_eq!(report.blobs_in_grace, 1, "{report:?}");
        assert!(store.blobs.size(&blob.digest).unwrap().is_some());
    }

    #[test]
    fn a_dry_run_removes_nothing_and_reports_the_same() {
        let (_dir, store) = store();
        let mut all = Vec::new();
        for i in 0..4 {
            let entry = put(&store, "a", format!("version {i}").as_bytes());
            all.push(entry.clone());
            commit(&store, "collect", vec![entry]);
        }
        let stray = put(&store, "stray", b"never committed");
        for entry in &all {
            age(&store, &entry.digest, OLD);
        }
        age(&store, &stray.digest, OLD);
        let generations = store.meta.generations().unwrap();
        let blobs = store.blobs.list().unwrap();
        let planned = plan(&store, &keep(2)).unwrap();
        assert!(planned.dry_run);
        assert_eq!(store.meta.generations().unwrap(), generations);
        assert_eq!(store.blobs.list().unwrap(), blobs);
        let done = run(&store, &keep(2)).unwrap();
        assert_eq!(planned.blobs_removed, 3, "{planned:?}");
        for (field, planned, done) in [
            (
                "generations",
                planned.generations_pruned,
                done.generations_pruned,
            ),
            ("rows", planned.rows_pruned, done.rows_pruned),
            ("blobs", planned.blobs_removed, done.blobs_removed),
            ("bytes", planned.bytes_reclaimed, done.bytes_reclaimed),
            ("kept", planned.blobs_kept, done.blobs_kept),
            (
                "generations kept",
                planned.generations_kept,
                done.generations_kept,
            ),
        ] {
            assert_eq!(planned, done, "{field}: the dry run said otherwise");
        }
        assert_eq!(store.blobs.list().unwrap().len(), 2);
    }

    #[test]
    fn the_last_import_generation_is_kept() {
        let (_dir, store) = store();
        let imported = commit(&store, "import 1234", vec![put(&store, "a", b"a")]);
        for i in 0..4 {
            commit(
                &store,
                "push",
                vec![put(&store, "b", format!("{i}").as_bytes())],
            );
        }
        let report = run(&store, &keep(1)).unwrap();
        assert_eq!(report.oldest_kept, Some(imported));
        assert_eq!(report.generations_pruned, 0);
    }

    #[test]
    fn abandoned_staged_writes_go_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_embedded(dir.path()).unwrap();
        let tmp = crate::layout::Layout::new(dir.path()).store_tmp_dir();
        let stale = tmp.join(format!("blob-{}-999999", std::process::id()));
        let recent = tmp.join(format!("blob-{}-999998", std::process::id()));
        std::fs::write(&stale, b"abandoned").unwrap();
        std::fs::write(&recent, b"being written").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - OLD)
            .unwrap();
        let report = run(&store, &Retention::default()).unwrap();
        assert_eq!((report.staged_removed, report.staged_bytes), (1, 9));
        assert!(!stale.exists());
        assert!(recent.exists());
    }
}
