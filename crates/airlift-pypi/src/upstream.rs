//! Reading an upstream Simple API project page: PEP 691 JSON when offered,
//! PEP 503 HTML otherwise.

use airlift_core::{Digest, SafeUrl};
use serde::Deserialize;
use url::Url;

/// One file an upstream lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpFile {
    /// The filename.
    pub filename: String,
    /// Absolute download URL (fragment removed).
    pub url: Url,
    /// SHA-256 the upstream states.
    pub sha256: Option<Digest>,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// Yanked, with the reason ("" when none is given).
    pub yanked: Option<String>,
    /// Core metadata advertised (PEP 658/714), with its SHA-256 when stated.
    pub core_metadata: Option<Option<Digest>>,
    /// Size in bytes, when stated.
    pub size: Option<u64>,
    /// Upload time, when stated.
    pub upload_time: Option<String>,
}

/// An upstream project page.
#[derive(Clone, Debug)]
pub struct Project {
    /// Normalized name.
    pub name: String,
    /// Every file listed.
    pub files: Vec<UpFile>,
}

/// The `Accept` header sent upstream: JSON preferred, HTML accepted.
pub const ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// How project pages are read: [`ACCEPT`], pages of up to 64 MiB, and only
/// `404` means the project does not exist; any other failure status (a
/// `403` or `410` from a misconfigured index) is reported as the upstream's
/// failure, not as a missing project.
pub const PROFILE: airlift_fetch::index::IndexProfile = airlift_fetch::index::IndexProfile {
    headers: &[("Accept", ACCEPT)],
    limit: 64 << 20,
    not_found: &[airlift_fetch::StatusCode::NOT_FOUND],
};

#[derive(Deserialize)]
struct JsonPage {
    #[serde(default)]
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<serde_json::Value>,
    size: Option<u64>,
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
}

fn metadata_flag(value: Option<&serde_json::Value>) -> Option<Option<Digest>> {
    match value? {
        serde_json::Value::Bool(true) => Some(None),
        serde_json::Value::Object(map) => Some(
            map.get("sha256")
                .and_then(|v| v.as_str())
                .and_then(|h| Digest::from_hex(h).ok()),
        ),
        _ => None,
    }
}

/// Parses a project page; `base` is the page URL (file URLs may be relative).
pub fn parse_page(
    name: &str,
    base: &SafeUrl,
    content_type: &str,
    body: &[u8],
) -> Result<Project, String> {
    let files = if content_type.contains("json") {
        let page: JsonPage =
            serde_json::from_slice(body).map_err(|e| format!("malformed JSON page: {e}"))?;
        page.files
            .into_iter()
            .map(|f| {
                let url = base
                    .expose()
                    .join(&f.url)
                    .map_err(|e| format!("file {}: bad url: {e}", f.filename))?;
                let sha256 = match f.hashes.get("sha256") {
                    Some(h) => Some(
                        Digest::from_hex(h)
                            .map_err(|_| format!("file {}: malformed sha256 {h:?}", f.filename))?,
                    ),
                    None => None,
                };
                let yanked = match f.yanked {
                    serde_json::Value::Bool(true) => Some(String::new()),
                    serde_json::Value::String(reason) => Some(reason),
                    _ => None,
                };
                Ok(UpFile {
                    filename: f.filename,
                    url: strip_fragment(url),
                    sha256,
                    requires_python: f.requires_python,
                    yanked,
                    core_metadata: metadata_flag(f.core_metadata.as_ref())
                        .or_else(|| metadata_flag(f.dist_info_metadata.as_ref())),
                    size: f.size,
                    upload_time: f.upload_time,
                })
            })
            .collect::<Result<Vec<_>, String>>()?
    } else {
        let text = std::str::from_utf8(body).map_err(|_| "page is not UTF-8".to_owned())?;
        anchors(text)
            .into_iter()
            .map(|(attributes, inner)| {
                let href = attribute(&attributes, "href")
                    .ok_or_else(|| format!("anchor {inner:?} without href"))?;
                let url = base
                    .expose()
                    .join(&href)
                    .map_err(|e| format!("anchor {inner:?}: bad href: {e}"))?;
                let sha256 = match url.fragment().and_then(|f| f.strip_prefix("sha256=")) {
                    Some(h) => Some(
                        Digest::from_hex(h)
                            .map_err(|_| format!("{inner}: malformed sha256 {h:?}"))?,
                    ),
                    None => None,
                };
                let metadata = |key: &str| {
                    attribute(&attributes, key).map(|v| {
                        v.strip_prefix("sha256=")
                            .and_then(|h| Digest::from_hex(h).ok())
                    })
                };
                let mut filename = inner.trim().to_owned();
                if filename.is_empty() {
                    filename = url
                        .path_segments()
                        .and_then(|mut s| s.next_back())
                        .unwrap_or("")
                        .to_owned();
                }
                Ok(UpFile {
                    filename,
                    url: strip_fragment(url),
                    sha256,
                    requires_python: attribute(&attributes, "data-requires-python"),
                    yanked: attribute(&attributes, "data-yanked"),
                    core_metadata: metadata("data-core-metadata")
                        .or_else(|| metadata("data-dist-info-metadata")),
                    size: None,
                    upload_time: None,
                })
            })
            .collect::<Result<Vec<_>, String>>()?
    };
    for file in &files {
        if !matches!(file.url.scheme(), "http" | "https") {
            return Err(format!(
                "file {:?} has a {} URL; only http and https are fetched from an index",
                file.filename,
                file.url.scheme()
            ));
        }
        if file.filename.contains('/')
            || file.filename.contains('\\')
            || file.filename.starts_with('.')
        {
            return Err(format!(
                "file name {:?} is not a plain file name",
                file.filename
            ));
        }
    }
    Ok(Project {
        name: name.to_owned(),
        files,
    })
}

fn strip_fragment(mut url: Url) -> Url {
    url.set_fragment(None);
    url
}

/// Every `<a …>text</a>`: (raw attribute text, inner text unescaped).
fn anchors(html: &str) -> Vec<(String, String)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(start) = lower[at..].find("<a").map(|i| i + at) {
        let after = lower.as_bytes().get(start + 2).copied();
        if !matches!(after, Some(b' ' | b'\t' | b'\n' | b'\r' | b'>')) {
            at = start + 2;
            continue;
        }
        let Some(tag_end) = lower[start..].find('>').map(|i| i + start) else {
            break;
        };
        let close = lower[tag_end..]
            .find("</a")
            .map_or(lower.len(), |i| i + tag_end);
        out.push((
            html[start + 2..tag_end].to_owned(),
            unescape(&html[tag_end + 1..close]),
        ));
        at = close.max(tag_end + 1);
    }
    out
}

/// The value of `name` in an attribute list, unescaped; `Some("")` for a bare attribute.
fn attribute(attributes: &str, name: &str) -> Option<String> {
    let bytes = attributes.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let key_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' {
            i += 1;
        }
        let key = attributes[key_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = None;
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let start = i + 1;
                i = start;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                value = Some(attributes[start..i.min(bytes.len())].to_owned());
                i = (i + 1).min(bytes.len());
            } else {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                value = Some(attributes[start..i].to_owned());
            }
        }
        if key.is_empty() {
            // Skip one whole character that is neither a key nor a value.
            i += attributes[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        if key == name {
            return Some(unescape(&value.unwrap_or_default()));
        }
    }
    None
}

/// Decodes the HTML character references that appear in index pages.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SafeUrl {
        SafeUrl::parse("https://pypi.example.com/simple/alpha/").expect("url")
    }

    #[test]
    fn html_pages_parse() {
        let hex = "a".repeat(64);
        let html = format!(
            "<!DOCTYPE html><html><body><h1>Links</h1>\n<a href=\"../../files/alpha-1.0-py3-none-any.whl#sha256={hex}\" data-requires-python=\"&gt;=3.8\" data-dist-info-metadata=\"sha256={hex}\">alpha-1.0-py3-none-any.whl</a><br/>\n<A HREF='https://files.example.com/alpha-0.9.tar.gz' data-yanked>alpha-0.9.tar.gz</A>\n<abbr>x</abbr></body></html>"
        );
        let project = parse_page("alpha", &base(), "text/html", html.as_bytes()).expect("parses");
        assert_eq!(project.files.len(), 2);
        let wheel = &project.files[0];
        assert_eq!(
            wheel.url.as_str(),
            "https://pypi.example.com/files/alpha-1.0-py3-none-any.whl"
        );
        assert_eq!(wheel.requires_python.as_deref(), Some(">=3.8"));
        assert!(wheel.sha256.is_some());
        assert!(matches!(wheel.core_metadata, Some(Some(_))));
        assert_eq!(project.files[1].yanked.as_deref(), Some(""));
        // Odd attribute lists never panic, and file: URLs are refused.
        let odd = "<a =\"y\"\u{e9}href=\"x-1.0.tar.gz\">x-1.0.tar.gz</a><a \u{e9}=>y</a>";
        let _ = parse_page("x", &base(), "text/html", odd.as_bytes());
        let local = "<a href=\"file:///etc/passwd\">x-1.0.tar.gz</a>";
        assert!(parse_page("x", &base(), "text/html", local.as_bytes()).is_err());
    }

    #[test]
    fn json_pages_parse() {
        let hex = "b".repeat(64);
        let json = format!(
            "{{\"meta\":{{\"api-version\":\"1.1\"}},\"name\":\"alpha\",\"files\":[{{\"filename\":\"alpha-1.0.tar.gz\",\"url\":\"/f/alpha-1.0.tar.gz\",\"hashes\":{{\"sha256\":\"{hex}\"}},\"yanked\":\"broken\",\"core-metadata\":true,\"size\":10,\"upload-time\":\"2024-01-01T00:00:00.000000Z\"}}]}}"
        );
        let project = parse_page(
            "alpha",
            &base(),
            "application/vnd.pypi.simple.v1+json",
            json.as_bytes(),
        )
        .expect("parses");
        let file = &project.files[0];
        assert_eq!(
            file.url.as_str(),
            "https://pypi.example.com/f/alpha-1.0.tar.gz"
        );
        assert_eq!(file.yanked.as_deref(), Some("broken"));
        assert_eq!(file.core_metadata, Some(None));
        assert_eq!(file.size, Some(10));
        assert!(parse_page("alpha", &base(), "application/json", b"{").is_err());
        let evil = "{\"files\":[{\"filename\":\"../x.whl\",\"url\":\"x\",\"hashes\":{}}]}";
        assert!(parse_page("alpha", &base(), "application/json", evil.as_bytes()).is_err());
    }
}
