//! Debian `Release` files (also the text of a verified `InRelease`).
#![no_main]

use airlift_apt::release::Release;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let Ok(release) = Release::parse(text) else {
        return;
    };
    for field in ["date", "valid-until"] {
        let _ = release.time(field);
    }
    for field in ["architectures", "components"] {
        let _ = release.list(field);
    }
    let _ = release.get("acquire-by-hash");
});
