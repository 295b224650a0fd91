//! The application without a socket: `airlift_server::app_with` over a
//! temporary embedded store, with every ecosystem mounted as the binary
//! mounts them, driven one request at a time with `tower`'s `oneshot`.
//! These check what the server adds around the protocol routers: health and
//! readiness, the request counters, the headers every answer carries, the
//! bodies of its `404`s and the home page. The listener's timeouts and limits
//! need a real socket and are in `listener.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use airlift_core::Digest;
use airlift_server::{NO_CONTENT_POLICY, Services};
use airlift_store::{
    AuditHead, Change, Entry, Generation, MetaStore, NewGeneration, Store, StoreError,
};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

mod common;
use common::ecosystems;

/// The app over `store`, with every ecosystem mounted.
fn app(store: Store, home: &std::path::Path) -> Router {
    airlift_server::app_with(
        store,
        home.join("uploads"),
        Services {
            ecosystems: Arc::from(ecosystems()),
            ..Default::default()
        },
    )
}

/// An app over its own temporary home, which lives as long as the site.
struct Site {
    _home: tempfile::TempDir,
    store: Store,
    app: Router,
}

impl Site {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open_embedded(home.path()).unwrap();
        let app = app(store.clone(), home.path());
        Self {
            _home: home,
            store,
            app,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path).await
    }

    async fn send(&self, method: Method, path: &str) -> Answer {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "airlift.test")
            .body(Body::empty())
            .unwrap();
        answer(&self.app, request).await
    }
}

/// One answer, its body read whole.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn answer(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The value of the sample `name{labels}` in an OpenMetrics text, if it is
/// there.
fn sample(text: &str, name: &str, labels: &str) -> Option<u64> {
    let series = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map(|value| value.trim().parse().unwrap())
}

/// One entry of `ecosystem`, as an import would record it.
fn entry(ecosystem: &str, key: &str) -> Entry {
    Entry {
        ecosystem: ecosystem.to_owned(),
        key: key.to_owned(),
        digest: Digest::of(key.as_bytes()),
        size: key.len() as u64,
        meta: Default::default(),
    }
}

#[tokio::test]
async fn healthz_answers_ok() {
    let site = Site::new();
    let answer = site.get("/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ok\n");
}

#[tokio::test]
async fn readyz_answers_ready_while_the_index_answers() {
    let site = Site::new();
    let answer = site.get("/readyz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "ready\n");
}

/// An index that fails every read and write, as a broken or vanished
/// database would.
struct BrokenIndex;

impl BrokenIndex {
    fn error() -> StoreError {
        StoreError::Io {
            action: "read",
            path: PathBuf::from("index.db"),
            source: std::io::Error::other("the disk went away"),
        }
    }
}

impl MetaStore for BrokenIndex {
    fn current(&self) -> Result<Option<Generation>, StoreError> {
        Err(Self::error())
    }
    fn generations(&self) -> Result<Vec<Generation>, StoreError> {
        Err(Self::error())
    }
    fn entries(&self, _: u64, _: Option<&str>) -> Result<Vec<Entry>, StoreError> {
        Err(Self::error())
    }
    fn entry(&self, _: u64, _: &str, _: &str) -> Result<Option<Entry>, StoreError> {
        Err(Self::error())
    }
    fn entries_with_prefix(&self, _: u64, _: &str, _: &str) -> Result<Vec<Entry>, StoreError> {
        Err(Self::error())
    }
    fn apply(&self, _: Change) -> Result<Generation, StoreError> {
        Err(Self::error())
    }
    fn commit(&self, _: NewGeneration) -> Result<Generation, StoreError> {
        Err(Self::error())
    }
    fn state(&self, _: &str) -> Result<Option<String>, StoreError> {
        Err(Self::error())
    }
    fn records(&self, _: &str) -> Result<Vec<(String, String)>, StoreError> {
        Err(Self::error())
    }
    fn put_record(&self, _: &str, _: &str, _: Option<&str>, _: bool) -> Result<bool, StoreError> {
        Err(Self::error())
    }
    fn records_version(&self) -> Result<u64, StoreError> {
        Err(Self::error())
    }
    fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        Err(Self::error())
    }
    fn record_audit_head(&self, _: &AuditHead) -> Result<(), StoreError> {
        Err(Self::error())
    }
    fn clear_audit_head(&self, _: &AuditHead) -> Result<(), StoreError> {
        Err(Self::error())
    }
}

#[tokio::test]
async fn readyz_answers_503_naming_the_cause_when_the_index_fails_and_healthz_stays_up() {
    let home = tempfile::tempdir().unwrap();
    let working = Store::open_embedded(home.path()).unwrap();
    let store = Store {
        blobs: working.blobs,
        meta: Arc::new(BrokenIndex),
    };
    let app = app(store, home.path());
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();

    let ready = answer(&app, get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.body.starts_with("index unavailable: ") && ready.body.contains("the disk went away"),
        "{:?}",
        ready.body
    );
    // The process is up even though the index is not: a load balancer
    // should stop sending traffic, a supervisor should not restart it.
    let health = answer(&app, get("/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);
    // One broken request fails that request, not the server.
    let home_page = answer(&app, get("/")).await;
    assert_eq!(home_page.status, StatusCode::INTERNAL_SERVER_ERROR);
    let again = answer(&app, get("/healthz")).await;
    assert_eq!(again.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_each_request_by_route_and_status() {
    let site = Site::new();
    const REQUESTS: &str = "airlift_http_requests_total";

    let first = site.get("/metrics").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.header(header::CONTENT_TYPE),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    // Nothing was counted before the first scrape, which is counted only
    // once it has been answered.
    assert_eq!(
        sample(&first.body, REQUESTS, r#"route="healthz",status="200""#),
        None
    );
    assert_eq!(
        sample(&first.body, REQUESTS, r#"route="metrics",status="200""#),
        None
    );

    for _ in 0..2 {
        assert_eq!(site.get("/healthz").await.status, StatusCode::OK);
    }
    assert_eq!(
        site.send(Method::POST, "/healthz").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(site.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    let missing = site.get("/v2/team/app/manifests/latest").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(site.get("/v2/").await.status, StatusCode::OK);
    assert_eq!(site.get("/v2").await.status, StatusCode::OK);
    assert_eq!(
        site.get("/files/missing").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(site.get("/apt/").await.status, StatusCode::OK);
    assert_eq!(
        site.get("/missing/-/missing-1.0.0.tgz").await.status,
        StatusCode::NOT_FOUND
    );

    let text = site.get("/metrics").await.body;
    for (labels, count) in [
        (r#"route="healthz",status="200""#, 2),
        (r#"route="healthz",status="405""#, 1),
        (r#"route="other",status="404""#, 1),
        (r#"route="oci",status="404""#, 1),
        (r#"route="oci",status="200""#, 2),
        (r#"route="files",status="404""#, 1),
        (r#"route="apt",status="200""#, 1),
        (r#"route="npm",status="404""#, 1),
        (r#"route="metrics",status="200""#, 1),
    ] {
        assert_eq!(
            sample(&text, REQUESTS, labels),
            Some(count),
            "{labels}\n{text}"
        );
    }
}

#[tokio::test]
async fn metrics_add_the_length_of_each_blob_served() {
    let site = Site::new();
    let blob = b"0123456789abcdef".repeat(64);
    let digest = format!("sha256:{}", Digest::of(&blob).hex());
    let push = Request::post(format!("/v2/team/app/blobs/uploads/?digest={digest}"))
        .header(header::CONTENT_LENGTH, blob.len())
        .body(Body::from(blob.clone()))
        .unwrap();
    assert_eq!(answer(&site.app, push).await.status, StatusCode::CREATED);
    let path = format!("/v2/team/app/blobs/{digest}");
    let pulled = site.get(&path).await;
    assert_eq!(pulled.status, StatusCode::OK);
    assert_eq!(pulled.body.len(), blob.len());
    // A HEAD counts the length it announced, as documented.
    assert_eq!(site.send(Method::HEAD, &path).await.status, StatusCode::OK);

    let text = site.get("/metrics").await.body;
    assert_eq!(
        sample(&text, "airlift_http_response_bytes_total", r#"route="oci""#),
        Some(2 * blob.len() as u64),
        "{text}"
    );
}

/// A request to every router the app mounts, answered and refused.
const EVERY_ROUTER: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/healthz"),
    ("POST", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/nowhere"),
    ("GET", "/files/"),
    ("GET", "/files/missing.txt"),
    ("GET", "/v2/"),
    ("GET", "/v2/team/app/manifests/latest"),
    ("GET", "/v2/team/app/blobs/sha256:nothex"),
    ("POST", "/v2/team/app/blobs/uploads/"),
    ("GET", "/v2/_catalog"),
    ("GET", "/pypi/simple/"),
    ("GET", "/pypi/simple/missing/"),
    ("GET", "/pypi/files/missing/missing-1.0.tar.gz"),
    ("GET", "/cargo/index/config.json"),
    ("GET", "/cargo/index/mi/ss/missing"),
    ("GET", "/npm/missing"),
    ("GET", "/missing/-/missing-1.0.0.tgz"),
    ("GET", "/apt/"),
    ("GET", "/apt/missing/dists/stable/Release"),
    ("HEAD", "/healthz"),
    ("HEAD", "/v2/team/app/manifests/latest"),
];

#[tokio::test]
async fn every_answer_of_every_router_says_nosniff_and_lets_nothing_load() {
    let site = Site::new();
    for (method, path) in EVERY_ROUTER {
        let answer = site.send(method.parse().unwrap(), path).await;
        assert_eq!(
            answer.header(header::X_CONTENT_TYPE_OPTIONS),
            Some("nosniff"),
            "{method} {path} ({})",
            answer.status
        );
        assert_eq!(
            answer.header(header::CONTENT_SECURITY_POLICY),
            Some(NO_CONTENT_POLICY),
            "{method} {path} ({})",
            answer.status
        );
        // One of each, not a second copy added on the way out.
        assert_eq!(
            answer
                .headers
                .get_all(header::CONTENT_SECURITY_POLICY)
                .iter()
                .count(),
            1,
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn every_routers_404_says_what_was_not_found() {
    let site = Site::new();
    for (path, says) in [
        ("/files/missing.txt", "not found"),
        ("/v2/team/app/manifests/latest", "MANIFEST_UNKNOWN"),
        (
            "/v2/team/app/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "BLOB_UNKNOWN",
        ),
        ("/v2/team/app/tags/list", "NAME_UNKNOWN"),
        ("/pypi/simple/missing/", "no such project"),
        ("/cargo/index/mi/ss/missing", "no such crate"),
        ("/missing/-/missing-1.0.0.tgz", "\"error\":\"no such"),
        ("/apt/missing/dists/stable/Release", "no such archive"),
    ] {
        let answer = site.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            answer.body.contains(says),
            "{path}: {:?} does not say {says:?}",
            answer.body
        );
        assert!(
            answer.header(header::CONTENT_TYPE).is_some(),
            "{path} has a body but no Content-Type"
        );
    }
}

/// A path no router knows still gets a body saying so, like every other
/// `404`. Today it gets axum's empty default answer: the app in
/// `src/lib.rs` needs a fallback (see the helper's report).
#[tokio::test]
async fn a_path_no_router_knows_gets_a_404_with_a_body() {
    let site = Site::new();
    let answer = site.get("/nowhere").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(!answer.body.trim().is_empty(), "an empty 404");
    assert!(answer.header(header::CONTENT_TYPE).is_some());
}

/// The row of the home page's table for an ecosystem's title.
fn row<'a>(page: &'a str, title: &str) -> &'a str {
    page.lines()
        .find(|line| line.starts_with(&format!("<tr><td>{title}</td>")))
        .unwrap_or_else(|| panic!("no row for {title} in {page}"))
}

#[tokio::test]
async fn the_home_page_lists_each_ecosystem_with_its_entry_count() {
    let site = Site::new();
    let empty = site.get("/").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(
        empty.header(header::CONTENT_TYPE),
        Some("text/html; charset=utf-8")
    );
    for (title, path) in [
        ("Plain files", "/files/"),
        ("Container images (OCI registry)", "/v2/"),
        ("Python packages", "/pypi/simple/"),
        ("Rust crates", "/cargo/index/"),
        ("npm packages", "/npm/"),
        ("Debian packages", "/apt/"),
    ] {
        let row = row(&empty.body, title);
        assert!(row.contains(&format!("<a href=\"{path}\">")), "{row}");
        assert!(row.contains("<td>0</td>"), "{row}");
    }
    assert!(
        row(&empty.body, "Python packages").contains("airlift client-config pip"),
        "{}",
        empty.body
    );
    // Served in the gap under a policy that lets nothing load: nothing to
    // run and nothing from elsewhere.
    for absent in ["<script", "<style", "http://", "https://", "src="] {
        assert!(!empty.body.contains(absent), "{absent} in {}", empty.body);
    }

    let store = site.store.clone();
    tokio::task::spawn_blocking(move || {
        store.meta.apply(Change {
            source: "test".into(),
            created_at: 0,
            upserts: vec![
                entry("files", "a.txt"),
                entry("files", "b.txt"),
                entry("oci", "m:team/app@sha256:0"),
            ],
            removals: Vec::new(),
            state: Vec::new(),
        })
    })
    .await
    .unwrap()
    .unwrap();
    let filled = site.get("/").await;
    assert_eq!(filled.status, StatusCode::OK);
    assert!(
        row(&filled.body, "Plain files").contains("<td>2</td>"),
        "{}",
        filled.body
    );
    assert!(
        row(&filled.body, "Container images (OCI registry)").contains("<td>1</td>"),
        "{}",
        filled.body
    );
    assert!(row(&filled.body, "Rust crates").contains("<td>0</td>"));
}

/// Stores `bytes` and returns the entry that serves them at
/// `/files/<key>`.
fn file(store: &Store, key: &str, bytes: &[u8]) -> Entry {
    use std::io::Write as _;
    let mut writer = store.blobs.writer().unwrap();
    writer.write_all(bytes).unwrap();
    let (digest, size) = writer.commit(None).unwrap();
    Entry {
        ecosystem: "files".into(),
        key: key.into(),
        digest,
        size,
        meta: Default::default(),
    }
}

/// An environment serves the generation it is pinned to under
/// `/env/<name>/`, follows a promotion and a rollback from the next
/// request on, refuses writes, and an unknown one is a 404 that says so
/// (ADR 0027).
#[tokio::test]
async fn an_environment_serves_its_pinned_generation_under_its_prefix() {
    use airlift_store::environment;
    let site = Site::new();
    let meta = site.store.meta.as_ref();
    let commit = |entries: Vec<Entry>| {
        meta.commit(NewGeneration {
            source: "test".into(),
            created_at: 1,
            entries,
            state: vec![],
        })
        .unwrap()
        .id
    };
    let old = file(&site.store, "tool.txt", b"version 1\n");
    commit(vec![old]);
    environment::create(meta, "production", None, 0, "ops", 1).unwrap();
    let new = file(&site.store, "tool.txt", b"version 2\n");
    commit(vec![new]);

    assert_eq!(site.get("/files/tool.txt").await.body, "version 2\n");
    let pinned = site.get("/env/production/files/tool.txt").await;
    assert_eq!(pinned.status, StatusCode::OK);
    assert_eq!(pinned.body, "version 1\n");
    let home = site.get("/env/production/").await;
    assert!(
        home.body.contains("href=\"/env/production/files/\""),
        "{}",
        home.body
    );

    environment::promote(meta, environment::DEFAULT, "production", "ops", 2).unwrap();
    assert_eq!(
        site.get("/env/production/files/tool.txt").await.body,
        "version 2\n"
    );
    environment::rollback(meta, "production", None, "ops", 3).unwrap();
    assert_eq!(
        site.get("/env/production/files/tool.txt").await.body,
        "version 1\n"
    );

    let put = site
        .send(Method::PUT, "/env/production/files/other.txt")
        .await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(put.body.contains("read-only"), "{}", put.body);
    let unknown = site.get("/env/nowhere/files/tool.txt").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.body.contains("no environment \"nowhere\""),
        "{}",
        unknown.body
    );
    // An OCI path of no environment is the registry's own (a repository
    // named env/…), and its 404 is the registry's.
    let registry = site.get("/v2/env/nowhere/app/manifests/1.0").await;
    assert_eq!(registry.status, StatusCode::NOT_FOUND);
    assert!(
        registry.body.contains("MANIFEST_UNKNOWN") || registry.body.contains("NAME_UNKNOWN"),
        "{}",
        registry.body
    );

    // A host name per environment serves it at the root of that host.
    let home = tempfile::tempdir().unwrap();
    let by_host = airlift_server::app_with(
        site.store.clone(),
        home.path().join("uploads"),
        Services {
            ecosystems: Arc::from(ecosystems()),
            environment_hosts: [("prod.example.com".to_owned(), "production".to_owned())].into(),
            ..Default::default()
        },
    );
    let on = |host: &'static str, path: &'static str| {
        Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    let pinned = answer(&by_host, on("prod.example.com:8443", "/files/tool.txt")).await;
    assert_eq!(pinned.body, "version 1\n");
    let other = answer(&by_host, on("other.example.com", "/files/tool.txt")).await;
    assert_eq!(other.body, "version 2\n");
    let health = answer(&by_host, on("prod.example.com", "/healthz")).await;
    assert_eq!(health.status, StatusCode::OK);

    let text = site.get("/metrics").await.body;
    assert!(
        sample(
            &text,
            "airlift_http_requests_total",
            r#"route="files",status="200""#
        )
        .unwrap_or(0)
            >= 4,
        "{text}"
    );
    let generation = |name: &str| {
        sample(
            &text,
            "airlift_environment_generation",
            &format!(r#"environment="{name}""#),
        )
    };
    assert_eq!(generation("production"), Some(1), "{text}");
    assert_eq!(generation("default"), Some(2), "{text}");
}
