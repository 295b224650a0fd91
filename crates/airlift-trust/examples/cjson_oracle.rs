//! Prints airlift's canonical JSON of documents, for the differential test
//! against securesystemslib's encoder, the one python-tuf signs and verifies
//! with (`tests/diff/run.sh`). It is a test tool, not part of the product.
//!
//! Reads one JSON document per line on standard input and prints, per line,
//! the hex of its canonical form, or `error` when it has none (a float, or
//! text that is not JSON).

use std::io::{BufRead, Write};

use airlift_trust::metadata::canonical_json;

fn answer(line: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(line) {
        Err(_) => "error".into(),
        Ok(value) => match canonical_json(&value) {
            bytes if bytes.is_empty() => "error".into(),
            bytes => hex::encode(bytes),
        },
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
