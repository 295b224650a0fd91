//! The Simple repository API under `/pypi`:
//!
//! - `GET /pypi/simple/`: the project list;
//! - `GET /pypi/simple/<project>/`: a project page, PEP 691 JSON or PEP 503
//!   HTML by content negotiation (q-values honoured, 406 when nothing fits),
//!   with PEP 592 yanked flags, PEP 658/714 metadata hashes and PEP 700
//!   `versions`, `size` and `upload-time`; other spellings of the name and
//!   the slash-less form redirect to the normalized URL;
//! - `GET /pypi/files/<project>/<filename>` and `….metadata`: bytes as
//!   collected, with validators and ranges.
//!
//! Pages are rendered once per generation and kept in memory.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use airlift_http::plain;
use airlift_store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use crate::index::{FILE, FileMeta, METADATA};
use crate::requirement::{normalize, valid_name};
use crate::version::Version;

/// PEP 691 JSON.
pub const JSON: &str = "application/vnd.pypi.simple.v1+json";
/// PEP 691 HTML.
pub const HTML: &str = "application/vnd.pypi.simple.v1+html";
/// The API version served.
pub const API_VERSION: &str = "1.1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Format {
    Json,
    Html,
    Text,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON,
            Format::Html => HTML,
            Format::Text => "text/html; charset=utf-8",
        }
    }
}

/// Picks the representation from `Accept` (none: HTML; nothing acceptable: `None`).
fn negotiate(headers: &HeaderMap) -> Option<Format> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return Some(Format::Text);
    }
    let mut best: Option<(f32, Format)> = None;
    for item in values.iter().flat_map(|v| v.split(',')) {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut q = 1.0f32;
        for parameter in parts {
            if let Some(value) = parameter.trim().strip_prefix("q=") {
                q = value.trim().parse().unwrap_or(0.0);
            }
        }
        let format =
            match media.as_str() {
                "application/vnd.pypi.simple.v1+json"
                | "application/vnd.pypi.simple.latest+json" => Format::Json,
                "application/vnd.pypi.simple.v1+html"
                | "application/vnd.pypi.simple.latest+html" => Format::Html,
                "text/html" | "text/*" | "*/*" => Format::Text,
                _ => continue,
            };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, format));
        }
    }
    best.map(|(_, f)| f)
}

/// Rendered pages of one generation; emptied when the generation changes
/// or when it would grow past [`CACHE_LIMIT`] bytes.
#[derive(Default)]
struct Cache {
    generation: u64,
    bytes: usize,
    pages: HashMap<(Option<String>, Format), Bytes>,
}

/// Most bytes of rendered pages kept in memory.
const CACHE_LIMIT: usize = 64 << 20;

#[derive(Clone)]
struct AppState {
    store: Store,
    cache: Arc<Mutex<Cache>>,
}

/// The PyPI router, to be nested under `/pypi`.
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/simple", get(|| async { redirect("/pypi/simple/") }))
        .route("/simple/", get(project_list))
        .route("/simple/{name}", get(project_redirect))
        .route("/simple/{name}/", get(project_page))
        .route("/files/{project}/{filename}", get(file))
        .with_state(AppState {
            store,
            cache: Arc::new(Mutex::new(Cache::default())),
        })
}

fn redirect(location: &str) -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, location.to_owned())],
        "",
    )
        .into_response()
}

async fn project_redirect(Path(name): Path<String>) -> Response {
    if !valid_name(&name) {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    redirect(&format!("/pypi/simple/{}/", normalize(&name)))
}

async fn project_list(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(state, None, headers).await
}

async fn project_page(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !valid_name(&name) {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let normalized = normalize(&name);
    if normalized != name {
        return redirect(&format!("/pypi/simple/{normalized}/"));
    }
    page(state, Some(normalized), headers).await
}

async fn page(state: AppState, project: Option<String>, headers: HeaderMap) -> Response {
    let Some(format) = negotiate(&headers) else {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            &format!("acceptable types: {JSON}, {HTML}, text/html"),
        );
    };
    let rendered =
        airlift_http::read_current(state.store.clone(), "pypi page", move |_, generation| {
            render(&state, generation, project, format)
        })
        .await;
    let (generation, body) = match rendered {
        Ok(Some(found)) => found,
        Ok(None) => return plain(StatusCode::NOT_FOUND, "no such project"),
        Err(unavailable) => return unavailable.into_response(),
    };
    let etag = format!("\"pypi-{generation}-{}\"", format as u8);
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60, public"),
    );
    response
}

/// Renders (or takes from the cache) a page of `generation`, the current one.
fn render(
    state: &AppState,
    generation: &airlift_store::Generation,
    project: Option<String>,
    format: Format,
) -> Result<Option<(u64, Bytes)>, airlift_store::StoreError> {
    let store = &state.store;
    let key = (project.clone(), format);
    if let Ok(cache) = state.cache.lock()
        && cache.generation == generation.id
        && let Some(body) = cache.pages.get(&key)
    {
        return Ok(Some((generation.id, body.clone())));
    }
    let body = match &project {
        None => {
            let entries = store
                .meta
                .entries_with_prefix(generation.id, crate::ECOSYSTEM, FILE)?;
            let mut names: Vec<&str> = entries
                .iter()
                .filter_map(|e| e.key[FILE.len()..].split_once('/').map(|(p, _)| p))
                .collect();
            names.dedup();
            Bytes::from(list_body(&names, format))
        }
        Some(name) => {
            let entries = store.meta.entries_with_prefix(
                generation.id,
                crate::ECOSYSTEM,
                &format!("{FILE}{name}/"),
            )?;
            if entries.is_empty() {
                return Ok(None);
            }
            let files: Vec<PageFile> = entries
                .iter()
                .map(|e| PageFile {
                    filename: e.key[FILE.len() + name.len() + 1..].to_owned(),
                    sha256: e.digest.hex(),
                    size: e.size,
                    meta: serde_json::from_value(e.meta.clone()).unwrap_or_default(),
                })
                .collect();
            Bytes::from(project_body(name, &files, format))
        }
    };
    if let Ok(mut cache) = state.cache.lock() {
        if cache.generation != generation.id || cache.bytes + body.len() > CACHE_LIMIT {
            *cache = Cache {
                generation: generation.id,
                ..Cache::default()
            };
        }
        cache.bytes += body.len();
        cache.pages.insert(key, body.clone());
    }
    Ok(Some((generation.id, body)))
}

struct PageFile {
    filename: String,
    sha256: String,
    size: u64,
    meta: FileMeta,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2E", ".")
        .replace("%2D", "-")
        .replace("%5F", "_")
        .replace("%7E", "~")
        .replace("%2B", "+")
}

fn list_body(names: &[&str], format: Format) -> Vec<u8> {
    if format == Format::Json {
        let projects: Vec<serde_json::Value> = names
            .iter()
            .map(|n| serde_json::json!({"name": n}))
            .collect();
        return serde_json::to_vec(&serde_json::json!({
            "meta": {"api-version": API_VERSION},
            "projects": projects,
        }))
        .unwrap_or_default();
    }
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n<title>Simple index</title>\n</head>\n<body>\n"
    );
    for name in names {
        let _ = writeln!(
            html,
            "<a href=\"{}/\">{}</a><br/>",
            encode(name),
            escape(name)
        );
    }
    html.push_str("</body>\n</html>\n");
    html.into_bytes()
}

fn project_body(name: &str, files: &[PageFile], format: Format) -> Vec<u8> {
    let url = |f: &PageFile| format!("../../files/{}/{}", encode(name), encode(&f.filename));
    if format == Format::Json {
        let mut versions: Vec<Version> = files
            .iter()
            .filter_map(|f| Version::parse(&f.meta.version))
            .collect();
        versions.sort();
        versions.dedup();
        let listed: Vec<serde_json::Value> = files
            .iter()
            .map(|f| {
                let mut o = serde_json::Map::new();
                o.insert("filename".into(), f.filename.clone().into());
                o.insert("url".into(), url(f).into());
                o.insert("hashes".into(), serde_json::json!({"sha256": f.sha256}));
                if let Some(rp) = &f.meta.requires_python {
                    o.insert("requires-python".into(), rp.clone().into());
                }
                let metadata = match &f.meta.metadata {
                    Some(d) => serde_json::json!({"sha256": d.hex()}),
                    None => false.into(),
                };
                // PEP 714: the JSON API carries only `core-metadata`. pip
                // 22.3 to 23.0 read the old `dist-info-metadata` key as a
                // bool and crash on the dict the spec gives it.
                o.insert("core-metadata".into(), metadata);
                o.insert(
                    "yanked".into(),
                    match &f.meta.yanked {
                        None => false.into(),
                        Some(reason) if reason.is_empty() => true.into(),
                        Some(reason) => reason.clone().into(),
                    },
                );
                o.insert("size".into(), f.size.into());
                if let Some(t) = &f.meta.upload_time {
                    o.insert("upload-time".into(), t.clone().into());
                }
                serde_json::Value::Object(o)
            })
            .collect();
        return serde_json::to_vec(&serde_json::json!({
            "meta": {"api-version": API_VERSION},
            "name": name,
            "versions": versions.iter().map(|v| v.as_str()).collect::<Vec<_>>(),
            "files": listed,
        }))
        .unwrap_or_default();
    }
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"{API_VERSION}\">\n<title>Links for {0}</title>\n</head>\n<body>\n<h1>Links for {0}</h1>\n",
        escape(name)
    );
    for f in files {
        let _ = write!(html, "<a href=\"{}#sha256={}\"", escape(&url(f)), f.sha256);
        if let Some(rp) = &f.meta.requires_python {
            let _ = write!(html, " data-requires-python=\"{}\"", escape(rp));
        }
        if let Some(d) = &f.meta.metadata {
            let _ = write!(
                html,
                " data-core-metadata=\"sha256={0}\" data-dist-info-metadata=\"sha256={0}\"",
                d.hex()
            );
        }
        if let Some(reason) = &f.meta.yanked {
            if reason.is_empty() {
                html.push_str(" data-yanked");
            } else {
                let _ = write!(html, " data-yanked=\"{}\"", escape(reason));
            }
        }
        let _ = writeln!(html, ">{}</a><br/>", escape(&f.filename));
    }
    html.push_str("</body>\n</html>\n");
    html.into_bytes()
}

async fn file(
    State(state): State<AppState>,
    Path((project, filename)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !valid_name(&project)
        || filename.contains('/')
        || filename.contains('\\')
        || filename.starts_with('.')
    {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    let key = if filename.ends_with(".metadata") {
        format!("{METADATA}{project}/{filename}")
    } else {
        format!("{FILE}{project}/{filename}")
    };
    let content_type = if filename.ends_with(".metadata") {
        "text/plain; charset=utf-8"
    } else if filename.ends_with(".whl") || filename.ends_with(".zip") {
        "application/zip"
    } else if filename.ends_with(".tar.gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    };
    airlift_http::serve_entry(
        state.store.clone(),
        crate::ECOSYSTEM,
        key,
        content_type,
        &headers,
        plain(StatusCode::NOT_FOUND, "not found"),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Option<Format> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        negotiate(&headers)
    }

    #[test]
    fn negotiation_honours_q_values() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(Format::Text));
        assert_eq!(
            accept(
                "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
            ),
            Some(Format::Json)
        );
        assert_eq!(
            accept(
                "application/vnd.pypi.simple.v1+json;q=0.2, application/vnd.pypi.simple.v1+html"
            ),
            Some(Format::Html)
        );
        assert_eq!(
            accept("application/vnd.pypi.simple.latest+json"),
            Some(Format::Json)
        );
        assert_eq!(accept("application/xml"), None);
        assert_eq!(accept("application/vnd.pypi.simple.v1+json;q=0"), None);
    }

    #[test]
    fn pages_escape_and_carry_every_field() {
        let files = vec![PageFile {
            filename: "a-1.0-py3-none-any.whl".into(),
            sha256: "ab".repeat(32),
            size: 7,
            meta: FileMeta {
                version: "1.0".into(),
                requires_python: Some(">=3.8".into()),
                yanked: Some("bad <build>".into()),
                upload_time: None,
                metadata: Some(airlift_core::Digest::of(b"m")),
                ..FileMeta::default()
            },
        }];
        let html = String::from_utf8(project_body("a", &files, Format::Html)).expect("utf8");
        assert!(html.contains("data-requires-python=\"&gt;=3.8\""), "{html}");
        assert!(html.contains("data-yanked=\"bad &lt;build&gt;\""), "{html}");
        assert!(html.contains("data-core-metadata=\"sha256="), "{html}");
        let json: serde_json::Value =
            serde_json::from_slice(&project_body("a", &files, Format::Json)).expect("json");
        assert_eq!(json["versions"][0], "1.0");
        assert_eq!(json["files"][0]["yanked"], "bad <build>");
        assert_eq!(json["files"][0]["size"], 7);
        assert_eq!(json["meta"]["api-version"], API_VERSION);
        // PEP 714: the old key in JSON crashes pip 23.0.1 (Debian 12).
        assert!(
            json["files"][0].get("dist-info-metadata").is_none(),
            "{json}"
        );
        assert!(
            json["files"][0]["core-metadata"]["sha256"].is_string(),
            "{json}"
        );
    }
}
