//! Content-addressed blob storage.

use std::fs::{self, File};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

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
    /// Calls `visit` with every stored digest, in no particular order,
    /// without collecting them all first (garbage collection walks stores
    /// of many blobs). The provided implementation goes through [`list`].
    ///
    /// [`list`]: BlobStore::list
    fn for_each_blob(
        &self,
        visit: &mut dyn FnMut(Digest) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for digest in self.list()? {
            visit(digest)?;
        }
        Ok(())
    }
    /// Removes a blob only if it was last committed before `cutoff`
    /// (with `dry_run`, only says whether it would be). Committing a blob,
    /// even one already stored, makes it fresh again: that is what lets
    /// garbage collection run while blobs are written (ADR 0023).
    ///
    /// The provided implementation keeps everything: a backend that does
    /// not know when a blob was committed must not guess.
    fn remove_if_older(
        &self,
        digest: &Digest,
        cutoff: SystemTime,
        dry_run: bool,
    ) -> Result<Swept, StoreError> {
        let _ = (digest, cutoff, dry_run);
        Ok(Swept::Fresh)
    }
    /// Removes staged writes (never visible) last written before `cutoff`
    /// and returns how many files and bytes that was (with `dry_run`, would
    /// be). The provided implementation has none.
    fn sweep_staged(&self, cutoff: SystemTime, dry_run: bool) -> Result<(u64, u64), StoreError> {
        let _ = (cutoff, dry_run);
        Ok((0, 0))
    }
}

/// What [`BlobStore::remove_if_older`] did with one blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swept {
    /// Removed (or, in a dry run, would be): it held this many bytes.
    Removed(u64),
    /// Kept: committed at or after the cutoff.
    Fresh,
    /// Already gone.
    Gone,
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

    /// Moves a verified file into place by rename (same file system). The
    /// staged file's modification time is the commit's (see [`commit_time`]),
    /// and it replaces a copy already stored (the same bytes) instead of
    /// being dropped: so the blob under a digest is always as fresh as its
    /// last commit, and a garbage collection that claimed the old copy
    /// (ADR 0023) cannot take the new one with it.
    fn install(&self, staged: &Path, digest: &Digest) -> Result<(), StoreError> {
        let target = self.path_of(digest);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&parent).map_err(StoreError::io("create directory", &parent))?;
        fs::rename(staged, &target).map_err(StoreError::io("rename into store", &target))?;
        fsync_dir(&parent).map_err(StoreError::io("fsync", &parent))?;
        Ok(())
    }
}

static STAGE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Sets a staged file's modification time to now, the time of its commit:
/// garbage collection's grace period counts from it (ADR 0023). A file
/// adopted from an upload can have been last written long before.
fn commit_time(file: &File, path: &Path) -> Result<(), StoreError> {
    file.set_modified(SystemTime::now())
        .map_err(StoreError::io("set the commit time of", path))
}

/// Whether a file was last modified before `cutoff`. A time the file
/// system cannot tell counts as fresh: when unsure, keep.
fn older_than(metadata: &fs::Metadata, cutoff: SystemTime) -> bool {
    metadata.modified().is_ok_and(|modified| modified < cutoff)
}

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
        for shard in self.shards()? {
            out.extend(Self::shard_digests(&shard)?);
        }
        out.sort();
        Ok(out)
    }

    fn for_each_blob(
        &self,
        visit: &mut dyn FnMut(Digest) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // One shard (1/256 of the store) is read before its blobs are
        // visited: a visit may remove a blob, and a directory is not
        // changed while it is being read.
        for shard in self.shards()? {
            for digest in Self::shard_digests(&shard)? {
                visit(digest)?;
            }
        }
        Ok(())
    }

    fn remove_if_older(
        &self,
        digest: &Digest,
        cutoff: SystemTime,
        dry_run: bool,
    ) -> Result<Swept, StoreError> {
        let path = self.path_of(digest);
        if dry_run {
            return match fs::metadata(&path) {
                Ok(metadata) if older_than(&metadata, cutoff) => Ok(Swept::Removed(metadata.len())),
                Ok(_) => Ok(Swept::Fresh),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Swept::Gone),
                Err(e) => Err(StoreError::io("stat", &path)(e)),
            };
        }
        // Claim the file first, then look at its age: a rename takes the
        // one file that is there at that instant, and a commit of the same
        // digest after it installs a new file beside the claim, which stays
        // (checking the age first and then removing could remove a copy
        // committed in between).
        let claimed = self.tmp.join(format!(
            "gc-{}-{}",
            std::process::id(),
            STAGE_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::rename(&path, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Swept::Gone),
            Err(e) => return Err(StoreError::io("claim for removal", &path)(e)),
        }
        let metadata = fs::metadata(&claimed).map_err(StoreError::io("stat", &claimed))?;
        if older_than(&metadata, cutoff) {
            fs::remove_file(&claimed).map_err(StoreError::io("remove", &claimed))?;
            return Ok(Swept::Removed(metadata.len()));
        }
        // Committed within the grace period: put it back. A copy committed
        // meanwhile has the same bytes, so replacing it changes nothing.
        fs::rename(&claimed, &path).map_err(StoreError::io("put back", &path))?;
        Ok(Swept::Fresh)
    }

    fn sweep_staged(&self, cutoff: SystemTime, dry_run: bool) -> Result<(u64, u64), StoreError> {
        let (mut files, mut bytes) = (0, 0);
        for entry in fs::read_dir(&self.tmp).map_err(StoreError::io("list", &self.tmp))? {
            let entry = entry.map_err(StoreError::io("list", &self.tmp))?;
            let path = entry.path();
            let metadata = match entry.metadata() {
                Ok(metadata) => metadata,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("stat", &path)(e)),
            };
            // A staged write (`blob-`) is written to as it goes: one
            // untouched for the grace period was abandoned, whoever made it.
            // An adoption (`adopt-`) keeps its upload's older time until it
            // is committed, and a claim (`gc-`) is another collection's:
            // those are left to their process while it runs.
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let abandoned = name.starts_with("blob-") || !staged_by_live_process(&name);
            if !metadata.is_file() || !abandoned || !older_than(&metadata, cutoff) {
                continue;
            }
            if !dry_run {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io("remove", &path)(e)),
                }
            }
            files += 1;
            bytes += metadata.len();
        }
        Ok((files, bytes))
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
                let file = File::options()
                    .write(true)
                    .open(&staged)
                    .map_err(StoreError::io("open", &staged))?;
                commit_time(&file, &staged)?;
                file.sync_all().map_err(StoreError::io("fsync", &staged))?;
                drop(file);
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

impl FsBlobStore {
    /// The shard directories, `<root>/sha256/<2 hex>`.
    fn shards(&self) -> Result<Vec<PathBuf>, StoreError> {
        let algo_dir = self.root.join("sha256");
        let shards = match fs::read_dir(&algo_dir) {
            Ok(shards) => shards,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("list", &algo_dir)(e)),
        };
        let mut out = Vec::new();
        for shard in shards {
            out.push(shard.map_err(StoreError::io("list", &algo_dir))?.path());
        }
        Ok(out)
    }

    /// The digests in one shard directory.
    fn shard_digests(shard: &Path) -> Result<Vec<Digest>, StoreError> {
        let mut out = Vec::new();
        for blob in fs::read_dir(shard).map_err(StoreError::io("list", shard))? {
            let blob = blob.map_err(StoreError::io("list", shard))?;
            let name = blob.file_name();
            let digest = Digest::from_hex(&name.to_string_lossy()).map_err(|_| {
                StoreError::Corrupt(format!(
                    "unexpected file in blob store: {}",
                    blob.path().display()
                ))
            })?;
            out.push(digest);
        }
        Ok(out)
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
        commit_time(&file, &self.path)?;
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
