//! Prints what a host inventory file lists, one JSON line per package: `{kind,name,version,purl}`,
//! and what was skipped on stderr.
//! `cargo run -p airlift-inventory --example read -- <file>` (a dpkg status file, `pip inspect` or
//! `pip freeze` output, `npm ls --json --all`, a `Cargo.lock`, a CycloneDX JSON SBOM).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read;

use airlift_inventory::{Limits, read_inventory_with};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: read <inventory-file>");
        std::process::exit(2);
    };
    let limits = Limits::default();
    let mut bytes = Vec::new();
    let read = std::fs::File::open(&path).and_then(|file| {
        file.take(limits.max_status_bytes + 1)
            .read_to_end(&mut bytes)
    });
    if let Err(error) = read {
        eprintln!("read: {path}: {error}");
        std::process::exit(1);
    }
    match read_inventory_with(&bytes, &path, &limits) {
        Ok(inventory) => {
            for package in &inventory.packages {
                let line = serde_json::json!({"kind": package.kind, "name": package.name, "version": package.version, "purl": package.purl});
                println!("{line}");
            }
            for reason in &inventory.skipped {
                eprintln!("skipped {reason}");
            }
        }
        Err(error) => {
            eprintln!("read: {error}");
            std::process::exit(1);
        }
    }
}
