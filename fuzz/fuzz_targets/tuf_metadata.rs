//! TUF metadata handling: a root read as a trust anchor (our reader and
//! tough's, as `inspect_root` uses it), and the signature tally and its
//! message over every role of that document.
#![no_main]

use airlift_trust::roles::{self, RootInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = airlift_fuzz::scratch_file("1.root.json", data);
    let _ = airlift_trust::verify::inspect_root(&path);
    let Ok(file) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(root) = RootInfo::parse(data) else {
        return;
    };
    for (name, role) in &root.roles {
        if let Ok(tally) = roles::tally(&root, name, &file) {
            let _ = tally.met();
            let _ = tally.describe(&root);
        }
        let _ = roles::keep_valid(&root, name, &file);
        for keyid in &role.keyids {
            let _ = root.describe(keyid);
        }
    }
});
