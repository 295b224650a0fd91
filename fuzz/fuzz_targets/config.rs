//! `airlift.toml`: the document with every ecosystem's table name, then
//! each ecosystem's own table read strictly, as the ecosystems read them.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

const TABLES: &[&str] = &["files", "oci", "pypi", "cargo", "npm", "apt"];

fuzz_target!(|data: &[u8]| {
    let Some(text) = airlift_fuzz::text(data) else {
        return;
    };
    let path = Path::new("airlift.toml");
    if airlift_config::Config::parse(path, text, TABLES).is_err() {
        return;
    }
    let _ = airlift_config::table::<Vec<airlift_oci::spec::ImageSpec>>(path, text, "oci");
    let _ = airlift_config::table::<airlift_pypi::spec::PypiSpec>(path, text, "pypi");
    let _ = airlift_config::table::<airlift_cargo::spec::CargoSpec>(path, text, "cargo");
    let _ = airlift_config::table::<airlift_npm::spec::NpmSpec>(path, text, "npm");
    let _ = airlift_config::table::<Vec<airlift_apt::spec::AptSpec>>(path, text, "apt");
});
