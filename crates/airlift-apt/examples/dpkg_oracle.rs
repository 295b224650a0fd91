//! Answers Debian version questions with airlift's own code, for the
//! differential test against `dpkg --compare-versions` (`tests/diff/run.sh`).
//! It is a test tool, not part of the product.
//!
//! Reads one case per line on standard input, fields separated by tabs, and
//! prints one answer per line:
//!
//! - `V <version>`: `valid` or `invalid`;
//! - `C <a> <b>`: `-1`, `0` or `1`.

use airlift_apt::version::{compare, valid};

fn answer(line: &str) -> String {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["V", text] => if valid(text) { "valid" } else { "invalid" }.into(),
        ["C", a, b] => airlift_test_support::ordering(compare(a, b)),
        _ => format!("unknown case {line:?}"),
    }
}

fn main() -> std::io::Result<()> {
    airlift_test_support::answer_lines(answer)
}
