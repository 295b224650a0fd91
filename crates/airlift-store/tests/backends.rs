//! Runs the backend conformance suite against the embedded backends.

use airlift_store::{FsBlobStore, SqliteMetaStore, suite};

#[test]
fn fs_blob_store_passes_the_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    suite::blob_store(&|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(&dir.path().join("blobs"), &dir.path().join("tmp"))
            .expect("open fs blob store");
        dirs.lock().expect("lock").push(dir);
        Box::new(store)
    });
}

#[test]
fn sqlite_meta_store_passes_the_suite_in_memory() {
    suite::meta_store(&|| Box::new(SqliteMetaStore::in_memory().expect("open sqlite")));
}

#[test]
fn sqlite_meta_store_passes_the_suite_on_disk() {
    let dirs = std::sync::Mutex::new(Vec::new());
    suite::meta_store(&|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteMetaStore::open(&dir.path().join("index.sqlite")).expect("open sqlite");
        dirs.lock().expect("lock").push(dir);
        Box::new(store)
    });
}
