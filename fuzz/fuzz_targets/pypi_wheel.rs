//! The zip reader behind wheel metadata (`<name>.dist-info/METADATA`), then
//! the metadata it finds.
#![no_main]

use std::io::Cursor;

use airlift_pypi::metadata::{self, Metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(bytes)) = metadata::wheel_metadata(&mut Cursor::new(data)) {
        let _ = Metadata::parse(&bytes);
    }
});
