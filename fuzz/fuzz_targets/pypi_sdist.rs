//! The sdist reader: gzip, then its own tar scan for a top-level `PKG-INFO`
//! (with GNU long names and PAX paths), then the metadata it finds.
#![no_main]

use std::io::Cursor;

use airlift_pypi::metadata::{self, Metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(bytes)) = metadata::sdist_metadata("fuzz-1.0.tar.gz", &mut Cursor::new(data)) {
        let _ = Metadata::parse(&bytes);
    }
});
