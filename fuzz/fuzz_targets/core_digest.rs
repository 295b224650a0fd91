//! Digests (`sha256:<hex>`, bare hex, JSON strings) and integrity strings
//! (SRI, hex SHA-1): a digest that parses must print back as it was read.
#![no_main]

use std::str::FromStr;

use airlift_core::{Digest, Integrity};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    if let Ok(digest) = Digest::from_str(text) {
        assert_eq!(digest.to_string(), text);
    }
    if let Ok(digest) = Digest::from_hex(text) {
        assert_eq!(digest.hex(), text);
    }
    let _ = serde_json::from_slice::<Digest>(data);
    if let Some(integrity) = Integrity::parse_sri(text) {
        let _ = Integrity::parse_sri(&integrity.to_sri()).expect("an SRI string reads back");
    }
    let _ = Integrity::from_sha1_hex(text);
});
