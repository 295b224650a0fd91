//! Signing with an Ed25519 key: v4 packets, EdDSA (algorithm 22), SHA-512.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};

use crate::packet::{frame, mpi};
use crate::{ED25519_OID, PgpError, PublicKey, canonical_text};

const SHA512: u8 = 10;
const EDDSA: u8 = 22;

/// An Ed25519 signing key with one user id.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
    uid: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.public.fingerprint())
    }
}

impl SigningKey {
    /// A new key; returns it and its PKCS#8 document to keep.
    pub fn generate(uid: &str, created: u32) -> Result<(Self, Vec<u8>), PgpError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| PgpError::Malformed("cannot generate an Ed25519 key".into()))?;
        let key = Self::from_pkcs8(pkcs8.as_ref(), created, uid)?;
        Ok((key, pkcs8.as_ref().to_vec()))
    }

    /// A key from its PKCS#8 document, creation time and user id (the three
    /// fix the fingerprint).
    pub fn from_pkcs8(pkcs8: &[u8], created: u32, uid: &str) -> Result<Self, PgpError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| PgpError::Malformed("not an Ed25519 PKCS#8 key".into()))?;
        let mut body = vec![4];
        body.extend_from_slice(&created.to_be_bytes());
        body.push(EDDSA);
        body.push(ED25519_OID.len() as u8);
        body.extend_from_slice(ED25519_OID);
        let mut point = vec![0x40];
        point.extend_from_slice(pair.public_key().as_ref());
        body.extend_from_slice(&mpi(&point));
        let public = PublicKey::parse(&body)?;
        Ok(Self {
            pair,
            public,
            uid: uid.to_owned(),
        })
    }

    /// The fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        self.public.fingerprint()
    }

    /// The transferable public key: key, user id and self-signature.
    pub fn public_key(&self) -> Vec<u8> {
        let mut data = self.public.framed();
        data.push(0xB4);
        data.extend_from_slice(
            &u32::try_from(self.uid.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        data.extend_from_slice(self.uid.as_bytes());
        let extra = [
            subpacket(27, &[0x03]),      // key flags: certify, sign
            subpacket(21, &[SHA512, 8]), // preferred hashes
            subpacket(30, &[0x01]),      // features: MDC
        ]
        .concat();
        let sig = self.signature(0x13, &data, self.public.created, &extra);
        let mut out = frame(6, &self.public.body);
        out.extend_from_slice(&frame(13, self.uid.as_bytes()));
        out.extend_from_slice(&frame(2, &sig));
        out
    }

    /// A transferable public key whose self-signature carries `extra`
    /// hashed subpackets instead of the usual ones, optionally followed by
    /// a key revocation: for tests of what a keyring accepts.
    #[cfg(test)]
    pub(crate) fn test_key(&self, extra: &[u8], revoke: bool) -> Vec<u8> {
        let mut data = self.public.framed();
        data.push(0xB4);
        data.extend_from_slice(&(self.uid.len() as u32).to_be_bytes());
        data.extend_from_slice(self.uid.as_bytes());
        let sig = self.signature(0x13, &data, self.public.created, extra);
        let mut out = frame(6, &self.public.body);
        out.extend_from_slice(&frame(13, self.uid.as_bytes()));
        out.extend_from_slice(&frame(2, &sig));
        if revoke {
            let revocation =
                self.signature(0x20, &self.public.framed(), self.public.created + 1, &[]);
            out.extend_from_slice(&frame(2, &revocation));
        }
        out
    }

    /// The public key, ASCII-armored.
    pub fn public_key_armored(&self) -> String {
        crate::armor::encode("PUBLIC KEY BLOCK", &self.public_key())
    }

    /// A detached binary-document signature over `data`, armored
    /// (`Release.gpg`).
    pub fn sign_detached(&self, data: &[u8], time: u32) -> String {
        crate::armor::encode(
            "SIGNATURE",
            &frame(2, &self.signature(0x00, data, time, &[])),
        )
    }

    /// `text` as a cleartext-signed message (`InRelease`).
    pub fn sign_cleartext(&self, text: &str, time: u32) -> String {
        let sig = self.signature(0x01, &canonical_text(text.as_bytes()), time, &[]);
        let mut out = String::from("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n");
        let body = text.strip_suffix('\n').unwrap_or(text);
        for line in body.split('\n') {
            if line.starts_with('-') {
                out.push_str("- ");
            }
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&crate::armor::encode("SIGNATURE", &frame(2, &sig)));
        out
    }

    fn signature(&self, sig_type: u8, data: &[u8], time: u32, extra: &[u8]) -> Vec<u8> {
        let mut issuer_fpr = vec![4];
        issuer_fpr.extend_from_slice(&self.public.fingerprint);
        let hashed_area = [
            subpacket(2, &time.to_be_bytes()),
            subpacket(33, &issuer_fpr),
            extra.to_vec(),
        ]
        .concat();
        let mut hashed = vec![4, sig_type, EDDSA, SHA512];
        hashed.extend_from_slice(
            &u16::try_from(hashed_area.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        hashed.extend_from_slice(&hashed_area);
        let mut message = data.to_vec();
        message.extend_from_slice(&hashed);
        message.extend_from_slice(&[0x04, 0xFF]);
        message.extend_from_slice(
            &u32::try_from(hashed.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        let digest = digest::digest(&digest::SHA512, &message);
        let signature = self.pair.sign(digest.as_ref());
        let raw = signature.as_ref();
        let unhashed = subpacket(16, &self.public.fingerprint[12..]);
        let mut out = hashed;
        out.extend_from_slice(
            &u16::try_from(unhashed.len())
                .unwrap_or(u16::MAX)
                .to_be_bytes(),
        );
        out.extend_from_slice(&unhashed);
        out.extend_from_slice(&digest.as_ref()[..2]);
        out.extend_from_slice(&mpi(&raw[..32]));
        out.extend_from_slice(&mpi(&raw[32..]));
        out
    }
}

pub(crate) fn subpacket(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![(data.len() + 1) as u8, kind];
    out.extend_from_slice(data);
    out
}
