//! Version orders: the [`VersionOrder`] contract the matcher evaluates
//! ranges with, and the two orders this crate owns because OSV defines them
//! itself: [`SemverOrder`] for `SEMVER` ranges and [`GoOrder`] for the Go
//! ecosystem. Every other ecosystem's order (PEP 440, dpkg, ...) comes from
//! the caller, through the ecosystem contract.
//!
//! Both orders compare without allocating: a scan compares every matched
//! subject's version against every event of a candidate record.

use std::cmp::Ordering;

/// A total order on an ecosystem's version strings.
pub trait VersionOrder: Send + Sync {
    /// Compares two versions of the same ecosystem.
    fn compare(&self, first: &str, second: &str) -> Ordering;
}

/// SemVer 2.0 precedence (section 11), read leniently: a leading `v` or `V`,
/// missing minor and patch numbers (`1` is `1.0.0`, `1.2` is `1.2.0`),
/// leading zeros and numbers of any length are accepted; build metadata is
/// ignored, as precedence says. A string that is still not a version sorts
/// below every version (as Go's `semver.Compare` does), and such strings
/// among themselves by bytes, so the order stays total; below rather than
/// above so that an unreadable version inside an `introduced: "0"` range is
/// reported rather than silently passed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SemverOrder;

impl VersionOrder for SemverOrder {
    fn compare(&self, first: &str, second: &str) -> Ordering {
        compare_lenient(first, second)
    }
}

/// Go module versions: `v1.2.3`, `v1.2.3-pre`, `v2.0.0+incompatible`, and
/// pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`,
/// `v1.2.4-0.20191109021931-daa7c04131f5`). OSV's Go records write versions
/// without the `v`; both spellings are read. `+incompatible` is build
/// metadata and takes no part in the order, and a pseudo-version is a
/// pre-release of the version after its base, so SemVer precedence orders
/// both as Go does (fixed-width timestamps compare correctly as text).
#[derive(Debug, Clone, Copy, Default)]
pub struct GoOrder;

impl VersionOrder for GoOrder {
    fn compare(&self, first: &str, second: &str) -> Ordering {
        compare_lenient(first, second)
    }
}

/// A version split into its parts, borrowing from the string.
struct Lenient<'text> {
    /// Major, minor, patch as digit strings; a missing part is `"0"`.
    core: [&'text str; 3],
    /// The pre-release identifiers after the first `-`, if any.
    pre: Option<&'text str>,
}

fn parse_lenient(text: &str) -> Option<Lenient<'_>> {
    let text = text.trim();
    let text = text
        .strip_prefix('v')
        .or_else(|| text.strip_prefix('V'))
        .unwrap_or(text);
    let without_build = match text.split_once('+') {
        Some((before, build)) => {
            if !valid_identifiers(build) {
                return None;
            }
            before
        }
        None => text,
    };
    let (core_text, pre) = match without_build.split_once('-') {
        Some((core_text, pre)) => {
            if !valid_identifiers(pre) {
                return None;
            }
            (core_text, Some(pre))
        }
        None => (without_build, None),
    };
    let mut core = ["0"; 3];
    for (position, part) in core_text.split('.').enumerate() {
        let slot = core.get_mut(position)?;
        if part.is_empty() || !part.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        *slot = part;
    }
    Some(Lenient { core, pre })
}

/// Dot-separated identifiers, each non-empty ASCII alphanumerics and `-`.
fn valid_identifiers(text: &str) -> bool {
    text.split('.').all(|identifier| {
        !identifier.is_empty()
            && identifier
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    })
}

/// Compares two digit strings as numbers of any length.
fn compare_numeric(first: &str, second: &str) -> Ordering {
    let first = first.trim_start_matches('0');
    let second = second.trim_start_matches('0');
    first
        .len()
        .cmp(&second.len())
        .then_with(|| first.cmp(second))
}

fn is_numeric(identifier: &str) -> bool {
    identifier.bytes().all(|byte| byte.is_ascii_digit())
}

/// Pre-release precedence: identifier by identifier, numbers numerically and
/// below words, words by ASCII, and a prefix below its extensions.
fn compare_prerelease(first: &str, second: &str) -> Ordering {
    let mut first_parts = first.split('.');
    let mut second_parts = second.split('.');
    loop {
        match (first_parts.next(), second_parts.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(left), Some(right)) => {
                let ordering = match (is_numeric(left), is_numeric(right)) {
                    (true, true) => compare_numeric(left, right),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => left.cmp(right),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
        }
    }
}

fn compare_lenient(first: &str, second: &str) -> Ordering {
    match (parse_lenient(first), parse_lenient(second)) {
        (Some(left), Some(right)) => {
            for (left_part, right_part) in left.core.iter().zip(right.core.iter()) {
                let ordering = compare_numeric(left_part, right_part);
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            match (left.pre, right.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(left_pre), Some(right_pre)) => compare_prerelease(left_pre, right_pre),
            }
        }
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => first.cmp(second),
    }
}
