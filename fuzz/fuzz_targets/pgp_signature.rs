//! OpenPGP signatures against a fixed keyring (an Ed25519 key with a signing
//! subkey and an RSA key, `fuzz/keys/signers.asc`): the first byte chooses a
//! cleartext-signed message (`InRelease`, even) or a detached signature
//! (`Release.gpg`, odd) over `DETACHED_DATA`; the rest is the input.
#![no_main]

use std::sync::OnceLock;

use airlift_pgp::Keyring;
use libfuzzer_sys::fuzz_target;

/// What the detached signatures of the seed corpus sign.
const DETACHED_DATA: &[u8] = b"airlift fuzz detached data\n";

fn keyring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        Keyring::parse(include_bytes!("../keys/signers.asc")).expect("the fuzz keyring parses")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        if let Ok((text, _signer)) = keyring().verify_cleartext(input) {
            // What apt collection does next with a verified InRelease.
            if let Ok(text) = std::str::from_utf8(&text) {
                let _ = airlift_apt::release::Release::parse(text);
            }
        }
    } else {
        let _ = keyring().verify_detached(DETACHED_DATA, input);
    }
});
