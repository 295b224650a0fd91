//! Debian version ordering, as dpkg compares (`deb-version(7)`):
//! `[epoch:]upstream[-revision]`, where `~` sorts before everything, even
//! the end of the string, and letters sort before other characters.

use std::cmp::Ordering;

/// Whether `version` is a syntactically valid Debian version.
pub fn valid(version: &str) -> bool {
    let version = trim(version);
    let (epoch, upstream, revision) = split(version);
    // A `-` with nothing after it is an empty revision, which dpkg refuses.
    !upstream.is_empty()
        && !version.ends_with('-')
        && upstream.as_bytes()[0].is_ascii_digit()
        && epoch.is_none_or(|e| {
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) && e.parse::<i32>().is_ok()
        })
        && upstream
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+-~:".contains(&b))
        && revision
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+.~".contains(&b))
}

/// dpkg skips white space (C's `isspace`) around a version, and so do
/// the fields of a control file that versions come from.
fn trim(version: &str) -> &str {
    version.trim_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
}

fn split(version: &str) -> (Option<&str>, &str, &str) {
    let version = trim(version);
    let (epoch, rest) = match version.split_once(':') {
        Some((e, r)) => (Some(e), r),
        None => (None, version),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    (epoch, upstream, revision)
}

/// Compares two Debian versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    let epoch = |e: Option<&str>| e.and_then(|e| e.parse::<u64>().ok()).unwrap_or(0);
    epoch(ea)
        .cmp(&epoch(eb))
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        while i < a.len() && j < b.len() && a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if a.get(i).is_some_and(u8::is_ascii_digit) {
            return Ordering::Greater;
        }
        if b.get(j).is_some_and(u8::is_ascii_digit) {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_ordering() {
        // Pairs from dpkg's own test suite and deb-version(7).
        let less = [
            ("1.0", "1.1"),
            ("1.0~rc1", "1.0"),
            ("1.0~~", "1.0~"),
            ("1.0~", "1.0"),
            ("1.0", "1.0+b1"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1:0.1", "2:0.0"),
            ("9.9", "1:0.1"),
            ("1.2-1", "1.2-2"),
            ("1.2-9", "1.2-10"),
            ("1.2", "1.2-0.1"),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
            ("2.36-9+deb12u4", "2.36-9+deb12u10"),
            ("1.002", "1.10"),
        ];
        for (a, b) in less {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(compare("1.01", "1.1"), Ordering::Equal);
        assert_eq!(compare("0:1.0", "1.0"), Ordering::Equal);
        assert!(valid("1:2.3~rc1-4+deb12u1") && valid("1.0"));
        assert!(!valid("a1.0") && !valid("") && !valid("x:1.0") && !valid("1.0 1"));
        // Found by the differential test against dpkg (tests/diff): dpkg
        // skips white space around a version and refuses an empty revision
        // or an epoch beyond a C int.
        assert!(valid(" 2-1") && valid("1 \t"));
        assert_eq!(compare(" 2-1", "10"), Ordering::Less);
        assert_eq!(compare("1 ", "1"), Ordering::Equal);
        assert!(!valid("1.0-") && !valid("0-~-") && !valid("3000000000:1.0"));
    }
}
