//! PEP 440 versions and version specifiers, as `packaging` implements them.

use std::cmp::Ordering;
use std::fmt;

/// A pre-release kind: `a` < `b` < `rc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pre {
    /// Alpha.
    Alpha,
    /// Beta.
    Beta,
    /// Release candidate.
    Rc,
}

/// A local version segment; numbers sort after strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Local {
    Str(String),
    Int(u64),
}

/// A parsed PEP 440 version.
#[derive(Clone, Debug)]
pub struct Version {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(Pre, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Vec<Local>,
    text: String,
}

impl Version {
    /// Parses any spelling PEP 440 accepts (`v1.0`, `1.0-RC1`, `1.0.post-2`, …).
    pub fn parse(text: &str) -> Option<Version> {
        let original = text.trim();
        let lower = original.to_ascii_lowercase();
        let mut s = lower.strip_prefix('v').unwrap_or(&lower);
        let (public, local_text) = match s.split_once('+') {
            Some((public, local)) => (public, Some(local)),
            None => (s, None),
        };
        s = public;
        let mut epoch = 0;
        if let Some((e, rest)) = s.split_once('!') {
            epoch = e.parse().ok()?;
            s = rest;
        }
        let mut release = Vec::new();
        let mut cursor = Cursor { s, at: 0 };
        loop {
            release.push(cursor.number()?);
            if cursor.peek() == Some('.') && cursor.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                cursor.at += 1;
            } else {
                break;
            }
        }
        let mut pre = None;
        let mut post = None;
        let mut dev = None;
        // Pre-release.
        let save = cursor.at;
        cursor.separator();
        if let Some(kind) = cursor.word(&[
            ("alpha", Pre::Alpha),
            ("beta", Pre::Beta),
            ("preview", Pre::Rc),
            ("pre", Pre::Rc),
            ("rc", Pre::Rc),
            ("a", Pre::Alpha),
            ("b", Pre::Beta),
            ("c", Pre::Rc),
        ]) {
            cursor.separator();
            pre = Some((kind, cursor.number().unwrap_or(0)));
        } else {
            cursor.at = save;
        }
        // Post-release: `-N`, or `.post N`, `rev`, `r`.
        let save = cursor.at;
        if cursor.peek() == Some('-') && cursor.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            cursor.at += 1;
            post = Some(cursor.number()?);
        } else {
            cursor.separator();
            if cursor
                .word(&[("post", ()), ("rev", ()), ("r", ())])
                .is_some()
            {
                cursor.separator();
                post = Some(cursor.number().unwrap_or(0));
            } else {
                cursor.at = save;
            }
        }
        // Development release.
        let save = cursor.at;
        cursor.separator();
        if cursor.word(&[("dev", ())]).is_some() {
            cursor.separator();
            dev = Some(cursor.number().unwrap_or(0));
        } else {
            cursor.at = save;
        }
        if cursor.at != cursor.s.len() {
            return None;
        }
        let mut local = Vec::new();
        if let Some(local_text) = local_text {
            for part in local_text.split(['.', '-', '_']) {
                if part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return None;
                }
                local.push(match part.parse::<u64>() {
                    Ok(n) => Local::Int(n),
                    Err(_) => Local::Str(part.to_owned()),
                });
            }
        }
        Some(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
            text: original.to_owned(),
        })
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A pre-release or development release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }

    /// A post-release.
    pub fn is_postrelease(&self) -> bool {
        self.post.is_some()
    }

    fn without_local(&self) -> Version {
        Version {
            local: Vec::new(),
            ..self.clone()
        }
    }

    /// The release segment with trailing zeros removed.
    fn trimmed(&self) -> &[u64] {
        let mut end = self.release.len();
        while end > 1 && self.release[end - 1] == 0 {
            end -= 1;
        }
        &self.release[..end]
    }

    /// Major and minor (`3.11` → (3, 11)).
    pub fn major_minor(&self) -> (u64, u64) {
        (
            self.release.first().copied().unwrap_or(0),
            self.release.get(1).copied().unwrap_or(0),
        )
    }

    fn base_equal(&self, other: &Version) -> bool {
        self.epoch == other.epoch && self.trimmed() == other.trimmed()
    }

    #[allow(clippy::type_complexity)]
    fn key(
        &self,
    ) -> (
        u64,
        &[u64],
        (i8, Option<(Pre, u64)>),
        Option<u64>,
        (bool, u64),
    ) {
        let pre = match (self.pre, self.post, self.dev) {
            (None, None, Some(_)) => (-1, None),
            (None, _, _) => (1, None),
            (Some(pre), _, _) => (0, Some(pre)),
        };
        (
            self.epoch,
            self.trimmed(),
            pre,
            self.post,
            (self.dev.is_none(), self.dev.unwrap_or(0)),
        )
    }
}

struct Cursor<'a> {
    s: &'a str,
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.at..].chars().next()
    }
    fn peek_at(&self, n: usize) -> Option<char> {
        self.s[self.at..].chars().nth(n)
    }
    fn number(&mut self) -> Option<u64> {
        let digits = self.s[self.at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .count();
        if digits == 0 {
            return None;
        }
        let value = self.s[self.at..self.at + digits].parse().ok()?;
        self.at += digits;
        Some(value)
    }
    fn separator(&mut self) {
        if matches!(self.peek(), Some('.' | '-' | '_')) {
            self.at += 1;
        }
    }
    fn word<T: Copy>(&mut self, words: &[(&str, T)]) -> Option<T> {
        for (word, value) in words {
            if self.s[self.at..].starts_with(word) {
                self.at += word.len();
                return Some(*value);
            }
        }
        None
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Version {}
impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| self.local.cmp(&other.local))
    }
}
impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let (epoch, release, pre, post, dev) = self.key();
        (epoch, release, pre, post, dev, &self.local).hash(state);
    }
}
impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A comparison operator of a specifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `~=`
    Compatible,
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `<=`
    LessEqual,
    /// `>=`
    GreaterEqual,
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `===`
    Arbitrary,
}

/// One clause such as `>=1.2` or `==3.*`.
#[derive(Clone, Debug)]
pub struct Specifier {
    op: Op,
    version: Version,
    wildcard: bool,
    text: String,
}

impl Specifier {
    /// Parses one clause.
    pub fn parse(text: &str) -> Result<Specifier, String> {
        let t = text.trim();
        let (op, rest) = [
            ("===", Op::Arbitrary),
            ("~=", Op::Compatible),
            ("==", Op::Equal),
            ("!=", Op::NotEqual),
            ("<=", Op::LessEqual),
            (">=", Op::GreaterEqual),
            ("<", Op::Less),
            (">", Op::Greater),
        ]
        .into_iter()
        .find_map(|(p, op)| t.strip_prefix(p).map(|rest| (op, rest.trim())))
        .ok_or_else(|| format!("{t:?} does not start with a comparison operator"))?;
        let (body, wildcard) = match rest.strip_suffix(".*") {
            Some(body) if matches!(op, Op::Equal | Op::NotEqual) => (body, true),
            _ => (rest, false),
        };
        // `===` compares a string without white space, `;` or `)`.
        if op == Op::Arbitrary
            && (body.is_empty()
                || body.contains(|c: char| c.is_whitespace() || c == ';' || c == ')'))
        {
            return Err(format!("{t:?}: `===` needs one word to compare"));
        }
        let version = if op == Op::Arbitrary {
            Version::parse(body).unwrap_or(Version {
                epoch: 0,
                release: vec![0],
                pre: None,
                post: None,
                dev: None,
                local: Vec::new(),
                text: body.to_owned(),
            })
        } else {
            Version::parse(body).ok_or_else(|| format!("{body:?} is not a PEP 440 version"))?
        };
        // As `packaging` (and PEP 440) has it: a wildcard follows a bare
        // release, and a local label only goes with `==` and `!=`. pip
        // refuses anything else, so accepting it here would resolve
        // requirements that the client then cannot install.
        let suffixed = version.pre.is_some() || version.post.is_some() || version.dev.is_some();
        if wildcard && (suffixed || !version.local.is_empty()) {
            return Err(format!(
                "{t:?}: a wildcard goes only after a release number (`==1.2.*`)"
            ));
        }
        if !version.local.is_empty() && !matches!(op, Op::Equal | Op::NotEqual | Op::Arbitrary) {
            return Err(format!(
                "{t:?}: a local version label goes only with `==` or `!=`"
            ));
        }
        if op == Op::Compatible && version.release.len() < 2 {
            return Err(format!("{t:?}: ~= needs at least two release numbers"));
        }
        Ok(Specifier {
            op,
            version,
            wildcard,
            text: format!("{}{}", &t[..t.len() - rest.len()].trim(), rest),
        })
    }

    /// Whether `candidate` satisfies this clause (pre-release policy aside).
    pub fn contains(&self, candidate: &Version) -> bool {
        let spec = &self.version;
        match self.op {
            Op::Arbitrary => candidate.as_str().eq_ignore_ascii_case(&self.version.text),
            Op::Equal if self.wildcard => prefix_match(spec, candidate),
            Op::NotEqual if self.wildcard => !prefix_match(spec, candidate),
            Op::Equal | Op::NotEqual => {
                let equal = if spec.local.is_empty() {
                    candidate.without_local() == *spec
                } else {
                    candidate == spec
                };
                equal == (self.op == Op::Equal)
            }
            Op::LessEqual => candidate.without_local() <= *spec,
            Op::GreaterEqual => candidate.without_local() >= *spec,
            Op::Less => {
                // `<V` leaves out V's own pre-releases: unless V is a
                // pre-release, it means `<V.dev0` (so `<1.0` leaves out
                // 1.0rc1, and `<1.0.post1` leaves out 1.0.post1.dev0 only),
                // as `packaging` 26 reads PEP 440.
                let c = candidate.without_local();
                if spec.is_prerelease() {
                    c < *spec
                } else {
                    c < Version {
                        dev: Some(0),
                        ..spec.clone()
                    }
                }
            }
            Op::Greater => {
                // `>V` leaves out V's own post-releases: the later versions
                // with V's release and pre-release segment (`>1.0rc1` leaves
                // out 1.0rc1.post1, not 1.0.post1), unless V is itself a
                // post or development release; as `packaging` 26 reads
                // PEP 440.
                let c = candidate.without_local();
                c > *spec
                    && (spec.dev.is_some()
                        || spec.post.is_some()
                        || !(c.base_equal(spec) && c.pre == spec.pre))
            }
            Op::Compatible => {
                let mut prefix = spec.clone();
                prefix.release.pop();
                prefix.pre = None;
                prefix.post = None;
                prefix.dev = None;
                candidate.without_local() >= *spec && prefix_match(&prefix, candidate)
            }
        }
    }

    /// True for a clause that names a pre-release explicitly: any operator
    /// but `!=`, as `packaging` 26 (and so pip) has it; `<2.0b1` and
    /// `>1.0rc1` ask for pre-releases too.
    fn names_prerelease(&self) -> bool {
        self.op != Op::NotEqual && self.version.is_prerelease()
    }

    /// The operator.
    pub fn op(&self) -> Op {
        self.op
    }
}

fn prefix_match(spec: &Version, candidate: &Version) -> bool {
    if spec.epoch != candidate.epoch {
        return false;
    }
    let n = spec.release.len();
    (0..n).all(|i| candidate.release.get(i).copied().unwrap_or(0) == spec.release[i])
}

impl fmt::Display for Specifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A comma-separated set of clauses; empty means any version.
#[derive(Clone, Debug, Default)]
pub struct Specifiers(pub Vec<Specifier>);

impl Specifiers {
    /// Parses `>=1,<2` (empty text: any version).
    pub fn parse(text: &str) -> Result<Specifiers, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Specifiers::default());
        }
        text.split(',')
            .map(Specifier::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Specifiers)
    }

    /// Whether every clause holds.
    pub fn contains(&self, candidate: &Version) -> bool {
        self.0.iter().all(|s| s.contains(candidate))
    }

    /// Whether a clause names a pre-release, which admits pre-releases.
    pub fn admits_prereleases(&self) -> bool {
        self.0.iter().any(Specifier::names_prerelease)
    }

    /// An exact pin (`==1.2.3`, not a wildcard), which admits a yanked release (PEP 592).
    pub fn is_exact_pin(&self) -> bool {
        self.0
            .iter()
            .any(|s| matches!(s.op, Op::Equal | Op::Arbitrary) && !s.wildcard)
    }
}

impl fmt::Display for Specifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|| panic!("{text} did not parse"))
    }

    #[test]
    fn versions_order_as_pep_440_says() {
        let ordered = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.1.dev1",
            "1!0.5",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert_eq!(v("1.0"), v("1.0.0"));
        assert_eq!(v("V1.0-RC1"), v("1.0rc1"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        for bad in ["", "1.0x", "abc", "1..0", "1.0+"] {
            assert!(Version::parse(bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn specifiers_follow_the_rules() {
        let cases = [
            (">=1.0,<2", "1.5", true),
            (">=1.0,<2", "2.0", false),
            ("<2", "2.0a1", false),
            ("<2.0a2", "2.0a1", true),
            (">1.0", "1.0.post1", false),
            (">1.0", "1.0.1", true),
            ("==1.*", "1.9.2", true),
            ("==1.*", "2.0", false),
            ("!=1.5.*", "1.5.3", false),
            ("~=2.2", "2.9", true),
            ("~=2.2", "3.0", false),
            ("~=1.4.5", "1.4.9", true),
            ("~=1.4.5", "1.5.0", false),
            ("==1.0", "1.0+local", true),
            ("==1.0+local", "1.0", false),
            ("==1.0.0", "1.0", true),
            ("<=1.0", "1.0+x", true),
            ("===1.0", "1.0", true),
            // Found by the differential test against `packaging` 26.
            (">1.0rc1", "1.0.post1", true),
            (">1.0rc1", "1.0rc1.post1", false),
            (">1.0.dev1", "1.0.post1", true),
            (">1.0.post1", "1.0.post2", true),
            ("<3.post1", "3.post0.dev10", true),
            ("<3.post1", "3a1", true),
            ("<3.post1", "3.post1.dev0", false),
            ("<3", "3a1", false),
        ];
        for (spec, version, expected) in cases {
            let s = Specifiers::parse(spec).expect("spec");
            assert_eq!(s.contains(&v(version)), expected, "{version} in {spec}");
        }
        assert!(
            Specifiers::parse(">=1.0rc1")
                .expect("spec")
                .admits_prereleases()
        );
        assert!(
            !Specifiers::parse(">=1.0")
                .expect("spec")
                .admits_prereleases()
        );
        assert!(Specifiers::parse("=>1").is_err());
        // Found by the differential test against `packaging` 26: `<` and
        // `>` with a pre-release admit pre-releases, `!=` does not.
        for (spec, admits) in [("<2.0b1", true), (">1.0rc1", true), ("!=1.0a1", false)] {
            let s = Specifiers::parse(spec).expect("spec");
            assert_eq!(s.admits_prereleases(), admits, "{spec}");
        }
        // Found by the differential test against `packaging` (tests/diff):
        // these parsed, though pip refuses them.
        for bad in ["==1.0a1.*", "!=1.0.post1.*", "==1.0.dev0.*", "==1.0+abc.*"] {
            assert!(Specifiers::parse(bad).is_err(), "{bad:?} parsed");
        }
        for bad in [
            ">=1.0+abc",
            "<1.0+abc",
            "<=1.0+abc",
            ">1.0+abc",
            "~=1.0+abc",
            "===",
            "===1 .0",
            "===a;b",
        ] {
            assert!(Specifiers::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(Specifiers::parse("==1.0+abc").is_ok() && Specifiers::parse("!=1.0+abc").is_ok());
        assert!(Specifiers::parse("~=1").is_err());
    }
}
