//! Core metadata (`METADATA`, `PKG-INFO`, PEP 658 `.metadata` files) and
//! reading it out of a wheel (zip) or an sdist (`.tar.gz`, `.zip`) without
//! unpacking anything to disk.

use std::cell::Cell;
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
    /// `License-Expression` (PEP 639), an SPDX expression.
    pub license_expression: Option<String>,
    /// `License`: a licence's name, or often its whole text.
    pub license: Option<String>,
    /// Every `Classifier` of the `License ::` kind.
    pub license_classifiers: Vec<String>,
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
                "license-expression" => metadata.license_expression = Some(value),
                "license" => metadata.license = Some(value),
                "classifier" if value.starts_with("License ::") => {
                    metadata.license_classifiers.push(value);
                }
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

/// Most licences and dependency names kept of one file's metadata.
const STATED_LIMIT: usize = 1024;

impl Metadata {
    /// The licences it states, for SBOMs: `License-Expression` when
    /// there is one; else `License` when it is a name rather than a
    /// licence's text (see [`airlift_ecosystem::stated_license`]) and not
    /// `UNKNOWN`; else the last part of each `License ::` classifier
    /// (`MIT License`).
    pub fn licenses(&self) -> Vec<String> {
        if let Some(expression) = self
            .license_expression
            .as_deref()
            .and_then(airlift_ecosystem::stated_license)
        {
            return vec![expression];
        }
        if let Some(license) = self
            .license
            .as_deref()
            .and_then(airlift_ecosystem::stated_license)
            .filter(|l| !l.eq_ignore_ascii_case("UNKNOWN"))
        {
            return vec![license];
        }
        let mut licenses: Vec<String> = Vec::new();
        for classifier in self.license_classifiers.iter().take(STATED_LIMIT) {
            let Some(name) = classifier
                .rsplit("::")
                .next()
                .and_then(airlift_ecosystem::stated_license)
                .filter(|n| n != "OSI Approved")
            else {
                continue;
            };
            if !licenses.contains(&name) {
                licenses.push(name);
            }
        }
        licenses
    }

    /// The normalized project name of every `Requires-Dist`, markers and
    /// extras not evaluated (a dependency of an extra or of another
    /// platform is listed too), each once.
    pub fn required_projects(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for text in self.requires_dist.iter().take(STATED_LIMIT) {
            let name = match crate::requirement::Requirement::parse(text) {
                Ok(requirement) => requirement.key(),
                Err(_) => continue,
            };
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

fn bad(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// Largest amount of an archive read to find and walk a zip's central
/// directory: the directory itself may be 16 MiB, which also bounds the
/// number of entries (each takes at least 46 bytes), plus the search for
/// its end record near the end of the file.
const ZIP_DIRECTORY_LIMIT: u64 = (16 << 20) + (256 << 10);
/// Largest amount of tar read between two members: the padding of the
/// previous one, the headers, and any GNU long name or PAX records, which
/// the `tar` crate holds in memory.
const TAR_HEADERS_LIMIT: u64 = 2 << 20;

/// A reader that refuses to read more than the budget it is given; the
/// budget lives outside so that it can change between the phases of one
/// archive read (the `zip` and `tar` readers own the reader itself).
struct Budget<'a, R> {
    inner: R,
    left: &'a Cell<u64>,
    what: &'static str,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.left.get();
        if left == 0 && !buf.is_empty() {
            return Err(bad(self.what));
        }
        let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = self.inner.read(&mut buf[..n])?;
        self.left.set(left - got as u64);
        Ok(got)
    }
}

impl<R: Seek> Seek for Budget<'_, R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

fn zip_error(error: zip::result::ZipError) -> io::Error {
    match error {
        zip::result::ZipError::Io(e) => e,
        other => bad(format!("zip: {other}")),
    }
}

/// Reads the one member of a zip archive whose name `wanted` accepts, with
/// the `zip` crate. The central directory may take at most 16 MiB, the
/// member at most 16 MiB uncompressed; its data must inflate to exactly the
/// size the directory states and match its CRC-32, so a zip bomb stops at
/// the stated size.
pub fn read_zip_member(
    file: &mut (impl Read + Seek),
    wanted: impl Fn(&str) -> bool,
) -> io::Result<Option<Vec<u8>>> {
    let left = Cell::new(ZIP_DIRECTORY_LIMIT);
    let mut archive = zip::ZipArchive::new(Budget {
        inner: file,
        left: &left,
        what: "zip: the central directory (or the search for it) takes more than 16 MiB; refused",
    })
    .map_err(zip_error)?;
    let Some(index) = (0..archive.len()).find(|&i| archive.name_for_index(i).is_some_and(&wanted))
    else {
        return Ok(None);
    };
    // The member's own bytes are bounded below, by its stated sizes.
    left.set(u64::MAX);
    let mut member = archive.by_index(index).map_err(zip_error)?;
    let name = member.name().to_owned();
    let size = member.size();
    if size > METADATA_LIMIT {
        return Err(bad(format!("{name} is larger than {METADATA_LIMIT} bytes")));
    }
    let mut out = Vec::new();
    (&mut member)
        .take(size + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(format!("{name}: {e}")))?;
    if out.len() as u64 != size {
        return Err(bad(format!(
            "{name}: {} bytes instead of the {size} the directory says",
            if out.len() as u64 > size {
                format!("more than {size}")
            } else {
                out.len().to_string()
            }
        )));
    }
    Ok(Some(out))
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
///
/// A gzip tar is read with the `tar` crate, which checks every header's
/// checksum and takes a member's name and size from its PAX records or GNU
/// long name when there are any, as Python's `tarfile` does. What it holds
/// in memory between two members (long names, PAX records) is capped at
/// 2 MiB, the member read at 16 MiB, and the whole scan at 2 GiB of tar.
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
    let left = Cell::new(TAR_HEADERS_LIMIT);
    let mut archive = tar::Archive::new(Budget {
        inner: flate2::read::GzDecoder::new(file).take(SDIST_SCAN_LIMIT),
        left: &left,
        what: "tar: the headers before a member (long names, PAX records) take more than 2 MiB; refused",
    });
    let mut entries = archive.entries()?;
    loop {
        // Every member before was read to its end, so what the next step
        // reads is padding, headers and extension records only.
        left.set(TAR_HEADERS_LIMIT);
        let Some(entry) = entries.next() else {
            return Ok(None);
        };
        let mut entry = entry.map_err(|e| bad(format!("tar: {e}")))?;
        left.set(u64::MAX);
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.size();
        if entry.header().entry_type() == tar::EntryType::Regular && top_level(&name, wanted) {
            if size > METADATA_LIMIT {
                return Err(bad(format!("{name} is larger than {METADATA_LIMIT} bytes")));
            }
            let mut data = Vec::new();
            (&mut entry)
                .take(size)
                .read_to_end(&mut data)
                .map_err(|e| bad(format!("{name}: {e}")))?;
            if data.len() as u64 != size {
                return Err(bad(format!(
                    "{name}: the archive ends after {} of its {size} bytes",
                    data.len()
                )));
            }
            return Ok(Some(data));
        }
        io::copy(&mut entry, &mut io::sink()).map_err(|e| bad(format!("{name}: {e}")))?;
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
    fn licences_and_required_projects_are_as_stated() {
        let parse = |text: &str| Metadata::parse(text.as_bytes()).expect("parses");
        let head = "Metadata-Version: 2.4\nName: a\nVersion: 1\n";
        let m = parse(&format!(
            "{head}License-Expression: MIT OR Apache-2.0\nLicense: ignored\nRequires-Dist: Zope.Interface>=5\nRequires-Dist: zope-interface; extra == 'x'\nRequires-Dist: pywin32; sys_platform == 'win32'\n"
        ));
        assert_eq!(m.licenses(), ["MIT OR Apache-2.0"]);
        assert_eq!(m.required_projects(), ["zope-interface", "pywin32"]);
        let m = parse(&format!(
            "{head}License: BSD\nClassifier: License :: OSI Approved :: MIT License\n"
        ));
        assert_eq!(m.licenses(), ["BSD"]);
        // A whole licence text in `License` gives way to the classifiers.
        let m = parse(&format!(
            "{head}License: Copyright (c) 2020\n        Permission is hereby granted\nClassifier: License :: OSI Approved :: MIT License\nClassifier: License :: OSI Approved\nClassifier: Programming Language :: Python\n"
        ));
        assert_eq!(m.licenses(), ["MIT License"]);
        let m = parse(&format!("{head}License: UNKNOWN\n"));
        assert!(m.licenses().is_empty());
    }

    #[test]
    fn a_non_zip_is_refused() {
        let mut cursor = std::io::Cursor::new(vec![7u8; 100]);
        assert!(wheel_metadata(&mut cursor).is_err());
    }

    const PKG_INFO: &[u8] = b"Metadata-Version: 2.1\nName: alpha\nVersion: 1.0\n";

    /// One ustar header block with a correct checksum.
    fn tar_header(name: &str, size: u64, kind: u8) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn tar_member(out: &mut Vec<u8>, header: [u8; 512], data: &[u8]) {
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }

    /// A PAX record as `tar` writes it: the length counts itself.
    fn pax_record(key: &str, value: &str) -> String {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    }

    fn gzip(tar: &[u8]) -> std::io::Cursor<Vec<u8>> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, tar).expect("gzip");
        std::io::Cursor::new(gz.finish().expect("gzip"))
    }

    fn sdist(tar: &[u8]) -> io::Result<Option<Vec<u8>>> {
        sdist_metadata("alpha-1.0.tar.gz", &mut gzip(tar))
    }

    #[test]
    fn sdist_pkg_info_plain_and_after_other_members() {
        let mut tar = Vec::new();
        let readme = vec![b'x'; 1000];
        tar_member(
            &mut tar,
            tar_header("alpha-1.0/README", 1000, b'0'),
            &readme,
        );
        tar_member(
            &mut tar,
            tar_header("alpha-1.0/sub/PKG-INFO", 3, b'0'),
            b"no\n",
        );
        let pkg = PKG_INFO.len() as u64;
        tar_member(
            &mut tar,
            tar_header("./alpha-1.0/PKG-INFO", pkg, b'0'),
            PKG_INFO,
        );
        tar.extend_from_slice(&[0u8; 1024]);
        assert_eq!(sdist(&tar).expect("reads").as_deref(), Some(PKG_INFO));
        // Without it: none, not an error.
        let mut tar = Vec::new();
        tar_member(
            &mut tar,
            tar_header("alpha-1.0/README", 1000, b'0'),
            &readme,
        );
        tar.extend_from_slice(&[0u8; 1024]);
        assert_eq!(sdist(&tar).expect("reads"), None);
    }

    /// A PAX `size` record overrides the header's size field, as it does
    /// for Python's `tarfile` (and so for pip building the sdist): reading
    /// the header's size instead would take the wrong bytes as PKG-INFO.
    #[test]
    fn sdist_member_size_comes_from_pax() {
        let mut tar = Vec::new();
        let long_dir = format!("alpha-1.0{}", "-x".repeat(60));
        let records = format!(
            "{}{}",
            pax_record("size", &PKG_INFO.len().to_string()),
            pax_record("path", &format!("{long_dir}/PKG-INFO")),
        );
        tar_member(
            &mut tar,
            tar_header("PaxHeaders/PKG-INFO", records.len() as u64, b'x'),
            records.as_bytes(),
        );
        // The header's own size says 5 bytes and its name is a decoy.
        tar_member(&mut tar, tar_header("decoy/README", 5, b'0'), PKG_INFO);
        tar.extend_from_slice(&[0u8; 1024]);
        assert_eq!(sdist(&tar).expect("reads").as_deref(), Some(PKG_INFO));
    }

    #[test]
    fn sdist_header_with_a_bad_checksum_is_refused() {
        let mut tar = Vec::new();
        let mut header = tar_header("alpha-1.0/PKG-INFO", PKG_INFO.len() as u64, b'0');
        header[140] = b'7'; // mtime changed, checksum not updated
        tar_member(&mut tar, header, PKG_INFO);
        tar.extend_from_slice(&[0u8; 1024]);
        let error = sdist(&tar).expect_err("refused");
        assert!(error.to_string().contains("checksum"), "{error}");
    }

    #[test]
    fn sdist_bounds_hold() {
        // A PAX record block of 3 MiB is refused before it is held whole.
        let mut tar = Vec::new();
        let records = pax_record("comment", &"y".repeat(3 << 20));
        tar_member(
            &mut tar,
            tar_header("PaxHeaders/x", records.len() as u64, b'x'),
            records.as_bytes(),
        );
        tar_member(&mut tar, tar_header("alpha-1.0/PKG-INFO", 3, b'0'), b"no\n");
        tar.extend_from_slice(&[0u8; 1024]);
        let error = sdist(&tar).expect_err("refused");
        assert!(error.to_string().contains("more than 2 MiB"), "{error}");
        // A PKG-INFO that says it is 17 MiB is refused before it is read.
        let mut tar = Vec::new();
        tar.extend_from_slice(&tar_header("alpha-1.0/PKG-INFO", 17 << 20, b'0'));
        let error = sdist(&tar).expect_err("refused");
        assert!(
            error.to_string().contains("alpha-1.0/PKG-INFO is larger"),
            "{error}"
        );
        // A member cut short is an error, not a short PKG-INFO.
        let mut tar = Vec::new();
        tar.extend_from_slice(&tar_header("alpha-1.0/PKG-INFO", 4000, b'0'));
        tar.extend_from_slice(PKG_INFO);
        assert!(sdist(&tar).is_err());
    }

    /// A zip of `(name, method, stored bytes, crc32, size stated)` members,
    /// written by hand so that the stated sizes can lie.
    fn zip_of(members: &[(&str, u16, Vec<u8>, u32, u32)]) -> std::io::Cursor<Vec<u8>> {
        let mut out = Vec::new();
        let mut directory = Vec::new();
        for (name, method, data, crc, size) in members {
            let offset = out.len() as u32;
            let common = |out: &mut Vec<u8>| {
                out.extend_from_slice(&20u16.to_le_bytes()); // version needed
                out.extend_from_slice(&0u16.to_le_bytes()); // flags
                out.extend_from_slice(&method.to_le_bytes());
                out.extend_from_slice(&[0u8; 4]); // time, date
                out.extend_from_slice(&crc.to_le_bytes());
                out.extend_from_slice(&(data.len() as u32).to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
                out.extend_from_slice(&(name.len() as u16).to_le_bytes());
                out.extend_from_slice(&0u16.to_le_bytes()); // extra
            };
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            common(&mut out);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            directory.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            directory.extend_from_slice(&20u16.to_le_bytes()); // made by
            common(&mut directory);
            directory.extend_from_slice(&[0u8; 6]); // comment, disk, internal attributes
            directory.extend_from_slice(&0u32.to_le_bytes()); // external attributes
            directory.extend_from_slice(&offset.to_le_bytes());
            directory.extend_from_slice(name.as_bytes());
        }
        let at = out.len() as u32;
        out.extend_from_slice(&directory);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0u8; 4]);
        let count = (members.len() as u16).to_le_bytes();
        out.extend_from_slice(&count);
        out.extend_from_slice(&count);
        out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        std::io::Cursor::new(out)
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut d, data).expect("deflate");
        d.finish().expect("deflate")
    }

    const METADATA: &str = "alpha-1.0.dist-info/METADATA";

    #[test]
    fn wheel_metadata_stored_and_deflated() {
        let crc = crc32fast::hash(PKG_INFO);
        let size = PKG_INFO.len() as u32;
        let other = ("alpha/__init__.py", 0, b"x = 1\n".to_vec(), 0, 6);
        let stored = (METADATA, 0, PKG_INFO.to_vec(), crc, size);
        let mut zip = zip_of(&[other.clone(), stored]);
        assert_eq!(
            wheel_metadata(&mut zip).expect("reads").as_deref(),
            Some(PKG_INFO)
        );
        let deflated = (METADATA, 8, deflate(PKG_INFO), crc, size);
        let mut zip = zip_of(&[deflated]);
        assert_eq!(
            wheel_metadata(&mut zip).expect("reads").as_deref(),
            Some(PKG_INFO)
        );
        let mut zip = zip_of(&[other]);
        assert_eq!(wheel_metadata(&mut zip).expect("reads"), None);
        // A wrong CRC-32 is an error.
        let mut zip = zip_of(&[(METADATA, 0, PKG_INFO.to_vec(), crc ^ 1, size)]);
        assert!(wheel_metadata(&mut zip).is_err());
    }

    #[test]
    fn zip_bombs_are_refused() {
        // 64 MiB of zeros that the directory calls 100 bytes: inflating
        // stops just past 100 and the error names the member.
        let bomb = vec![0u8; 64 << 20];
        let packed = deflate(&bomb);
        let crc = crc32fast::hash(&bomb);
        let mut zip = zip_of(&[(METADATA, 8, packed.clone(), crc, 100)]);
        let error = wheel_metadata(&mut zip).expect_err("refused");
        assert!(error.to_string().contains(METADATA), "{error}");
        assert!(error.to_string().contains("more than 100"), "{error}");
        // Stated honestly, it is larger than a metadata file may be.
        let mut zip = zip_of(&[(METADATA, 8, packed, crc, 64 << 20)]);
        let error = wheel_metadata(&mut zip).expect_err("refused");
        assert!(error.to_string().contains("is larger than"), "{error}");
        // A central directory of more than 16 MiB (65,535 entries with
        // long names) is refused while it is read.
        let names: Vec<String> = (0..65_535).map(|i| format!("{i:0>300}")).collect();
        let members: Vec<(&str, u16, Vec<u8>, u32, u32)> = names
            .iter()
            .map(|n| (n.as_str(), 0, Vec::new(), 0, 0))
            .collect();
        let mut zip = zip_of(&members);
        let error = wheel_metadata(&mut zip).expect_err("refused");
        assert!(error.to_string().contains("more than 16 MiB"), "{error}");
    }
}
