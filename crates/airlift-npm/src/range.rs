//! npm's semver ranges (`node-semver`): `||`, hyphen ranges, X-ranges,
//! `~`, `^`, comparators, and its pre-release rule; and the choice npm makes
//! among a packument's versions.

use std::cmp::Ordering;

use semver::{Prerelease, Version};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Comparator {
    op: Op,
    version: Version,
    /// A bound made by desugaring (`<2.0.0-0`), which must not admit
    /// pre-releases the way a written pre-release does.
    synthetic: bool,
}

/// A parsed range: any of several comparator sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    sets: Vec<Vec<Comparator>>,
    text: String,
}

/// Compares versions as npm does: build metadata is ignored.
pub fn compare(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.pre.cmp(&b.pre),
        })
}

/// Parses a version loosely as npm does for packument keys (`v1.2.3`, `=1.2.3`).
pub fn parse_version(text: &str) -> Option<Version> {
    let t = text.trim();
    let t = t.strip_prefix('=').unwrap_or(t).trim();
    let t = t.strip_prefix('v').unwrap_or(t);
    Version::parse(t).ok()
}

/// The largest version part, node-semver's (JavaScript's largest safe
/// integer). It also keeps the `+ 1` of the bounds `desugar` computes from
/// overflowing.
const MAX_PART: u64 = (1 << 53) - 1;

/// A partial version: missing or wildcard parts are `None`.
struct Partial {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: Prerelease,
}

fn parse_partial(text: &str) -> Result<Partial, String> {
    let t = text.trim_start_matches(['v', '=']);
    // Build metadata first: it may hold `-` itself (`1.2.3+b1-`).
    let t = match t.split_once('+') {
        Some((main, build))
            if build.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }) =>
        {
            main
        }
        Some(_) => return Err(format!("{text:?} has bad build metadata")),
        None => t,
    };
    let (core, pre) = match t.split_once('-') {
        // `1-` names no pre-release: not a version (npm reads it as
        // something else again, found by the differential test).
        Some((_, "")) => return Err(format!("{text:?} has an empty pre-release")),
        Some((core, pre)) => (core, pre),
        None => (t, ""),
    };
    let mut parts = core.split('.');
    let mut next = || -> Result<Option<u64>, String> {
        match parts.next() {
            None | Some("x" | "X" | "*") => Ok(None),
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| *n <= MAX_PART)
                .map(Some)
                .ok_or_else(|| format!("{text:?} is not a version")),
        }
    };
    let major = next()?;
    let minor = next()?;
    let patch = next()?;
    if parts.next().is_some() {
        return Err(format!("{text:?} has too many parts"));
    }
    let pre = if pre.is_empty() {
        Prerelease::EMPTY
    } else {
        Prerelease::new(pre).map_err(|e| format!("{text:?}: {e}"))?
    };
    if major.is_none() && (minor.is_some() || patch.is_some()) {
        return Err(format!("{text:?} is not a version"));
    }
    Ok(Partial {
        major,
        minor,
        patch,
        pre,
    })
}

fn v(major: u64, minor: u64, patch: u64) -> Version {
    Version::new(major, minor, patch)
}

fn v0(major: u64, minor: u64, patch: u64) -> Version {
    // `x.y.z-0`: the lowest pre-release, so `<x.y.z-0` excludes x.y.z's pre-releases.
    let mut version = Version::new(major, minor, patch);
    version.pre = Prerelease::new("0").unwrap_or(Prerelease::EMPTY);
    version
}

fn full(p: &Partial) -> Version {
    let mut version = v(
        p.major.unwrap_or(0),
        p.minor.unwrap_or(0),
        p.patch.unwrap_or(0),
    );
    version.pre = p.pre.clone();
    version
}

fn comparator(op: Op, version: Version) -> Comparator {
    Comparator {
        op,
        version,
        synthetic: false,
    }
}

fn bound(op: Op, version: Version) -> Comparator {
    Comparator {
        op,
        version,
        synthetic: true,
    }
}

/// The comparators of one token such as `^1.2`, `>=1`, `1.x`, `~0.2.3`.
fn desugar(op: &str, p: &Partial) -> Vec<Comparator> {
    let (Some(major), minor, patch) = (p.major, p.minor, p.patch) else {
        // `*`, `x`: any version (or nothing, for `<*`).
        return match op {
            "<" | ">" => vec![bound(Op::Lt, v0(0, 0, 0))],
            _ => vec![bound(Op::Ge, v0(0, 0, 0))],
        };
    };
    match op {
        "^" => {
            let lower = comparator(Op::Ge, full(p));
            let upper = match (major, minor, patch) {
                (0, Some(0), Some(patch)) => v0(0, 0, patch + 1),
                (0, Some(minor), _) => v0(0, minor + 1, 0),
                (0, None, _) => v0(1, 0, 0),
                (major, _, _) => v0(major + 1, 0, 0),
            };
            vec![lower, bound(Op::Lt, upper)]
        }
        "~" | "~>" => {
            let upper = match minor {
                Some(minor) => v0(major, minor + 1, 0),
                None => v0(major + 1, 0, 0),
            };
            vec![comparator(Op::Ge, full(p)), bound(Op::Lt, upper)]
        }
        "" | "=" => match (minor, patch) {
            (Some(_), Some(_)) => vec![comparator(Op::Eq, full(p))],
            (Some(minor), None) => vec![
                comparator(Op::Ge, v(major, minor, 0)),
                bound(Op::Lt, v0(major, minor + 1, 0)),
            ],
            (None, _) => vec![
                comparator(Op::Ge, v(major, 0, 0)),
                bound(Op::Lt, v0(major + 1, 0, 0)),
            ],
        },
        ">" => match (minor, patch) {
            (Some(_), Some(_)) => vec![comparator(Op::Gt, full(p))],
            (Some(minor), None) => vec![comparator(Op::Ge, v(major, minor + 1, 0))],
            (None, _) => vec![comparator(Op::Ge, v(major + 1, 0, 0))],
        },
        ">=" => vec![comparator(Op::Ge, full(p))],
        "<" => match (minor, patch) {
            (Some(_), Some(_)) => vec![comparator(Op::Lt, full(p))],
            (Some(minor), None) => vec![bound(Op::Lt, v0(major, minor, 0))],
            (None, _) => vec![bound(Op::Lt, v0(major, 0, 0))],
        },
        "<=" => match (minor, patch) {
            (Some(_), Some(_)) => vec![comparator(Op::Le, full(p))],
            (Some(minor), None) => vec![bound(Op::Lt, v0(major, minor + 1, 0))],
            (None, _) => vec![bound(Op::Lt, v0(major + 1, 0, 0))],
        },
        _ => Vec::new(),
    }
}

impl Range {
    /// Parses a range; `""`, `*`, `x` and `latest`-style tags are not ranges
    /// (tags are resolved by the caller).
    pub fn parse(text: &str) -> Result<Range, String> {
        let mut sets = Vec::new();
        for alternative in text.split("||") {
            let alternative = alternative.trim();
            let mut set = Vec::new();
            if let Some((low, high)) = alternative.split_once(" - ") {
                let low = parse_partial(low.trim())?;
                let high = parse_partial(high.trim())?;
                set.push(comparator(Op::Ge, full(&low)));
                set.extend(desugar("<=", &high));
            } else {
                // Join operators separated from their version by spaces (`>= 1.2`).
                let mut tokens: Vec<String> = Vec::new();
                let mut pending = String::new();
                for word in alternative.split_whitespace() {
                    if word
                        .chars()
                        .all(|c| matches!(c, '<' | '>' | '=' | '~' | '^'))
                    {
                        pending.push_str(word);
                    } else {
                        tokens.push(format!("{pending}{word}"));
                        pending.clear();
                    }
                }
                if !pending.is_empty() {
                    return Err(format!("{text:?}: operator without a version"));
                }
                if tokens.is_empty() {
                    tokens.push("*".into());
                }
                for token in tokens {
                    // The longest operator, then the version, which may
                    // start with `=` or `v` as in node-semver's grammar
                    // (`^=1.2`, `<==1`, `~ =2`; found by the differential
                    // test); anything else left over (`>>1`) is no version.
                    let op = ["<=", ">=", "~>", "<", ">", "=", "~", "^"]
                        .into_iter()
                        .find(|op| token.starts_with(op))
                        .unwrap_or("");
                    let rest = &token[op.len()..];
                    if rest.starts_with(['<', '>', '~', '^']) {
                        return Err(format!("{text:?}: unknown operator in {token:?}"));
                    }
                    let partial = parse_partial(rest)?;
                    set.extend(desugar(op, &partial));
                }
            }
            sets.push(set);
        }
        // As node-semver does: an alternative that admits anything (`*`,
        // `x`, `>=0.0.0`, an empty one) makes the whole range that one,
        // which admits no pre-release, even one another alternative names
        // (`^1.0.0-2 || *` does not take 1.0.0-2; found by the
        // differential test).
        let any = |set: &Vec<Comparator>| {
            set.iter().all(|c| {
                c.op == Op::Ge
                    && (c.version.major, c.version.minor, c.version.patch) == (0, 0, 0)
                    && (c.synthetic || c.version.pre.is_empty())
            })
        };
        if sets.len() > 1
            && let Some(set) = sets.iter().find(|set| any(set)).cloned()
        {
            sets = vec![set];
        }
        Ok(Range {
            sets,
            text: text.trim().to_owned(),
        })
    }

    /// Whether `version` satisfies the range (npm's pre-release rule: a
    /// pre-release only matches a comparator set that names a pre-release of
    /// the same major.minor.patch).
    pub fn satisfies(&self, version: &Version) -> bool {
        self.sets.iter().any(|set| {
            let all = set.iter().all(|c| {
                let ord = compare(version, &c.version);
                match c.op {
                    Op::Lt => ord == Ordering::Less,
                    Op::Le => ord != Ordering::Greater,
                    Op::Gt => ord == Ordering::Greater,
                    Op::Ge => ord != Ordering::Less,
                    Op::Eq => ord == Ordering::Equal,
                }
            });
            if !all {
                return false;
            }
            if version.pre.is_empty() {
                return true;
            }
            set.iter().any(|c| {
                !c.version.pre.is_empty()
                    && !c.synthetic
                    && (c.version.major, c.version.minor, c.version.patch)
                        == (version.major, version.minor, version.patch)
            })
        })
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.text.is_empty() {
            "*"
        } else {
            &self.text
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_parts_past_javascript_safe_integers_are_refused() {
        // Found while writing the `npm_range` fuzz target (its seed
        // `regression-overflowing-major` crashes the unfixed code):
        // `^18446744073709551615` computed its upper bound as major + 1, which overflowed (a panic
        // in debug builds, a bound of 0.0.0 that matches nothing in release).
        for bad in [
            "^18446744073709551615",
            "~1.18446744073709551615",
            ">1.18446744073709551615",
            "<=18446744073709551615",
            "1.2 - 18446744073709551615",
            "^0.0.9007199254740992",
        ] {
            assert!(Range::parse(bad).is_err(), "{bad:?} parsed");
        }
        // node-semver's largest number is still a version part.
        assert!(sat("^9007199254740991", "9007199254740991.1.0"));
    }

    fn sat(range: &str, version: &str) -> bool {
        Range::parse(range)
            .unwrap_or_else(|e| panic!("{range}: {e}"))
            .satisfies(&Version::parse(version).expect("version"))
    }

    #[test]
    fn npm_ranges() {
        let yes = [
            ("^1.2.3", "1.9.0"),
            ("^0.2.3", "0.2.9"),
            ("^0.0.3", "0.0.3"),
            ("~1.2.3", "1.2.9"),
            ("~1.2", "1.2.0"),
            ("1.x", "1.5.0"),
            ("1.2.*", "1.2.7"),
            ("*", "3.0.0"),
            ("", "3.0.0"),
            (">=1.2.3 <2", "1.5.0"),
            (">= 1.2.3", "1.2.3"),
            ("1.2.3 - 2.3.4", "2.3.4"),
            ("1.2 - 2", "2.9.9"),
            ("<1.2 || >=3", "3.1.0"),
            ("^1.2.3-beta.2", "1.2.3-beta.4"),
            ("=1.0.0", "1.0.0"),
            ("v1.0.0", "1.0.0"),
            (">1.2", "1.3.0"),
            ("<=1.2", "1.2.9"),
            (">=2.0.0-0", "2.0.0-alpha"),
            ("^1.0.0-0", "1.0.0-beta"),
            ("^=1.2.3", "1.9.0"),
            ("<==1.2.3", "1.2.3"),
            ("~ =2.1", "2.1.5"),
            ("= =1.3", "1.3.4"),
            (">==*", "0.0.1"),
            ("~1.3.2+b1-", "1.3.5"),
        ];
        for (range, version) in yes {
            assert!(sat(range, version), "{version} should satisfy {range:?}");
        }
        let no = [
            ("^1.2.3", "2.0.0"),
            ("^1.2.3", "2.0.0-alpha"),
            ("^0.2.3", "0.3.0"),
            ("^0.0.3", "0.0.4"),
            ("~1.2.3", "1.3.0"),
            ("1.x", "2.0.0"),
            ("*", "3.0.0-beta"),
            ("^1.2.3-beta.2", "1.2.4-beta.1"),
            ("1.2.3 - 2.3.4", "2.3.5"),
            (">1.2", "1.2.9"),
            ("<1.2", "1.2.0-rc.1"),
            ("^1.2.3", "1.9.0-0"),
            ("^1.0.0-2 || *", "1.0.0-2"),
            ("^1.0.0-2 || >=0.0.0", "1.0.0-2"),
            ("~1.0.0-2 ||", "1.0.0-2"),
        ];
        for (range, version) in no {
            assert!(
                !sat(range, version),
                "{version} should not satisfy {range:?}"
            );
        }
        for bad in [
            ">>1",
            "1.2.3.4",
            "^",
            "a.b",
            "~>1-",
            "1.2.3-",
            "1.2.3+",
            "1.2.3+a..b",
        ] {
            assert!(Range::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
