//! npm's node-semver ranges and versions: the first line is a range, the
//! rest versions (one a line) checked against it and ordered.
#![no_main]

use airlift_npm::range::{self, Range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let parsed = Range::parse(first).ok();
    let mut versions = Vec::new();
    for line in std::iter::once(first).chain(rest.lines()) {
        if let Some(v) = range::parse_version(line) {
            if let Some(r) = &parsed {
                let _ = r.satisfies(&v);
            }
            versions.push(v);
        }
    }
    versions.sort_by(range::compare);
});
