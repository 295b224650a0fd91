//! `Cargo.lock`, format 3 and 4.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let _ = airlift_cargo::lockfile::parse(Path::new("Cargo.lock"), text);
});
