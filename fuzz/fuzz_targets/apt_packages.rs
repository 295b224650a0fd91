//! Debian `Packages` indexes: the control-file paragraphs and, per stanza,
//! the fields apt collection reads (version, file name, relations).
#![no_main]

use airlift_apt::{collect, control, relation, version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(paragraphs) = control::paragraphs(&text) else {
        return;
    };
    let mut previous: Option<&str> = None;
    for p in &paragraphs {
        if let Some(package) = p.get("Package") {
            let _ = relation::valid_name(package);
        }
        if let Some(v) = p.get("Version") {
            if version::valid(v) {
                if let Some(before) = previous {
                    let _ = version::compare(before, v);
                }
                previous = Some(v);
            }
        }
        if let Some(filename) = p.get("Filename") {
            let _ = collect::valid_filename(filename);
        }
        for field in ["Pre-Depends", "Depends", "Recommends", "Provides"] {
            if let Some(value) = p.get(field)
                && let Ok(alternatives) = relation::parse(&value.replace('\n', " "))
            {
                for rel in alternatives.iter().flatten() {
                    if let Some(v) = previous {
                        let _ = rel.accepts(v);
                    }
                }
            }
        }
    }
});
