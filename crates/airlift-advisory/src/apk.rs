//! Alpine's version order: the semantics of apk-tools' `apk_version_compare`.
//!
//! A valid version is `digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]`
//! with lower-case letters, suffixes
//! `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`
//! and a lower-case hexadecimal commit hash. Two versions are read token by
//! token; tokens of the same kind compare by value, and at the first
//! position where the kinds differ the version that continues wins, unless
//! it continues with a pre-release suffix, and the later a kind comes in
//! the grammar the smaller the step it makes
//! (`1.0_rc1 < 1.0 < 1.0-r1 < 1.0~hash < 1.0_p1 < 1.0a < 1.0.1`).
//!
//! Boundary with apk-tools: apk compares an invalid version token by token
//! up to its first invalid token, which makes distinct strings equal. Here
//! invalid versions sort after every valid one and among themselves by
//! their bytes, so the order stays total. Numbers compare by value at any
//! length, where apk wraps at 2^64.

use std::cmp::Ordering;

use crate::VersionOrder;

/// Alpine apk-tools' version order (`apk_version_compare`): digits with
/// '.', an optional letter, suffixes `_alpha < _beta < _pre < _rc < (none)
/// < _cvs < _svn < _git < _hg < _p`, each with an optional number, an
/// optional `~hash`, and a `-rN` release; invalid versions compare after
/// valid ones, by bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApkOrder;

impl VersionOrder for ApkOrder {
    fn compare(&self, first: &str, second: &str) -> Ordering {
        let first = first.as_bytes();
        let second = second.as_bytes();
        match (is_valid(first), is_valid(second)) {
            (true, true) => compare_valid(first, second),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => first.cmp(second),
        }
    }
}

/// Suffixes in apk's order; the pre-release ones sort before no suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    ReleaseCandidate,
    Cvs,
    Subversion,
    Git,
    Mercurial,
    Patch,
}

impl Suffix {
    fn parse(name: &[u8]) -> Option<Self> {
        Some(match name {
            b"alpha" => Suffix::Alpha,
            b"beta" => Suffix::Beta,
            b"pre" => Suffix::Pre,
            b"rc" => Suffix::ReleaseCandidate,
            b"cvs" => Suffix::Cvs,
            b"svn" => Suffix::Subversion,
            b"git" => Suffix::Git,
            b"hg" => Suffix::Mercurial,
            b"p" => Suffix::Patch,
            _ => return None,
        })
    }

    fn is_pre_release(self) -> bool {
        self <= Suffix::ReleaseCandidate
    }
}

/// A token's kind; the order is apk's, which decides between versions
/// whose token kinds differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigits,
    Digits,
    Letter,
    Suffix,
    SuffixNumber,
    CommitHash,
    Revision,
    End,
    Invalid,
}

#[derive(Clone, Copy, Debug)]
struct Token<'version> {
    kind: Kind,
    /// The token's text without its separator ('.', '_', '~', "-r").
    value: &'version [u8],
    suffix: Option<Suffix>,
}

/// Reads one version's tokens, each checked against the one before it as
/// apk's `token_next` does.
struct Tokens<'version> {
    rest: &'version [u8],
    previous: Option<Kind>,
}

impl<'version> Tokens<'version> {
    fn new(version: &'version [u8]) -> Self {
        Self {
            rest: version,
            previous: None,
        }
    }

    fn take_while(&mut self, accept: impl Fn(u8) -> bool) -> &'version [u8] {
        let length = self
            .rest
            .iter()
            .position(|&byte| !accept(byte))
            .unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        taken
    }

    fn skip(&mut self, count: usize) {
        self.rest = self.rest.get(count..).unwrap_or_default();
    }

    fn token(&mut self, kind: Kind, value: &'version [u8]) -> Token<'version> {
        self.previous = Some(kind);
        Token {
            kind,
            value,
            suffix: None,
        }
    }

    /// A number, suffix name or hash, which needs at least one character.
    fn non_empty(&mut self, kind: Kind, value: &'version [u8]) -> Token<'version> {
        if value.is_empty() {
            self.invalid()
        } else {
            self.token(kind, value)
        }
    }

    fn invalid(&mut self) -> Token<'version> {
        self.token(Kind::Invalid, &[])
    }

    fn next_token(&mut self) -> Token<'version> {
        let Some(previous) = self.previous else {
            let digits = self.take_while(|byte| byte.is_ascii_digit());
            return self.non_empty(Kind::InitialDigits, digits);
        };
        if previous >= Kind::End {
            return self.token(previous, &[]);
        }
        let Some(&first) = self.rest.first() else {
            return self.token(Kind::End, &[]);
        };
        match first {
            b'a'..=b'z' if previous <= Kind::Digits => {
                let letter = self.take_count(1);
                self.token(Kind::Letter, letter)
            }
            b'.' | b'0'..=b'9' if previous <= Kind::Digits => {
                if first == b'.' {
                    self.skip(1);
                }
                let digits = self.take_while(|byte| byte.is_ascii_digit());
                self.non_empty(Kind::Digits, digits)
            }
            b'0'..=b'9' if previous == Kind::Suffix => {
                let digits = self.take_while(|byte| byte.is_ascii_digit());
                self.non_empty(Kind::SuffixNumber, digits)
            }
            b'_' if previous <= Kind::SuffixNumber => {
                self.skip(1);
                let name = self.take_while(|byte| byte.is_ascii_lowercase());
                match Suffix::parse(name) {
                    Some(suffix) => {
                        let mut token = self.token(Kind::Suffix, name);
                        token.suffix = Some(suffix);
                        token
                    }
                    None => self.invalid(),
                }
            }
            b'~' if previous < Kind::CommitHash => {
                self.skip(1);
                let hash = self.take_while(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
                self.non_empty(Kind::CommitHash, hash)
            }
            b'-' if previous < Kind::Revision && self.rest.get(1) == Some(&b'r') => {
                self.skip(2);
                let digits = self.take_while(|byte| byte.is_ascii_digit());
                self.non_empty(Kind::Revision, digits)
            }
            _ => self.invalid(),
        }
    }

    fn take_count(&mut self, count: usize) -> &'version [u8] {
        let count = count.min(self.rest.len());
        let (taken, rest) = self.rest.split_at(count);
        self.rest = rest;
        taken
    }
}

/// apk's `apk_version_validate`: every token is accepted up to the end.
fn is_valid(version: &[u8]) -> bool {
    let mut tokens = Tokens::new(version);
    loop {
        match tokens.next_token().kind {
            Kind::End => return true,
            Kind::Invalid => return false,
            _ => {}
        }
    }
}

/// apk's comparison of two valid versions.
fn compare_valid(first: &[u8], second: &[u8]) -> Ordering {
    let mut first_tokens = Tokens::new(first);
    let mut second_tokens = Tokens::new(second);
    loop {
        let left = first_tokens.next_token();
        let right = second_tokens.next_token();
        if left.kind != right.kind {
            return compare_kinds(left, right);
        }
        if left.kind >= Kind::End {
            return Ordering::Equal;
        }
        let ordering = compare_values(left, right);
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
}

/// The first position where the kinds differ: the version that goes on
/// is the newer, unless it goes on with a pre-release suffix.
fn compare_kinds(left: Token<'_>, right: Token<'_>) -> Ordering {
    if left.suffix.is_some_and(Suffix::is_pre_release) {
        return Ordering::Less;
    }
    if right.suffix.is_some_and(Suffix::is_pre_release) {
        return Ordering::Greater;
    }
    right.kind.cmp(&left.kind)
}

fn compare_values(left: Token<'_>, right: Token<'_>) -> Ordering {
    match left.kind {
        // A component with a leading zero compares as text, as Gentoo's
        // rules have it ("1.05" < "1.1").
        Kind::Digits if left.value.first() == Some(&b'0') || right.value.first() == Some(&b'0') => {
            left.value.cmp(right.value)
        }
        Kind::InitialDigits | Kind::Digits | Kind::SuffixNumber | Kind::Revision => {
            compare_numbers(left.value, right.value)
        }
        Kind::Suffix => left.suffix.cmp(&right.suffix),
        Kind::Letter | Kind::CommitHash | Kind::End | Kind::Invalid => left.value.cmp(right.value),
    }
}

/// Decimal numbers by value: without leading zeros, the longer is the
/// larger, and equal lengths compare digit by digit.
fn compare_numbers(left: &[u8], right: &[u8]) -> Ordering {
    fn significant(digits: &[u8]) -> &[u8] {
        let zeros = digits.iter().take_while(|&&byte| byte == b'0').count();
        digits.get(zeros..).unwrap_or_default()
    }
    let (left, right) = (significant(left), significant(right));
    left.len().cmp(&right.len()).then_with(|| left.cmp(right))
}
