//! Answers Debian version questions with airlift's own code, for the
//! differential test against `dpkg --compare-versions` (`tests/diff/run.sh`).
//! It is a test tool, not part of the product.
//!
//! Reads one case per line on standard input, fields separated by tabs, and
//! prints one answer per line:
//!
//! - `V <version>`: `valid` or `invalid`;
//! - `C <a> <b>`: `-1`, `0` or `1`.

use std::cmp::Ordering;
use std::io::{BufRead, Write};

use airlift_apt::version::{compare, valid};

fn answer(line: &str) -> String {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.as_slice() {
        ["V", text] => if valid(text) { "valid" } else { "invalid" }.into(),
        ["C", a, b] => match compare(a, b) {
            Ordering::Less => "-1".into(),
            Ordering::Equal => "0".into(),
            Ordering::Greater => "1".into(),
        },
        _ => format!("unknown case {line:?}"),
    }
}

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        writeln!(out, "{}", answer(&line?))?;
    }
    out.flush()
}
