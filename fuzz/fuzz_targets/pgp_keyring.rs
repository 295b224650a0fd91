//! OpenPGP keyrings, binary or armored (packets, armor, keys, subkey
//! bindings, self-signatures).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ring) = airlift_pgp::Keyring::parse(data) {
        let _ = ring.fingerprints();
    }
    if let Some(text) = airlift_fuzz::text(data) {
        let _ = airlift_pgp::dearmor(text);
    }
});
