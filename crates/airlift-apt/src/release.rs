//! `Release` files: the suite's fields and the SHA-256 of every index.

use std::collections::BTreeMap;

use airlift_core::Digest;

use crate::control;

/// A parsed Release file.
#[derive(Clone, Debug, Default)]
pub struct Release {
    /// Single-line fields by lower-case name (`origin`, `codename`, …).
    pub fields: BTreeMap<String, String>,
    /// `SHA256:` entries: relative path → (digest, size).
    pub sha256: BTreeMap<String, (Digest, u64)>,
}

impl Release {
    /// Parses a Release text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let paragraphs = control::paragraphs(text)?;
        let [paragraph] = paragraphs.as_slice() else {
            return Err(format!(
                "expected one paragraph, found {}",
                paragraphs.len()
            ));
        };
        let mut release = Self::default();
        for line in paragraph.text.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if !value.is_empty() {
                    release
                        .fields
                        .insert(name.trim().to_ascii_lowercase(), value.to_owned());
                }
            }
        }
        if let Some(list) = paragraph.get("SHA256") {
            for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let parts: Vec<&str> = line.split_whitespace().collect();
                let [hash, size, path] = parts.as_slice() else {
                    return Err(format!(
                        "SHA256 line {line:?} is not \"<hash> <size> <path>\""
                    ));
                };
                let digest = Digest::from_hex(hash)
                    .map_err(|_| format!("SHA256 line {line:?}: not a SHA-256"))?;
                let size = size
                    .parse()
                    .map_err(|_| format!("SHA256 line {line:?}: bad size"))?;
                release.sha256.insert((*path).to_owned(), (digest, size));
            }
        }
        if release.sha256.is_empty() {
            return Err("no SHA256 list (MD5Sum and SHA1 alone are refused)".into());
        }
        Ok(release)
    }

    /// A field by lower-case name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A space-separated list field.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// A date field (RFC 2822, as `Date` and `Valid-Until` are written).
    pub fn time(&self, name: &str) -> Result<Option<jiff::Timestamp>, String> {
        let Some(text) = self.get(name) else {
            return Ok(None);
        };
        parse_date(text)
            .map(Some)
            .ok_or_else(|| format!("{name}: {text:?} is not an RFC 2822 date"))
    }
}

/// Parses an RFC 2822 date as Release files write them (`UTC` allowed).
pub fn parse_date(text: &str) -> Option<jiff::Timestamp> {
    let normal = text
        .trim()
        .replace(" UTC", " +0000")
        .replace(" GMT", " +0000");
    jiff::fmt::rfc2822::parse(&normal)
        .ok()
        .map(|z| z.timestamp())
}

/// Formats a time as Release files write it.
pub fn format_date(time: jiff::Timestamp) -> String {
    time.strftime("%a, %d %b %Y %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_hashes_and_dates() {
        let hash = "a".repeat(64);
        let text = format!(
            "Origin: Debian\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nArchitectures: all amd64\nMD5Sum:\n 0123 1 x\nSHA256:\n {hash}  1484322 main/binary-amd64/Packages.xz\n"
        );
        let r = Release::parse(&text).expect("parses");
        assert_eq!(r.get("codename"), Some("bookworm"));
        assert_eq!(r.list("architectures"), ["all", "amd64"]);
        assert_eq!(r.sha256["main/binary-amd64/Packages.xz"].1, 1_484_322);
        let date = r.time("date").expect("date").expect("present");
        assert_eq!(format_date(date), "Sat, 11 Jul 2026 10:16:37 UTC");
        assert!(Release::parse("Origin: x\nMD5Sum:\n 00 1 a\n").is_err());
    }
}
