//! The `.xz` container (tukaani xz file format 1.1.0) around LZMA2 from
//! `lzma-rust2`: a writer for published `Packages.xz` and a streaming
//! reader for upstream ones. The reader accepts one or more streams
//! (with stream padding between them) of any number of blocks that use the
//! LZMA2 filter alone, which is what `xz` (also `xz -T`) and `dpkg`
//! produce; integrity comes from the signed Release hashes, so the block
//! checks are skipped rather than recomputed.

use std::io::{self, Read, Write};

const MAGIC: [u8; 6] = [0xFD, b'7', b'z', b'X', b'Z', 0x00];
const FOOTER_MAGIC: [u8; 2] = [b'Y', b'Z'];
const CHECK_CRC32: u8 = 0x01;

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Writes `.xz` around what is written to it; `finish` writes the index
/// and footer and returns the inner writer.
pub struct XzWriter<W: Write> {
    encoder: lzma_rust2::Lzma2Writer<Counting<W>>,
    crc: crc32fast::Hasher,
    uncompressed: u64,
    header_len: u64,
}

struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn dict_props(dict: u32) -> u8 {
    // The smallest encoded size that holds `dict`.
    (0u8..40)
        .find(|bits| {
            let size = (2u64 | u64::from(bits & 1)) << (bits / 2 + 11);
            size >= u64::from(dict)
        })
        .unwrap_or(40)
}

impl<W: Write> XzWriter<W> {
    /// Starts a stream with compression `preset` (0–9).
    pub fn new(mut inner: W, preset: u32) -> io::Result<Self> {
        let options = lzma_rust2::Lzma2Options::with_preset(preset);
        let props = dict_props(options.lzma_options.dict_size);
        let flags = [0x00, CHECK_CRC32];
        inner.write_all(&MAGIC)?;
        inner.write_all(&flags)?;
        inner.write_all(&crc32fast::hash(&flags).to_le_bytes())?;
        // Block header: size, flags (one filter, no sizes), LZMA2 filter.
        let mut header = vec![0x00, 0x00, 0x21, 0x01, props];
        while (header.len() + 4) % 4 != 0 {
            header.push(0);
        }
        header[0] = ((header.len() + 4) / 4 - 1) as u8;
        let crc = crc32fast::hash(&header);
        inner.write_all(&header)?;
        inner.write_all(&crc.to_le_bytes())?;
        let header_len = header.len() as u64 + 4;
        Ok(Self {
            encoder: lzma_rust2::Lzma2Writer::new(Counting { inner, count: 0 }, options),
            crc: crc32fast::Hasher::new(),
            uncompressed: 0,
            header_len,
        })
    }

    /// Ends the block and the stream.
    pub fn finish(self) -> io::Result<W> {
        let mut counting = self
            .encoder
            .finish()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let compressed = counting.count;
        let mut inner = counting.inner;
        let padding = (4 - compressed % 4) % 4;
        inner.write_all(&vec![0u8; padding as usize])?;
        inner.write_all(&self.crc.finalize().to_le_bytes())?;
        let unpadded = self.header_len + compressed + 4;
        let mut index = vec![0x00];
        varint(1, &mut index);
        varint(unpadded, &mut index);
        varint(self.uncompressed, &mut index);
        while index.len() % 4 != 0 {
            index.push(0);
        }
        let crc = crc32fast::hash(&index);
        index.extend_from_slice(&crc.to_le_bytes());
        inner.write_all(&index)?;
        let backward = (index.len() / 4 - 1) as u32;
        let mut footer_body = backward.to_le_bytes().to_vec();
        footer_body.extend_from_slice(&[0x00, CHECK_CRC32]);
        inner.write_all(&crc32fast::hash(&footer_body).to_le_bytes())?;
        inner.write_all(&footer_body)?;
        inner.write_all(&FOOTER_MAGIC)?;
        counting = Counting { inner, count: 0 };
        Ok(counting.inner)
    }
}

impl<W: Write> Write for XzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.encoder.write(buf)?;
        self.crc.update(&buf[..n]);
        self.uncompressed += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn bad(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("xz: {message}"))
}

fn read_varint(r: &mut impl Read, budget: &mut usize) -> io::Result<u64> {
    let mut value = 0u64;
    for i in 0..9 {
        let mut b = [0u8];
        r.read_exact(&mut b)?;
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| bad("block header overrun"))?;
        value |= u64::from(b[0] & 0x7F) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("varint too long"))
}

/// Decompresses an `.xz` stream from `input` into `output`, refusing to
/// write more than `limit` bytes (a decompression bomb stops there).
/// Returns the number of bytes written.
pub fn decode(mut input: impl Read, mut output: impl Write, limit: u64) -> io::Result<u64> {
    let mut written = 0u64;
    let mut streams = 0u32;
    loop {
        // The next stream's header, after any stream padding (zero bytes
        // in groups of four); the end of input after a stream is the end.
        let mut first = [0u8; 4];
        loop {
            let got = read_up_to(&mut input, &mut first)?;
            if got == 0 && streams > 0 {
                return Ok(written);
            }
            if got < 4 {
                return Err(bad(if streams == 0 {
                    "not an xz stream"
                } else {
                    "truncated stream padding"
                }));
            }
            if first != [0; 4] {
                break;
            }
        }
        let mut header = [0u8; 12];
        header[..4].copy_from_slice(&first);
        input.read_exact(&mut header[4..])?;
        stream(&mut input, &mut output, limit, &mut written, &header)?;
        streams += 1;
    }
}

fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = input.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}

fn varint_counted(r: &mut impl Read, count: &mut u64) -> io::Result<u64> {
    let mut value = 0u64;
    for i in 0..9 {
        let mut b = [0u8];
        r.read_exact(&mut b)?;
        *count += 1;
        value |= u64::from(b[0] & 0x7F) << (7 * i);
        if b[0] & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("varint too long"))
}

/// One stream, from after its header through its index and footer.
fn stream(
    input: &mut impl Read,
    output: &mut impl Write,
    limit: u64,
    written: &mut u64,
    header: &[u8; 12],
) -> io::Result<()> {
    if header[..6] != MAGIC {
        return Err(bad("not an xz stream"));
    }
    if crc32fast::hash(&header[6..8]).to_le_bytes() != header[8..12] {
        return Err(bad("stream header checksum"));
    }
    let check = header[7] & 0x0F;
    let check_len: usize = match check {
        0 => 0,
        1..=3 => 4,
        4..=6 => 8,
        7..=9 => 16,
        10..=12 => 32,
        _ => 64,
    };
    loop {
        let mut size = [0u8];
        input.read_exact(&mut size)?;
        if size[0] == 0 {
            // The index (records, padding, CRC32), then the footer.
            let mut read = 1u64;
            let records = varint_counted(input, &mut read)?;
            if records > 1 << 20 {
                return Err(bad("index lists too many blocks"));
            }
            for _ in 0..records * 2 {
                varint_counted(input, &mut read)?;
            }
            let mut rest = vec![0u8; ((4 - read % 4) % 4) as usize + 4 + 12];
            input.read_exact(&mut rest)?;
            if rest[rest.len() - 2..] != FOOTER_MAGIC {
                return Err(bad("stream footer"));
            }
            return Ok(());
        }
        let header_len = (usize::from(size[0]) + 1) * 4;
        let mut rest = vec![0u8; header_len - 1];
        input.read_exact(&mut rest)?;
        let mut whole = vec![size[0]];
        whole.extend_from_slice(&rest);
        let (body, crc) = whole.split_at(header_len - 4);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(bad("block header checksum"));
        }
        let mut r = &body[1..];
        let mut budget = r.len();
        let mut flags = [0u8];
        r.read_exact(&mut flags)?;
        budget -= 1;
        if flags[0] & 0x03 != 0 {
            return Err(bad("filters other than LZMA2 alone are not supported"));
        }
        if flags[0] & 0x40 != 0 {
            read_varint(&mut r, &mut budget)?;
        }
        if flags[0] & 0x80 != 0 {
            read_varint(&mut r, &mut budget)?;
        }
        let id = read_varint(&mut r, &mut budget)?;
        let props_len = read_varint(&mut r, &mut budget)?;
        if id != 0x21 || props_len != 1 {
            return Err(bad("the only supported filter is LZMA2"));
        }
        let mut props = [0u8];
        r.read_exact(&mut props)?;
        let bits = u32::from(props[0] & 0x3F);
        if bits > 40 {
            return Err(bad("LZMA2 dictionary size"));
        }
        let dict = if bits == 40 {
            u32::MAX
        } else {
            (2 | (bits & 1)) << (bits / 2 + 11)
        };
        // At most 64 MiB of dictionary: what xz -9 uses.
        if dict > 64 << 20 {
            return Err(bad("dictionary larger than 64 MiB"));
        }
        let mut counted = CountingReader {
            inner: &mut *input,
            count: 0,
        };
        let mut decoder = lzma_rust2::Lzma2Reader::new(&mut counted, dict, None);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = decoder.read(&mut buf)?;
            if n == 0 {
                break;
            }
            *written += n as u64;
            if *written > limit {
                return Err(bad(&format!(
                    "decompresses to more than {limit} bytes; refused as a decompression bomb"
                )));
            }
            output.write_all(&buf[..n])?;
        }
        drop(decoder);
        let compressed = counted.count;
        let padding = (4 - compressed % 4) % 4;
        let mut skip = vec![0u8; padding as usize + check_len];
        input.read_exact(&mut skip)?;
    }
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limit() {
        let data: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("Package: p{}\n", i % 977).into_bytes())
            .collect();
        let mut writer = XzWriter::new(Vec::new(), 6).expect("writer");
        writer.write_all(&data).expect("write");
        let packed = writer.finish().expect("finish");
        assert!(packed.len() < data.len() / 10, "{}", packed.len());
        let mut out = Vec::new();
        decode(packed.as_slice(), &mut out, u64::MAX).expect("decodes");
        assert_eq!(out, data);
        let error = decode(packed.as_slice(), &mut Vec::new(), 1000).expect_err("bomb");
        assert!(error.to_string().contains("decompression bomb"), "{error}");
        assert!(decode(&b"not xz at all"[..], &mut Vec::new(), 10).is_err());
        // Two streams with stream padding between them, as `cat a.xz b.xz`
        // and `xz -T` may write.
        let mut twice = packed.clone();
        twice.extend_from_slice(&[0u8; 8]);
        twice.extend_from_slice(&packed);
        let mut out = Vec::new();
        decode(twice.as_slice(), &mut out, u64::MAX).expect("decodes both");
        assert_eq!(out.len(), data.len() * 2);
        let mut truncated = packed.clone();
        truncated.truncate(packed.len() / 2);
        assert!(decode(truncated.as_slice(), &mut Vec::new(), u64::MAX).is_err());
    }
}
