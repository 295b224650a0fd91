//! Content-addressed blob storage.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use airlift_core::{Digest, Sha256, fsync_dir};

use crate::StoreError;
use crate::layout::blob_relative_path;

/// A readable, seekable blob.
pub trait BlobRead: Read + Seek + Send {}
impl<T: Read + Seek + Send> BlobRead for T {}

/// Immutable blobs named by their SHA-256 digest.
///
/// Implementations must guarantee that a blob is visible under a digest only
/// once its bytes hash to that digest and are durable.
pub trait BlobStore: Send + Sync {
    /// The size of a blob, or `None` if it is absent.
    fn size(&self, digest: &Digest) -> Result<Option<u64>, StoreError>;
    /// Opens a blob for reading.
    fn open(&self, digest: &Digest) -> Result<Box<dyn BlobRead>, StoreError>;
    /// Starts a staged write. Nothing is visible until [`BlobWriter::commit`].
    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError>;
    /// Every stored digest, sorted.
    fn list(&self) -> Result<Vec<Digest>, StoreError>;
    /// Removes a blob (garbage collection and tests only).
    fn remove(&self, digest: &Digest) -> Result<(), StoreError>;
    /// A local file path for a blob, when the backend has one (fast paths:
    /// `sendfile`-style serving, renames from quarantine).
    fn local_path(&self, digest: &Digest) -> Option<PathBuf>;
    /// Adopts a local file already known to hash to `digest` (for example a
    /// verified quarantine copy). The default implementation copies it through
    /// a writer, re-checking the digest.
    fn adopt(&self, file: &Path, digest: &Digest) -> Result<(), StoreError> {
        let mut source = File::open(file).map_err(StoreError::io("open", file))?;
        let mut writer = self.writer()?;
        io::copy(&mut source, &mut writer).map_err(StoreError::io("copy", file))?;
        writer.commit(Some(digest))?;
        Ok(())
    }
}

/// A staged blob write.
pub trait BlobWriter: Write + Send {
    /// Verifies the digest (when given), makes the blob durable and visible,
    /// and returns its digest and length. Committing a blob that already
    /// exists is a no-op.
    fn commit(self: Box<Self>, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError>;
}

/// Blobs in a local directory: `<root>/sha256/<2 hex>/<64 hex>`.
pub struct FsBlobStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Opens the store, creating directories and clearing abandoned staged writes.
    pub fn open(root: &Path, tmp: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(root).map_err(StoreError::io("create directory", root))?;
        fs::create_dir_all(tmp).map_err(StoreError::io("create directory", tmp))?;
        for entry in fs::read_dir(tmp).map_err(StoreError::io("list", tmp))? {
            let entry = entry.map_err(StoreError::io("list", tmp))?;
            let path = entry.path();
            // A staged write left by a process that is gone (killed mid-write):
            // never visible, safe to drop. Other processes' writes are left alone.
            if !staged_by_live_process(&entry.file_name().to_string_lossy()) {
                fs::remove_file(&path)
                    .map_err(StoreError::io("remove stale staged write", &path))?;
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            tmp: tmp.to_path_buf(),
        })
    }

    fn path_of(&self, digest: &Digest) -> PathBuf {
        self.root.join(blob_relative_path(digest))
    }

    /// Moves a verified file into place by rename (same file system).
    fn install(&self, staged: &Path, digest: &Digest) -> Result<(), StoreError> {
        let target = self.path_of(digest);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent).map_err(StoreError::io("create directory", &parent))?;
        if target.exists() {
            fs::remove_file(staged).map_err(StoreError::io("remove", staged))?;
            return Ok(());
        }
        fs::rename(staged, &target).map_err(StoreError::io("rename into store", &target))?;
        fsync_dir(&parent).map_err(StoreError::io("fsync", &parent))?;
        Ok(())
    }
}

static STAGE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Staged names are `<kind>-<pid>-<counter>`; true when that process still runs.
fn staged_by_live_process(name: &str) -> bool {
    let pid = name.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) if pid == std::process::id() => true,
        Some(pid) => Path::new("/proc").join(pid.to_string()).exists(),
        None => false,
    }
}

impl BlobStore for FsBlobStore {
    fn size(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        let path = self.path_of(digest);
        match fs::metadata(&path) {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Io {
                action: "stat",
                path,
                source: e,
            }),
        }
    }

    fn open(&self, digest: &Digest) -> Result<Box<dyn BlobRead>, StoreError> {
        let path = self.path_of(digest);
        match File::open(&path) {
            Ok(file) => Ok(Box::new(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::MissingBlob(*digest)),
            Err(e) => Err(StoreError::Io {
                action: "open",
                path,
                source: e,
            }),
        }
    }

    fn writer(&self) -> Result<Box<dyn BlobWriter>, StoreError> {
        let path = self.tmp.join(format!(
            "blob-{}-{}",
            std::process::id(),
            STAGE_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(StoreError::io("create staged blob", &path))?;
        Ok(Box::new(FsBlobWriter {
            store_root: self.root.clone(),
            store_tmp: self.tmp.clone(),
            path,
            file: Some(file),
            hasher: Some(Sha256::new()),
            length: 0,
        }))
    }

    fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let mut out = Vec::new();
        let algo_dir = self.root.join("sha256");
        let shards = match fs::read_dir(&algo_dir) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io("list", &algo_dir)(e)),
        };
        for shard in shards {
            let shard = shard.map_err(StoreError::io("list", &algo_dir))?;
            let shard_path = shard.path();
            for blob in fs::read_dir(&shard_path).map_err(StoreError::io("list", &shard_path))? {
                let blob = blob.map_err(StoreError::io("list", &shard_path))?;
                let name = blob.file_name();
                let name = name.to_string_lossy();
                let digest = Digest::from_hex(&name).map_err(|_| {
                    StoreError::Corrupt(format!(
                        "unexpected file in blob store: {}",
                        blob.path().display()
                    ))
                })?;
                out.push(digest);
            }
        }
        out.sort();
        Ok(out)
    }

    fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let path = self.path_of(digest);
        fs::remove_file(&path).map_err(StoreError::io("remove", &path))
    }

    fn local_path(&self, digest: &Digest) -> Option<PathBuf> {
        Some(self.path_of(digest))
    }

    fn adopt(&self, file: &Path, digest: &Digest) -> Result<(), StoreError> {
        // The caller verified the digest while copying the file in; a rename
        // keeps import at one hash pass. Files from another file system fall
        // back to a verified copy.
        let staged = self.tmp.join(format!(
            "adopt-{}-{}",
            std::process::id(),
            STAGE_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::rename(file, &staged) {
            Ok(()) => {
                File::open(&staged)
                    .and_then(|f| f.sync_all())
                    .map_err(StoreError::io("fsync", &staged))?;
                self.install(&staged, digest)
            }
            Err(_) => {
                let mut source = File::open(file).map_err(StoreError::io("open", file))?;
                let mut writer = self.writer()?;
                io::copy(&mut source, &mut writer).map_err(StoreError::io("copy", file))?;
                writer.commit(Some(digest))?;
                Ok(())
            }
        }
    }
}

struct FsBlobWriter {
    store_root: PathBuf,
    store_tmp: PathBuf,
    path: PathBuf,
    file: Option<File>,
    hasher: Option<Sha256>,
    length: u64,
}

impl Write for FsBlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob writer already committed"))?;
        let n = file.write(buf)?;
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&buf[..n]);
        }
        self.length += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }
}

impl BlobWriter for FsBlobWriter {
    fn commit(mut self: Box<Self>, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| StoreError::Corrupt("blob writer committed twice".to_owned()))?;
        let hasher = self.hasher.take().unwrap_or_default();
        let actual = hasher.finish();
        if let Some(expected) = expected
            && *expected != actual
        {
            drop(file);
            let _ = fs::remove_file(&self.path);
            return Err(StoreError::DigestMismatch {
                expected: *expected,
                actual,
                length: self.length,
            });
        }
        file.sync_all()
            .map_err(StoreError::io("fsync", &self.path))?;
        drop(file);
        let store = FsBlobStore {
            root: self.store_root.clone(),
            tmp: self.store_tmp.clone(),
        };
        store.install(&self.path, &actual)?;
        Ok((actual, self.length))
    }
}

impl Drop for FsBlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Abandoned before commit: nothing may become visible.
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_clears_staged_writes_of_dead_processes_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(&tmp).expect("mkdir");
        // No process has pid 4294967; ours is alive.
        let dead = tmp.join("blob-4294967-0");
        let live = tmp.join(format!("blob-{}-99", std::process::id()));
        let odd = tmp.join("leftover");
        for path in [&dead, &live, &odd] {
            fs::write(path, b"x").expect("write");
        }
        FsBlobStore::open(&dir.path().join("blobs"), &tmp).expect("open");
        assert!(!dead.exists(), "a dead process's staged write was kept");
        assert!(!odd.exists(), "an unattributable staged write was kept");
        assert!(live.exists(), "a live process's staged write was removed");
    }
}
