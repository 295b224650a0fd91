//! The licence a `.crate` states: `package.license` of the `Cargo.toml`
//! inside it, read after the download from the store's blob.
//!
//! The sparse index has no licence, so collect looks into the archive.
//! `cargo package` writes `Cargo.toml` among the first members (it sorts
//! paths, and upper case sorts before the sources), so the read stops
//! early; it is bounded all the same ([`SCAN_LIMIT`] of decompressed
//! archive, [`MEMBERS_LIMIT`] members, a manifest of at most
//! [`MANIFEST_LIMIT`]). A crate whose manifest is not found within those
//! bounds, or states `license-file` only, has no licence here.

use std::io::Read;

/// Most decompressed bytes of a `.crate` read to find its manifest.
pub const SCAN_LIMIT: u64 = 8 << 20;
/// Most archive members looked at.
pub const MEMBERS_LIMIT: usize = 256;
/// Largest manifest read.
pub const MANIFEST_LIMIT: u64 = 1 << 20;

/// The `package.license` of the `<name>-<version>/Cargo.toml` inside the
/// gzipped tar `archive`, as [`airlift_ecosystem::stated_license`] keeps
/// it. `None` when the archive cannot be read, has no such member within
/// the bounds, or the manifest states no licence.
pub fn crate_license(archive: impl Read, name: &str, version: &str) -> Option<String> {
    let wanted = format!("{name}-{version}/Cargo.toml");
    let decoder = flate2::read::GzDecoder::new(archive).take(SCAN_LIMIT);
    let mut tar = tar::Archive::new(decoder);
    for member in tar.entries().ok()?.take(MEMBERS_LIMIT) {
        let member = member.ok()?;
        let path = member.path().ok()?;
        if !path
            .to_str()
            .is_some_and(|p| p.eq_ignore_ascii_case(&wanted))
        {
            continue;
        }
        if member.header().size().ok()? > MANIFEST_LIMIT {
            return None;
        }
        let mut text = String::new();
        member.take(MANIFEST_LIMIT).read_to_string(&mut text).ok()?;
        let manifest: toml::Table = toml::from_str(&text).ok()?;
        return manifest
            .get("package")?
            .get("license")?
            .as_str()
            .and_then(airlift_ecosystem::stated_license);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `.crate`: a gzipped tar of `members`.
    pub(crate) fn archive(members: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, content) in members {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, path, content.as_bytes())
                .expect("appends");
        }
        let tar = builder.into_inner().expect("finishes");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, &tar).expect("compresses");
        encoder.finish().expect("finishes")
    }

    #[test]
    fn the_licence_comes_from_the_packaged_manifest() {
        let crate_file = archive(&[
            ("foo-1.0.0/.cargo_vcs_info.json", "{}"),
            (
                "foo-1.0.0/Cargo.toml.orig",
                "[package]\nlicense = \"wrong\"\n",
            ),
            (
                "foo-1.0.0/Cargo.toml",
                "[package]\nname = \"foo\"\nversion = \"1.0.0\"\nlicense = \"MIT OR Apache-2.0\"\n",
            ),
            ("foo-1.0.0/src/lib.rs", ""),
        ]);
        assert_eq!(
            crate_license(crate_file.as_slice(), "foo", "1.0.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
    }

    #[test]
    fn no_licence_without_a_readable_manifest_stating_one() {
        let file_only = archive(&[(
            "foo-1.0.0/Cargo.toml",
            "[package]\nname = \"foo\"\nlicense-file = \"LICENSE\"\n",
        )]);
        assert_eq!(crate_license(file_only.as_slice(), "foo", "1.0.0"), None);
        let other = archive(&[("bar-1.0.0/Cargo.toml", "[package]\nlicense = \"MIT\"\n")]);
        assert_eq!(crate_license(other.as_slice(), "foo", "1.0.0"), None);
        assert_eq!(crate_license(&b"not gzip"[..], "foo", "1.0.0"), None);
        let broken = archive(&[("foo-1.0.0/Cargo.toml", "[package\nlicense = \"MIT\"")]);
        assert_eq!(crate_license(broken.as_slice(), "foo", "1.0.0"), None);
    }
}
