//! Package URLs and OSV ecosystem names: builds the purl of each kind of installed package, parses
//! the purls a CycloneDX SBOM carries, and names the OSV ecosystem of a distribution.
//!
//! Boundary: only the purl types this crate reports (deb, apk, pypi, npm, golang, cargo); no
//! validation beyond what building and reading them needs.

use crate::{Distro, Kind};

/// Percent-encodes `text` for one purl component: everything but unreserved characters, as
/// `airlift_ecosystem::purl_encode` and syft do (so an epoch's `:` is `%3A`); `keep` lists extra
/// characters left as they are (`/` inside a Go module path, which is the purl's namespace).
fn encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'.' | b'-' | b'_' | b'~')
            || keep.contains(&byte);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Undoes percent-encoding; an invalid escape is kept as it is.
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let (Some(high), Some(low)) =
                (hex_value(bytes[index + 1]), hex_value(bytes[index + 2]))
        {
            out.push(high * 16 + low);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

fn qualifiers(pairs: &[(&str, &str)]) -> String {
    // The purl spec sorts qualifiers by key and leaves out empty values.
    let mut present: Vec<&(&str, &str)> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .collect();
    present.sort_by_key(|(key, _)| *key);
    if present.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = present
        .iter()
        .map(|(key, value)| format!("{key}={}", encode(value, &[])))
        .collect();
    format!("?{}", joined.join("&"))
}

/// The distro qualifier value, `<id>-<version_id>`.
pub(crate) fn distro_qualifier(distro: &Distro) -> String {
    if distro.version_id.is_empty() {
        distro.id.clone()
    } else {
        format!("{}-{}", distro.id, distro.version_id)
    }
}

/// `pkg:deb/<distro id>/<name>@<version>?arch=..&distro=..&upstream=..`
pub(crate) fn deb(
    name: &str,
    version: &str,
    arch: &str,
    upstream: &str,
    distro: Option<&Distro>,
) -> String {
    let namespace = distro
        .map(|distro| distro.id.as_str())
        .filter(|id| !id.is_empty())
        .unwrap_or("debian");
    let distro_value = distro.map(distro_qualifier).unwrap_or_default();
    format!(
        "pkg:deb/{}/{}@{}{}",
        encode(namespace, &[]),
        encode(name, &[]),
        encode(version, &[]),
        qualifiers(&[
            ("arch", arch),
            ("distro", &distro_value),
            ("upstream", upstream)
        ])
    )
}

/// `pkg:apk/<distro id>/<name>@<version>?arch=..&distro=..&upstream=..`
pub(crate) fn apk(
    name: &str,
    version: &str,
    arch: &str,
    upstream: &str,
    distro: Option<&Distro>,
) -> String {
    let namespace = distro
        .map(|distro| distro.id.to_ascii_lowercase())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "alpine".to_string());
    let distro_value = distro.map(distro_qualifier).unwrap_or_default();
    format!(
        "pkg:apk/{}/{}@{}{}",
        encode(&namespace, &[]),
        encode(name, &[]),
        encode(version, &[]),
        qualifiers(&[
            ("arch", arch),
            ("distro", &distro_value),
            ("upstream", upstream)
        ])
    )
}

/// `pkg:pypi/<name>@<version>` with the name normalized as PEP 503 says (which includes the purl
/// spec's lowercasing and `_` to `-`).
pub(crate) fn pypi(name: &str, version: &str) -> String {
    format!(
        "pkg:pypi/{}@{}",
        encode(&crate::python::normalize(name), &[]),
        encode(version, &[])
    )
}

/// `pkg:npm/%40scope/name@version` or `pkg:npm/name@version`.
pub(crate) fn npm(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, rest)) if scope.starts_with('@') => {
            format!(
                "pkg:npm/{}/{}@{}",
                encode(scope, &[]),
                encode(rest, &[]),
                encode(version, &[])
            )
        }
        _ => format!("pkg:npm/{}@{}", encode(name, &[]), encode(version, &[])),
    }
}

/// `pkg:golang/<module path>@<version>`; the module path's `/` stay as the namespace separators.
pub(crate) fn golang(path: &str, version: &str) -> String {
    if version.is_empty() {
        return format!("pkg:golang/{}", encode(path, b"/"));
    }
    format!("pkg:golang/{}@{}", encode(path, b"/"), encode(version, &[]))
}

/// `pkg:cargo/<name>@<version>`
pub(crate) fn cargo(name: &str, version: &str) -> String {
    format!("pkg:cargo/{}@{}", encode(name, &[]), encode(version, &[]))
}

/// `pkg:maven/<groupId>/<artifactId>@<version>`
pub(crate) fn maven(group: &str, artifact: &str, version: &str) -> String {
    format!(
        "pkg:maven/{}/{}@{}",
        encode(group, &[]),
        encode(artifact, &[]),
        encode(version, &[])
    )
}

/// Debian and Ubuntu release code names, for a `distro` qualifier that names the release so.
const CODE_NAMES: &[(&str, &str)] = &[
    ("stretch", "9"),
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
    ("forky", "14"),
    ("bionic", "18.04"),
    ("focal", "20.04"),
    ("jammy", "22.04"),
    ("noble", "24.04"),
    ("resolute", "26.04"),
];

/// The OSV ecosystem of a distribution's packages: `Debian:12`, `Ubuntu:22.04:LTS` (OSV marks the
/// long-term releases, April releases of even years), `Ubuntu:23.10`, `Alpine:v3.19`.
pub(crate) fn distro_ecosystem(distro: &Distro) -> Option<String> {
    let version = CODE_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&distro.version_id))
        .map_or(distro.version_id.as_str(), |(_, number)| *number);
    let mut parts = version.split('.');
    let major = parts
        .next()
        .filter(|major| !major.is_empty() && major.bytes().all(|byte| byte.is_ascii_digit()))?;
    let minor = parts.next();
    match distro.id.as_str() {
        "debian" => Some(format!("Debian:{major}")),
        "ubuntu" => {
            let minor = minor?;
            let long_term = minor == "04" && major.parse::<u32>().is_ok_and(|year| year % 2 == 0);
            Some(format!(
                "Ubuntu:{major}.{minor}{}",
                if long_term { ":LTS" } else { "" }
            ))
        }
        "alpine" => Some(format!("Alpine:v{major}.{}", minor?)),
        _ => None,
    }
}

/// The parts of a purl a CycloneDX component needs: kind, name (with namespace where the
/// ecosystem's names include it), version, and the `distro` qualifier.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub kind: Kind,
    pub name: String,
    pub version: String,
    pub distro: Option<Distro>,
}

/// Reads a purl of a supported type; `None` for any other type or a string that is no purl.
pub(crate) fn parse(purl: &str) -> Option<Parsed> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split_once('#').map_or(rest, |(head, _)| head);
    let (rest, query) = match rest.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (rest, None),
    };
    let (rest, version) = match rest.rsplit_once('@') {
        Some((head, version)) => (head, decode(version)),
        None => (rest, String::new()),
    };
    let (purl_type, path) = rest.split_once('/')?;
    let segments: Vec<String> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(decode)
        .collect();
    let last = segments.last()?.clone();
    let kind = match purl_type.to_ascii_lowercase().as_str() {
        "deb" => Kind::Deb,
        "apk" => Kind::Apk,
        "pypi" => Kind::Python,
        "npm" => Kind::Npm,
        "golang" => Kind::Go,
        "cargo" => Kind::Rust,
        "maven" => Kind::Maven,
        _ => return None,
    };
    let name = match kind {
        Kind::Npm | Kind::Go => segments.join("/"),
        // OSV names Maven packages `groupId:artifactId`.
        Kind::Maven => segments.join(":"),
        _ => last,
    };
    let distro = query.and_then(|query| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            if key != "distro" {
                return None;
            }
            let value = decode(value);
            let namespace = if matches!(kind, Kind::Deb | Kind::Apk) && segments.len() > 1 {
                segments[0].clone()
            } else {
                String::new()
            };
            // `debian-12` or `alpine-3.19.1`; the id is the purl's namespace when it has one.
            let (id, version_id) = match value.split_once('-') {
                Some((id, version_id)) => (id.to_string(), version_id.to_string()),
                None => (namespace.clone(), value.clone()),
            };
            let id = if namespace.is_empty() { id } else { namespace };
            Some(Distro {
                id,
                version_id,
                id_like: Vec::new(),
            })
        })
    });
    Some(Parsed {
        kind,
        name,
        version,
        distro,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn builds_purls_as_the_spec_writes_them() {
        let debian = Distro {
            id: "debian".into(),
            version_id: "12".into(),
            id_like: vec![],
        };
        assert_eq!(
            deb("curl", "7.88.1-10", "amd64", "", Some(&debian)),
            "pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            deb("libc6", "2.36-9+deb12u4", "amd64", "glibc", Some(&debian)),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&upstream=glibc"
        );
        let alpine = Distro {
            id: "alpine".into(),
            version_id: "3.19.1".into(),
            id_like: vec![],
        };
        assert_eq!(
            apk("musl", "1.2.4-r2", "x86_64", "", Some(&alpine)),
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"
        );
        assert_eq!(pypi("Foo_Bar", "2.31.0"), "pkg:pypi/foo-bar@2.31.0");
        assert_eq!(
            deb("git", "1:2.39.5-0+deb12u3", "amd64", "", Some(&debian)),
            "pkg:deb/debian/git@1%3A2.39.5-0%2Bdeb12u3?arch=amd64&distro=debian-12"
        );
        assert_eq!(npm("@scope/name", "1.0.0"), "pkg:npm/%40scope/name@1.0.0");
        assert_eq!(
            golang("github.com/x/y", "v1.2.3"),
            "pkg:golang/github.com/x/y@v1.2.3"
        );
        assert_eq!(cargo("serde", "1.0.0"), "pkg:cargo/serde@1.0.0");
        assert_eq!(distro_ecosystem(&debian).as_deref(), Some("Debian:12"));
        assert_eq!(distro_ecosystem(&alpine).as_deref(), Some("Alpine:v3.19"));
        let release = |id: &str, version_id: &str| Distro {
            id: id.into(),
            version_id: version_id.into(),
            id_like: vec![],
        };
        assert_eq!(
            distro_ecosystem(&release("ubuntu", "22.04")).as_deref(),
            Some("Ubuntu:22.04:LTS")
        );
        assert_eq!(
            distro_ecosystem(&release("ubuntu", "23.10")).as_deref(),
            Some("Ubuntu:23.10")
        );
        assert_eq!(
            distro_ecosystem(&release("ubuntu", "noble")).as_deref(),
            Some("Ubuntu:24.04:LTS")
        );
        assert_eq!(
            distro_ecosystem(&release("debian", "bookworm")).as_deref(),
            Some("Debian:12")
        );
        assert_eq!(distro_ecosystem(&release("debian", "")), None);
        assert_eq!(distro_ecosystem(&release("alpine", "edge")), None);
    }

    #[test]
    fn parses_what_it_builds() {
        let parsed = parse("pkg:npm/%40scope/name@1.0.0").unwrap();
        assert_eq!(
            (parsed.kind, parsed.name.as_str(), parsed.version.as_str()),
            (Kind::Npm, "@scope/name", "1.0.0")
        );
        let parsed =
            parse("pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12").unwrap();
        assert_eq!(parsed.version, "2.36-9+deb12u4");
        assert_eq!(parsed.distro.unwrap().version_id, "12");
        let parsed = parse("pkg:golang/github.com/x/y@v1.2.3").unwrap();
        assert_eq!(parsed.name, "github.com/x/y");
        assert_eq!(
            parse("pkg:maven/org.example/thing@1").map(|p| p.name),
            Some("org.example:thing".to_owned())
        );
        assert!(parse("pkg:nuget/thing@1").is_none());
        assert!(parse("not a purl").is_none());
    }
}
