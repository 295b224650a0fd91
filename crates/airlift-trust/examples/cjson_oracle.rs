//! Prints airlift's canonical JSON of documents, for the differential test
//! against securesystemslib's encoder, the one python-tuf signs and verifies
//! with (`tests/diff/run.sh`). It is a test tool, not part of the product.
//!
//! Reads one JSON document per line on standard input and prints, per line,
//! the hex of its canonical form, or `error` when it has none (a float, or
//! text that is not JSON).

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
    airlift_test_support::answer_lines(answer)
}
