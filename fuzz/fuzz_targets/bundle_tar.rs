//! The strict tar reader of bundles, with the entry-name checks and size
//! caps import applies to what it yields.
#![no_main]

use std::io::Read;
use std::path::Path;

use airlift_bundle::{BundleError, format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut visit = |name: &str, size: u64, reader: &mut dyn Read| {
        let kind = format::classify(name)?;
        let limit = format::metadata_limit(&kind);
        if let format::EntryKind::Metadata(file) = &kind {
            let _ = format::root_version(file);
        }
        let mut buffer = Vec::new();
        reader
            .take(limit.min(size))
            .read_to_end(&mut buffer)
            .map_err(|e| BundleError::Damaged {
                path: name.into(),
                reason: e.to_string(),
            })?;
        Ok(())
    };
    let _ = airlift_bundle::read_tar(Path::new("fuzz.tar"), data, &mut visit);
});
