//! Packing the store's current generation into a signed bundle.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use airlift_core::{Digest, Sha256, ThreadedWriter, file_checkpoint};
use airlift_store::{Entry, Store};
use airlift_trust::SiteKeys;
use airlift_trust::metadata::{self, TargetInfo, TufTimes};
use serde::Serialize;
use serde_json::json;

use crate::format::{self, POINTER};
use crate::mux::ZstdMux;
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
    /// Blobs the destination already has: still listed in the signed
    /// targets (the full desired set), but not carried (a delta bundle).
    pub omit: std::collections::BTreeSet<Digest>,
    /// A pack statement to sign into the bundle (`custody/pack.json`):
    /// destination, sequence number, previous bundle, creation time.
    pub statement: Option<crate::PackStatement>,
    /// Approval requests signed by approvers (`airlift approve`): their
    /// targets signatures are combined, and their times and statement are
    /// used so the approved targets are exactly what is packed.
    pub approvals: Vec<serde_json::Value>,
    /// Where to write the approval request when the targets threshold is
    /// not met by the keys at hand.
    pub approval_request: Option<PathBuf>,
    /// Entries to leave out (a site's hosted content, unless
    /// `pack --hosted`).
    pub leave_out: Option<crate::Hosted>,
}

/// The format of an approval request.
pub const APPROVAL_FORMAT: &str = "airlift-approval-request/1";

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
    /// The signed pack statement, if any.
    pub statement: Option<crate::PackStatement>,
    /// Who signed the targets (the approvers).
    pub approved_by: Vec<String>,
    /// Blobs listed in the signed targets but left out because the
    /// destination has them (a delta bundle).
    pub omitted_blobs: usize,
    /// Their bytes.
    pub omitted_bytes: u64,
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
    let mut entries = store.meta.entries(generation.id, None)?;
    if let Some(leave_out) = &options.leave_out {
        entries.retain(|entry| !leave_out.matches(entry));
        if entries.is_empty() {
            return Err(BundleError::NothingToPack);
        }
    }
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
    // With approvals, what they approved decides the times and statement.
    let approved = options.approvals.first();
    let statement: Option<crate::PackStatement> = match approved {
        Some(request) if request["statement"].is_null() => None,
        Some(request) => Some(
            serde_json::from_value(request["statement"].clone()).map_err(|e| {
                BundleError::Options(format!("the approval request's statement: {e}"))
            })?,
        ),
        None => options.statement.clone(),
    };
    if let Some(statement) = &statement {
        let statement = serde_json::to_value(statement)
            .map_err(|e| BundleError::Options(format!("the pack statement: {e}")))?;
        let document = metadata::canonical_json(&statement);
        targets.insert(
            format::PACK_STATEMENT.to_owned(),
            TargetInfo {
                length: document.len() as u64,
                sha256: Digest::of(&document),
                custom: json!({"kind": "custody"}),
            },
        );
        index_docs.push((format::PACK_STATEMENT.to_owned(), document));
    }
    for (ecosystem, list) in &by_ecosystem {
        // Plain JSON with sorted keys (deterministic), not TUF's canonical
        // form: that writes control characters raw, which JSON parsers
        // refuse, and metadata such as a Debian stanza holds newlines.
        let document = serde_json::to_vec(&json!({
            "ecosystem": ecosystem,
            "entries": list,
        }))
        .unwrap_or_default();
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

    let root = keys.latest_root()?;
    let (times, created) = match approved {
        Some(request) => {
            if options
                .approvals
                .iter()
                .any(|r| r["format"] != APPROVAL_FORMAT)
            {
                return Err(BundleError::Options(format!(
                    "not an approval request (format {APPROVAL_FORMAT})"
                )));
            }
            let time = |field: &str| {
                request[field]
                    .as_str()
                    .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    .ok_or_else(|| {
                        BundleError::Options(format!("approval request without a valid {field}"))
                    })
            };
            (
                TufTimes {
                    version: request["targets"]["signed"]["version"]
                        .as_u64()
                        .ok_or_else(|| {
                            BundleError::Options("approval request without a version".into())
                        })?,
                    timestamp_expires: time("timestamp_expires")?,
                    targets_expires: time("targets_expires")?,
                },
                time("created")?,
            )
        }
        None => {
            let version = options
                .version
                .unwrap_or_else(|| options.now.as_second().max(1) as u64);
            let timestamp_expires = add(options.now, options.valid_for)?;
            let targets_expires = add(timestamp_expires, jiff::SignedDuration::from_hours(24))?;
            (
                TufTimes {
                    version,
                    timestamp_expires,
                    targets_expires,
                },
                options.now,
            )
        }
    };
    let signed = metadata::targets_signed(&targets, times);
    let mut file = if options.approvals.is_empty() {
        json!({"signatures": [], "signed": signed})
    } else {
        let documents: Vec<serde_json::Value> = options
            .approvals
            .iter()
            .map(|r| r["targets"].clone())
            .collect();
        let merged = airlift_trust::roles::merge_signatures(&documents)?;
        if merged["signed"] != signed {
            return Err(BundleError::Options(
                "the store (or the pack options) changed since this was approved: pack again without --approved and collect new approvals".into(),
            ));
        }
        merged
    };
    for key in keys.signers_for("targets")? {
        file = airlift_trust::roles::add_signature(&file, key)?;
    }
    // One valid signature per key: copies merged from several approvers
    // never hide a good signature behind a bad one, nor repeat a key.
    let file =
        airlift_trust::roles::keep_valid(&root, "targets", &file).map_err(BundleError::Options)?;
    let tally =
        airlift_trust::roles::tally(&root, "targets", &file).map_err(BundleError::Options)?;
    if !tally.met() {
        let Some(path) = &options.approval_request else {
            return Err(BundleError::MissingKeys(tally.describe(&root)));
        };
        let request = json!({
            "format": APPROVAL_FORMAT,
            "targets": file,
            "statement": statement,
            "created": created.to_string(),
            "timestamp_expires": times.timestamp_expires.to_string(),
            "targets_expires": times.targets_expires.to_string(),
            "summary": {
                "entries": entries.len(),
                "ecosystems": by_ecosystem.iter().map(|(e, l)| (e.to_string(), l.len())).collect::<BTreeMap<_, _>>(),
                "blobs": blobs.len(),
                "bytes": blobs.values().sum::<u64>(),
            },
        });
        let text = serde_json::to_vec_pretty(&request).unwrap_or_default();
        airlift_core::write_file_durably(path, &text).map_err(BundleError::io("write", path))?;
        return Err(BundleError::NeedsApproval {
            tally: tally.describe(&root),
            request: path.clone(),
        });
    }
    let approved_by: Vec<String> = tally.signed_by.iter().map(|k| root.describe(k)).collect();
    let mut role_keys = Vec::new();
    for role in ["snapshot", "timestamp"] {
        let keys_here = keys.signers_for(role)?;
        let needed = root.role(role).map_err(BundleError::Options)?.threshold;
        if keys_here.len() < needed {
            return Err(BundleError::MissingKeys(format!(
                "{role} needs {needed} signatures and this machine holds {} of its keys ({})",
                keys_here.len(),
                root.role(role)
                    .map(|r| r
                        .keyids
                        .iter()
                        .map(|k| root.describe(k))
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            )));
        }
        role_keys.push(keys_here);
    }
    let set = metadata::finish(
        metadata::canonical_json(&file),
        times,
        &role_keys[0],
        &role_keys[1],
    )?;
    let bundle_id = Digest::of(&set.timestamp);
    let pointer = metadata::canonical_json(&json!({
        "format": format::FORMAT,
        "version": times.version,
        "created": metadata::format_time(created),
        "bundle_id": bundle_id.to_string(),
    }));

    let mut items = vec![Item::Bytes(POINTER.into(), pointer)];
    let carried: BTreeMap<Digest, u64> = blobs
        .iter()
        .filter(|(digest, _)| !options.omit.contains(digest))
        .map(|(d, s)| (*d, *s))
        .collect();
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
    for (digest, size) in &carried {
        items.push(Item::Blob(
            format!("targets/{}", format::blob_target(digest)),
            *digest,
            *size,
        ));
    }

    let blob_bytes: u64 = carried.values().sum();
    let omitted_bytes: u64 = blobs.values().sum::<u64>() - blob_bytes;
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
        statement,
        approved_by,
        path,
        form: form.label().into(),
        version: times.version,
        bundle_id,
        entries: entries.len(),
        blobs: carried.len(),
        omitted_blobs: blobs.len() - carried.len(),
        omitted_bytes,
        blob_bytes,
        expires: metadata::format_time(times.timestamp_expires),
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

/// Bytes per read when copying blobs.
const COPY_CHUNK: usize = 1 << 20;
/// Blobs at least this large, and incompressible, are stored in raw zstd
/// frames instead of being compressed again.
const RAW_THRESHOLD: u64 = 1 << 20;
/// How much of a blob is sampled to decide whether it compresses.
const SAMPLE: usize = 64 * 1024;

/// Streams a stored blob into `writer` in large chunks, re-hashing it so
/// that bit rot in the store is caught before the medium leaves rather than
/// at import. `prefix` holds bytes already read from `reader`.
fn copy_blob(
    (name, digest, size): (&str, &Digest, u64),
    prefix: &[u8],
    reader: &mut dyn Read,
    writer: &mut dyn Write,
    out: &Path,
    progress: &dyn Progress,
) -> Result<(), BundleError> {
    let mut hasher = Sha256::new();
    hasher.update(prefix);
    writer
        .write_all(prefix)
        .map_err(BundleError::io("write", out))?;
    let mut length = prefix.len() as u64;
    progress.advance(length);
    let mut buffer = vec![0u8; COPY_CHUNK];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(BundleError::io("read blob for", name.to_owned())(e)),
        };
        length += n as u64;
        if length > size {
            break;
        }
        hasher.update(&buffer[..n]);
        writer
            .write_all(&buffer[..n])
            .map_err(BundleError::io("write", out))?;
        progress.advance(n as u64);
    }
    let actual = hasher.finish();
    if actual != *digest || length != size {
        return Err(BundleError::StoreDamaged {
            name: name.to_owned(),
            expected: *digest,
            expected_length: size,
            actual,
            actual_length: length,
        });
    }
    Ok(())
}

/// Reads up to `SAMPLE` bytes from the start of a blob.
fn read_sample(reader: &mut dyn Read, name: &str, size: u64) -> Result<Vec<u8>, BundleError> {
    let mut sample = vec![0u8; (SAMPLE as u64).min(size) as usize];
    reader
        .read_exact(&mut sample)
        .map_err(BundleError::io("read blob for", name.to_owned()))?;
    Ok(sample)
}

/// True when a blob is already compressed (or otherwise does not compress):
/// gzip, zstd, xz, bzip2, zip/wheel/jar, 7z, lz4, or a sample that zstd
/// cannot shrink by 3 %.
fn incompressible(sample: &[u8]) -> bool {
    const MAGIC: [&[u8]; 7] = [
        b"\x1f\x8b",
        b"\x28\xb5\x2f\xfd",
        b"\xfd7zXZ\x00",
        b"BZh",
        b"PK\x03\x04",
        b"7z\xbc\xaf\x27\x1c",
        b"\x04\x22\x4d\x18",
    ];
    if MAGIC.iter().any(|magic| sample.starts_with(magic)) {
        return true;
    }
    match zstd::bulk::compress(sample, 1) {
        Ok(compressed) => compressed.len() * 100 >= sample.len() * 97,
        Err(_) => false,
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
                let file = File::create(&path).map_err(BundleError::io("create", &path))?;
                let mut writer = ThreadedWriter::new(file, Some(file_checkpoint()))
                    .map_err(BundleError::io("write", &path))?;
                let mut reader = store.blobs.open(digest)?;
                copy_blob(
                    (name, digest, *size),
                    &[],
                    &mut reader,
                    &mut writer,
                    &path,
                    progress,
                )?;
                writer.finish().map_err(BundleError::io("write", &path))?;
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

/// Where archive bytes go: one file (renamed into place at the end), or parts.
/// Writes happen on a writer thread, with periodic `fdatasync`, so flushing
/// to the medium overlaps with reading and hashing.
enum Output {
    File {
        writer: ThreadedWriter<File>,
        path: PathBuf,
        staging: PathBuf,
    },
    Parts(ThreadedWriter<PartWriter>),
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::File { writer, .. } => writer.write(buf),
            Self::Parts(parts) => parts.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Output {
    fn finish(self) -> Result<Vec<PartInfo>, BundleError> {
        match self {
            Self::File {
                writer,
                path,
                staging,
            } => {
                writer
                    .finish()
                    .map_err(BundleError::io("write", &staging))?;
                fs::rename(&staging, &path).map_err(BundleError::io("rename into place", &path))?;
                Ok(Vec::new())
            }
            Self::Parts(parts) => {
                let parts = parts
                    .finish()
                    .map_err(BundleError::io("write parts of", PathBuf::new()))?;
                Ok(parts.finish()?.1.parts)
            }
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
        Some(size) => {
            let checkpoint = airlift_core::Checkpoint {
                every: 64 << 20,
                run: PartWriter::sync_current,
            };
            Output::Parts(
                ThreadedWriter::new(PartWriter::new(out, size)?, Some(checkpoint))
                    .map_err(BundleError::io("write", out.clone()))?,
            )
        }
        None => {
            let staging = sibling(out, ".partial");
            let file = File::create(&staging).map_err(BundleError::io("create", &staging))?;
            Output::File {
                writer: ThreadedWriter::new(file, Some(file_checkpoint()))
                    .map_err(BundleError::io("write", &staging))?,
                path: out.clone(),
                staging,
            }
        }
    };
    let output = if form == Form::TarZstd {
        let mut mux = ZstdMux::new(output, options.zstd_level, options.zstd_threads.max(1));
        write_tar(store, &mut mux, items, mtime, progress, out)?;
        mux.finish()
            .map_err(BundleError::io("write", out.clone()))?
    } else {
        let mut output = output;
        write_tar(
            store,
            &mut PlainSink(&mut output),
            items,
            mtime,
            progress,
            out,
        )?;
        output
    };
    output.finish()
}

/// Where tar bytes go, and whether the next bytes should be stored rather
/// than compressed (only meaningful for `.tar.zst`).
trait TarSink: Write {
    fn store_raw(&mut self, raw: bool) -> io::Result<()>;
}

struct PlainSink<'a, W: Write>(&'a mut W);

impl<W: Write> Write for PlainSink<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> TarSink for PlainSink<'_, W> {
    fn store_raw(&mut self, _raw: bool) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> TarSink for ZstdMux<W> {
    fn store_raw(&mut self, raw: bool) -> io::Result<()> {
        self.set_raw(raw)
    }
}

/// Writes the tar stream: a GNU header per entry, the data, zero padding to
/// 512 bytes, and two zero blocks at the end. Names are short and sizes of
/// 8 GiB and more use GNU base-256, which the strict reader accepts.
fn write_tar(
    store: &Store,
    sink: &mut dyn TarSink,
    items: &[Item],
    mtime: u64,
    progress: &dyn Progress,
    out: &Path,
) -> Result<(), BundleError> {
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
    let write_error = BundleError::io("write", out);
    let zeros = [0u8; 1024];
    let pad = |size: u64| ((512 - size % 512) % 512) as usize;
    for item in items {
        match item {
            Item::Bytes(name, bytes) => {
                sink.write_all(header_for(name, bytes.len() as u64)?.as_bytes())
                    .and_then(|()| sink.write_all(bytes))
                    .and_then(|()| sink.write_all(&zeros[..pad(bytes.len() as u64)]))
                    .map_err(BundleError::io("write", out))?;
            }
            Item::Blob(name, digest, size) => {
                let mut reader = store.blobs.open(digest)?;
                let sample = read_sample(&mut reader, name, *size)?;
                let raw = *size >= RAW_THRESHOLD && incompressible(&sample);
                sink.store_raw(raw).map_err(BundleError::io("write", out))?;
                sink.write_all(header_for(name, *size)?.as_bytes())
                    .map_err(BundleError::io("write", out))?;
                copy_blob(
                    (name, digest, *size),
                    &sample,
                    &mut reader,
                    sink,
                    out,
                    progress,
                )?;
                sink.write_all(&zeros[..pad(*size)])
                    .map_err(BundleError::io("write", out))?;
                sink.store_raw(false)
                    .map_err(BundleError::io("write", out))?;
            }
        }
    }
    sink.write_all(&zeros).map_err(write_error)
}
