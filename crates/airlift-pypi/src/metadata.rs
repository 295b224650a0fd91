//! Core metadata (`METADATA`, `PKG-INFO`, PEP 658 `.metadata` files) and
//! reading it out of a wheel (zip) or an sdist (`.tar.gz`, `.zip`) without
//! unpacking anything to disk.

use std::io::{self, Read, Seek, SeekFrom};

/// Largest metadata file read.
const METADATA_LIMIT: u64 = 16 << 20;
/// Largest amount of decompressed sdist scanned for `PKG-INFO`.
const SDIST_SCAN_LIMIT: u64 = 2 << 30;

/// The parts of core metadata a resolver needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `Metadata-Version`.
    pub metadata_version: String,
    /// `Name`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// Every `Requires-Dist`.
    pub requires_dist: Vec<String>,
    /// Every `Dynamic` field name, lowercased.
    pub dynamic: Vec<String>,
}

impl Metadata {
    /// Parses the RFC 822-style header block; the body is ignored.
    pub fn parse(bytes: &[u8]) -> Result<Metadata, String> {
        let text = String::from_utf8_lossy(bytes);
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if line.is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                match fields.last_mut() {
                    Some((_, value)) => {
                        value.push('\n');
                        value.push_str(line.trim());
                    }
                    None => return Err("continuation line before any field".into()),
                }
                continue;
            }
            let (key, value) = line
                .split_once(':')
                .ok_or_else(|| format!("line {line:?} is not `Field: value`"))?;
            fields.push((key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut metadata = Metadata::default();
        for (key, value) in fields {
            match key.as_str() {
                "metadata-version" => metadata.metadata_version = value,
                "name" => metadata.name = value,
                "version" => metadata.version = value,
                "requires-python" => metadata.requires_python = Some(value),
                "requires-dist" => metadata.requires_dist.push(value),
                "dynamic" => metadata.dynamic.push(value.to_ascii_lowercase()),
                _ => {}
            }
        }
        if metadata.metadata_version.is_empty() || metadata.name.is_empty() {
            return Err("missing Metadata-Version or Name".into());
        }
        if metadata.version.is_empty() {
            return Err("missing Version".into());
        }
        Ok(metadata)
    }
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Reads the one member of a zip archive whose name `wanted` accepts.
pub fn read_zip_member(
    file: &mut (impl Read + Seek),
    wanted: impl Fn(&str) -> bool,
) -> io::Result<Option<Vec<u8>>> {
    let length = file.seek(SeekFrom::End(0))?;
    let tail_len = length.min(65_557);
    file.seek(SeekFrom::Start(length - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| u32_at(&tail, i) == 0x0605_4b50)
        .ok_or_else(|| bad("not a zip archive (no end of central directory)"))?;
    let mut entries = u64::from(u16_at(&tail, eocd + 10));
    let mut cd_size = u64::from(u32_at(&tail, eocd + 12));
    let mut cd_offset = u64::from(u32_at(&tail, eocd + 16));
    // Zip64: the locator sits just before the classic record.
    if eocd >= 20 && u32_at(&tail, eocd - 20) == 0x0706_4b50 {
        let record = u64_at(&tail, eocd - 20 + 8);
        file.seek(SeekFrom::Start(record))?;
        let mut z = [0u8; 56];
        file.read_exact(&mut z)?;
        if u32_at(&z, 0) != 0x0606_4b50 {
            return Err(bad("broken zip64 end of central directory"));
        }
        entries = u64_at(&z, 32);
        cd_size = u64_at(&z, 40);
        cd_offset = u64_at(&z, 48);
    }
    if cd_size > 16 << 20 || cd_offset.saturating_add(cd_size) > length {
        return Err(bad("zip central directory out of bounds"));
    }
    file.seek(SeekFrom::Start(cd_offset))?;
    let mut cd = vec![0u8; cd_size as usize];
    file.read_exact(&mut cd)?;
    let mut at = 0usize;
    for _ in 0..entries {
        if at + 46 > cd.len() || u32_at(&cd, at) != 0x0201_4b50 {
            return Err(bad("broken zip central directory"));
        }
        let method = u16_at(&cd, at + 10);
        let mut compressed = u64::from(u32_at(&cd, at + 20));
        let mut size = u64::from(u32_at(&cd, at + 24));
        let name_len = usize::from(u16_at(&cd, at + 28));
        let extra_len = usize::from(u16_at(&cd, at + 30));
        let comment_len = usize::from(u16_at(&cd, at + 32));
        let mut offset = u64::from(u32_at(&cd, at + 42));
        let end = at + 46 + name_len + extra_len + comment_len;
        if end > cd.len() {
            return Err(bad("broken zip central directory"));
        }
        let name = String::from_utf8_lossy(&cd[at + 46..at + 46 + name_len]).into_owned();
        // Zip64 extended information replaces the saturated fields, in order.
        let mut extra = &cd[at + 46 + name_len..at + 46 + name_len + extra_len];
        while extra.len() >= 4 {
            let id = u16_at(extra, 0);
            let len = usize::from(u16_at(extra, 2));
            let body = &extra[4..(4 + len).min(extra.len())];
            if id == 1 {
                let mut p = 0;
                for field in [&mut size, &mut compressed, &mut offset] {
                    if *field == 0xFFFF_FFFF && p + 8 <= body.len() {
                        *field = u64_at(body, p);
                        p += 8;
                    }
                }
            }
            extra = &extra[(4 + len).min(extra.len())..];
        }
        at = end;
        if !wanted(&name) {
            continue;
        }
        if size > METADATA_LIMIT {
            return Err(bad(format!("{name} is larger than {METADATA_LIMIT} bytes")));
        }
        file.seek(SeekFrom::Start(offset))?;
        let mut local = [0u8; 30];
        file.read_exact(&mut local)?;
        if u32_at(&local, 0) != 0x0403_4b50 {
            return Err(bad(format!("{name}: broken local header")));
        }
        let skip = u64::from(u16_at(&local, 26)) + u64::from(u16_at(&local, 28));
        file.seek(SeekFrom::Current(skip as i64))?;
        let raw = file.by_ref().take(compressed);
        let mut out = Vec::new();
        match method {
            0 => {
                raw.take(METADATA_LIMIT).read_to_end(&mut out)?;
            }
            8 => {
                flate2::read::DeflateDecoder::new(raw)
                    .take(METADATA_LIMIT + 1)
                    .read_to_end(&mut out)?;
            }
            other => return Err(bad(format!("{name}: unsupported zip method {other}"))),
        }
        if out.len() as u64 != size {
            return Err(bad(format!(
                "{name}: {} bytes instead of the {size} the directory says",
                out.len()
            )));
        }
        return Ok(Some(out));
    }
    Ok(None)
}

/// The `METADATA` of a wheel (`<name>.dist-info/METADATA` at the top level).
pub fn wheel_metadata(file: &mut (impl Read + Seek)) -> io::Result<Option<Vec<u8>>> {
    read_zip_member(file, |name| {
        name.split_once('/')
            .is_some_and(|(dir, rest)| dir.ends_with(".dist-info") && rest == "METADATA")
    })
}

fn top_level(name: &str, wanted: &str) -> bool {
    let name = name.strip_prefix("./").unwrap_or(name);
    name.split_once('/').is_some_and(|(_, rest)| rest == wanted)
}

/// The `PKG-INFO` of an sdist, `.tar.gz` or `.zip` by `filename`.
pub fn sdist_metadata(
    filename: &str,
    file: &mut (impl Read + Seek),
) -> io::Result<Option<Vec<u8>>> {
    sdist_member(filename, file, "PKG-INFO")
}

/// A top-level file of an sdist (`<name>-<version>/<wanted>`), such as
/// `PKG-INFO` or `pyproject.toml`.
pub fn sdist_member(
    filename: &str,
    file: &mut (impl Read + Seek),
    wanted: &str,
) -> io::Result<Option<Vec<u8>>> {
    if filename.ends_with(".zip") {
        return read_zip_member(file, |name| top_level(name, wanted));
    }
    if !(filename.ends_with(".tar.gz") || filename.ends_with(".tgz")) {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(0))?;
    let mut tar = flate2::read::GzDecoder::new(file).take(SDIST_SCAN_LIMIT);
    let mut long_name: Option<String> = None;
    loop {
        let mut header = [0u8; 512];
        match tar.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        if header.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let field = |range: std::ops::Range<usize>| {
            let raw = &header[range];
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            String::from_utf8_lossy(&raw[..end]).into_owned()
        };
        let size_text = field(124..136);
        let size = u64::from_str_radix(size_text.trim(), 8)
            .map_err(|_| bad(format!("tar header with size {size_text:?}")))?;
        let kind = header[156];
        let mut name = field(0..100);
        let prefix = field(345..500);
        if &header[257..262] == b"ustar" && !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        if let Some(long) = long_name.take() {
            name = long;
        }
        let padded = size.div_ceil(512) * 512;
        match kind {
            b'L' | b'x' if size <= 1 << 20 => {
                let mut data = vec![0u8; padded as usize];
                tar.read_exact(&mut data)?;
                data.truncate(size as usize);
                let text = String::from_utf8_lossy(&data);
                long_name = if kind == b'L' {
                    Some(text.trim_end_matches('\0').to_owned())
                } else {
                    text.lines()
                        .find_map(|l| l.split_once(" path=").map(|(_, p)| p.to_owned()))
                };
                continue;
            }
            b'0' | 0 if top_level(&name, wanted) => {
                if size > METADATA_LIMIT {
                    return Err(bad(format!("{name} is larger than {METADATA_LIMIT} bytes")));
                }
                let mut data = vec![0u8; size as usize];
                tar.read_exact(&mut data)?;
                return Ok(Some(data));
            }
            _ => {
                io::copy(&mut (&mut tar).take(padded), &mut io::sink())?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_fields_parse() {
        let m = Metadata::parse(
            b"Metadata-Version: 2.1\nName: Alpha\nVersion: 1.0\nRequires-Python: >=3.8\nRequires-Dist: beta>=1\nRequires-Dist: gamma; extra == 'x'\nDescription: a\n  long line\n\nbody: not a field\n",
        )
        .expect("parses");
        assert_eq!(m.name, "Alpha");
        assert_eq!(m.requires_dist.len(), 2);
        assert_eq!(m.requires_python.as_deref(), Some(">=3.8"));
        assert!(Metadata::parse(b"Name: x\n").is_err());
        assert!(Metadata::parse(b"garbage without colon\n").is_err());
    }

    #[test]
    fn a_non_zip_is_refused() {
        let mut cursor = std::io::Cursor::new(vec![7u8; 100]);
        assert!(wheel_metadata(&mut cursor).is_err());
    }
}
