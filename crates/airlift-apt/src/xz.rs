//! The `.xz` container, from `lzma-rust2`: its `XzWriter` for published
//! `Packages.xz` and its `XzReader` for upstream ones. What is ours here
//! is only the bounds a reader of untrusted input needs: the decoder may
//! allocate at most what an `xz -9` dictionary needs, and the output stops
//! at the size the caller allows (the size the verified Release lists), so
//! a decompression bomb is refused instead of filling memory. The reader
//! takes one or more streams with stream padding between them (as
//! `cat a.xz b.xz` and `xz -T` write) and checks each block's own check
//! value; the signed Release hashes remain what makes an index trusted.

use std::io::{self, Read, Write};

pub use lzma_rust2::XzWriter;

/// The largest LZMA2 dictionary a block may ask for: 64 MiB, what `xz -9`
/// uses. Anything larger is refused before the dictionary is allocated.
pub const MAX_DICTIONARY: u32 = 64 << 20;

/// Starts an `.xz` stream around `inner` with compression `preset` (0–9)
/// and a CRC64 check, as `xz` writes by default; `finish` ends it and
/// returns `inner`.
pub fn writer<W: Write>(inner: W, preset: u32) -> io::Result<XzWriter<W>> {
    XzWriter::new(inner, lzma_rust2::XzOptions::with_preset(preset))
}

fn bad(kind: io::ErrorKind, message: impl std::fmt::Display) -> io::Error {
    io::Error::new(kind, format!("xz: {message}"))
}

/// Decompresses an `.xz` stream from `input` into `output`, refusing to
/// write more than `limit` bytes (a decompression bomb stops there) and
/// refusing a block whose dictionary is larger than [`MAX_DICTIONARY`].
/// Returns the number of bytes written.
pub fn decode(input: impl Read, mut output: impl Write, limit: u64) -> io::Result<u64> {
    let memory_kb = lzma_rust2::lzma2_get_memory_usage(MAX_DICTIONARY);
    let mut reader = lzma_rust2::XzReader::new_mem_limit(input, true, memory_kb);
    let mut buf = vec![0u8; 64 << 10];
    let mut written = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                return Err(bad(
                    io::ErrorKind::InvalidData,
                    format_args!(
                        "a block asks for a dictionary larger than {} MiB; refused",
                        MAX_DICTIONARY >> 20
                    ),
                ));
            }
            Err(e) => return Err(bad(e.kind(), e)),
        };
        if n == 0 {
            return Ok(written);
        }
        written += n as u64;
        if written > limit {
            return Err(bad(
                io::ErrorKind::InvalidData,
                format_args!(
                    "decompresses to more than {limit} bytes; refused as a decompression bomb"
                ),
            ));
        }
        output.write_all(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(data: &[u8]) -> Vec<u8> {
        let mut w = writer(Vec::new(), 6).expect("writer");
        w.write_all(data).expect("write");
        w.finish().expect("finish")
    }

    #[test]
    fn round_trip_and_limit() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("Package: p{}\n", i % 977).into_bytes())
            .collect();
        let packed = packed(&data);
        assert!(packed.len() < data.len() / 10, "{}", packed.len());
        let mut out = Vec::new();
        decode(packed.as_slice(), &mut out, u64::MAX).expect("decodes");
        assert_eq!(out, data);
        let mut out = Vec::new();
        let error = decode(packed.as_slice(), &mut out, 1000).expect_err("bomb");
        assert!(error.to_string().contains("decompression bomb"), "{error}");
        assert!(
            out.len() <= 1000,
            "{} bytes written past the limit",
            out.len()
        );
        assert!(decode(&b"not xz at all"[..], &mut Vec::new(), 10).is_err());
        assert!(decode(&b""[..], &mut Vec::new(), 10).is_err());
        // Two streams with stream padding between them, as `cat a.xz b.xz`
        // and `xz -T` may write.
        let mut twice = packed.clone();
        twice.extend_from_slice(&[0u8; 8]);
        twice.extend_from_slice(&packed);
        let mut out = Vec::new();
        decode(twice.as_slice(), &mut out, u64::MAX).expect("decodes both");
        assert_eq!(out.len(), data.len() * 2);
        // Garbage after a stream is not stream padding.
        let mut trailing = packed.clone();
        trailing.extend_from_slice(b"junk");
        assert!(decode(trailing.as_slice(), &mut Vec::new(), u64::MAX).is_err());
        let mut truncated = packed.clone();
        truncated.truncate(packed.len() / 2);
        assert!(decode(truncated.as_slice(), &mut Vec::new(), u64::MAX).is_err());
    }

    /// A block header that asks for a 1 GiB dictionary is refused before
    /// anything is allocated, even though its data would decode.
    #[test]
    fn a_dictionary_larger_than_xz_9_is_refused() {
        let mut packed = packed(b"Package: a\n\n");
        // The stream header is 12 bytes; the block header follows: its
        // size byte, flags, filter ID 0x21 (LZMA2), property size 1, then
        // the dictionary byte, padding, and a CRC32 of the header.
        let start = 12;
        let header_len = (usize::from(packed[start]) + 1) * 4;
        assert_eq!(&packed[start + 2..start + 4], &[0x21, 0x01]);
        packed[start + 4] = 36; // 2^(36/2 + 12) = 1 GiB
        let crc = crc32fast::hash(&packed[start..start + header_len - 4]);
        packed[start + header_len - 4..start + header_len].copy_from_slice(&crc.to_le_bytes());
        let error = decode(packed.as_slice(), &mut Vec::new(), u64::MAX).expect_err("refused");
        assert!(
            error.to_string().contains("dictionary larger than 64 MiB"),
            "{error}"
        );
    }

    /// A flipped byte inside the compressed data fails the block's check
    /// (or the LZMA2 decoder) rather than passing through silently.
    #[test]
    fn a_corrupted_block_is_an_error() {
        let data: Vec<u8> = (0..5_000u32)
            .flat_map(|i| format!("Package: p{i}\n").into_bytes())
            .collect();
        let mut packed = packed(&data);
        let middle = packed.len() / 2;
        packed[middle] ^= 0x55;
        let mut out = Vec::new();
        let result = decode(packed.as_slice(), &mut out, u64::MAX);
        assert!(result.is_err() || out != data, "corruption went unnoticed");
        assert!(
            result.is_err(),
            "decoded {} bytes without an error",
            out.len()
        );
    }
}
