//! airlift's own `.xz` container reader (around lzma-rust2's LZMA2), with a
//! small output cap so a bomb stops quickly.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Output cap: the real caller passes the size the signed Release lists.
const LIMIT: u64 = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let result = airlift_apt::xz::decode(data, &mut out, LIMIT);
    assert!(out.len() as u64 <= LIMIT, "wrote past the limit");
    if let Ok(written) = result {
        assert_eq!(written, out.len() as u64);
    }
});
