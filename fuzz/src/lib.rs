//! Helpers shared by the fuzz targets.
//!
//! Some entry points read a file by path (the split-bundle table of
//! contents, a trust anchor): the targets write each input to a scratch file
//! in a directory of this process and call the real entry point on it, so
//! that what is fuzzed is exactly what airlift runs.

use std::path::PathBuf;
use std::sync::OnceLock;

/// A directory private to this fuzzing process, under `$TMPDIR`
/// (`tests/fuzz/run.sh` points that at a directory it removes afterwards).
pub fn scratch_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("airlift-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
}

/// Writes `data` to the scratch file `name` and returns its path.
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, data).expect("write a fuzz scratch file");
    path
}

/// The input as text, as the callers of text parsers see it: they refuse
/// anything that is not UTF-8 before the parser runs.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
