//! The bad-bundle scenario shared by `bad_bundles.rs` and `bad_archives.rs`:
//! a connected side, an isolated side that imported a first bundle, the
//! check that a refusal leaves the isolated store exactly as it was, and
//! small helpers that damage a copy of a bundle.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Connected, Home, epoch_plus};

/// A connected side, an isolated side that imported a first bundle, and the
/// clock for a second, newer bundle.
pub struct Scenario {
    pub connected: Connected,
    pub isolated: Home,
    pub before: String,
}

impl Scenario {
    pub fn new() -> Self {
        let connected = Connected::sample();
        let first = connected.pack("first", &[]);
        let isolated = connected.isolated();
        isolated.run(&["import", first.to_str().unwrap()]).ok();
        let before = isolated.snapshot();
        Self {
            connected,
            isolated,
            before,
        }
    }

    /// Packs a newer bundle; `name` decides its form.
    pub fn newer(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = self.connected.work.path().join(name);
        let mut args = vec!["pack", "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        self.connected
            .home
            .run_env(&args, &[("SOURCE_DATE_EPOCH", &epoch_plus(60))])
            .ok();
        out
    }

    /// Import must fail with `code` and `needle`; verify must fail too; the store is unchanged.
    #[track_caller]
    pub fn refused(&self, bundle: &Path, code: i32, needle: &str) {
        let path = bundle.to_str().unwrap();
        self.isolated
            .run(&["import", path])
            .fails_with(code, needle);
        self.isolated
            .run(&["verify", path])
            .fails_with(code, needle);
        self.isolated.run(&["plan", path]).fails_with(code, needle);
        assert_eq!(
            self.isolated.snapshot(),
            self.before,
            "a refused bundle changed the store"
        );
        let quarantine = self.isolated.path().join("quarantine");
        let leftovers: Vec<_> = fs::read_dir(&quarantine)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != ".lock")
            .collect();
        assert!(
            leftovers.is_empty(),
            "quarantine not cleaned: {leftovers:?}"
        );
    }

    /// The imports refused so far, by reason, as recorded in the index for
    /// `/metrics` (`airlift_import_refusals_total`).
    #[allow(dead_code)]
    pub fn refusals(&self) -> std::collections::BTreeMap<String, u64> {
        let store = airlift_store::Store::open_embedded(self.isolated.path()).unwrap();
        airlift_server::operations::read(store.meta.as_ref())
            .unwrap()
            .remove("import")
            .map(|record| record.refusals)
            .unwrap_or_default()
    }

    /// The genuine newer bundle imports after the refusals.
    #[track_caller]
    pub fn genuine_still_imports(&self, bundle: &Path) {
        let run = self
            .isolated
            .run(&["--json", "import", bundle.to_str().unwrap()])
            .ok();
        assert_eq!(run.json()["status"], "imported");
        self.isolated.snapshot();
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).unwrap();
    let at = offset.min(bytes.len() - 1);
    bytes[at] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

pub fn biggest_blob(bundle: &Path) -> PathBuf {
    fs::read_dir(bundle.join("targets/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap()
}
