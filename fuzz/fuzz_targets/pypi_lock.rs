//! Python lockfiles: the first byte chooses the format as the file name
//! does (0: `requirements.txt`, 1: `pylock.toml`, 2: `uv.lock`), the rest
//! is the text. A `requirements.txt` may include others with `-r`, read
//! relative to an empty scratch directory.
#![no_main]

use airlift_pypi::lockfile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Some(text) = airlift_fuzz::text(rest) else {
        return;
    };
    let name = match selector % 3 {
        0 => "requirements.txt",
        1 => "pylock.toml",
        _ => "uv.lock",
    };
    let path = airlift_fuzz::scratch_dir().join("lock").join(name);
    if let Ok(pins) = lockfile::parse(&path, text) {
        for pin in &pins {
            let _ = lockfile::check_version(pin);
        }
    }
});
