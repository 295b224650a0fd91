//! Packing the store's current generation into a signed bundle.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use airlift_core::{Digest, HashingReader};
use airlift_store::{BlobRead, Entry, Store};
use airlift_trust::SiteKeys;
use airlift_trust::metadata::{self, TargetInfo, TufTimes};
use serde::Serialize;
use serde_json::json;

use crate::format::{self, POINTER};
use crate::parts::{PartInfo, PartWriter};
use crate::{BundleError, Progress};

/// How to pack.
#[derive(Debug, Clone)]
pub struct PackOptions {
    /// Output: a directory, or a file ending in `.tar` or `.tar.zst`.
    pub out: PathBuf,
    /// Split the archive into parts of at most this many bytes.
    pub max_part_size: Option<u64>,
    /// The clock: creation time and the base of every expiry.
    pub now: jiff::Timestamp,
    /// Metadata version; defaults to `now` in Unix seconds, so later packs are newer.
    pub version: Option<u64>,
    /// How long the bundle stays importable (timestamp expiry).
    pub valid_for: jiff::SignedDuration,
    /// zstd level for `.tar.zst`.
    pub zstd_level: i32,
    /// zstd worker threads (at least 1; output is the same for any count).
    pub zstd_threads: u32,
}

/// What a pack wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PackReport {
    /// The bundle (directory, archive, or table of contents when split).
    pub path: PathBuf,
    /// `directory`, `tar` or `tar.zst`.
    pub form: String,
    /// Metadata version.
    pub version: u64,
    /// Bundle id: the digest of `timestamp.json`.
    pub bundle_id: Digest,
    /// Index entries carried.
    pub entries: usize,
    /// Blobs carried.
    pub blobs: usize,
    /// Bytes of blobs carried.
    pub blob_bytes: u64,
    /// When the bundle stops being importable.
    pub expires: String,
    /// Parts, when split.
    pub parts: Vec<PartInfo>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Directory,
    Tar,
    TarZstd,
}

impl Form {
    fn of(path: &Path) -> Self {
        let name = path.to_string_lossy();
        if name.ends_with(".tar.zst") {
            Self::TarZstd
        } else if name.ends_with(".tar") {
            Self::Tar
        } else {
            Self::Directory
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::Tar => "tar",
            Self::TarZstd => "tar.zst",
        }
    }
}

/// One file of the bundle, in write order.
enum Item {
    Bytes(String, Vec<u8>),
    Blob(String, Digest, u64),
}

/// Packs the current generation of `store`, signed with `keys`.
pub fn pack(
    store: &Store,
    keys: &SiteKeys,
    options: &PackOptions,
    progress: &dyn Progress,
) -> Result<PackReport, BundleError> {
    let generation = store.meta.current()?.ok_or(BundleError::NothingToPack)?;
    let entries = store.meta.entries(generation.id, None)?;
    let form = Form::of(&options.out);
    if form == Form::Directory && options.max_part_size.is_some() {
        return Err(BundleError::Options(
            "--max-part-size needs an archive: give --out a name ending in .tar or .tar.zst".into(),
        ));
    }
    let toc = crate::parts::toc_path(&options.out);
    let first_part = crate::parts::part_path(&options.out, 1);
    if let Some(existing) = [&options.out, &toc, &first_part]
        .into_iter()
        .find(|p| p.exists())
    {
        return Err(BundleError::Options(format!(
            "{} already exists; packing never overwrites",
            existing.display()
        )));
    }

    // Targets: one per distinct blob, one index document per ecosystem.
    let mut targets: BTreeMap<String, TargetInfo> = BTreeMap::new();
    let mut blobs: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut by_ecosystem: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in &entries {
        blobs.insert(entry.digest, entry.size);
        by_ecosystem
            .entry(entry.ecosystem.as_str())
            .or_default()
            .push(entry);
    }
    let mut index_docs = Vec::new();
    for (ecosystem, list) in &by_ecosystem {
        let document = metadata::canonical_json(&json!({
            "ecosystem": ecosystem,
            "entries": list,
        }));
        let name = format::index_target(ecosystem);
        targets.insert(
            name.clone(),
            TargetInfo {
                length: document.len() as u64,
                sha256: Digest::of(&document),
                custom: json!({"kind": "index", "ecosystem": ecosystem}),
            },
        );
        index_docs.push((name, document));
    }
    for (digest, size) in &blobs {
        targets.insert(
            format::blob_target(digest),
            TargetInfo {
                length: *size,
                sha256: *digest,
                custom: serde_json::Value::Null,
            },
        );
    }

    let version = options
        .version
        .unwrap_or_else(|| options.now.as_second().max(1) as u64);
    let timestamp_expires = add(options.now, options.valid_for)?;
    let targets_expires = add(timestamp_expires, jiff::SignedDuration::from_hours(24))?;
    let set = metadata::build(
        &targets,
        TufTimes {
            version,
            timestamp_expires,
            targets_expires,
        },
        &keys.signer,
    );
    let bundle_id = Digest::of(&set.timestamp);
    let pointer = metadata::canonical_json(&json!({
        "format": format::FORMAT,
        "version": version,
        "created": metadata::format_time(options.now),
        "bundle_id": bundle_id.to_string(),
    }));

    let mut items = vec![Item::Bytes(POINTER.into(), pointer)];
    for (root_version, bytes) in keys.roots()? {
        items.push(Item::Bytes(
            format!("metadata/{root_version}.root.json"),
            bytes,
        ));
    }
    items.push(Item::Bytes("metadata/snapshot.json".into(), set.snapshot));
    items.push(Item::Bytes("metadata/targets.json".into(), set.targets));
    items.push(Item::Bytes("metadata/timestamp.json".into(), set.timestamp));
    for (name, document) in index_docs {
        items.push(Item::Bytes(format!("targets/{name}"), document));
    }
    for (digest, size) in &blobs {
        items.push(Item::Blob(
            format!("targets/{}", format::blob_target(digest)),
            *digest,
            *size,
        ));
    }

    let blob_bytes: u64 = blobs.values().sum();
    progress.start("pack", Some(blob_bytes));
    let mtime = options.now.as_second().max(0) as u64;
    let parts = match form {
        Form::Directory => {
            write_directory(store, &options.out, &items, progress)?;
            Vec::new()
        }
        Form::Tar | Form::TarZstd => write_archive(store, options, form, &items, mtime, progress)?,
    };
    progress.finish();
    let path = if parts.is_empty() {
        options.out.clone()
    } else {
        crate::parts::toc_path(&options.out)
    };
    Ok(PackReport {
        path,
        form: form.label().into(),
        version,
        bundle_id,
        entries: entries.len(),
        blobs: blobs.len(),
        blob_bytes,
        expires: metadata::format_time(timestamp_expires),
        parts,
    })
}

fn add(
    time: jiff::Timestamp,
    duration: jiff::SignedDuration,
) -> Result<jiff::Timestamp, BundleError> {
    time.checked_add(duration)
        .map_err(|e| BundleError::Options(format!("expiry out of range: {e}")))
}

/// Opens a stored blob for packing, re-hashing it so that bit rot in the
/// store is caught before the medium leaves rather than at import.
fn open_blob(
    store: &Store,
    digest: &Digest,
) -> Result<HashingReader<Box<dyn BlobRead>>, BundleError> {
    Ok(HashingReader::new(store.blobs.open(digest)?))
}

fn check_blob(
    name: &str,
    digest: &Digest,
    size: u64,
    reader: HashingReader<impl Read>,
) -> Result<(), BundleError> {
    let (actual, length) = reader.finish();
    if actual != *digest || length != size {
        return Err(BundleError::TargetMismatch {
            name: format!("{name} (in the local store; run `airlift fsck`)"),
            expected: *digest,
            expected_length: size,
            actual,
            actual_length: length,
        });
    }
    Ok(())
}

/// Counts bytes into the progress reporter.
struct Counted<'a, R> {
    inner: R,
    progress: &'a dyn Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

fn write_directory(
    store: &Store,
    out: &Path,
    items: &[Item],
    progress: &dyn Progress,
) -> Result<(), BundleError> {
    let staging = sibling(out, ".partial");
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(BundleError::io("remove", &staging))?;
    }
    for item in items {
        match item {
            Item::Bytes(name, bytes) => {
                let path = staging.join(name);
                airlift_core::write_file_durably(&path, bytes)
                    .map_err(BundleError::io("write", &path))?;
            }
            Item::Blob(name, digest, size) => {
                let path = staging.join(name);
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent)
                        .map_err(BundleError::io("create directory", parent))?;
                }
                let mut file = File::create(&path).map_err(BundleError::io("create", &path))?;
                let mut reader = open_blob(store, digest)?;
                io::copy(
                    &mut Counted {
                        inner: &mut reader,
                        progress,
                    },
                    &mut file,
                )
                .map_err(BundleError::io("write", &path))?;
                check_blob(name, digest, *size, reader)?;
                file.sync_all().map_err(BundleError::io("fsync", &path))?;
            }
        }
    }
    fs::rename(&staging, out).map_err(BundleError::io("rename into place", out))?;
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where archive bytes go: one file, or parts.
enum Output {
    File {
        file: BufWriter<File>,
        path: PathBuf,
        staging: PathBuf,
    },
    Parts(PartWriter),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::File { file, .. } => file.write(buf),
            Self::Parts(parts) => parts.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::File { file, .. } => file.flush(),
            Self::Parts(parts) => parts.flush(),
        }
    }
}

impl Output {
    fn finish(self) -> Result<Vec<PartInfo>, BundleError> {
        match self {
            Self::File {
                file,
                path,
                staging,
            } => {
                let file = file
                    .into_inner()
                    .map_err(|e| BundleError::io("write", &staging)(e.into_error()))?;
                file.sync_all()
                    .map_err(BundleError::io("fsync", &staging))?;
                fs::rename(&staging, &path).map_err(BundleError::io("rename into place", &path))?;
                Ok(Vec::new())
            }
            Self::Parts(parts) => Ok(parts.finish()?.1.parts),
        }
    }
}

fn write_archive(
    store: &Store,
    options: &PackOptions,
    form: Form,
    items: &[Item],
    mtime: u64,
    progress: &dyn Progress,
) -> Result<Vec<PartInfo>, BundleError> {
    let out = &options.out;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(BundleError::io("create directory", parent))?;
    }
    let output = match options.max_part_size {
        Some(size) => Output::Parts(PartWriter::new(out, size)?),
        None => {
            let staging = sibling(out, ".partial");
            let file = File::create(&staging).map_err(BundleError::io("create", &staging))?;
            Output::File {
                file: BufWriter::with_capacity(airlift_core::COPY_BUFFER, file),
                path: out.clone(),
                staging,
            }
        }
    };
    let write_error = BundleError::io("write", out.clone());
    let output = if form == Form::TarZstd {
        let mut encoder = zstd::stream::write::Encoder::new(output, options.zstd_level)
            .map_err(BundleError::io("start zstd for", out.clone()))?;
        encoder
            .multithread(options.zstd_threads.max(1))
            .and_then(|()| encoder.include_checksum(true))
            .map_err(BundleError::io("configure zstd for", out.clone()))?;
        let encoder = write_tar(store, encoder, items, mtime, progress, out)?;
        encoder.finish().map_err(write_error)?
    } else {
        let mut output = write_tar(store, output, items, mtime, progress, out)?;
        output.flush().map_err(write_error)?;
        output
    };
    output.finish()
}

fn write_tar<W: Write>(
    store: &Store,
    writer: W,
    items: &[Item],
    mtime: u64,
    progress: &dyn Progress,
    out: &Path,
) -> Result<W, BundleError> {
    let mut builder = tar::Builder::new(writer);
    let header_for = |name: &str, size: u64| -> Result<tar::Header, BundleError> {
        let mut header = tar::Header::new_gnu();
        header
            .set_path(name)
            .map_err(|e| BundleError::entry(name, format!("cannot be written to tar: {e}")))?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        Ok(header)
    };
    for item in items {
        match item {
            Item::Bytes(name, bytes) => {
                builder
                    .append(&header_for(name, bytes.len() as u64)?, bytes.as_slice())
                    .map_err(BundleError::io("write", out))?;
            }
            Item::Blob(name, digest, size) => {
                let mut reader = open_blob(store, digest)?;
                builder
                    .append(
                        &header_for(name, *size)?,
                        Counted {
                            inner: (&mut reader).take(*size),
                            progress,
                        },
                    )
                    .map_err(BundleError::io("write", out))?;
                check_blob(name, digest, *size, reader)?;
            }
        }
    }
    builder.into_inner().map_err(BundleError::io("write", out))
}
