//! Sparse-index files (one JSON line per version): the first line is the
//! crate name asked for, the rest the file as the upstream serves it.
#![no_main]

use airlift_cargo::index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let Some(name) = airlift_fuzz::text(&data[..split]) else {
        return;
    };
    let body = data.get(split + 1..).unwrap_or_default();
    if index::valid_name(name) {
        let _ = index::path(name);
    }
    let Ok(releases) = index::parse_file(name, body) else {
        return;
    };
    for release in &releases {
        for dep in &release.line.deps {
            let _ = (dep.crate_name(), dep.kind());
            let _ = semver::VersionReq::parse(&dep.req);
        }
        let _ = release.feature("default");
        let _ = index::entry(release, 1, None);
    }
});
