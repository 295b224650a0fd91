//! The split-bundle table of contents (`<bundle>.toc.json`), which is not
//! signed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = airlift_fuzz::scratch_file("bundle.tar.zst.toc.json", data);
    if let Ok(toc) = airlift_bundle::parts::read_toc(&path) {
        // A table of contents that reads back must be safe to use.
        assert!(!toc.parts.is_empty());
        for part in &toc.parts {
            assert!(!part.name.contains('/') && !part.name.starts_with('.'));
        }
        let _ = airlift_bundle::parts::part_path(&path, toc.parts.len());
    }
});
