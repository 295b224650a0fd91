//! Undoes a layer's compression while it streams: gzip or zstd by their magic bytes, anything else
//! passed through as it is (an uncompressed tar).
//!
//! Boundary: no size bounds here; the tar reader and [`crate::Limits`] bound what is kept.

use std::io::{Cursor, Read};

use crate::Error;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Detects gzip, zstd or plain data by its first bytes and returns a reader of the decompressed
/// stream.
pub fn decompressed<R: Read + 'static>(mut reader: R) -> Result<Box<dyn Read>, Error> {
    let mut start = Vec::with_capacity(4);
    (&mut reader)
        .take(4)
        .read_to_end(&mut start)
        .map_err(|source| Error::Sniff { source })?;
    let whole = Cursor::new(start.clone()).chain(reader);
    if start.starts_with(GZIP_MAGIC) {
        // Multi-member, as some tools write a layer as several gzip members.
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(whole)));
    }
    if start.starts_with(ZSTD_MAGIC) {
        let decoder =
            zstd::stream::read::Decoder::new(whole).map_err(|source| Error::Zstd { source })?;
        return Ok(Box::new(decoder));
    }
    Ok(Box::new(whole))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_zstd_and_plain() {
        let text = b"layer bytes, long enough to matter".to_vec();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(&text).unwrap();
        let gzip = gzip.finish().unwrap();
        let zstd = zstd::encode_all(Cursor::new(text.clone()), 3).unwrap();
        for input in [gzip, zstd, text.clone(), b"ab".to_vec()] {
            let expected = if input == b"ab" {
                b"ab".to_vec()
            } else {
                text.clone()
            };
            let mut out = Vec::new();
            decompressed(Cursor::new(input))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, expected);
        }
    }
}
