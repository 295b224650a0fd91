//! Splitting a bundle stream into media-sized parts, and reading it back.
//!
//! Parts are cut at byte boundaries of the `.tar` or `.tar.zst` stream, so the
//! archive reader never sees them. The table of contents
//! (`<bundle>.toc.json`) lists each part's file name, size and SHA-256, so a
//! part can be checked as soon as it is copied, and a missing, truncated,
//! renamed or reordered part is named precisely.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use airlift_core::{Digest, Sha256};
use serde::{Deserialize, Serialize};

use crate::BundleError;

/// The largest table of contents read (a part takes about 150 bytes).
pub const MAX_TOC_SIZE: u64 = 16 << 20;

/// The most parts a bundle may be split into.
pub const MAX_PARTS: usize = 100_000;

/// Format identifier of the table of contents.
pub const TOC_FORMAT: &str = "airlift-parts/1";

/// The table of contents of a split bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Toc {
    /// Always [`TOC_FORMAT`].
    pub format: String,
    /// The bundle stream's file name before splitting (`name.tar.zst`).
    pub stream: String,
    /// Total size of all parts.
    pub total_size: u64,
    /// The parts, in order.
    pub parts: Vec<PartInfo>,
}

/// One part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartInfo {
    /// File name, in the same directory as the table of contents.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the part.
    pub sha256: Digest,
}

/// The table of contents path for a bundle stream path.
pub fn toc_path(stream: &Path) -> PathBuf {
    let mut name = stream.as_os_str().to_owned();
    name.push(".toc.json");
    PathBuf::from(name)
}

fn part_name(stream_name: &str, index: usize) -> String {
    format!("{stream_name}.part-{index:04}")
}

/// The path of part `index` (1-based) of `stream`.
pub fn part_path(stream: &Path, index: usize) -> PathBuf {
    let mut name = stream.as_os_str().to_owned();
    name.push(format!(".part-{index:04}"));
    PathBuf::from(name)
}

/// A writer that cuts its input into parts of at most `max_size` bytes.
pub struct PartWriter {
    dir: PathBuf,
    stream_name: String,
    max_size: u64,
    current: Option<(File, Sha256, u64, PathBuf)>,
    parts: Vec<PartInfo>,
}

impl PartWriter {
    /// Parts of `stream` (a path like `out/x.tar.zst`), each at most `max_size` bytes.
    pub fn new(stream: &Path, max_size: u64) -> Result<Self, BundleError> {
        if max_size == 0 {
            return Err(BundleError::Options(
                "--max-part-size must be greater than zero".into(),
            ));
        }
        let dir = stream.parent().map(Path::to_path_buf).unwrap_or_default();
        let stream_name = stream
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                BundleError::Options(format!("{} has no file name", stream.display()))
            })?;
        Ok(Self {
            dir,
            stream_name,
            max_size,
            current: None,
            parts: Vec::new(),
        })
    }

    fn close_current(&mut self) -> io::Result<()> {
        if let Some((file, hasher, size, path)) = self.current.take() {
            file.sync_all()?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.parts.push(PartInfo {
                name,
                size,
                sha256: hasher.finish(),
            });
        }
        Ok(())
    }

    /// Flushes the open part's data to disk (a checkpoint while writing).
    pub fn sync_current(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some((file, ..)) => file.sync_data(),
            None => Ok(()),
        }
    }

    /// Closes the last part and writes the table of contents.
    pub fn finish(mut self) -> Result<(PathBuf, Toc), BundleError> {
        let stream_path = self.dir.join(&self.stream_name);
        self.close_current()
            .map_err(BundleError::io("write part of", &stream_path))?;
        let toc = Toc {
            format: TOC_FORMAT.into(),
            stream: self.stream_name.clone(),
            total_size: self.parts.iter().map(|p| p.size).sum(),
            parts: self.parts,
        };
        let path = toc_path(&stream_path);
        let mut json = serde_json::to_vec_pretty(&toc)
            .map_err(|e| BundleError::Options(format!("cannot encode table of contents: {e}")))?;
        json.push(b'\n');
        airlift_core::write_file_durably(&path, &json).map_err(BundleError::io("write", &path))?;
        Ok((path, toc))
    }
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.as_ref().is_some_and(|c| c.2 >= self.max_size) {
            self.close_current()?;
        }
        if self.current.is_none() {
            let path = self
                .dir
                .join(part_name(&self.stream_name, self.parts.len() + 1));
            let file = File::create(&path)?;
            self.current = Some((file, Sha256::new(), 0, path));
        }
        let Some((file, hasher, size, _)) = self.current.as_mut() else {
            return Err(io::Error::other("no open part"));
        };
        let room = (self.max_size - *size) as usize;
        let take = buf.len().min(room);
        let n = file.write(&buf[..take])?;
        hasher.update(&buf[..n]);
        *size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some((file, ..)) => file.flush(),
            None => Ok(()),
        }
    }
}

/// Reads a table of contents.
pub fn read_toc(path: &Path) -> Result<Toc, BundleError> {
    // The table of contents is not signed: read no more of it than a real
    // one can need.
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|file| file.take(MAX_TOC_SIZE + 1).read_to_end(&mut bytes))
        .map_err(BundleError::io("read", path))?;
    if bytes.len() as u64 > MAX_TOC_SIZE {
        return Err(BundleError::NotABundle {
            path: path.to_path_buf(),
            reason: format!("table of contents is over the {MAX_TOC_SIZE}-byte limit"),
        });
    }
    let toc: Toc = serde_json::from_slice(&bytes).map_err(|e| BundleError::NotABundle {
        path: path.to_path_buf(),
        reason: format!("table of contents is malformed: {e}"),
    })?;
    if toc.format != TOC_FORMAT {
        return Err(BundleError::NotABundle {
            path: path.to_path_buf(),
            reason: format!("unknown table of contents format {:?}", toc.format),
        });
    }
    if toc.parts.is_empty() || toc.parts.len() > MAX_PARTS {
        return Err(BundleError::NotABundle {
            path: path.to_path_buf(),
            reason: format!(
                "table of contents lists {} parts (1 to {MAX_PARTS} allowed)",
                toc.parts.len()
            ),
        });
    }
    let sum = toc
        .parts
        .iter()
        .try_fold(0u64, |sum, part| sum.checked_add(part.size));
    if sum != Some(toc.total_size) {
        return Err(BundleError::NotABundle {
            path: path.to_path_buf(),
            reason: format!(
                "table of contents says total_size {} but its parts add up to {}",
                toc.total_size,
                sum.map_or_else(|| "more than 2^64 bytes".to_owned(), |s| s.to_string())
            ),
        });
    }
    for (position, part) in toc.parts.iter().enumerate() {
        if part.name.contains('/') || part.name.contains('\\') || part.name.starts_with('.') {
            return Err(BundleError::Part {
                index: position + 1,
                path: path.to_path_buf(),
                reason: format!("has an unsafe file name {:?}", part.name),
            });
        }
    }
    Ok(toc)
}

/// Checks one part file against the table of contents, on its own.
pub fn verify_part(toc_file: &Path, toc: &Toc, index: usize) -> Result<(), BundleError> {
    let dir = toc_file.parent().unwrap_or(Path::new("."));
    let info = &toc.parts[index];
    let path = dir.join(&info.name);
    let part_error = |reason: String| BundleError::Part {
        index: index + 1,
        path: path.clone(),
        reason,
    };
    let mut file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(part_error("is missing (renamed or not copied?)".into()));
        }
        Err(e) => return Err(BundleError::io("open", &path)(e)),
    };
    let (digest, size) = airlift_core::copy_hashing(&mut file, &mut io::sink(), u64::MAX)
        .map_err(BundleError::io("read", &path))?;
    check_part(toc, index, digest, size).map_err(part_error)
}

fn check_part(toc: &Toc, index: usize, digest: Digest, size: u64) -> Result<(), String> {
    let info = &toc.parts[index];
    if digest == info.sha256 && size == info.size {
        return Ok(());
    }
    if let Some(other) = toc.parts.iter().position(|p| p.sha256 == digest) {
        return Err(format!(
            "holds the content of part {} ({}): parts were renamed or reordered",
            other + 1,
            toc.parts[other].name
        ));
    }
    if size < info.size {
        return Err(format!("is truncated: {size} of {} bytes", info.size));
    }
    Err(format!(
        "does not match the table of contents: expected {} ({} bytes), got {digest} ({size} bytes)",
        info.sha256, info.size
    ))
}

/// Reads the parts in order as one stream, checking each part's size and
/// digest when its end is reached; a bad part fails the read.
pub struct PartsReader {
    dir: PathBuf,
    toc: Toc,
    index: usize,
    /// The open part, the hasher of its bytes (on its own thread, so that
    /// part digests cost no time on the reading thread), bytes read.
    current: Option<(File, PartHasher, u64)>,
}

type PartHasher = airlift_core::ThreadedWriter<airlift_core::HashingWriter<io::Sink>>;

impl PartsReader {
    /// Opens the parts listed in `toc_file`.
    pub fn open(toc_file: &Path) -> Result<Self, BundleError> {
        let toc = read_toc(toc_file)?;
        let dir = toc_file.parent().unwrap_or(Path::new(".")).to_path_buf();
        for (index, part) in toc.parts.iter().enumerate() {
            let path = dir.join(&part.name);
            if !path.is_file() {
                return Err(BundleError::Part {
                    index: index + 1,
                    path,
                    reason: "is missing (renamed or not copied?)".into(),
                });
            }
        }
        Ok(Self {
            dir,
            toc,
            index: 0,
            current: None,
        })
    }

    fn part_error(&self, reason: String) -> io::Error {
        let path = self.dir.join(&self.toc.parts[self.index].name);
        io::Error::new(
            io::ErrorKind::InvalidData,
            BundleError::Part {
                index: self.index + 1,
                path,
                reason,
            },
        )
    }
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.index >= self.toc.parts.len() {
                return Ok(0);
            }
            if self.current.is_none() {
                let path = self.dir.join(&self.toc.parts[self.index].name);
                let file = File::open(&path)
                    .map_err(|e| self.part_error(format!("cannot be opened: {e}")))?;
                let hasher = airlift_core::ThreadedWriter::new(
                    airlift_core::HashingWriter::new(io::sink()),
                    None,
                )?;
                self.current = Some((file, hasher, 0));
            }
            let expected = self.toc.parts[self.index].size;
            let Some((file, hasher, size)) = self.current.as_mut() else {
                continue;
            };
            // Never read past the listed size: a part that grew is caught by its digest.
            let room = expected.saturating_sub(*size).min(buf.len() as u64) as usize;
            let n = if room == 0 {
                0
            } else {
                file.read(&mut buf[..room])?
            };
            if n > 0 {
                hasher.write_all(&buf[..n])?;
                *size += n as u64;
                return Ok(n);
            }
            // End of this part (or its listed size): check it before going on.
            let mut extra = [0u8; 1];
            let grew = file.read(&mut extra)? > 0;
            let Some((_, hasher, size)) = self.current.take() else {
                continue;
            };
            if grew {
                return Err(self.part_error(format!("is larger than the listed {expected} bytes")));
            }
            let (_, digest, _) = hasher.finish()?.finish();
            check_part(&self.toc, self.index, digest, size).map_err(|r| self.part_error(r))?;
            self.index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stream = dir.path().join("b.tar");
        let data: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut writer = PartWriter::new(&stream, 7_000).expect("writer");
        writer.write_all(&data).expect("write");
        let (toc_file, toc) = writer.finish().expect("finish");
        assert_eq!(toc.parts.len(), 6);
        assert!(toc.parts.iter().all(|p| p.size <= 7_000));
        let mut back = Vec::new();
        PartsReader::open(&toc_file)
            .expect("open")
            .read_to_end(&mut back)
            .expect("read");
        assert_eq!(back, data);
        for index in 0..toc.parts.len() {
            verify_part(&toc_file, &toc, index).expect("part verifies");
        }
    }

    #[test]
    fn swapped_parts_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stream = dir.path().join("b.tar");
        let mut writer = PartWriter::new(&stream, 10).expect("writer");
        writer.write_all(b"0123456789abcdefghij").expect("write");
        let (toc_file, toc) = writer.finish().expect("finish");
        let one = dir.path().join(&toc.parts[0].name);
        let two = dir.path().join(&toc.parts[1].name);
        let tmp = dir.path().join("swap");
        std::fs::rename(&one, &tmp).expect("rename");
        std::fs::rename(&two, &one).expect("rename");
        std::fs::rename(&tmp, &two).expect("rename");
        let error = verify_part(&toc_file, &toc, 0).expect_err("swapped part accepted");
        assert!(error.to_string().contains("reordered"), "{error}");
        let mut sink = Vec::new();
        let error = PartsReader::open(&toc_file)
            .expect("open")
            .read_to_end(&mut sink)
            .expect_err("swapped stream accepted");
        assert!(error.to_string().contains("part 1"), "{error}");
    }
}
