//! Go build information, as the Go toolchain (1.18 and later) embeds it in `.go.buildinfo`: the
//! 16-byte-aligned magic `\xff Go buildinf:`, a pointer size and a flags byte (bit 2: the strings
//! are inline), then at offset 32 two varint-length strings, the Go version and the module info
//! (`path`, `mod`, `dep` and `=>` replacement lines between two 16-byte sentinels).
//!
//! Boundary: parses bytes already read and bounded; the older pointer-based format (Go before
//! 1.18), which needs the binary's memory layout, is reported as unsupported.

use std::io::{Read, Seek, SeekFrom};

const MAGIC: &[u8] = b"\xff Go buildinf:";
const FLAG_INLINE: u8 = 0x2;

/// One module line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Module {
    pub path: String,
    pub version: String,
}

/// The build information of one Go binary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BuildInfo {
    /// The toolchain version's first word, e.g. `go1.22.1` (experiment suffixes dropped).
    pub go_version: String,
    pub main: Option<Module>,
    /// Dependencies with their `=>` replacements applied.
    pub deps: Vec<Module>,
}

/// Where the magic is, searched at 16-byte-aligned offsets as the Go linker places it.
pub(crate) fn find_magic(data: &[u8]) -> Option<usize> {
    (0..data.len())
        .step_by(16)
        .find(|&at| data[at..].starts_with(MAGIC))
}

fn uvarint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn string_at(data: &[u8], at: &mut usize) -> Result<String, String> {
    let length = uvarint(data, at).ok_or("truncated string length")?;
    let length = usize::try_from(length).map_err(|_| "string length overflows")?;
    let end = at.checked_add(length).ok_or("string length overflows")?;
    let bytes = data
        .get(*at..end)
        .ok_or("string runs past the build information")?;
    *at = end;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Parses the build information starting at the magic in `data`; `Ok(None)` when there is none.
pub(crate) fn parse(data: &[u8]) -> Result<Option<BuildInfo>, String> {
    let Some(start) = find_magic(data) else {
        return Ok(None);
    };
    let header = data
        .get(start..start + 32)
        .ok_or("truncated build information header")?;
    let flags = header[MAGIC.len() + 1];
    if flags & FLAG_INLINE == 0 {
        return Err(
            "Go build information in the pre-1.18 pointer format is not supported".to_string(),
        );
    }
    let mut at = start + 32;
    let version = string_at(data, &mut at)?;
    let mut modinfo = string_at(data, &mut at)?;
    // The module info is framed by two 16-byte sentinels, with a newline just before the second.
    if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo = String::from_utf8_lossy(&modinfo.as_bytes()[16..modinfo.len() - 16]).into_owned();
    }
    if !version.starts_with("go") {
        return Err(format!(
            "build information names no Go version ({version:?})"
        ));
    }
    let mut info = BuildInfo {
        go_version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        ..BuildInfo::default()
    };
    // Which list the last `mod`/`dep` went to, so a following `=>` replaces it.
    let mut last_was_main = false;
    for line in modinfo.lines() {
        let columns: Vec<&str> = line.split('\t').collect();
        match columns.as_slice() {
            ["mod", path, version, ..] => {
                info.main = Some(Module {
                    path: path.to_string(),
                    version: version.to_string(),
                });
                last_was_main = true;
            }
            ["dep", path, version, ..] => {
                info.deps.push(Module {
                    path: path.to_string(),
                    version: version.to_string(),
                });
                last_was_main = false;
            }
            ["dep", path] => {
                info.deps.push(Module {
                    path: path.to_string(),
                    version: String::new(),
                });
                last_was_main = false;
            }
            ["=>", path, rest @ ..] => {
                let replaced = if last_was_main {
                    info.main.as_mut()
                } else {
                    info.deps.last_mut()
                };
                if let Some(module) = replaced {
                    // A replacement by a local directory keeps the original path (that is what the
                    // module is known as) and has no version.
                    if !(path.starts_with('.') || path.starts_with('/')) {
                        module.path = path.to_string();
                    }
                    module.version = rest
                        .first()
                        .map(|version| version.to_string())
                        .unwrap_or_default();
                }
            }
            _ => {}
        }
    }
    Ok(Some(info))
}

/// Scans a whole file for the magic when it has no `.go.buildinfo` section (some linkers and
/// strippers drop section headers), then parses from there; reads at most `limit` bytes past it.
pub(crate) fn scan<F: Read + Seek>(file: &mut F, limit: u64) -> Result<Option<BuildInfo>, String> {
    const CHUNK: usize = 1 << 20;
    file.seek(SeekFrom::Start(0))
        .map_err(|error| format!("seek: {error}"))?;
    // A multiple of 16, so offsets in every window keep the linker's alignment.
    let mut buffer = vec![0u8; CHUNK + 16];
    let mut base: u64 = 0;
    let mut carried = 0usize;
    loop {
        let mut filled = carried;
        while filled < buffer.len() {
            let read = file
                .read(&mut buffer[filled..])
                .map_err(|error| format!("read: {error}"))?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        let window = &buffer[..filled];
        if let Some(at) = find_magic(window) {
            let offset = base + at as u64;
            file.seek(SeekFrom::Start(offset))
                .map_err(|error| format!("seek: {error}"))?;
            let mut data = Vec::new();
            file.take(limit)
                .read_to_end(&mut data)
                .map_err(|error| format!("read: {error}"))?;
            return parse(&data);
        }
        if filled < buffer.len() {
            return Ok(None);
        }
        // Keep the last 16 bytes in case the magic straddles two windows.
        let keep = 16;
        buffer.copy_within(filled - keep..filled, 0);
        base += (filled - keep) as u64;
        carried = keep;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn varint(mut value: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    /// A `.go.buildinfo` payload as the Go 1.18+ linker writes it.
    pub(crate) fn payload(version: &str, modinfo: &str) -> Vec<u8> {
        let mut data = MAGIC.to_vec();
        data.push(8);
        data.push(FLAG_INLINE);
        data.resize(32, 0);
        varint(version.len(), &mut data);
        data.extend_from_slice(version.as_bytes());
        let framed = format!(
            "{}{}{}",
            "0w\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
            modinfo,
            "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}"
        );
        varint(framed.len(), &mut data);
        data.extend_from_slice(framed.as_bytes());
        data
    }

    #[test]
    fn reads_modules_and_replacements() {
        let modinfo = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgithub.com/a/b\tv1.2.3\th1:x=\ndep\tgithub.com/c/d\tv0.1.0\th1:y=\n=>\tgithub.com/fork/d\tv0.1.1\th1:z=\ndep\texample.com/local\tv0.0.0\n=>\t../local\t\nbuild\t-compiler=gc\n";
        let info = parse(&payload("go1.22.1 X:boringcrypto", modinfo))
            .unwrap()
            .unwrap();
        assert_eq!(info.go_version, "go1.22.1");
        assert_eq!(info.main.unwrap().version, "(devel)");
        assert_eq!(
            info.deps,
            vec![
                Module {
                    path: "github.com/a/b".into(),
                    version: "v1.2.3".into()
                },
                Module {
                    path: "github.com/fork/d".into(),
                    version: "v0.1.1".into()
                },
                Module {
                    path: "example.com/local".into(),
                    version: String::new()
                },
            ]
        );
        let mut old = payload("go1.17", "");
        old[MAGIC.len() + 1] = 0;
        assert!(parse(&old).is_err());
        let mut truncated = payload("go1.22.1", modinfo);
        truncated.truncate(50);
        assert!(parse(&truncated).is_err());
        assert!(parse(b"nothing here").unwrap().is_none());
    }

    #[test]
    fn scans_files_without_the_section() {
        let mut file = vec![0u8; (1 << 20) + 16 * 3];
        let data = payload("go1.21.0", "mod\texample.com/m\tv1.0.0\t\n");
        file.extend_from_slice(&data);
        let info = scan(&mut std::io::Cursor::new(file), 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(info.main.unwrap().version, "v1.0.0");
    }
}
