//! Subresource-integrity digests (`sha512-<base64>`) and legacy SHA-1 hex
//! checksums, as package registries such as npm publish them.

use base64::Engine;

/// A digest a registry states for a file, besides SHA-256.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// SHA-512 (npm's `integrity`).
    Sha512([u8; 64]),
    /// SHA-1 (npm's legacy `shasum`), only when nothing stronger is stated.
    Sha1([u8; 20]),
}

impl Integrity {
    /// Parses an SRI string; of several space-separated hashes, the
    /// strongest known one is taken (`sha512`, else `sha1`).
    pub fn parse_sri(text: &str) -> Option<Integrity> {
        let mut best = None;
        for item in text.split_whitespace() {
            let (algorithm, value) = item.split_once('-')?;
            let value = value.split('?').next().unwrap_or(value);
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()?;
            match algorithm {
                "sha512" => return Some(Integrity::Sha512(bytes.try_into().ok()?)),
                "sha1" => best = Some(Integrity::Sha1(bytes.try_into().ok()?)),
                _ => {}
            }
        }
        best
    }

    /// A SHA-1 given as 40 hex characters.
    pub fn from_sha1_hex(text: &str) -> Option<Integrity> {
        let mut bytes = [0u8; 20];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Integrity::Sha1(bytes))
    }

    /// The SRI form, `sha512-<base64>`.
    pub fn to_sri(&self) -> String {
        let (name, bytes): (&str, &[u8]) = match self {
            Integrity::Sha512(b) => ("sha512", b),
            Integrity::Sha1(b) => ("sha1", b),
        };
        format!(
            "{name}-{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    /// A hasher for the same algorithm.
    pub fn hasher(&self) -> IntegrityHasher {
        let algorithm = match self {
            Integrity::Sha512(_) => &aws_lc_rs::digest::SHA512,
            Integrity::Sha1(_) => &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        };
        IntegrityHasher {
            context: aws_lc_rs::digest::Context::new(algorithm),
            sha512: matches!(self, Integrity::Sha512(_)),
        }
    }
}

impl std::fmt::Display for Integrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_sri())
    }
}

impl std::fmt::Debug for Integrity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_sri())
    }
}

/// Computes an [`Integrity`] over streamed bytes.
pub struct IntegrityHasher {
    context: aws_lc_rs::digest::Context,
    sha512: bool,
}

impl IntegrityHasher {
    /// Adds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.context.update(data);
    }

    /// The digest of everything added.
    pub fn finish(self) -> Integrity {
        let digest = self.context.finish();
        let bytes = digest.as_ref();
        if self.sha512 {
            let mut out = [0u8; 64];
            out.copy_from_slice(bytes);
            Integrity::Sha512(out)
        } else {
            let mut out = [0u8; 20];
            out.copy_from_slice(bytes);
            Integrity::Sha1(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_round_trips_and_hashes() {
        // sha512 of "abc" (FIPS 180-2 test vector).
        let expected = "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUyknw==";
        let integrity =
            Integrity::parse_sri(&format!("sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0= {expected}"))
                .expect("parses");
        assert_eq!(integrity.to_sri(), expected);
        let mut hasher = integrity.hasher();
        hasher.update(b"abc");
        assert_eq!(hasher.finish(), integrity);
        let sha1 =
            Integrity::from_sha1_hex("a9993e364706816aba3e25717850c26c9cd0d89d").expect("hex");
        let mut hasher = sha1.hasher();
        hasher.update(b"abc");
        assert_eq!(hasher.finish(), sha1);
        assert!(Integrity::parse_sri("sha512-not base64!").is_none());
        assert!(Integrity::parse_sri("md5-AAAA").is_none());
    }
}
