//! Packet framing (RFC 4880 §4.2): old and new headers, partial lengths.

use crate::PgpError;

/// One packet.
pub(crate) struct Packet {
    pub tag: u8,
    pub body: Vec<u8>,
}

/// A cursor over bytes with OpenPGP's primitive types.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], PgpError> {
        if self.rest.len() < n {
            return Err(PgpError::Malformed("truncated packet".into()));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, PgpError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, PgpError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, PgpError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A multiprecision integer: a bit count, then the bytes.
    pub fn mpi(&mut self) -> Result<&'a [u8], PgpError> {
        let bits = usize::from(self.u16()?);
        self.take(bits.div_ceil(8))
    }
}

/// Every packet in `bytes`.
pub(crate) fn parse_all(bytes: &[u8]) -> Result<Vec<Packet>, PgpError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.is_empty() {
        let ctb = r.u8()?;
        if ctb & 0x80 == 0 {
            return Err(PgpError::Malformed(format!(
                "not an OpenPGP packet header ({ctb:#04x})"
            )));
        }
        if ctb & 0x40 == 0 {
            // Old format.
            let tag = (ctb >> 2) & 0x0F;
            let len = match ctb & 0x03 {
                0 => usize::from(r.u8()?),
                1 => usize::from(r.u16()?),
                2 => r.u32()? as usize,
                _ => r.rest.len(),
            };
            out.push(Packet {
                tag,
                body: r.take(len)?.to_vec(),
            });
            continue;
        }
        let tag = ctb & 0x3F;
        let mut body = Vec::new();
        loop {
            let first = r.u8()?;
            match first {
                0..=191 => {
                    body.extend_from_slice(r.take(usize::from(first))?);
                    break;
                }
                192..=223 => {
                    let second = r.u8()?;
                    let len = ((usize::from(first) - 192) << 8) + usize::from(second) + 192;
                    body.extend_from_slice(r.take(len)?);
                    break;
                }
                224..=254 => {
                    let len = 1usize << (first & 0x1F);
                    body.extend_from_slice(r.take(len)?);
                }
                255 => {
                    let len = r.u32()? as usize;
                    body.extend_from_slice(r.take(len)?);
                    break;
                }
            }
        }
        out.push(Packet { tag, body });
    }
    Ok(out)
}

/// Frames `body` as a new-format packet with `tag`.
pub(crate) fn frame(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC0 | tag];
    let len = body.len();
    if len < 192 {
        out.push(len as u8);
    } else if len < 8384 {
        let l = len - 192;
        out.push(((l >> 8) + 192) as u8);
        out.push((l & 0xFF) as u8);
    } else {
        out.push(0xFF);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(body);
    out
}

/// Encodes a multiprecision integer.
pub(crate) fn mpi(value: &[u8]) -> Vec<u8> {
    let value = crate::strip(value);
    let bits = value.first().map_or(0, |b| {
        (value.len() - 1) * 8 + (8 - b.leading_zeros() as usize)
    });
    let mut out = u16::try_from(bits)
        .unwrap_or(u16::MAX)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(value);
    out
}
