//! ASCII armor (RFC 4880 §6): base64 between BEGIN/END lines, with an
//! optional CRC-24 checksum line.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::PgpError;

fn crc24(data: &[u8]) -> u32 {
    let mut crc: u32 = 0x00B7_04CE;
    for byte in data {
        crc ^= u32::from(*byte) << 16;
        for _ in 0..8 {
            crc <<= 1;
            if crc & 0x0100_0000 != 0 {
                crc ^= 0x0186_4CFB;
            }
        }
    }
    crc & 0x00FF_FFFF
}

/// Whether `bytes` start (after whitespace) with an armor line.
pub(crate) fn is_armored(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes[start..].starts_with(b"-----BEGIN PGP")
}

/// Every armored block in `text`, each from its BEGIN to its END line.
pub(crate) fn blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN PGP") {
        let tail = &rest[start..];
        let Some(end) = tail.find("-----END PGP") else {
            break;
        };
        let close = tail[end..].find('\n').map_or(tail.len(), |n| end + n + 1);
        out.push(&tail[..close]);
        rest = &tail[close..];
    }
    out
}

/// Decodes the first armored block in `text`, checking its CRC-24 when
/// present.
pub fn decode(text: &str) -> Result<Vec<u8>, PgpError> {
    let mut lines = text
        .lines()
        .map(str::trim_end)
        .skip_while(|l| !l.starts_with("-----BEGIN PGP"));
    if lines.next().is_none() {
        return Err(PgpError::Malformed("no armor BEGIN line".into()));
    }
    // Headers until the first blank line (some writers omit it when there
    // are no headers).
    let mut data = String::new();
    let mut checksum = None;
    let mut in_headers = true;
    let mut ended = false;
    for line in lines {
        if line.starts_with("-----END PGP") {
            ended = true;
            break;
        }
        if in_headers {
            if line.is_empty() {
                in_headers = false;
                continue;
            }
            if line.contains(": ") {
                continue;
            }
            in_headers = false;
        }
        if let Some(sum) = line.strip_prefix('=') {
            checksum = Some(sum.to_owned());
            continue;
        }
        data.push_str(line.trim());
    }
    if !ended {
        return Err(PgpError::Malformed("no armor END line".into()));
    }
    let bytes = STANDARD
        .decode(data.as_bytes())
        .map_err(|e| PgpError::Malformed(format!("armor base64: {e}")))?;
    if let Some(sum) = checksum {
        let expected = STANDARD
            .decode(sum.as_bytes())
            .map_err(|e| PgpError::Malformed(format!("armor checksum: {e}")))?;
        let actual = crc24(&bytes).to_be_bytes();
        if expected.as_slice() != &actual[1..] {
            return Err(PgpError::Malformed("armor checksum does not match".into()));
        }
    }
    Ok(bytes)
}

/// Armors `data` as a `PGP <kind>` block (`PUBLIC KEY BLOCK`, `SIGNATURE`).
pub fn encode(kind: &str, data: &[u8]) -> String {
    let mut out = format!("-----BEGIN PGP {kind}-----\n\n");
    let b64 = STANDARD.encode(data);
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push('=');
    out.push_str(&STANDARD.encode(&crc24(data).to_be_bytes()[1..]));
    out.push('\n');
    out.push_str(&format!("-----END PGP {kind}-----\n"));
    out
}
