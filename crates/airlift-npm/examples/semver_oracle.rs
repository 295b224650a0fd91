//! Answers node-semver questions with airlift's own range code, for the
//! differential test against the `semver` npm package (`tests/diff/run.sh`).
//! It is a test tool, not part of the product.
//!
//! Reads one case per line on standard input, fields separated by tabs, and
//! prints one answer per line:
//!
//! - `V <version>`: the version `parse_version` reads (`major.minor.patch`
//!   with its pre-release, build metadata left out), or `invalid`;
//! - `R <range>`: `valid` or `invalid`;
//! - `S <range> <version>`: `1` or `0` (does the version satisfy the
//!   range, with npm's default options), or `invalid`.

use airlift_npm::range::{Range, parse_version};

fn answer(line: &str) -> String {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["V", text] => match parse_version(text) {
            None => "invalid".into(),
            Some(v) if v.pre.is_empty() => format!("{}.{}.{}", v.major, v.minor, v.patch),
            Some(v) => format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre),
        },
        ["R", range] => match Range::parse(range) {
            Ok(_) => "valid".into(),
            Err(_) => "invalid".into(),
        },
        ["S", range, version] => match (Range::parse(range), parse_version(version)) {
            (Ok(range), Some(version)) => u8::from(range.satisfies(&version)).to_string(),
            _ => "invalid".into(),
        },
        _ => format!("unknown case {line:?}"),
    }
}

fn main() -> std::io::Result<()> {
    airlift_test_support::answer_lines(answer)
}
