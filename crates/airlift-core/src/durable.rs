//! Durable file writes: write to a temporary name, fsync, rename, fsync the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Writes `data` to `path` so that a crash leaves either the old file or the
/// new one, never a partial file.
pub fn write_file_durably(path: &Path, data: &[u8]) -> io::Result<()> {
    let parent = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(parent)?;
    let mut temp = tempfile_in(parent)?;
    temp.1.write_all(data)?;
    temp.1.sync_all()?;
    drop(temp.1);
    fs::rename(&temp.0, path)?;
    fsync_dir(parent)
}

/// Fsyncs a directory so that renames into it survive a crash.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn tempfile_in(dir: &Path) -> io::Result<(std::path::PathBuf, File)> {
    for attempt in 0..1000u32 {
        let name = dir.join(format!(
            ".tmp-{}-{}-{attempt}",
            std::process::id(),
            unique_suffix()
        ));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&name)
        {
            Ok(file) => return Ok((name, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("could not create a temporary file"))
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_write_replaces_the_file_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a/b.txt");
        write_file_durably(&path, b"one").expect("write");
        write_file_durably(&path, b"two").expect("write");
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = fs::read_dir(dir.path().join("a"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "temporaries left: {names:?}");
    }
}
