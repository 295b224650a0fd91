//! Repository names, tags and digests, validated as the specification says.

use airlift_core::Digest;

/// Longest accepted repository name.
const MAX_NAME: usize = 255;

/// Checks a repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
pub fn valid_repository(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_NAME {
        return false;
    }
    name.split('/').all(valid_component)
}

fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if is_alnum(bytes[index]) {
            index += 1;
            continue;
        }
        // A separator: ".", "_", "__" or one or more "-", between alphanumerics.
        let start = index;
        match bytes[index] {
            b'.' => index += 1,
            b'_' => {
                index += 1;
                if index < bytes.len() && bytes[index] == b'_' {
                    index += 1;
                }
            }
            b'-' => {
                while index < bytes.len() && bytes[index] == b'-' {
                    index += 1;
                }
            }
            _ => return false,
        }
        if index == start || index >= bytes.len() || !is_alnum(bytes[index]) {
            return false;
        }
    }
    true
}

fn is_alnum(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

/// Checks a tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A tag.
    Tag(String),
    /// A digest.
    Digest(Digest),
}

/// Why a digest string is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum DigestProblem {
    /// Not `algorithm:encoded` with a well-formed encoding.
    Invalid,
    /// A well-formed digest of an algorithm airlift does not store.
    Unsupported,
}

/// Parses a digest: `sha256:<64 lowercase hex>` is accepted; other
/// well-formed algorithms are reported as unsupported.
pub fn parse_digest(text: &str) -> Result<Digest, DigestProblem> {
    let Some((algorithm, encoded)) = text.split_once(':') else {
        return Err(DigestProblem::Invalid);
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-')
        });
    let encoded_ok = !encoded.is_empty()
        && encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
    if !algorithm_ok || !encoded_ok {
        return Err(DigestProblem::Invalid);
    }
    match algorithm {
        "sha256" => Digest::from_hex(encoded).map_err(|_| DigestProblem::Invalid),
        "sha512" if encoded.len() == 128 => Err(DigestProblem::Unsupported),
        "sha512" => Err(DigestProblem::Invalid),
        _ => Err(DigestProblem::Unsupported),
    }
}

/// Parses a manifest reference.
pub fn parse_reference(text: &str) -> Option<Reference> {
    if text.contains(':') {
        parse_digest(text).ok().map(Reference::Digest)
    } else if valid_tag(text) {
        Some(Reference::Tag(text.to_owned()))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_follow_the_grammar() {
        for good in ["a", "library/nginx", "a.b_c__d-e--f/g0", "x/y/z", "0"] {
            assert!(valid_repository(good), "{good} refused");
        }
        for bad in [
            "", "A", "a//b", "/a", "a/", "a..b", "a___b", "-a", "a-", "a/../b", "a/.b", "a:b",
            "a b",
        ] {
            assert!(!valid_repository(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn tags_and_digests() {
        assert!(valid_tag("v1.2.3-rc_1"));
        assert!(valid_tag("_x"));
        assert!(!valid_tag(".x"));
        assert!(!valid_tag(&"x".repeat(129)));
        let hex = "a".repeat(64);
        assert!(parse_digest(&format!("sha256:{hex}")).is_ok());
        assert_eq!(
            parse_digest(&format!("sha256:{}", "A".repeat(64))),
            Err(DigestProblem::Invalid)
        );
        assert_eq!(parse_digest("sha256:abc"), Err(DigestProblem::Invalid));
        assert_eq!(
            parse_digest(&format!("sha512:{}", "a".repeat(128))),
            Err(DigestProblem::Unsupported)
        );
        assert_eq!(parse_digest("nocolon"), Err(DigestProblem::Invalid));
        assert_eq!(
            parse_reference("latest"),
            Some(Reference::Tag("latest".into()))
        );
    }
}
