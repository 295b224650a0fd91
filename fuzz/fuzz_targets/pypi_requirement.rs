//! PEP 508 dependency specifiers and markers, evaluated for a few targets.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use airlift_pypi::requirement::{self, Requirement};
use airlift_pypi::tags::{self, Target};
use libfuzzer_sys::fuzz_target;

fn targets() -> &'static [Target] {
    static TARGETS: OnceLock<Vec<Target>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        tags::targets(
            &["3.8".into(), "3.12.1".into()],
            &[
                "manylinux_2_28_x86_64".into(),
                "macosx_11_0_arm64".into(),
                "win_amd64".into(),
            ],
        )
        .expect("the fuzz targets parse")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let _ = requirement::valid_name(text);
    let _ = requirement::normalize(text);
    let extras: BTreeSet<String> = ["test".to_owned()].into();
    if let Ok(req) = Requirement::parse(text) {
        let _ = req.key();
        for target in targets() {
            let _ = req.applies(&target.env, &extras);
        }
    }
    if let Ok(marker) = requirement::parse_marker(text) {
        for target in targets() {
            let _ = marker.evaluate(&target.env, &extras);
        }
    }
});
