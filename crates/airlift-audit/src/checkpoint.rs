//! Checkpoints: the log's tree head (origin, size, root) as a C2SP signed
//! note with an Ed25519 signature line, made after every append and parsed
//! and checked by appends and by verify, and by anyone holding the verifier
//! key (`note.pub`).

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use base64::Engine;

use crate::merkle::sha256;

/// A parsed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Entries covered.
    pub size: u64,
    /// The tree hash.
    pub root: [u8; 32],
    /// The whole signed note.
    pub text: String,
}

/// The C2SP key hash: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
pub(crate) fn key_hash(name: &str, public: &[u8]) -> [u8; 4] {
    let full = sha256(&[name.as_bytes(), b"\n", &[1u8], public]);
    [full[0], full[1], full[2], full[3]]
}

/// A C2SP checkpoint as a signed note.
pub(crate) fn sign_checkpoint(
    key: &Ed25519KeyPair,
    origin: &str,
    size: u64,
    root: &[u8; 32],
) -> String {
    let body = format!(
        "{origin}\n{size}\n{}\n",
        base64::engine::general_purpose::STANDARD.encode(root)
    );
    let signature = key.sign(body.as_bytes());
    let blob = [
        &key_hash(origin, key.public_key().as_ref())[..],
        signature.as_ref(),
    ]
    .concat();
    format!(
        "{body}\n\u{2014} {origin} {}\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// Parses and verifies a signed checkpoint with `public` (an Ed25519 key).
pub fn parse_checkpoint(text: &str, public: &[u8]) -> Result<Checkpoint, String> {
    let (body, signatures) = text
        .split_once("\n\n")
        .ok_or("not a signed note (no blank line before the signatures)")?;
    let body = format!("{body}\n");
    let mut lines = body.lines();
    let origin = lines
        .next()
        .filter(|l| !l.is_empty())
        .ok_or("no origin line")?
        .to_owned();
    let size = lines
        .next()
        .and_then(|l| l.parse::<u64>().ok())
        .ok_or("no tree size")?;
    let root: [u8; 32] = lines
        .next()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or("no root hash")?;
    let expected = key_hash(&origin, public);
    let verifier = UnparsedPublicKey::new(&ED25519, public);
    let signed = signatures.lines().any(|line| {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return false;
        };
        let Some((name, encoded)) = rest.rsplit_once(' ') else {
            return false;
        };
        let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        name == origin
            && blob.len() == 68
            && blob[..4] == expected
            && verifier.verify(body.as_bytes(), &blob[4..]).is_ok()
    });
    if !signed {
        return Err("no valid signature by this log's key".into());
    }
    Ok(Checkpoint {
        origin,
        size,
        root,
        text: text.to_owned(),
    })
}
