//! The part of OpenPGP (RFC 4880, RFC 9580 for v4 packets) that an apt
//! repository needs, and nothing else:
//!
//! - read keyrings (binary `.gpg` or ASCII-armored `.asc`) with RSA and
//!   Ed25519 primary keys and signing subkeys: a primary only with a valid
//!   self-signature (its newest says when it expires and whether it may
//!   sign), each subkey only when its binding signature by the primary
//!   verifies, and a signing subkey only with a valid back-signature (its
//!   own 0x19 signature over the binding, as gpgv requires); revoked,
//!   expired and certify-only keys are dropped, and so is a key whose
//!   block holds a signature (not version 3) that does not parse. Where
//!   this differs from gpgv is listed in ADR 0017 and checked by
//!   `tests/diff/pgp.py`;
//! - verify detached (`Release.gpg`) and cleartext (`InRelease`) signatures
//!   made with SHA-256, SHA-384 or SHA-512; SHA-1, MD5 and SHA-224
//!   signatures are refused;
//! - sign with an Ed25519 key (v4, EdDSA legacy algorithm 22, which gpgv
//!   and sqv both accept), with SHA-512.
//!
//! Cryptography is aws-lc-rs. A v4 fingerprint is SHA-1 by definition; it
//! names keys and is never used to check content.

mod armor;
mod packet;
mod sign;

use std::collections::HashMap;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};

pub use armor::{decode as dearmor, encode as armor};
pub use sign::SigningKey;

use packet::{Packet, Reader};

/// OpenPGP failures. Messages name what was wrong; callers add the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PgpError {
    /// Bytes that are not OpenPGP (or not the supported subset).
    #[error("malformed OpenPGP data: {0}")]
    Malformed(String),
    /// No signature in the data was made by a key of the keyring.
    #[error("no signature by a key of the keyring (signed by {signers}); the keyring has {keys}")]
    UnknownSigner {
        /// Fingerprints or key ids of the signers.
        signers: String,
        /// Fingerprints in the keyring.
        keys: String,
    },
    /// A signature by a key of the keyring does not match the data.
    #[error("BAD signature by {0}: the signed data was altered or the signature is forged")]
    Bad(String),
    /// A signature uses an algorithm that is refused.
    #[error("signature by {key} uses {what}, which is refused")]
    Weak {
        /// The signer.
        key: String,
        /// The algorithm.
        what: String,
    },
    /// A keyring without usable keys.
    #[error("the keyring holds no usable key")]
    EmptyKeyring,
}

/// Public key material.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed25519([u8; 32]),
    Other(u8),
}

/// A v4 public key or subkey.
#[derive(Clone, Debug)]
pub struct PublicKey {
    body: Vec<u8>,
    fingerprint: [u8; 20],
    created: u32,
    material: Material,
    /// When the key expires (Unix seconds), as its newest self-signature
    /// or binding says; `None` when it never does. Set once the key is
    /// accepted into a [`Keyring`].
    expires: Option<u64>,
}

impl PublicKey {
    fn parse(body: &[u8]) -> Result<Self, PgpError> {
        let mut r = Reader::new(body);
        let version = r.u8()?;
        if version != 4 {
            return Err(PgpError::Malformed(format!(
                "public key version {version} (only v4 is supported)"
            )));
        }
        let created = r.u32()?;
        let algo = r.u8()?;
        let material = match algo {
            1..=3 => {
                let n = r.mpi()?.to_vec();
                let e = r.mpi()?.to_vec();
                Material::Rsa { n, e }
            }
            22 => {
                let len = usize::from(r.u8()?);
                let oid = r.take(len)?;
                let point = r.mpi()?;
                if oid != ED25519_OID {
                    Material::Other(22)
                } else {
                    match point {
                        [0x40, rest @ ..] if rest.len() == 32 => Material::Ed25519(
                            rest.try_into()
                                .map_err(|_| PgpError::Malformed("Ed25519 point length".into()))?,
                        ),
                        _ => return Err(PgpError::Malformed("Ed25519 point encoding".into())),
                    }
                }
            }
            27 => Material::Ed25519(
                r.take(32)?
                    .try_into()
                    .map_err(|_| PgpError::Malformed("Ed25519 key length".into()))?,
            ),
            other => Material::Other(other),
        };
        let mut hashed = vec![0x99];
        hashed.extend_from_slice(&u16::try_from(body.len()).unwrap_or(u16::MAX).to_be_bytes());
        hashed.extend_from_slice(body);
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &hashed);
        let mut fingerprint = [0u8; 20];
        fingerprint.copy_from_slice(sha1.as_ref());
        Ok(Self {
            body: body.to_vec(),
            fingerprint,
            created,
            material,
            expires: None,
        })
    }

    /// When the key expires, in Unix seconds, as its newest self-signature
    /// (or, for a subkey, its binding signature) says: `None` when it
    /// never expires.
    pub fn expires(&self) -> Option<u64> {
        self.expires
    }

    /// The fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.fingerprint)
    }

    /// The 64-bit key id.
    pub fn key_id(&self) -> u64 {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.fingerprint[12..]);
        u64::from_be_bytes(id)
    }

    /// The framed key for hashing (0x99, length, body).
    fn framed(&self) -> Vec<u8> {
        let mut out = vec![0x99];
        out.extend_from_slice(
            &u16::try_from(self.body.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }

    /// Whether `sig` over `message` (data followed by the v4 trailer is
    /// appended here) verifies with this key.
    fn check(&self, sig: &Signature, data: &[u8]) -> Result<(), PgpError> {
        let mut message = data.to_vec();
        message.extend_from_slice(&sig.hashed);
        message.extend_from_slice(&[0x04, 0xFF]);
        message.extend_from_slice(
            &u32::try_from(sig.hashed.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        let who = self.fingerprint();
        let (rsa, dig): (
            &'static signature::RsaParameters,
            &'static digest::Algorithm,
        ) = match sig.hash_algo {
            8 => (&signature::RSA_PKCS1_2048_8192_SHA256, &digest::SHA256),
            9 => (&signature::RSA_PKCS1_2048_8192_SHA384, &digest::SHA384),
            10 => (&signature::RSA_PKCS1_2048_8192_SHA512, &digest::SHA512),
            other => {
                return Err(PgpError::Weak {
                    key: who,
                    what: hash_name(other),
                });
            }
        };
        if let Material::Rsa { n, .. } = &self.material
            && significant_bits(n) < 2048
        {
            return Err(PgpError::Weak {
                key: who,
                what: format!("an RSA key of {} bits", significant_bits(n)),
            });
        }
        let ok = match (&self.material, sig.pk_algo) {
            (Material::Rsa { n, e }, 1 | 3) => {
                let Some(s) = sig.mpis.first() else {
                    return Err(PgpError::Malformed("RSA signature without value".into()));
                };
                let mut padded = vec![0u8; n.len().saturating_sub(s.len())];
                padded.extend_from_slice(s);
                signature::RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(rsa, &message, &padded)
                .is_ok()
            }
            (Material::Ed25519(point), 22 | 27) => {
                let raw = if sig.pk_algo == 27 {
                    sig.mpis.first().cloned().unwrap_or_default()
                } else {
                    let (Some(r), Some(s)) = (sig.mpis.first(), sig.mpis.get(1)) else {
                        return Err(PgpError::Malformed(
                            "EdDSA signature without r and s".into(),
                        ));
                    };
                    if r.len() > 32 || s.len() > 32 {
                        return Err(PgpError::Malformed(
                            "EdDSA signature values too long".into(),
                        ));
                    }
                    let mut raw = vec![0u8; 64];
                    raw[32 - r.len()..32].copy_from_slice(r);
                    raw[64 - s.len()..].copy_from_slice(s);
                    raw
                };
                let hashed = digest::digest(dig, &message);
                UnparsedPublicKey::new(&signature::ED25519, point)
                    .verify(hashed.as_ref(), &raw)
                    .is_ok()
            }
            (Material::Other(a), _) => {
                return Err(PgpError::Weak {
                    key: who,
                    what: format!("public key algorithm {a}"),
                });
            }
            _ => false,
        };
        if ok { Ok(()) } else { Err(PgpError::Bad(who)) }
    }
}

fn significant_bits(n: &[u8]) -> usize {
    let n = strip(n);
    n.first()
        .map_or(0, |b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize))
}

fn strip(v: &[u8]) -> &[u8] {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    &v[zeros..]
}

fn hash_name(id: u8) -> String {
    match id {
        1 => "MD5".into(),
        2 => "SHA-1".into(),
        3 => "RIPEMD-160".into(),
        11 => "SHA-224".into(),
        other => format!("hash algorithm {other}"),
    }
}

const ED25519_OID: &[u8] = &[0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01];

/// A v4 signature packet.
#[derive(Clone, Debug)]
struct Signature {
    sig_type: u8,
    pk_algo: u8,
    hash_algo: u8,
    /// Version through the hashed subpackets: what the trailer covers.
    hashed: Vec<u8>,
    issuer_fpr: Option<[u8; 20]>,
    issuer_id: Option<u64>,
    created: Option<u32>,
    key_expires: Option<u32>,
    key_flags: Option<u8>,
    /// Embedded signatures (subpacket 32): the back-signature by which a
    /// signing subkey certifies its primary sits in its binding signature.
    embedded: Vec<Vec<u8>>,
    mpis: Vec<Vec<u8>>,
}

impl Signature {
    fn parse(body: &[u8]) -> Result<Self, PgpError> {
        let mut r = Reader::new(body);
        let version = r.u8()?;
        if version != 4 {
            return Err(PgpError::Malformed(format!(
                "signature version {version} (only v4 is supported)"
            )));
        }
        let sig_type = r.u8()?;
        let pk_algo = r.u8()?;
        let hash_algo = r.u8()?;
        let hashed_len = usize::from(r.u16()?);
        let hashed_area = r.take(hashed_len)?.to_vec();
        let unhashed_len = usize::from(r.u16()?);
        let unhashed_area = r.take(unhashed_len)?.to_vec();
        r.take(2)?;
        let mut mpis = Vec::new();
        match pk_algo {
            27 => mpis.push(r.take(64)?.to_vec()),
            _ => {
                while !r.is_empty() {
                    mpis.push(r.mpi()?.to_vec());
                }
            }
        }
        let mut sig = Self {
            sig_type,
            pk_algo,
            hash_algo,
            hashed: body[..6 + hashed_len].to_vec(),
            issuer_fpr: None,
            issuer_id: None,
            created: None,
            key_expires: None,
            key_flags: None,
            embedded: Vec::new(),
            mpis,
        };
        for (area, trusted) in [(&hashed_area, true), (&unhashed_area, false)] {
            for (kind, data) in subpackets(area)? {
                match kind & 0x7F {
                    2 if trusted && data.len() == 4 => {
                        sig.created =
                            Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
                    }
                    9 if trusted && data.len() == 4 => {
                        sig.key_expires =
                            Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]]));
                    }
                    27 if trusted && !data.is_empty() => {
                        sig.key_flags = Some(data[0]);
                    }
                    32 => sig.embedded.push(data.to_vec()),
                    16 if data.len() == 8 => {
                        let mut id = [0u8; 8];
                        id.copy_from_slice(data);
                        sig.issuer_id.get_or_insert(u64::from_be_bytes(id));
                    }
                    33 if data.len() == 21 && data[0] == 4 => {
                        let mut fpr = [0u8; 20];
                        fpr.copy_from_slice(&data[1..]);
                        sig.issuer_fpr.get_or_insert(fpr);
                    }
                    _ => {}
                }
            }
        }
        Ok(sig)
    }

    fn signer(&self) -> String {
        match (self.issuer_fpr, self.issuer_id) {
            (Some(f), _) => hex::encode_upper(f),
            (None, Some(id)) => format!("{id:016X}"),
            (None, None) => "an unnamed key".into(),
        }
    }

    /// Whether the issuer subpackets name `key`: each one present must,
    /// the unhashed key id too, as gpgv has it (found by the differential
    /// test: a self-signature whose key id was damaged still counted).
    fn made_by(&self, key: &PublicKey) -> bool {
        (self.issuer_fpr.is_some() || self.issuer_id.is_some())
            && self.issuer_fpr.is_none_or(|f| f == key.fingerprint)
            && self.issuer_id.is_none_or(|id| id == key.key_id())
    }
}

fn subpackets(area: &[u8]) -> Result<Vec<(u8, &[u8])>, PgpError> {
    let mut out = Vec::new();
    let mut rest = area;
    while !rest.is_empty() {
        let (len, skip) = match rest[0] {
            l @ 0..=191 => (usize::from(l), 1),
            l @ 192..=254 => {
                let second = *rest
                    .get(1)
                    .ok_or_else(|| PgpError::Malformed("subpacket length".into()))?;
                (((usize::from(l) - 192) << 8) + usize::from(second) + 192, 2)
            }
            255 => {
                let b = rest
                    .get(1..5)
                    .ok_or_else(|| PgpError::Malformed("subpacket length".into()))?;
                (u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, 5)
            }
        };
        let packet = rest
            .get(skip..skip + len)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| PgpError::Malformed("subpacket runs past its area".into()))?;
        out.push((packet[0], &packet[1..]));
        rest = &rest[skip + len..];
    }
    Ok(out)
}

/// A subkey as read, with what its signatures said.
struct Sub {
    key: PublicKey,
    bound: bool,
    revoked: bool,
    expires: Option<u64>,
    can_sign: bool,
}

/// A primary key being read: its self-signatures decide whether it (and
/// its subkeys) may be used.
struct Candidate {
    key: PublicKey,
    certified: bool,
    certified_at: u32,
    revoked: bool,
    expires: Option<u64>,
    can_sign: bool,
    uid: Option<Vec<u8>>,
    in_subkey: bool,
    subkeys: Vec<Sub>,
    /// A signature in the key's block (not version 3) did not parse.
    spoiled: bool,
}

fn expiry(created: u32, relative: Option<u32>) -> Option<u64> {
    relative
        .filter(|e| *e != 0)
        .map(|e| u64::from(created) + u64::from(e))
}

impl Candidate {
    fn new(key: PublicKey) -> Self {
        Self {
            key,
            certified: false,
            certified_at: 0,
            revoked: false,
            expires: None,
            can_sign: true,
            uid: None,
            in_subkey: false,
            subkeys: Vec::new(),
            spoiled: false,
        }
    }

    fn signature(&mut self, sig: &Signature) {
        if !sig.made_by(&self.key) {
            return;
        }
        let key = &self.key;
        match sig.sig_type {
            // Certifications of a user id, and direct-key signatures: the
            // newest valid one says when the key expires and what it may do.
            0x10..=0x13 | 0x1F if !self.in_subkey => {
                let mut data = key.framed();
                if sig.sig_type != 0x1F {
                    let Some(uid) = &self.uid else { return };
                    data.push(0xB4);
                    data.extend_from_slice(
                        &u32::try_from(uid.len()).unwrap_or(u32::MAX).to_be_bytes(),
                    );
                    data.extend_from_slice(uid);
                }
                let at = sig.created.unwrap_or(0);
                if key.check(sig, &data).is_ok() && (!self.certified || at >= self.certified_at) {
                    self.certified = true;
                    self.certified_at = at;
                    self.expires = expiry(key.created, sig.key_expires);
                    self.can_sign = sig.key_flags.is_none_or(|f| f & 0x02 != 0);
                }
            }
            0x20 if key.check(sig, &key.framed()).is_ok() => {
                self.revoked = true;
            }
            0x18 | 0x28 if self.in_subkey => {
                let Some(sub) = self.subkeys.last_mut() else {
                    return;
                };
                let mut data = key.framed();
                data.extend_from_slice(&sub.key.framed());
                if key.check(sig, &data).is_err() {
                    return;
                }
                if sig.sig_type == 0x28 {
                    sub.revoked = true;
                } else {
                    sub.bound = true;
                    sub.expires = expiry(sub.key.created, sig.key_expires);
                    // A subkey signs only if it certifies its primary back
                    // (a valid 0x19 signature embedded in the binding), as
                    // gpgv requires: otherwise anyone could bind another
                    // owner's signing key to their own primary.
                    let backsig = sig.embedded.iter().any(|body| {
                        Signature::parse(body).is_ok_and(|back| {
                            back.sig_type == 0x19 && sub.key.check(&back, &data).is_ok()
                        })
                    });
                    sub.can_sign = sig.key_flags.is_none_or(|f| f & 0x02 != 0) && backsig;
                }
            }
            _ => {}
        }
    }

    /// Adds the keys that may sign now: a primary with a valid
    /// self-signature, not revoked, not expired, allowed to sign; its
    /// subkeys bound by it, not revoked, not expired, allowed to sign.
    fn usable(self, now: u64, keys: &mut Vec<PublicKey>) {
        let alive = |expires: Option<u64>| expires.is_none_or(|e| e >= now);
        if !self.certified || self.revoked || self.spoiled || !alive(self.expires) {
            return;
        }
        if self.can_sign {
            let mut key = self.key;
            key.expires = self.expires;
            keys.push(key);
        }
        for sub in self.subkeys {
            if sub.bound && !sub.revoked && sub.can_sign && alive(sub.expires) {
                let mut key = sub.key;
                key.expires = sub.expires;
                keys.push(key);
            }
        }
    }
}

/// A set of public keys to verify with.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<PublicKey>,
}

impl Keyring {
    /// Reads a keyring: binary packets (`.gpg`) or one or more ASCII-armored
    /// public key blocks (`.asc`). Subkeys count only with a valid binding
    /// signature from their primary key; revoked keys are left out.
    pub fn parse(bytes: &[u8]) -> Result<Self, PgpError> {
        let mut binaries = Vec::new();
        if armor::is_armored(bytes) {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| PgpError::Malformed("armored keyring is not UTF-8".into()))?;
            for block in armor::blocks(text) {
                binaries.push(armor::decode(block)?);
            }
        } else {
            binaries.push(bytes.to_vec());
        }
        let mut keyring = Self::default();
        for binary in binaries {
            keyring.add_packets(&packet::parse_all(&binary)?)?;
        }
        if keyring.keys.is_empty() {
            return Err(PgpError::EmptyKeyring);
        }
        Ok(keyring)
    }

    fn add_packets(&mut self, packets: &[Packet]) -> Result<(), PgpError> {
        let now = now();
        let mut current: Option<Candidate> = None;
        for p in packets {
            match p.tag {
                6 => {
                    if let Some(done) = current.take() {
                        done.usable(now, &mut self.keys);
                    }
                    current = PublicKey::parse(&p.body).ok().map(Candidate::new);
                }
                13 => {
                    if let Some(c) = current.as_mut() {
                        c.uid = Some(p.body.clone());
                        c.in_subkey = false;
                    }
                }
                17 => {
                    if let Some(c) = current.as_mut() {
                        c.uid = None;
                        c.in_subkey = false;
                    }
                }
                14 => {
                    if let Some(c) = current.as_mut()
                        && let Ok(sub) = PublicKey::parse(&p.body)
                    {
                        c.subkeys.push(Sub {
                            key: sub,
                            bound: false,
                            revoked: false,
                            expires: None,
                            can_sign: true,
                        });
                        c.in_subkey = true;
                    }
                }
                2 => {
                    if let Some(c) = current.as_mut() {
                        match Signature::parse(&p.body) {
                            Ok(sig) => c.signature(&sig),
                            // A signature that does not parse spoils its key,
                            // as gpgv has it: it may have been a revocation
                            // (found by the differential test). Version 3
                            // ones, old third-party certifications, are
                            // skipped.
                            Err(_) if p.body.first() != Some(&3) => c.spoiled = true,
                            Err(_) => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(done) = current.take() {
            done.usable(now, &mut self.keys);
        }
        Ok(())
    }

    /// Every usable key (primaries and subkeys), in the order read.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Fingerprints of every usable key (primaries and subkeys).
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(PublicKey::fingerprint).collect()
    }

    /// Verifies a detached signature (binary or armored) over `data`.
    /// Returns the fingerprint of the key that made a good signature.
    pub fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<String, PgpError> {
        let binary = if armor::is_armored(signature) {
            let text = std::str::from_utf8(signature)
                .map_err(|_| PgpError::Malformed("armored signature is not UTF-8".into()))?;
            armor::decode(text)?
        } else {
            signature.to_vec()
        };
        let sigs = signatures(&binary)?;
        self.check_any(&sigs, |sig| match sig.sig_type {
            0x00 => Some(data.to_vec()),
            0x01 => Some(canonical_text(data)),
            _ => None,
        })
    }

    /// Verifies a cleartext-signed message (`InRelease`) and returns the
    /// signed text (LF line endings, ending in a newline) and the signer.
    pub fn verify_cleartext(&self, message: &[u8]) -> Result<(Vec<u8>, String), PgpError> {
        let (text, signature) = split_cleartext(message)?;
        let sigs = signatures(&armor::decode(&signature)?)?;
        let signed = canonical_text(&text);
        let who = self.check_any(&sigs, |sig| (sig.sig_type == 0x01).then(|| signed.clone()))?;
        Ok((text, who))
    }

    fn check_any(
        &self,
        sigs: &[Signature],
        data_for: impl Fn(&Signature) -> Option<Vec<u8>>,
    ) -> Result<String, PgpError> {
        let by_fpr: HashMap<[u8; 20], &PublicKey> =
            self.keys.iter().map(|k| (k.fingerprint, k)).collect();
        let mut good = None;
        let mut signers = Vec::new();
        for sig in sigs {
            signers.push(sig.signer());
            let key = match sig.issuer_fpr {
                Some(f) => by_fpr.get(&f).copied(),
                None => self.keys.iter().find(|k| sig.made_by(k)),
            };
            let Some(key) = key else { continue };
            let Some(data) = data_for(sig) else {
                return Err(PgpError::Malformed(format!(
                    "signature type {:#04x} by {} does not sign a document",
                    sig.sig_type,
                    key.fingerprint()
                )));
            };
            // A known key's signature must be good: a bad one means tampering.
            key.check(sig, &data)?;
            good.get_or_insert(key.fingerprint());
        }
        good.ok_or_else(|| PgpError::UnknownSigner {
            signers: if signers.is_empty() {
                "nobody: no signature found".into()
            } else {
                signers.join(", ")
            },
            keys: self.fingerprints().join(", "),
        })
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn signatures(binary: &[u8]) -> Result<Vec<Signature>, PgpError> {
    let sigs: Vec<Signature> = packet::parse_all(binary)?
        .iter()
        .filter(|p| p.tag == 2)
        .map(|p| Signature::parse(&p.body))
        .collect::<Result<_, _>>()?;
    if sigs.is_empty() {
        return Err(PgpError::Malformed("no signature packet".into()));
    }
    Ok(sigs)
}

/// A text document in the form text signatures cover: lines end in CR LF,
/// trailing spaces and tabs are removed, and the final line break is not
/// part of it.
fn canonical_text(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 32);
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let end = line
            .iter()
            .rposition(|b| *b != b' ' && *b != b'\t')
            .map_or(0, |p| p + 1);
        out.extend_from_slice(&line[..end]);
    }
    out
}

const CLEAR_BEGIN: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const SIG_BEGIN: &str = "-----BEGIN PGP SIGNATURE-----";

/// Splits a cleartext-signed message into its text (dash-unescaped, LF
/// endings, with a final newline) and the armored signature.
fn split_cleartext(message: &[u8]) -> Result<(Vec<u8>, String), PgpError> {
    let text = std::str::from_utf8(message)
        .map_err(|_| PgpError::Malformed("cleartext message is not UTF-8".into()))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    if lines.next() != Some(CLEAR_BEGIN) {
        return Err(PgpError::Malformed(format!(
            "does not start with {CLEAR_BEGIN}"
        )));
    }
    // Armor headers (Hash: ...) up to the blank line.
    loop {
        match lines.next() {
            Some("") => break,
            Some(header) if header.contains(": ") => continue,
            _ => return Err(PgpError::Malformed("cleartext headers do not end".into())),
        }
    }
    let mut body = Vec::new();
    let mut signature = None;
    let mut rest: Vec<&str> = Vec::new();
    for line in lines.by_ref() {
        if line == SIG_BEGIN {
            signature = Some(());
            rest.push(line);
            break;
        }
        let line = line.strip_prefix("- ").unwrap_or(line);
        if line.starts_with("-----") {
            return Err(PgpError::Malformed(
                "an armor line inside the signed text".into(),
            ));
        }
        body.extend_from_slice(line.as_bytes());
        body.push(b'\n');
    }
    if signature.is_none() {
        return Err(PgpError::Malformed("no signature after the text".into()));
    }
    rest.extend(lines);
    let armored = rest.join("\n");
    // Nothing but whitespace may follow the signature block.
    let end = "-----END PGP SIGNATURE-----";
    let Some(at) = armored.find(end) else {
        return Err(PgpError::Malformed(
            "the signature block does not end".into(),
        ));
    };
    if !armored[at + end.len()..].trim().is_empty() {
        return Err(PgpError::Malformed("data after the signature block".into()));
    }
    Ok((body, armored))
}

#[cfg(test)]
mod tests;
