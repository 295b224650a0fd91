//! PEP 440 versions and specifier sets: the text up to the first `;` is a
//! specifier set, the rest versions (one a line) checked against it and
//! ordered.
#![no_main]

use airlift_pypi::version::{Specifiers, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let (spec, rest) = text.split_once(';').unwrap_or((text, ""));
    let specifiers = Specifiers::parse(spec).ok();
    if let Some(s) = &specifiers {
        let _ = s.admits_prereleases();
        let _ = s.is_exact_pin();
    }
    let mut versions = Vec::new();
    for line in std::iter::once(spec).chain(rest.lines()) {
        if let Some(v) = Version::parse(line) {
            let _ = (v.is_prerelease(), v.is_postrelease(), v.major_minor());
            if let Some(s) = &specifiers {
                let _ = s.contains(&v);
            }
            versions.push(v);
        }
    }
    // The order must be total: sorting must not panic.
    versions.sort();
});
