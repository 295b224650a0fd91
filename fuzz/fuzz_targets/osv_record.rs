//! OSV advisory records: parsing, then every range evaluated against a few
//! versions in SemVer and Go order, and the severity (CVSS vectors) read.
#![no_main]

use airlift_advisory::{GoOrder, SemverOrder, VersionOrder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = airlift_advisory::parse(data) else {
        return;
    };
    let orders: [&dyn VersionOrder; 2] = [&SemverOrder, &GoOrder];
    for affected in &record.affected {
        for order in orders {
            for version in ["0", "1.0.0", "1.0.0-rc.1", "v2.0.0+incompatible"] {
                let _ = affected.affects(version, order);
            }
        }
        let _ = affected.fixed_versions();
        let _ = airlift_advisory::severity(&record, affected);
    }
});
