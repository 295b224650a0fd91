//! Core metadata as a PEP 658 `.metadata` file serves it, and the
//! requirements and `Requires-Python` it declares.
#![no_main]

use airlift_pypi::metadata::Metadata;
use airlift_pypi::requirement::Requirement;
use airlift_pypi::version::{Specifiers, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(metadata) = Metadata::parse(data) else {
        return;
    };
    let _ = Version::parse(&metadata.version);
    if let Some(requires) = &metadata.requires_python {
        let _ = Specifiers::parse(requires);
    }
    for dist in &metadata.requires_dist {
        let _ = Requirement::parse(dist);
    }
});
