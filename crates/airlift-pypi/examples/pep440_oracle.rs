//! Answers PEP 440 questions with airlift's own code, for the differential
//! test against Python's `packaging` (`tests/diff/run.sh`). It is a test
//! tool, not part of the product: the `airlift` binary has no such command.
//!
//! Reads one case per line on standard input, fields separated by tabs, and
//! prints one answer per line:
//!
//! - `V <version>`: `invalid`, or `valid <pre> <post>` (1 or 0 for
//!   `is_prerelease` and `is_postrelease`);
//! - `C <a> <b>`: `-1`, `0` or `1`, or `invalid` when either does not parse;
//! - `S <specifiers> <version>`: `invalid-spec`, `invalid-version`, or
//!   `<contains> <admits-prereleases>` (1 or 0), where contains ignores the
//!   pre-release policy, as `packaging`'s `contains(v, prereleases=True)`.

use airlift_pypi::version::{Specifiers, Version};

fn answer(line: &str) -> String {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["V", text] => match Version::parse(text) {
            None => "invalid".into(),
            Some(v) => format!(
                "valid {} {}",
                u8::from(v.is_prerelease()),
                u8::from(v.is_postrelease())
            ),
        },
        ["C", a, b] => match (Version::parse(a), Version::parse(b)) {
            (Some(a), Some(b)) => airlift_test_support::ordering(a.cmp(&b)),
            _ => "invalid".into(),
        },
        ["S", spec, version] => match (Specifiers::parse(spec), Version::parse(version)) {
            (Err(_), _) => "invalid-spec".into(),
            (_, None) => "invalid-version".into(),
            (Ok(spec), Some(version)) => format!(
                "{} {}",
                u8::from(spec.contains(&version)),
                u8::from(spec.admits_prereleases())
            ),
        },
        _ => format!("unknown case {line:?}"),
    }
}

fn main() -> std::io::Result<()> {
    airlift_test_support::answer_lines(answer)
}
