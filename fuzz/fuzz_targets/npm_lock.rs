//! `package-lock.json` and `npm-shrinkwrap.json`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let _ = airlift_npm::lockfile::parse(Path::new("package-lock.json"), text);
});
