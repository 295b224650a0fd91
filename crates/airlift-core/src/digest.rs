//! The SHA-256 digest that names every blob in airlift.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A SHA-256 digest. Displayed and parsed as `sha256:<64 lowercase hex>`.
///
/// Parsing is strict: upper-case hex, other algorithms or wrong lengths are
/// refused, so one digest has exactly one spelling.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// A digest string that does not have the canonical form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid digest {input:?}: {reason}")]
pub struct DigestError {
    input: String,
    reason: &'static str,
}

impl Digest {
    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest of a byte slice.
    pub fn of(data: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(data);
        hasher.finish()
    }

    /// Raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex characters, without the algorithm prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 lowercase hex characters (no prefix).
    pub fn from_hex(hex_str: &str) -> Result<Self, DigestError> {
        let error = |reason| DigestError {
            input: hex_str.to_owned(),
            reason,
        };
        if hex_str.len() != 64 {
            return Err(error("expected 64 hex characters"));
        }
        if !hex_str
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(error("expected lowercase hex characters"));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_str, &mut bytes).map_err(|_| error("not hex"))?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input.strip_prefix("sha256:") {
            Some(hex_str) => Self::from_hex(hex_str).map_err(|e| DigestError {
                input: input.to_owned(),
                reason: e.reason,
            }),
            None => Err(DigestError {
                input: input.to_owned(),
                reason: "expected the form sha256:<hex>",
            }),
        }
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental SHA-256 (hardware accelerated where the CPU has SHA instructions).
pub struct Sha256 {
    context: aws_lc_rs::digest::Context,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self {
            context: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.context.update(data);
    }

    /// Finishes and returns the digest.
    pub fn finish(self) -> Digest {
        let out = self.context.finish();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(out.as_ref());
        Digest(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_known_value() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn non_canonical_spellings_are_refused() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert!(format!("sha256:{hex}").parse::<Digest>().is_ok());
        assert!(format!("SHA256:{hex}").parse::<Digest>().is_err());
        assert!(
            format!("sha256:{}", hex.to_uppercase())
                .parse::<Digest>()
                .is_err()
        );
        assert!(format!("sha256:{}", &hex[1..]).parse::<Digest>().is_err());
        assert!(format!("sha512:{hex}").parse::<Digest>().is_err());
        assert!(hex.parse::<Digest>().is_err());
    }
}
