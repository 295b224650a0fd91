//! Reading a bundle, whatever its form, as one ordered stream of entries.
//!
//! Every form (directory, `.tar`, `.tar.zst`, split parts) is presented to the
//! import pipeline the same way: a name, a declared size and a reader. Only
//! regular files are ever yielded; links, devices and directories in archives
//! are refused here, and names are validated by [`format::classify`].

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::BundleError;
use crate::format::{self, METADATA_DIR, POINTER, TARGETS_DIR};
use crate::parts::{self, PartsReader};

/// Largest zstd window accepted (2^27 = 128 MiB), bounding decoder memory
/// whatever a hostile stream asks for.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// The form a bundle takes on the medium.
#[derive(Debug, Clone)]
pub(crate) enum BundleForm {
    /// A bundle directory.
    Directory(PathBuf),
    /// A single archive file; `zstd` when compressed.
    Archive { path: PathBuf, zstd: bool },
    /// A split archive described by its table of contents.
    Parts { toc: PathBuf, zstd: bool },
}

impl BundleForm {
    /// Works out the form of the bundle at `path`.
    pub(crate) fn detect(path: &Path) -> Result<Self, BundleError> {
        let not = |reason: &str| BundleError::NotABundle {
            path: path.to_path_buf(),
            reason: reason.to_owned(),
        };
        let name = path.to_string_lossy();
        if path.is_dir() {
            return Ok(Self::Directory(path.to_path_buf()));
        }
        if name.ends_with(".toc.json") {
            let toc = parts::read_toc(path)?;
            return Ok(Self::Parts {
                toc: path.to_path_buf(),
                zstd: toc.stream.ends_with(".zst"),
            });
        }
        if !path.exists() {
            let toc = parts::toc_path(path);
            if toc.is_file() {
                return Self::detect(&toc);
            }
            return Err(not("no such file or directory"));
        }
        let mut magic = [0u8; 4];
        let mut file = File::open(path).map_err(BundleError::io("open", path))?;
        let read = file
            .read(&mut magic)
            .map_err(BundleError::io("read", path))?;
        let zstd = read == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd];
        if !(zstd || name.ends_with(".tar") || name.ends_with(".tar.zst")) {
            return Err(not(
                "expected a bundle directory, a .tar, a .tar.zst or a .toc.json",
            ));
        }
        Ok(Self::Archive {
            path: path.to_path_buf(),
            zstd,
        })
    }

    /// The path the user gave, for messages.
    pub(crate) fn path(&self) -> &Path {
        match self {
            Self::Directory(path) | Self::Archive { path, .. } | Self::Parts { toc: path, .. } => {
                path
            }
        }
    }
}

/// Receives each entry: its name, declared size and a reader of exactly that many bytes.
pub type Visitor<'a> = dyn FnMut(&str, u64, &mut dyn Read) -> Result<(), BundleError> + 'a;

/// Calls `visit(name, size, reader)` for every entry, in stream order.
pub(crate) fn for_each_entry(
    form: &BundleForm,
    visit: &mut Visitor<'_>,
) -> Result<(), BundleError> {
    match form {
        BundleForm::Directory(dir) => directory_entries(dir, visit),
        BundleForm::Archive { path, zstd } => {
            let file = File::open(path).map_err(BundleError::io("open", path))?;
            archive_entries(
                path,
                BufReader::with_capacity(airlift_core::COPY_BUFFER, file),
                *zstd,
                visit,
            )
        }
        BundleForm::Parts { toc, zstd } => {
            let reader = PartsReader::open(toc)?;
            archive_entries(
                toc,
                BufReader::with_capacity(airlift_core::COPY_BUFFER, reader),
                *zstd,
                visit,
            )
        }
    }
}

fn archive_entries<R: io::BufRead>(
    path: &Path,
    reader: R,
    zstd: bool,
    visit: &mut Visitor<'_>,
) -> Result<(), BundleError> {
    let damaged = |e: io::Error| stream_error(path, e);
    if zstd {
        let mut decoder = zstd::stream::read::Decoder::with_buffer(reader).map_err(damaged)?;
        decoder
            .window_log_max(ZSTD_WINDOW_LOG_MAX)
            .map_err(damaged)?;
        tar_entries(path, decoder, visit)
    } else {
        tar_entries(path, reader, visit)
    }
}

/// Turns an I/O error from the stream into the most precise bundle error.
fn stream_error(path: &Path, error: io::Error) -> BundleError {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<BundleError>())
    {
        if let Some(inner) = error.into_inner()
            && let Ok(bundle_error) = inner.downcast::<BundleError>()
        {
            return *bundle_error;
        }
        return BundleError::Damaged {
            path: path.to_path_buf(),
            reason: "unreadable".into(),
        };
    }
    let reason = match error.kind() {
        io::ErrorKind::UnexpectedEof => "truncated (unexpected end of data)".to_owned(),
        _ => error.to_string(),
    };
    BundleError::Damaged {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads an uncompressed bundle `.tar` stream with the strict tar reader
/// below, calling `visit(name, size, reader)` for every entry in stream
/// order; `path` only names the stream in errors.
///
/// This is the parsing entry point of the reader that [`import`] uses for
/// `.tar`, `.tar.zst` and split bundles, public so that it can be exercised
/// on its own: the `bundle_tar` fuzz target feeds it arbitrary bytes.
///
/// [`import`]: crate::import()
pub fn read_tar(
    path: &Path,
    reader: impl Read,
    visit: &mut Visitor<'_>,
) -> Result<(), BundleError> {
    tar_entries(path, reader, visit)
}

/// A strict tar reader for bundles.
///
/// Bundles hold only regular files with short names, so this reader accepts
/// exactly that: POSIX ustar or GNU headers with a valid checksum, type `0`,
/// and a name in the header itself. PAX and GNU long-name records, links,
/// devices and directories are refused before any of their content is read,
/// which rules out the parser-differential and memory-exhaustion tricks that
/// general tar readers have been caught by (a PAX record is read into memory
/// whole by most of them).
fn tar_entries<R: Read>(
    path: &Path,
    mut reader: R,
    visit: &mut Visitor<'_>,
) -> Result<(), BundleError> {
    let damaged = |reason: String| BundleError::Damaged {
        path: path.to_path_buf(),
        reason,
    };
    let mut header = [0u8; 512];
    let mut entries = 0u64;
    loop {
        match read_block(&mut reader, &mut header) {
            Ok(true) => {}
            Ok(false) if entries == 0 => return Err(damaged("empty (not a tar archive)".into())),
            Ok(false) => {
                return Err(damaged(
                    "truncated: the end-of-archive marker is missing".into(),
                ));
            }
            Err(e) => return Err(stream_error(path, e)),
        }
        if header.iter().all(|b| *b == 0) {
            if entries == 0 {
                return Err(damaged("no entries".into()));
            }
            // Read to the very end: only zero padding may follow. This also
            // makes split parts and the zstd frame checksum get checked.
            return drain_zeros(&mut reader).map_err(|e| stream_error(path, e));
        }
        let (name, size) = parse_header(&header)
            .map_err(|reason| damaged(format!("entry {}: {reason}", entries + 1)))?;
        entries += 1;
        let mut exact = ExactReader {
            inner: (&mut reader).take(size),
            remaining: size,
        };
        visit(&name, size, &mut exact).map_err(|e| unwrap_stream_error(path, e))?;
        // Whatever the visitor left unread is skipped, then the padding.
        io::copy(&mut exact, &mut io::sink()).map_err(|e| stream_error(path, e))?;
        let padding = (512 - size % 512) % 512;
        let mut pad = [0u8; 512];
        reader
            .read_exact(&mut pad[..padding as usize])
            .map_err(|e| stream_error(path, e))?;
    }
}

fn drain_zeros<R: Read>(reader: &mut R) -> io::Result<()> {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buffer[..n].iter().any(|b| *b != 0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "data after the end of the archive",
            ));
        }
    }
}

fn unwrap_stream_error(path: &Path, error: BundleError) -> BundleError {
    match error {
        BundleError::Io { source, .. }
            if source.kind() == io::ErrorKind::UnexpectedEof
                || source.get_ref().is_some_and(|i| i.is::<BundleError>()) =>
        {
            stream_error(path, source)
        }
        other => other,
    }
}

/// Reads one 512-byte block; `false` on a clean end of stream before it.
fn read_block<R: Read>(reader: &mut R, block: &mut [u8; 512]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < block.len() {
        match reader.read(&mut block[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "partial tar header",
                ));
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn parse_header(header: &[u8; 512]) -> Result<(String, u64), String> {
    let recorded = parse_octal(&header[148..156]).ok_or("unreadable header checksum")?;
    let computed: u64 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if recorded != computed {
        return Err("header checksum mismatch (corrupt or not a tar archive)".into());
    }
    let magic = &header[257..265];
    let gnu = magic == b"ustar  \0";
    if !(gnu || &magic[..6] == b"ustar\0") {
        return Err("not a ustar or GNU tar header".into());
    }
    let name = field_str(&header[0..100])?;
    let name = if gnu {
        name
    } else {
        let prefix = field_str(&header[345..500])?;
        if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        }
    };
    let typeflag = header[156];
    let what = match typeflag {
        b'0' | 0 => None,
        b'1' => Some("a hard link"),
        b'2' => Some("a symbolic link"),
        b'3' | b'4' => Some("a device"),
        b'5' => Some("a directory"),
        b'6' => Some("a FIFO"),
        b'x' | b'g' => Some("a PAX extended header"),
        b'L' | b'K' => Some("a GNU long-name record"),
        _ => Some("not a regular file"),
    };
    if let Some(what) = what {
        return Err(format!(
            "{name:?} is {what}; bundles hold regular files with short names only"
        ));
    }
    let size =
        parse_size(&header[124..136]).ok_or_else(|| format!("{name:?} has an unreadable size"))?;
    Ok((name, size))
}

fn field_str(field: &[u8]) -> Result<String, String> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).map_err(|_| "entry name is not UTF-8".to_owned())
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// Octal, or GNU base-256 for sizes of 8 GiB and more.
fn parse_size(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        if field[0] != 0x80 || field[1..4].iter().any(|b| *b != 0) {
            return None;
        }
        return Some(
            field[4..]
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        );
    }
    parse_octal(field)
}

/// Yields exactly `remaining` bytes, or fails with `UnexpectedEof`: a
/// truncated entry is an error, never a short file.
struct ExactReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "entry data ends early",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Walks a bundle directory in the canonical order, refusing anything that is
/// not a regular file of the layout.
fn directory_entries(dir: &Path, visit: &mut Visitor<'_>) -> Result<(), BundleError> {
    let mut names = Vec::new();
    for top in sorted_names(dir)? {
        match top.as_str() {
            POINTER => names.push(top),
            METADATA_DIR => {
                let mut files = sorted_names(&dir.join(METADATA_DIR))?;
                // Roots first, in version order, then the other roles.
                files.sort_by_key(|f| (format::root_version(f).unwrap_or(u64::MAX), f.clone()));
                names.extend(files.into_iter().map(|f| format!("{METADATA_DIR}/{f}")));
            }
            TARGETS_DIR => collect_targets(dir, &mut names)?,
            other => {
                return Err(BundleError::entry(
                    other,
                    "unexpected file in bundle directory",
                ));
            }
        }
    }
    for name in names {
        format::classify(&name)?;
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(BundleError::io("stat", &path))?;
        if !meta.file_type().is_file() {
            return Err(BundleError::entry(
                &name,
                "is not a regular file (links are refused)",
            ));
        }
        let mut file = open_no_follow(&path)?;
        visit(&name, meta.len(), &mut file)?;
    }
    Ok(())
}

fn collect_targets(dir: &Path, names: &mut Vec<String>) -> Result<(), BundleError> {
    let targets = dir.join(TARGETS_DIR);
    for sub in sorted_names(&targets)? {
        match sub.as_str() {
            "index" | "custody" => {
                for file in sorted_names(&targets.join(&sub))? {
                    names.push(format!("{TARGETS_DIR}/{sub}/{file}"));
                }
            }
            "blobs" => {
                for algorithm in sorted_names(&targets.join("blobs"))? {
                    for file in sorted_names(&targets.join("blobs").join(&algorithm))? {
                        names.push(format!("{TARGETS_DIR}/blobs/{algorithm}/{file}"));
                    }
                }
            }
            other => {
                return Err(BundleError::entry(
                    &format!("{TARGETS_DIR}/{other}"),
                    "unexpected target directory",
                ));
            }
        }
    }
    Ok(())
}

fn sorted_names(dir: &Path) -> Result<Vec<String>, BundleError> {
    let meta = fs::symlink_metadata(dir).map_err(BundleError::io("stat", dir))?;
    if !meta.is_dir() {
        return Err(BundleError::entry(
            &dir.to_string_lossy(),
            "expected a directory (links are refused)",
        ));
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(BundleError::io("list", dir))? {
        let entry = entry.map_err(BundleError::io("list", dir))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> Result<File, BundleError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(BundleError::io("open", path))
}

/// The id of the bundle at `path` (the SHA-256 of its `timestamp.json`),
/// read without verifying anything: for naming the bundle in hand-off
/// statements, which the importer checks against the verified id.
pub fn bundle_id(path: &Path) -> Result<airlift_core::Digest, BundleError> {
    let form = BundleForm::detect(path)?;
    let mut found = None;
    let walked = for_each_entry(&form, &mut |name, _size, reader| {
        if name == "metadata/timestamp.json" {
            let mut bytes = Vec::new();
            reader
                .take(crate::format::MAX_SMALL_METADATA_SIZE)
                .read_to_end(&mut bytes)
                .map_err(BundleError::io("read", path))?;
            found = Some(airlift_core::Digest::of(&bytes));
            // Stop: the rest of the bundle is not needed.
            return Err(BundleError::Options(String::new()));
        }
        Ok(())
    });
    match (found, walked) {
        (Some(id), _) => Ok(id),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Err(BundleError::NotABundle {
            path: path.to_path_buf(),
            reason: "no metadata/timestamp.json".into(),
        }),
    }
}
