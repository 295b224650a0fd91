//! Prints what an OCI image layout holds, one JSON line per package: `{kind,name,version,purl}`.
//! `cargo run -p airlift-inventory --example inspect -- <oci-layout-dir>`; what
//! `tests/inventory/syft.sh` compares with syft when its `INSPECT` names it (by default it runs
//! `airlift sbom --image oci-layout:<dir>`). Follows `index.json` to the first
//! image manifest (through an image index, to its first manifest), then reads the layers in order.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use airlift_inventory::{Limits, decompressed, inspect_layers};

fn blob(layout: &Path, digest: &str) -> Result<PathBuf, String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("bad digest {digest}"))?;
    if !hex.chars().all(|character| character.is_ascii_hexdigit()) || algorithm.contains('/') {
        return Err(format!("bad digest {digest}"));
    }
    Ok(layout.join("blobs").join(algorithm).join(hex))
}

fn json(path: &Path) -> Result<serde_json::Value, String> {
    let mut text = String::new();
    File::open(path)
        .and_then(|file| file.take(16 << 20).read_to_string(&mut text))
        .map_err(|error| format!("{}: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))
}

fn manifest(layout: &Path) -> Result<serde_json::Value, String> {
    let mut document = json(&layout.join("index.json"))?;
    // Follow indexes until a manifest with layers; bounded, as an index may point to itself.
    for _ in 0..8 {
        if document.get("layers").is_some() {
            return Ok(document);
        }
        let digest = document
            .get("manifests")
            .and_then(|list| list.get(0))
            .and_then(|first| first.get("digest"))
            .and_then(|digest| digest.as_str())
            .ok_or("index without manifests")?
            .to_string();
        document = json(&blob(layout, &digest)?)?;
    }
    Err("index nesting too deep".to_string())
}

fn run(layout: &Path) -> Result<(), String> {
    let manifest = manifest(layout)?;
    let mut paths = Vec::new();
    for layer in manifest
        .get("layers")
        .and_then(|layers| layers.as_array())
        .ok_or("manifest without layers")?
    {
        let digest = layer
            .get("digest")
            .and_then(|digest| digest.as_str())
            .ok_or("layer without digest")?;
        paths.push(blob(layout, digest)?);
    }
    let mut readers = Vec::new();
    for path in &paths {
        let file = File::open(path).map_err(|error| format!("{}: {error}", path.display()))?;
        readers.push(decompressed(file).map_err(|error| format!("{}: {error}", path.display()))?);
    }
    let inventory =
        inspect_layers(readers, &Limits::default()).map_err(|error| error.to_string())?;
    for package in &inventory.packages {
        let line = serde_json::json!({"kind": package.kind, "name": package.name, "version": package.version, "purl": package.purl});
        println!("{line}");
    }
    for reason in &inventory.skipped {
        eprintln!("skipped {reason}");
    }
    Ok(())
}

fn main() {
    let Some(layout) = std::env::args_os().nth(1) else {
        eprintln!("usage: inspect <oci-layout-dir>");
        std::process::exit(2);
    };
    if let Err(error) = run(Path::new(&layout)) {
        eprintln!("inspect: {error}");
        std::process::exit(1);
    }
}
