//! cargo-auditable data: the zlib-compressed JSON in a Rust binary's `.dep-v0` section (older
//! versions: `.rust-deps-v0`), `{"packages":[{"name","version","source","kind","root",..}]}`.
//!
//! Boundary: decompresses within a caller's limit and keeps the packages built into the binary
//! (`kind` "runtime", the default), as syft's cargo-auditable cataloger does; build-time packages
//! (build scripts, proc macros) are not in the binary and are left out.

use std::io::Read;

/// One package the binary was built from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub(crate) struct Package {
    pub name: String,
    pub version: String,
    /// The public registry's name ([`crate::OSV_RUST`]), `registry`, `git`, `local` or another
    /// source kind.
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub root: bool,
}

#[derive(serde::Deserialize)]
struct Document {
    packages: Vec<Package>,
}

/// Decompresses and reads a `.dep-v0` section, refusing more than `limit` decompressed bytes.
pub(crate) fn parse(compressed: &[u8], limit: u64) -> Result<Vec<Package>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(limit.saturating_add(1))
        .read_to_end(&mut json)
        .map_err(|error| format!("cargo-auditable data does not decompress: {error}"))?;
    if json.len() as u64 > limit {
        return Err(format!(
            "cargo-auditable data decompresses to more than {limit} bytes"
        ));
    }
    let document: Document = serde_json::from_slice(&json)
        .map_err(|error| format!("cargo-auditable data is not the expected JSON: {error}"))?;
    Ok(document
        .packages
        .into_iter()
        .filter(|package| package.kind.as_deref().is_none_or(|kind| kind == "runtime"))
        .collect())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Write;

    pub(crate) fn compress(json: &str) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(json.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn keeps_runtime_packages() {
        let json = r#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1],"root":true},{"name":"itoa","version":"1.0.11","source":"@RUST@"},{"name":"cc","version":"1.0.0","source":"@RUST@","kind":"build"}]}"#.replace("@RUST@", crate::OSV_RUST);
        let packages = parse(&compress(&json), 1 << 20).unwrap();
        let names: Vec<&str> = packages
            .iter()
            .map(|package| package.name.as_str())
            .collect();
        assert_eq!(names, vec!["app", "itoa"]);
        assert!(parse(&compress(&json), 10).is_err());
        assert!(parse(b"not zlib", 1 << 20).is_err());
    }
}
