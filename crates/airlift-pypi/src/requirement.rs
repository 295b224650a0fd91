//! PEP 508 dependency specifiers and environment markers, and PEP 503 names.

use std::collections::BTreeSet;
use std::fmt;

use crate::version::{Specifiers, Version};

/// PEP 503 normalization: runs of `-`, `_`, `.` become one `-`, lowercase.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Whether `name` is a valid project name (PEP 508).
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 200
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The values markers are evaluated against: one target interpreter and platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    /// `python_version`, such as `3.11`.
    pub python_version: String,
    /// `python_full_version`, such as `3.11.0`.
    pub python_full_version: String,
    /// `sys_platform`: `linux`, `darwin`, `win32`.
    pub sys_platform: String,
    /// `platform_system`: `Linux`, `Darwin`, `Windows`.
    pub platform_system: String,
    /// `platform_machine`: `x86_64`, `aarch64`, `AMD64`, `arm64`.
    pub platform_machine: String,
    /// `os_name`: `posix` or `nt`.
    pub os_name: String,
}

impl Environment {
    fn value(&self, variable: &str) -> Option<&str> {
        Some(match variable {
            "python_version" => &self.python_version,
            "python_full_version" | "implementation_version" => &self.python_full_version,
            "sys_platform" | "sys.platform" => &self.sys_platform,
            "platform_system" => &self.platform_system,
            "platform_machine" | "platform.machine" => &self.platform_machine,
            "os_name" | "os.name" => &self.os_name,
            "implementation_name" => "cpython",
            "platform_python_implementation" | "platform.python_implementation" => "CPython",
            // Unknowable for a target described by tags; an empty string
            // never equals a real value, so such clauses are false.
            "platform_release" | "platform_version" | "platform.version" => "",
            _ => return None,
        })
    }
}

/// A marker expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Marker {
    /// Every clause holds.
    And(Vec<Marker>),
    /// Some clause holds.
    Or(Vec<Marker>),
    /// `left op right`.
    Compare {
        /// Left operand.
        left: Operand,
        /// Operator text (`==`, `in`, `not in`, …).
        op: String,
        /// Right operand.
        right: Operand,
    },
}

/// A marker operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// An environment variable.
    Variable(String),
    /// A quoted string.
    Literal(String),
}

impl Marker {
    /// Evaluates against `env` with the requested `extras` (normalized).
    pub fn evaluate(&self, env: &Environment, extras: &BTreeSet<String>) -> bool {
        match self {
            Marker::And(parts) => parts.iter().all(|m| m.evaluate(env, extras)),
            Marker::Or(parts) => parts.iter().any(|m| m.evaluate(env, extras)),
            Marker::Compare { left, op, right } => compare(left, op, right, env, extras),
        }
    }
}

fn compare(
    left: &Operand,
    op: &str,
    right: &Operand,
    env: &Environment,
    extras: &BTreeSet<String>,
) -> bool {
    // `extra == "name"`: true when that extra is requested.
    let is_extra = |o: &Operand| matches!(o, Operand::Variable(v) if v == "extra");
    if is_extra(left) || is_extra(right) {
        let literal = match (left, right) {
            (_, Operand::Literal(l)) | (Operand::Literal(l), _) => normalize(l),
            _ => return false,
        };
        let present = extras.contains(&literal);
        return match op {
            "==" => present,
            "!=" => !present,
            _ => false,
        };
    }
    let resolve = |o: &Operand| -> String {
        match o {
            Operand::Literal(l) => l.clone(),
            Operand::Variable(v) => env.value(v).unwrap_or("").to_owned(),
        }
    };
    let (l, r) = (resolve(left), resolve(right));
    match op {
        "in" => return r.contains(&l),
        "not in" => return !r.contains(&l),
        _ => {}
    }
    if let (Some(candidate), Ok(spec)) =
        (Version::parse(&l), Specifiers::parse(&format!("{op}{r}")))
        && Version::parse(&r).is_some()
    {
        return spec.contains(&candidate);
    }
    match op {
        "==" | "===" => l == r,
        "!=" => l != r,
        "<" => l < r,
        "<=" => l <= r,
        ">" => l > r,
        ">=" => l >= r,
        _ => false,
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Marker::And(parts) | Marker::Or(parts) => {
                let join = if matches!(self, Marker::And(_)) {
                    " and "
                } else {
                    " or "
                };
                let texts: Vec<String> = parts
                    .iter()
                    .map(|p| match p {
                        Marker::Compare { .. } => p.to_string(),
                        _ => format!("({p})"),
                    })
                    .collect();
                f.write_str(&texts.join(join))
            }
            Marker::Compare { left, op, right } => {
                let show = |o: &Operand| match o {
                    Operand::Variable(v) => v.clone(),
                    Operand::Literal(l) => format!("\"{l}\""),
                };
                write!(f, "{} {op} {}", show(left), show(right))
            }
        }
    }
}

/// A dependency specifier: `name[extra,...] specifiers ; marker`.
#[derive(Clone, Debug)]
pub struct Requirement {
    /// The name as written.
    pub name: String,
    /// Requested extras, normalized.
    pub extras: BTreeSet<String>,
    /// Version clauses.
    pub specifiers: Specifiers,
    /// A direct URL (`name @ url`), which a mirror cannot serve.
    pub url: Option<String>,
    /// The marker, when given.
    pub marker: Option<Marker>,
}

impl Requirement {
    /// Parses one specifier.
    pub fn parse(text: &str) -> Result<Requirement, String> {
        let mut p = Parser::new(text);
        p.space();
        let name = p.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name(&name) {
            return Err(format!("{text:?}: expected a project name"));
        }
        p.space();
        let mut extras = BTreeSet::new();
        if p.eat("[") {
            loop {
                p.space();
                if p.eat("]") {
                    break;
                }
                let extra =
                    p.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
                if extra.is_empty() {
                    return Err(format!("{text:?}: malformed extras"));
                }
                extras.insert(normalize(&extra));
                p.space();
                if !p.eat(",") && !p.peek_is("]") {
                    return Err(format!("{text:?}: malformed extras"));
                }
            }
        }
        p.space();
        let mut url = None;
        let mut specifiers = Specifiers::default();
        if p.eat("@") {
            p.space();
            let u = p.take_while(|c| !c.is_whitespace());
            url = Some(u.trim_end_matches(';').to_owned());
        } else {
            let parens = p.eat("(");
            let spec_text = p.take_while(|c| !matches!(c, ';' | ')') && c != '\u{0}');
            if parens && !p.eat(")") {
                return Err(format!("{text:?}: unclosed parenthesis"));
            }
            specifiers = Specifiers::parse(&spec_text).map_err(|e| format!("{text:?}: {e}"))?;
        }
        p.space();
        let marker = if p.eat(";") {
            let marker = parse_marker(p.rest()).map_err(|e| format!("{text:?}: {e}"))?;
            p.at = p.s.len();
            Some(marker)
        } else {
            None
        };
        p.space();
        if !p.rest().is_empty() {
            return Err(format!("{text:?}: unexpected {:?}", p.rest()));
        }
        Ok(Requirement {
            name,
            extras,
            specifiers,
            url,
            marker,
        })
    }

    /// The normalized name.
    pub fn key(&self) -> String {
        normalize(&self.name)
    }

    /// Whether the marker holds (no marker: always).
    pub fn applies(&self, env: &Environment, extras: &BTreeSet<String>) -> bool {
        self.marker.as_ref().is_none_or(|m| m.evaluate(env, extras))
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.extras.is_empty() {
            let extras: Vec<&str> = self.extras.iter().map(String::as_str).collect();
            write!(f, "[{}]", extras.join(","))?;
        }
        write!(f, "{}", self.specifiers)?;
        if let Some(url) = &self.url {
            write!(f, " @ {url}")?;
        }
        if let Some(marker) = &self.marker {
            write!(f, "; {marker}")?;
        }
        Ok(())
    }
}

/// How deeply marker parentheses may nest. Real markers nest a level or
/// two; the bound keeps the recursive parser's stack use small whatever an
/// upstream's metadata says.
const MAX_MARKER_DEPTH: usize = 32;

/// Parses a marker expression.
pub fn parse_marker(text: &str) -> Result<Marker, String> {
    let mut p = Parser::new(text);
    let marker = marker_or(&mut p)?;
    p.space();
    if !p.rest().is_empty() {
        return Err(format!("marker: unexpected {:?}", p.rest()));
    }
    Ok(marker)
}

fn marker_or(p: &mut Parser) -> Result<Marker, String> {
    let mut parts = vec![marker_and(p)?];
    while p.keyword("or") {
        parts.push(marker_and(p)?);
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Marker::Or(parts)
    })
}

fn marker_and(p: &mut Parser) -> Result<Marker, String> {
    let mut parts = vec![marker_atom(p)?];
    while p.keyword("and") {
        parts.push(marker_atom(p)?);
    }
    Ok(if parts.len() == 1 {
        parts.remove(0)
    } else {
        Marker::And(parts)
    })
}

fn marker_atom(p: &mut Parser) -> Result<Marker, String> {
    p.space();
    if p.eat("(") {
        if p.depth == MAX_MARKER_DEPTH {
            return Err(format!(
                "marker: parentheses nested deeper than {MAX_MARKER_DEPTH}"
            ));
        }
        p.depth += 1;
        let inner = marker_or(p)?;
        p.depth -= 1;
        p.space();
        if !p.eat(")") {
            return Err("marker: unclosed parenthesis".into());
        }
        return Ok(inner);
    }
    let left = operand(p)?;
    p.space();
    let op = if p.keyword("not") {
        if !p.keyword("in") {
            return Err("marker: expected `in` after `not`".into());
        }
        "not in".to_owned()
    } else if p.keyword("in") {
        "in".to_owned()
    } else {
        let op = p.take_while(|c| matches!(c, '<' | '>' | '=' | '!' | '~'));
        if !matches!(
            op.as_str(),
            "<" | "<=" | "==" | "!=" | ">=" | ">" | "~=" | "==="
        ) {
            return Err(format!("marker: unknown operator {op:?}"));
        }
        op
    };
    let right = operand(p)?;
    Ok(Marker::Compare { left, op, right })
}

fn operand(p: &mut Parser) -> Result<Operand, String> {
    p.space();
    for quote in ['"', '\''] {
        if p.eat(&quote.to_string()) {
            let value = p.take_while(|c| c != quote);
            if !p.eat(&quote.to_string()) {
                return Err("marker: unterminated string".into());
            }
            return Ok(Operand::Literal(value));
        }
    }
    let name = p.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.'));
    const KNOWN: &[&str] = &[
        "python_version",
        "python_full_version",
        "os_name",
        "sys_platform",
        "platform_release",
        "platform_system",
        "platform_version",
        "platform_machine",
        "platform_python_implementation",
        "implementation_name",
        "implementation_version",
        "extra",
        "os.name",
        "sys.platform",
        "platform.version",
        "platform.machine",
        "platform.python_implementation",
    ];
    if KNOWN.contains(&name.as_str()) {
        Ok(Operand::Variable(name))
    } else {
        Err(format!("marker: unknown variable {name:?}"))
    }
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
    /// Open marker parentheses, at most [`MAX_MARKER_DEPTH`].
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, at: 0, depth: 0 }
    }
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }
    fn space(&mut self) {
        let n = self.rest().len() - self.rest().trim_start().len();
        self.at += n;
    }
    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }
    fn peek_is(&self, token: &str) -> bool {
        self.rest().starts_with(token)
    }
    fn keyword(&mut self, word: &str) -> bool {
        self.space();
        let rest = self.rest();
        if rest.starts_with(word)
            && !rest[word.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.at += word.len();
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let len: usize = self
            .rest()
            .chars()
            .take_while(|c| keep(*c))
            .map(char::len_utf8)
            .sum();
        let out = self.rest()[..len].to_owned();
        self.at += len;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deeply_nested_markers_are_refused_without_overflowing_the_stack() {
        // Found while writing the `pypi_requirement` fuzz target: every `(`
        // was one more level of recursion, so a `Requires-Dist` from an
        // upstream with enough of them overflowed the stack and aborted the
        // process.
        let deep = format!(
            "{}python_version == '3'{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        let error = parse_marker(&deep).expect_err("too deep");
        assert!(error.contains("nested"), "{error}");
        assert!(Requirement::parse(&format!("a; {deep}")).is_err());
        let fine = format!(
            "{}python_version == '3'{}",
            "(".repeat(MAX_MARKER_DEPTH),
            ")".repeat(MAX_MARKER_DEPTH)
        );
        assert!(parse_marker(&fine).is_ok());
    }

    fn linux(python: &str) -> Environment {
        Environment {
            python_version: python.into(),
            python_full_version: format!("{python}.0"),
            sys_platform: "linux".into(),
            platform_system: "Linux".into(),
            platform_machine: "x86_64".into(),
            os_name: "posix".into(),
        }
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("Foo.Bar__baz-Qux"), "foo-bar-baz-qux");
        assert!(valid_name("zope.interface"));
        assert!(!valid_name("-x") && !valid_name("a b") && !valid_name(""));
    }

    #[test]
    fn requirements_parse() {
        let r = Requirement::parse(
            "Flask[Async, dotenv] (>=3,<4) ; python_version >= \"3.8\" and (sys_platform == 'linux' or os_name == \"nt\")",
        )
        .expect("parses");
        assert_eq!(r.key(), "flask");
        assert_eq!(r.extras.len(), 2);
        assert!(r.specifiers.contains(&Version::parse("3.1").expect("v")));
        let empty = BTreeSet::new();
        assert!(r.applies(&linux("3.11"), &empty));
        let r = Requirement::parse("numpy>=1.26; python_version<'3.9'").expect("parses");
        assert!(!r.applies(&linux("3.11"), &empty));
        assert!(
            Requirement::parse("pkg @ https://example.com/pkg.whl")
                .expect("p")
                .url
                .is_some()
        );
        for bad in ["", ">=1", "a[", "a>=1;", "a; foo == '1'", "a>=1 junk"] {
            assert!(Requirement::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn extras_and_versions_in_markers() {
        let r = Requirement::parse("uvloop; extra == 'Fast' and python_full_version < '3.12.1'")
            .expect("parses");
        let fast: BTreeSet<String> = ["fast".to_owned()].into();
        assert!(r.applies(&linux("3.11"), &fast));
        assert!(!r.applies(&linux("3.11"), &BTreeSet::new()));
        let r = Requirement::parse("x; python_version > '3.9'").expect("parses");
        assert!(
            r.applies(&linux("3.10"), &BTreeSet::new()),
            "3.10 > 3.9 as versions"
        );
        let r = Requirement::parse("x; 'linux' in sys_platform").expect("parses");
        assert!(r.applies(&linux("3.11"), &BTreeSet::new()));
    }
}
