//! The distribution package databases and `os-release`: dpkg's `status` (and distroless
//! `status.d/*` files, one stanza each), apk's `installed`, and the `KEY=value` lines of
//! `os-release`.
//!
//! Boundary: parses bytes the caller has already bounded; turns stanzas into plain records and
//! leaves purls and ecosystems, which need the image's distribution, to the caller.

use crate::Distro;

/// One dpkg stanza's fields that identify the package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct DebEntry {
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// The `Source:` field's name, without its `(version)`.
    pub source: String,
    /// The `(version)` of the `Source:` field, when it differs from the binary's.
    pub source_version: String,
    /// The `Status:` field; empty in distroless `status.d` files, which carry none.
    pub status: String,
}

impl DebEntry {
    /// Whether dpkg considers the package installed. A stanza without `Status:` (distroless
    /// `status.d`) is taken as installed: those files exist only for installed packages.
    pub fn installed(&self) -> bool {
        if self.status.is_empty() {
            return true;
        }
        let words: Vec<&str> = self.status.split_whitespace().collect();
        words == ["install", "ok", "installed"]
    }

    /// The `upstream` purl qualifier: `source@version` or `source`, empty when the source package
    /// is the binary package itself.
    pub fn upstream(&self) -> String {
        if self.source.is_empty() {
            return String::new();
        }
        if self.source_version.is_empty() {
            self.source.clone()
        } else {
            format!("{}@{}", self.source, self.source_version)
        }
    }
}

/// Splits deb822-style text into stanzas of (field, value) pairs; continuation lines are appended
/// to the previous field's value with a newline.
fn stanzas(text: &str) -> Result<Vec<Vec<(String, String)>>, String> {
    let mut all = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match current.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line.trim());
                }
                None => {
                    return Err(format!(
                        "line {}: continuation line with no field before it",
                        number + 1
                    ));
                }
            }
            continue;
        }
        match line.split_once(':') {
            Some((field, value)) if !field.trim().is_empty() => {
                current.push((field.trim().to_string(), value.trim().to_string()))
            }
            // dpkg itself refuses such a line; a lenient reader would guess, so this one refuses too.
            _ => return Err(format!("line {}: not a `Field: value` line", number + 1)),
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    Ok(all)
}

/// Records read from a database file, and the records left out with why (one bad record does not
/// cost the others).
pub(crate) type Records<T> = (Vec<T>, Vec<String>);

/// Reads a dpkg status file (or a `status.d` file): every stanza with a `Package:` field.
pub(crate) fn parse_dpkg(bytes: &[u8]) -> Result<Records<DebEntry>, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for stanza in stanzas(text)? {
        let mut entry = DebEntry::default();
        for (field, value) in stanza {
            match field.to_ascii_lowercase().as_str() {
                "package" => entry.package = value,
                "version" => entry.version = value,
                "architecture" => entry.architecture = value,
                "status" => entry.status = value,
                "source" => {
                    // `Source: name (version)` names the source package's version when it differs.
                    match value.split_once('(') {
                        Some((name, version)) => {
                            entry.source = name.trim().to_string();
                            entry.source_version = version.trim_end_matches(')').trim().to_string();
                        }
                        None => entry.source = value,
                    }
                }
                _ => {}
            }
        }
        if entry.package.is_empty() {
            continue;
        }
        if entry.version.is_empty() {
            problems.push(format!("package {} has no Version", entry.package));
            continue;
        }
        entries.push(entry);
    }
    Ok((entries, problems))
}

/// One apk database record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ApkEntry {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub license: String,
    pub origin: String,
}

/// Reads apk's `lib/apk/db/installed`: `P:` name, `V:` version, `A:` arch, `L:` license, `o:` origin.
pub(crate) fn parse_apk(bytes: &[u8]) -> Result<Records<ApkEntry>, String> {
    let text = std::str::from_utf8(bytes).map_err(|error| format!("not UTF-8: {error}"))?;
    let mut records: Records<ApkEntry> = (Vec::new(), Vec::new());
    let mut current = ApkEntry::default();
    let finish = |current: &mut ApkEntry, records: &mut Records<ApkEntry>| {
        let entry = std::mem::take(current);
        if entry == ApkEntry::default() {
            return;
        }
        if entry.name.is_empty() || entry.version.is_empty() {
            records.1.push(format!(
                "a record without P: or V: (P:{} V:{})",
                entry.name, entry.version
            ));
            return;
        }
        records.0.push(entry);
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            finish(&mut current, &mut records);
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        match key {
            "P" => current.name = value.to_string(),
            "V" => current.version = value.to_string(),
            "A" => current.architecture = value.to_string(),
            "L" => current.license = value.to_string(),
            "o" => current.origin = value.to_string(),
            _ => {}
        }
    }
    finish(&mut current, &mut records);
    Ok(records)
}

/// Reads `os-release`: `ID`, `VERSION_ID` and `ID_LIKE`, with shell-style quotes removed.
pub(crate) fn parse_os_release(bytes: &[u8]) -> Option<Distro> {
    let text = String::from_utf8_lossy(bytes);
    let mut distro = Distro::default();
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim() {
            "ID" => distro.id = value,
            "VERSION_ID" => distro.version_id = value,
            "ID_LIKE" => distro.id_like = value.split_whitespace().map(str::to_string).collect(),
            _ => {}
        }
    }
    if distro.id.is_empty() {
        None
    } else {
        Some(distro)
    }
}

fn unquote(value: &str) -> String {
    let inner = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .or_else(|| {
            value
                .strip_prefix('\'')
                .and_then(|rest| rest.strip_suffix('\''))
        })
        .unwrap_or(value);
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for character in inner.chars() {
        if escaped {
            out.push(character);
            escaped = false;
        } else if character == '\\' {
            escaped = true;
        } else {
            out.push(character);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn dpkg_stanzas_and_status() {
        let text = b"Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nArchitecture: amd64\nDescription: tool\n more text\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\nSource: other (2)\n";
        let (entries, problems) = parse_dpkg(text).unwrap();
        assert!(problems.is_empty());
        assert_eq!(entries.len(), 2);
        assert!(entries[0].installed());
        assert!(!entries[1].installed());
        assert_eq!(entries[1].upstream(), "other@2");
        assert!(parse_dpkg(b" continuation first\n").is_err());
        let (entries, problems) = parse_dpkg(b"Package: x\n\nPackage: y\nVersion: 1\n").unwrap();
        assert_eq!(
            (entries.len(), problems),
            (1, vec!["package x has no Version".to_string()])
        );
    }

    #[test]
    fn apk_records() {
        let text = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\nL:GPL-2.0-only\n\n";
        let (entries, _) = parse_apk(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].license, "MIT");
        let (entries, problems) = parse_apk(b"P:x\n\nP:y\nV:1\n").unwrap();
        assert_eq!((entries.len(), problems.len()), (1, 1));
    }

    #[test]
    fn os_release() {
        let distro = parse_os_release(
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        )
        .unwrap();
        assert_eq!(
            (distro.id.as_str(), distro.version_id.as_str()),
            ("debian", "12")
        );
        assert!(parse_os_release(b"NAME=x\n").is_none());
    }
}
