//! Sparse index files: paths, lines, and the index entries they become.

use std::collections::BTreeMap;

use airlift_core::Digest;
use airlift_store::Entry;
use serde::Deserialize;

/// Key prefix of crate versions: `c:<lowercase name>/<version>`.
pub const CRATE: &str = "c:";

/// Whether `name` is a valid crate name (ASCII alphanumerics, `-`, `_`;
/// starting with a letter; at most 64 characters).
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// The index path of a crate: `1/a`, `2/ab`, `3/a/abc`, `ab/cd/abcd…`, lowercased.
pub fn path(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.len() {
        1 => format!("1/{lower}"),
        2 => format!("2/{lower}"),
        3 => format!("3/{}/{lower}", &lower[..1]),
        _ => format!("{}/{}/{lower}", &lower[..2], &lower[2..4]),
    }
}

/// One dependency of an index line.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Dep {
    /// The name the dependent uses (the crate's name unless renamed).
    pub name: String,
    /// The version requirement.
    pub req: String,
    /// Features the dependent enables.
    #[serde(default)]
    pub features: Vec<String>,
    /// Whether it is optional (enabled by a feature).
    #[serde(default)]
    pub optional: bool,
    /// Whether the dependency's default features are enabled.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// A `cfg(...)` or target triple, when platform-specific.
    #[serde(default)]
    pub target: Option<String>,
    /// `normal`, `build` or `dev`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Another registry's index URL, for a dependency from elsewhere.
    #[serde(default)]
    pub registry: Option<String>,
    /// The real crate name, when renamed.
    #[serde(default)]
    pub package: Option<String>,
}

fn yes() -> bool {
    true
}

impl Dep {
    /// The crate this dependency names.
    pub fn crate_name(&self) -> &str {
        self.package.as_deref().unwrap_or(&self.name)
    }
    /// `normal`, `build` or `dev`.
    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("normal")
    }
}

/// One version of a crate, as an index line says.
#[derive(Clone, Debug, Deserialize)]
pub struct Line {
    /// The crate name (original case).
    pub name: String,
    /// The version.
    pub vers: String,
    /// Dependencies.
    #[serde(default)]
    pub deps: Vec<Dep>,
    /// SHA-256 of the `.crate`, hex.
    pub cksum: String,
    /// Features.
    #[serde(default)]
    pub features: BTreeMap<String, Vec<String>>,
    /// Features using the newer syntax (`dep:`, `?/`).
    #[serde(default)]
    pub features2: Option<BTreeMap<String, Vec<String>>>,
    /// Yanked.
    #[serde(default)]
    pub yanked: bool,
}

/// A parsed index line and its exact text.
#[derive(Clone, Debug)]
pub struct Release {
    /// The parsed line.
    pub line: Line,
    /// The version.
    pub version: semver::Version,
    /// The `.crate` digest.
    pub cksum: Digest,
    /// The line exactly as the upstream wrote it (no newline).
    pub raw: String,
}

impl Release {
    /// Every feature table entry, old and new syntax.
    pub fn feature(&self, name: &str) -> Option<Vec<String>> {
        let mut items = self.line.features.get(name).cloned();
        if let Some(more) = self.line.features2.as_ref().and_then(|f| f.get(name)) {
            items
                .get_or_insert_with(Vec::new)
                .extend(more.iter().cloned());
        }
        items
    }
}

/// Parses an index file; `name` is the crate asked for. Each line must be
/// JSON naming that crate with a valid version and checksum.
pub fn parse_file(name: &str, body: &[u8]) -> Result<Vec<Release>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "index file is not UTF-8".to_owned())?;
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw)
            .map_err(|e| format!("line {}: malformed index line: {e}", n + 1))?;
        if !line.name.eq_ignore_ascii_case(name) {
            return Err(format!("line {}: names crate {:?}", n + 1, line.name));
        }
        let version = semver::Version::parse(&line.vers)
            .map_err(|e| format!("line {}: version {:?}: {e}", n + 1, line.vers))?;
        let cksum = Digest::from_hex(&line.cksum)
            .map_err(|_| format!("line {}: cksum {:?} is not a SHA-256", n + 1, line.cksum))?;
        out.push(Release {
            line,
            version,
            cksum,
            raw: raw.to_owned(),
        });
    }
    Ok(out)
}

/// The index entry of one carried crate version, with the licence its
/// manifest states, when it states one.
pub fn entry(release: &Release, size: u64, license: Option<&str>) -> Entry {
    let mut meta = serde_json::json!({ "line": release.raw });
    if let Some(license) = license {
        meta["license"] = license.into();
    }
    Entry {
        ecosystem: crate::ECOSYSTEM.into(),
        key: format!(
            "{CRATE}{}/{}",
            release.line.name.to_ascii_lowercase(),
            release.line.vers
        ),
        digest: release.cksum,
        size,
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_buckets() {
        assert_eq!(path("a"), "1/a");
        assert_eq!(path("ab"), "2/ab");
        assert_eq!(path("abc"), "3/a/abc");
        assert_eq!(path("Serde_JSON"), "se/rd/serde_json");
        assert!(valid_name("serde-json_2"));
        assert!(!valid_name("2serde") && !valid_name("a/b") && !valid_name(""));
    }

    #[test]
    fn lines_parse_and_keep_their_bytes() {
        let hex = "a".repeat(64);
        let raw = format!(
            r#"{{"name":"Foo","vers":"1.2.3","deps":[{{"name":"bar2","req":"^1","features":[],"optional":true,"default_features":false,"target":null,"kind":"normal","package":"bar"}}],"cksum":"{hex}","features":{{"x":["bar2/y"]}},"features2":{{"z":["dep:bar2"]}},"yanked":false,"v":2}}"#
        );
        let releases = parse_file("foo", format!("{raw}\n").as_bytes()).expect("parses");
        assert_eq!(releases[0].raw, raw);
        assert_eq!(releases[0].line.deps[0].crate_name(), "bar");
        assert_eq!(releases[0].feature("z").expect("z"), ["dep:bar2"]);
        assert!(parse_file("other", raw.as_bytes()).is_err());
        assert!(parse_file("foo", b"{not json").is_err());
        let bad = raw.replace(&hex, "zz");
        assert!(parse_file("foo", bad.as_bytes()).is_err());
    }
}
