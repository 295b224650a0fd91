//! Wheel and sdist filenames with their tags, and platform tags as
//! `[pypi] platforms` gives them: the first line is a filename, the second a
//! comma-separated list of platform tags.
#![no_main]

use airlift_pypi::tags;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let (filename, platforms) = text.split_once('\n').unwrap_or((text, "any"));
    let project = filename
        .split('-')
        .next()
        .map(airlift_pypi::requirement::normalize)
        .unwrap_or_default();
    let parsed = tags::parse_filename(filename, &project);
    let platforms: Vec<String> = platforms.split(',').map(str::to_owned).collect();
    let Ok(targets) = tags::targets(&["3.11".into()], &platforms) else {
        return;
    };
    for target in &targets {
        if let Some(f) = &parsed {
            let _ = target.accepts_wheel(&f.tags);
        }
        let _ = target.accepts_python(Some(filename));
    }
});
