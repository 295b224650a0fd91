//! A small, bounded ELF reader: the header, the section header table and the section names, and
//! the bytes of one named section. Enough to find `.go.buildinfo` and `.dep-v0`.
//!
//! Boundary: 32- and 64-bit, either byte order; every offset and size is checked against the file's
//! length and a caller's limit before anything is read. No relocation, no program headers.

use std::io::{Read, Seek, SeekFrom};

/// A section's name, file offset, size and type.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub name: String,
    pub offset: u64,
    pub size: u64,
    pub kind: u32,
}

/// `SHT_NOBITS`: a section that occupies no bytes in the file (`.bss`).
const SECTION_NO_BITS: u32 = 8;
/// Section header tables larger than this are refused: real binaries have a few dozen sections.
const MAX_SECTIONS: u64 = 65_536;
/// Section header entries are 40 (ELF32) or 64 (ELF64) bytes; a larger size is allowed for future
/// fields, but bounded so the table read stays small.
const MAX_ENTRY_SIZE: u64 = 256;

struct Fields {
    is_64: bool,
    little: bool,
}

impl Fields {
    fn u16_at(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let slice: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if self.little {
            u16::from_le_bytes(slice)
        } else {
            u16::from_be_bytes(slice)
        }))
    }
    fn u32_at(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let slice: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if self.little {
            u32::from_le_bytes(slice)
        } else {
            u32::from_be_bytes(slice)
        }))
    }
    fn u64_at(&self, bytes: &[u8], at: usize) -> Option<u64> {
        let slice: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
        Some(if self.little {
            u64::from_le_bytes(slice)
        } else {
            u64::from_be_bytes(slice)
        })
    }
    /// A word: 8 bytes in ELF64, 4 in ELF32.
    fn word_at(&self, bytes: &[u8], at: usize) -> Option<u64> {
        if self.is_64 {
            self.u64_at(bytes, at)
        } else {
            self.u32_at(bytes, at)
        }
    }
}

/// Whether `start` is the beginning of an ELF file.
pub(crate) fn is_elf(start: &[u8]) -> bool {
    start.starts_with(b"\x7fELF")
}

fn read_exact_at<F: Read + Seek>(
    file: &mut F,
    offset: u64,
    length: u64,
    file_length: u64,
) -> Result<Vec<u8>, String> {
    let end = offset
        .checked_add(length)
        .ok_or("section offset overflows")?;
    if end > file_length {
        return Err(format!(
            "range {offset}..{end} is past the end of the file ({file_length} bytes)"
        ));
    }
    let length = usize::try_from(length).map_err(|_| "section too large for memory")?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|error| format!("seek: {error}"))?;
    let mut buffer = vec![0; length];
    file.read_exact(&mut buffer)
        .map_err(|error| format!("read: {error}"))?;
    Ok(buffer)
}

/// The section headers of an ELF file, with names; `Err` for a file that is not a well-formed ELF.
pub(crate) fn sections<F: Read + Seek>(
    file: &mut F,
    file_length: u64,
) -> Result<Vec<Section>, String> {
    let header = read_exact_at(file, 0, 64.min(file_length), file_length)?;
    if !is_elf(&header) || header.len() < 52 {
        return Err("not an ELF file".to_string());
    }
    let fields = Fields {
        is_64: match header[4] {
            1 => false,
            2 => true,
            other => return Err(format!("unknown ELF class {other}")),
        },
        little: match header[5] {
            1 => true,
            2 => false,
            other => return Err(format!("unknown ELF data encoding {other}")),
        },
    };
    let truncated = || "truncated ELF header".to_string();
    let (section_offset, entry_size, mut count, mut names_index) = if fields.is_64 {
        (
            fields.u64_at(&header, 0x28).ok_or_else(truncated)?,
            fields.u16_at(&header, 0x3a).ok_or_else(truncated)?,
            fields.u16_at(&header, 0x3c).ok_or_else(truncated)?,
            fields.u16_at(&header, 0x3e).ok_or_else(truncated)?,
        )
    } else {
        (
            fields.u32_at(&header, 0x20).ok_or_else(truncated)?,
            fields.u16_at(&header, 0x2e).ok_or_else(truncated)?,
            fields.u16_at(&header, 0x30).ok_or_else(truncated)?,
            fields.u16_at(&header, 0x32).ok_or_else(truncated)?,
        )
    };
    if section_offset == 0 {
        return Ok(Vec::new());
    }
    let minimum_entry = if fields.is_64 { 64 } else { 40 };
    if entry_size < minimum_entry {
        return Err(format!("section header entries of {entry_size} bytes"));
    }
    // Section 0 holds the real count and name index when they do not fit the header's fields.
    let first = read_exact_at(file, section_offset, entry_size, file_length)?;
    let (size_at, link_at) = if fields.is_64 {
        (0x20, 0x28)
    } else {
        (0x14, 0x18)
    };
    if count == 0 {
        count = fields.word_at(&first, size_at).ok_or_else(truncated)?;
    }
    if names_index == 0xffff {
        names_index = fields.u32_at(&first, link_at).ok_or_else(truncated)?;
    }
    if count > MAX_SECTIONS {
        return Err(format!("{count} sections"));
    }
    if entry_size > MAX_ENTRY_SIZE {
        return Err(format!("section header entries of {entry_size} bytes"));
    }
    let table = read_exact_at(file, section_offset, count * entry_size, file_length)?;
    let mut raw = Vec::new();
    for index in 0..count {
        let base = usize::try_from(index * entry_size).map_err(|_| "section table too large")?;
        let (name_offset, kind, offset, size) = if fields.is_64 {
            (
                fields.u32_at(&table, base).ok_or_else(truncated)?,
                fields.u32_at(&table, base + 4).ok_or_else(truncated)?,
                fields.u64_at(&table, base + 0x18).ok_or_else(truncated)?,
                fields.u64_at(&table, base + 0x20).ok_or_else(truncated)?,
            )
        } else {
            (
                fields.u32_at(&table, base).ok_or_else(truncated)?,
                fields.u32_at(&table, base + 4).ok_or_else(truncated)?,
                fields.u32_at(&table, base + 0x10).ok_or_else(truncated)?,
                fields.u32_at(&table, base + 0x14).ok_or_else(truncated)?,
            )
        };
        raw.push((name_offset, u32::try_from(kind).unwrap_or(0), offset, size));
    }
    let names = match raw.get(usize::try_from(names_index).unwrap_or(usize::MAX)) {
        Some(&(_, kind, offset, size)) if kind != SECTION_NO_BITS && size <= 16 << 20 => {
            read_exact_at(file, offset, size, file_length)?
        }
        Some(_) => return Err("section name table is unusable".to_string()),
        None => Vec::new(),
    };
    Ok(raw
        .into_iter()
        .map(|(name_offset, kind, offset, size)| {
            let start = usize::try_from(name_offset).unwrap_or(usize::MAX);
            let name = names
                .get(start..)
                .map(|rest| {
                    let end = rest
                        .iter()
                        .position(|&byte| byte == 0)
                        .unwrap_or(rest.len());
                    String::from_utf8_lossy(&rest[..end]).into_owned()
                })
                .unwrap_or_default();
            Section {
                name,
                offset,
                size,
                kind,
            }
        })
        .collect())
}

/// The bytes of the section named `name`, if there is one; refuses one larger than `limit`.
pub(crate) fn section_data<F: Read + Seek>(
    file: &mut F,
    file_length: u64,
    sections: &[Section],
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, String> {
    let Some(section) = sections.iter().find(|section| section.name == name) else {
        return Ok(None);
    };
    if section.kind == SECTION_NO_BITS {
        return Ok(None);
    }
    if section.size > limit {
        return Err(format!(
            "section {name} has {} bytes, over the limit of {limit}",
            section.size
        ));
    }
    read_exact_at(file, section.offset, section.size, file_length).map(Some)
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A minimal little-endian ELF64 file with the given named sections, for tests.
    pub(crate) fn build(named: &[(&str, &[u8])]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_offsets = Vec::new();
        for (name, _) in named {
            name_offsets.push(names.len() as u32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let shstrtab_name = names.len() as u32;
        names.extend_from_slice(b".shstrtab\0");
        let mut file = vec![0u8; 64];
        let mut placed = Vec::new();
        for (_, data) in named {
            placed.push((file.len() as u64, data.len() as u64));
            file.extend_from_slice(data);
        }
        let names_offset = file.len() as u64;
        file.extend_from_slice(&names);
        while !file.len().is_multiple_of(8) {
            file.push(0);
        }
        let table_offset = file.len() as u64;
        let entry = |name: u32, kind: u32, offset: u64, size: u64, file: &mut Vec<u8>| {
            let mut bytes = vec![0u8; 64];
            bytes[0..4].copy_from_slice(&name.to_le_bytes());
            bytes[4..8].copy_from_slice(&kind.to_le_bytes());
            bytes[0x18..0x20].copy_from_slice(&offset.to_le_bytes());
            bytes[0x20..0x28].copy_from_slice(&size.to_le_bytes());
            file.extend_from_slice(&bytes);
        };
        entry(0, 0, 0, 0, &mut file);
        for (index, (offset, size)) in placed.iter().enumerate() {
            entry(name_offsets[index], 1, *offset, *size, &mut file);
        }
        entry(
            shstrtab_name,
            3,
            names_offset,
            names.len() as u64,
            &mut file,
        );
        let count = (named.len() + 2) as u16;
        file[0..4].copy_from_slice(b"\x7fELF");
        file[4] = 2;
        file[5] = 1;
        file[6] = 1;
        file[0x10..0x12].copy_from_slice(&2u16.to_le_bytes());
        file[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
        file[0x28..0x30].copy_from_slice(&table_offset.to_le_bytes());
        file[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        file[0x3c..0x3e].copy_from_slice(&count.to_le_bytes());
        file[0x3e..0x40].copy_from_slice(&(count - 1).to_le_bytes());
        file
    }

    #[test]
    fn finds_named_sections_and_refuses_bad_tables() {
        let file = build(&[(".text", b"code"), (".dep-v0", b"payload")]);
        let length = file.len() as u64;
        let mut cursor = std::io::Cursor::new(file.clone());
        let found = sections(&mut cursor, length).unwrap();
        assert_eq!(
            section_data(&mut cursor, length, &found, ".dep-v0", 100)
                .unwrap()
                .unwrap(),
            b"payload"
        );
        assert!(section_data(&mut cursor, length, &found, ".dep-v0", 3).is_err());
        assert!(
            section_data(&mut cursor, length, &found, ".missing", 100)
                .unwrap()
                .is_none()
        );
        // A section table pointing past the end of the file.
        let mut broken = file;
        broken[0x28..0x30].copy_from_slice(&(length * 4).to_le_bytes());
        assert!(sections(&mut std::io::Cursor::new(broken), length).is_err());
    }
}
