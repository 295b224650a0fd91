//! The HTTP `Range` header parser: the first 8 bytes are the blob size
//! (little-endian), the rest the header value. A range it grants must lie
//! inside the blob.
#![no_main]

use airlift_http::{RangeRequest, parse_range};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (size, value) = data.split_at(8);
    let size = u64::from_le_bytes(size.try_into().expect("8 bytes"));
    let Some(value) = airlift_fuzz::text(value) else {
        return;
    };
    if let RangeRequest::Partial(start, end) = parse_range(value, size) {
        assert!(
            start <= end && end < size,
            "{value:?} on {size} bytes gave {start}-{end}"
        );
    }
});
