//! The handlers, through the router: escaping, paging, 404s, the
//! policy header, commands and digests, the audit log, and the refusals
//! of the forms that change state.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use airlift_core::Digest;
use airlift_ecosystem::{Action, Ecosystem, Scope};
use airlift_store::{Entry, NewGeneration, Store};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

use crate::{Ui, access, routes};

fn digest(n: u64) -> Digest {
    let hex = format!("{n:064x}");
    format!("sha256:{hex}").parse().unwrap()
}

fn entry(ecosystem: &str, key: &str, n: u64, meta: serde_json::Value) -> Entry {
    Entry {
        ecosystem: ecosystem.to_owned(),
        key: key.to_owned(),
        digest: digest(n),
        size: 100 + n,
        meta,
    }
}

struct Site {
    _dir: tempfile::TempDir,
    store: Store,
    ui: Ui,
}

fn site(entries: Vec<Entry>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_embedded(dir.path()).unwrap();
    store
        .meta
        .commit(NewGeneration {
            source: "collect".into(),
            created_at: 1_700_000_000,
            entries,
            state: Vec::new(),
        })
        .unwrap();
    let ecosystems: Vec<Arc<dyn Ecosystem>> = vec![
        Arc::new(airlift_files::ecosystem::Files),
        Arc::new(airlift_oci::ecosystem::Oci),
        Arc::new(airlift_pypi::ecosystem::Pypi),
        Arc::new(airlift_npm::ecosystem::Npm),
    ];
    let log = Arc::new(airlift_audit::Log::new(dir.path()));
    let ui = Ui {
        store: store.clone(),
        ecosystems: ecosystems.into(),
        log: Some(log),
        home: Some(dir.path().to_path_buf()),
        audit: None,
        drift_record: ("drift", "last"),
    };
    Site {
        _dir: dir,
        store,
        ui,
    }
}

async fn get(ui: &Ui, path: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    let request = Request::get(path)
        .header(header::HOST, "airlift.example.com:8080")
        .body(Body::empty())
        .unwrap();
    let response = routes(ui.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), headers)
}

fn npm(count: usize) -> Vec<Entry> {
    (0..count)
        .map(|i| {
            entry(
                "npm",
                &format!("v:package-{i:03}/1.0.{i}"),
                i as u64,
                serde_json::json!({"integrity": format!("sha512-{i}")}),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_key_with_markup_is_shown_escaped() {
    let site = site(vec![entry(
        "files",
        "<script>alert(1)</script>.txt",
        1,
        serde_json::json!({}),
    )]);
    for path in [
        "/ui/browse?q=script",
        "/ui/browse/files",
        "/ui/browse/files/%3Cscript%3Ealert(1)%3C/script%3E.txt",
    ] {
        let (status, body, _) = get(&site.ui, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(
            body.contains("&lt;script&gt;alert(1)&lt;/script&gt;.txt"),
            "{path}: {body}"
        );
        assert!(!body.contains("<script>"), "{path}: {body}");
    }
    // A query with markup comes back escaped too.
    let (_, body, _) = get(&site.ui, "/ui/browse?q=%3Cimg%20src%3Dx%3E").await;
    assert!(body.contains("&lt;img src=x&gt;"), "{body}");
    assert!(!body.contains("<img"), "{body}");
}

#[tokio::test]
async fn listings_are_paged() {
    let site = site(npm(120));
    let (status, first, _) = get(&site.ui, "/ui/browse/npm").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first.matches("<tr><td>npm</td>").count(), 50, "{first}");
    assert!(first.contains("page 1 of 3"), "{first}");
    assert!(first.contains("package-000") && !first.contains("package-050"));
    let (_, last, _) = get(&site.ui, "/ui/browse/npm?page=3").await;
    assert_eq!(last.matches("<tr><td>npm</td>").count(), 20, "{last}");
    assert!(last.contains("package-119") && !last.contains("rel=\"next\""));
    // A search pages the same way, and a page past the end is empty.
    let (_, search, _) = get(&site.ui, "/ui/browse?q=PACKAGE-1&page=1").await;
    assert!(search.contains("20 packages found"), "{search}");
    let (status, beyond, _) = get(&site.ui, "/ui/browse/npm?page=99").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(beyond.matches("<tr><td>npm</td>").count(), 0);
    // A page that is not a number is the first.
    let (status, lenient, _) = get(&site.ui, "/ui/browse/npm?page=x").await;
    assert_eq!(status, StatusCode::OK);
    assert!(lenient.contains("page 1 of 3"));
}

#[tokio::test]
async fn unknown_things_are_404_pages() {
    let site = site(npm(2));
    for path in [
        "/ui/browse/nope",
        "/ui/browse/npm/missing",
        "/ui/nothing/here",
        "/ui/imports/999",
        "/ui/imports/x",
        "/ui/static/other.css",
    ] {
        let (status, body, headers) = get(&site.ui, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("<h1>Not Found</h1>"), "{path}: {body}");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            crate::html::POLICY
        );
    }
}

#[tokio::test]
async fn every_page_sets_its_policy_and_loads_only_its_stylesheet() {
    let site = site(npm(2));
    for path in [
        "/ui/",
        "/ui/browse",
        "/ui/browse/npm",
        "/ui/browse/npm/package-001",
        "/ui/imports",
        "/ui/audit",
        "/ui/documents",
        "/ui/environments",
    ] {
        let (status, body, headers) = get(&site.ui, path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            crate::html::POLICY,
            "{path}"
        );
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(!body.contains("<script"), "{path}");
        let stylesheet = format!("href=\"/ui/static/{}\"", crate::STYLE_NAME);
        assert!(body.contains(&stylesheet), "{path}");
    }
    let (status, css, headers) = get(&site.ui, &format!("/ui/static/{}", crate::STYLE_NAME)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("body {"));
    assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let (status, _, headers) = get(&site.ui, "/ui").await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(headers[header::LOCATION], "/ui/");
}

#[tokio::test]
async fn packages_show_their_commands_and_digests() {
    let manifest = digest(7);
    let site = site(vec![
        entry(
            "npm",
            "v:@team/tool/2.0.0",
            1,
            serde_json::json!({"integrity": "sha512-abc"}),
        ),
        entry(
            "pypi",
            "f:flask/flask-3.0.0-py3-none-any.whl",
            2,
            serde_json::json!({"version": "3.0.0"}),
        ),
        entry(
            "oci",
            &format!("m:team/app@{manifest}"),
            7,
            serde_json::json!({}),
        ),
        entry("oci", "t:team/app:1.0", 7, serde_json::json!({})),
        entry("files", "tools/a b.tar.gz", 3, serde_json::json!({})),
    ]);
    let (_, npm, _) = get(&site.ui, "/ui/browse/npm/@team/tool").await;
    assert!(npm.contains("npm install @team/tool@2.0.0"), "{npm}");
    assert!(npm.contains("sha512-abc"), "{npm}");
    let (_, pypi, _) = get(&site.ui, "/ui/browse/pypi/flask").await;
    assert!(pypi.contains("pip install flask==3.0.0"), "{pypi}");
    assert!(pypi.contains(&digest(2).to_string()), "{pypi}");
    let (_, oci, _) = get(&site.ui, "/ui/browse/oci/team/app").await;
    assert!(
        oci.contains("docker pull airlift.example.com:8080/team/app:1.0"),
        "{oci}"
    );
    assert!(
        oci.contains(&format!(
            "docker pull airlift.example.com:8080/team/app@{manifest}"
        )),
        "{oci}"
    );
    // The tag comes first.
    assert!(oci.find(":1.0").unwrap() < oci.find("@sha256").unwrap());
    let (_, files, _) = get(&site.ui, "/ui/browse/files/tools/a%20b.tar.gz").await;
    assert!(
        files.contains("curl -O http://airlift.example.com:8080/files/tools/a%20b.tar.gz"),
        "{files}"
    );
}

#[tokio::test]
async fn the_catalog_follows_the_current_generation() {
    let site = site(npm(1));
    let (_, before, _) = get(&site.ui, "/ui/browse?q=later").await;
    assert!(before.contains("0 packages found"), "{before}");
    let mut entries = npm(1);
    entries.push(entry(
        "npm",
        "v:later/1.0.0",
        9,
        serde_json::json!({"integrity": "sha512-x"}),
    ));
    site.store
        .meta
        .commit(NewGeneration {
            source: "collect".into(),
            created_at: 1_700_000_100,
            entries,
            state: Vec::new(),
        })
        .unwrap();
    let (_, after, _) = get(&site.ui, "/ui/browse?q=later").await;
    assert!(after.contains("1 package found"), "{after}");
}

#[tokio::test]
async fn the_audit_log_is_verified_filtered_and_imports_show_custody() {
    let site = site(npm(1));
    let log = site.ui.log.clone().unwrap();
    log.append("collect", serde_json::json!({"entries": 1}))
        .unwrap();
    log.append(
        "import",
        serde_json::json!({
            "bundle": "/media/<usb>/bundle.tar",
            "outcome": {
                "status": "imported",
                "bundle_id": digest(5).to_string(),
                "version": 3,
                "generation": {"id": 1, "entries": 1, "created_at": 0, "source": "import"},
                "blobs_added": 1,
                "bytes_added": 100,
                "handoffs": [
                    {"from": "alice", "to": "courier", "time": "2026-12-01T10:00:00Z", "note": "seal 42", "previous": null},
                    {"from": "courier", "to": "bob", "time": "2026-12-01T12:00:00Z", "note": "", "previous": "ab"}
                ],
                "handoffs_verified": true
            }
        }),
    )
    .unwrap();
    let (_, audit, _) = get(&site.ui, "/ui/audit").await;
    assert!(
        audit.contains("<span class=\"ok\">verified</span>: 2 entries"),
        "{audit}"
    );
    assert!(audit.contains("2 events, newest first"), "{audit}");
    let (_, only, _) = get(&site.ui, "/ui/audit?event=collect").await;
    assert!(only.contains("1 event, newest first"), "{only}");
    assert!(!only.contains("<td>import</td>"), "{only}");
    let (_, imports, _) = get(&site.ui, "/ui/imports").await;
    assert!(imports.contains("href=\"/ui/imports/1\""), "{imports}");
    let (status, import, _) = get(&site.ui, "/ui/imports/1").await;
    assert_eq!(status, StatusCode::OK);
    for expected in [
        "<td>alice</td><td>courier</td>",
        "<td>courier</td><td>bob</td>",
        "seal 42",
        "Every signer was checked",
        "/media/&lt;usb&gt;/bundle.tar",
        "1 added, 0 changed, 0 removed",
    ] {
        assert!(import.contains(expected), "{expected}: {import}");
    }
    // Not an import: no import page for it.
    let (status, _, _) = get(&site.ui, "/ui/imports/0").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An edited log stops verifying, and the page says so.
    let path = site._dir.path().join("audit/log.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"entries\":1", "\"entries\":2")).unwrap();
    // The head (frontier.json) did not move, so drop the kept view by
    // appending nothing: a new router has a new cache.
    let (_, tampered, _) = get(&site.ui, "/ui/audit").await;
    assert!(tampered.contains("does not verify"), "{tampered}");
}

#[test]
fn reading_needs_read_and_moving_needs_admin_on_the_environment() {
    let read = access(&Method::GET, "/ui/browse").unwrap();
    assert_eq!((read.action, read.scope), (Action::Read, Scope::All));
    let root = access(&Method::HEAD, "/ui").unwrap();
    assert_eq!(root.action, Action::Read);
    let promote = access(&Method::POST, "/ui/environments/production/promote").unwrap();
    assert_eq!(
        (promote.action, promote.scope),
        (Action::Admin, Scope::Name("production".into()))
    );
    let other = access(&Method::POST, "/ui/browse").unwrap();
    assert_eq!((other.action, other.scope), (Action::Admin, Scope::All));
    assert!(access(&Method::GET, "/uinot").is_none());
    assert!(access(&Method::GET, "/pypi/simple/").is_none());
}

async fn post(ui: &Ui, path: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut request = Request::post(path)
        .header(header::HOST, "airlift.example.com")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = routes(ui.clone())
        .oneshot(request.body(Body::from("from=default")).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn forms_refuse_other_sites_and_anonymous_callers() {
    let site = site(npm(1));
    let path = "/ui/environments/production/promote";
    let (status, body) = post(&site.ui, path, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("another site"), "{body}");
    let (status, body) = post(&site.ui, path, &[("origin", "http://evil.example.com")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("evil.example.com"), "{body}");
    let (status, body) = post(&site.ui, path, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("no Origin"), "{body}");
    // Same site, but nobody signed in (no gate): refused too.
    let (status, body) = post(&site.ui, path, &[("origin", "http://airlift.example.com")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("signed-in"), "{body}");
}

#[tokio::test]
async fn a_principal_promotes_and_rolls_back_and_both_are_audited() {
    let mut site = site(npm(1));
    let meta = site.store.meta.clone();
    airlift_store::environment::create(meta.as_ref(), "production", None, 0, "test", 1).unwrap();
    airlift_store::environment::create(meta.as_ref(), "guarded", None, 2, "test", 1).unwrap();
    site.store
        .meta
        .commit(NewGeneration {
            source: "collect".into(),
            created_at: 1_700_000_100,
            entries: npm(3),
            state: Vec::new(),
        })
        .unwrap();
    let events: Arc<std::sync::Mutex<Vec<(String, serde_json::Value)>>> = Arc::default();
    let recorded = events.clone();
    site.ui.audit = Some(Arc::new(move |event, detail| {
        recorded.lock().unwrap().push((event.to_owned(), detail));
        Ok(())
    }));
    // The page offers a preview for production and the CLI for guarded.
    let (_, page, _) = get(&site.ui, "/ui/environments").await;
    assert!(
        page.contains("action=\"/ui/environments/production/promote\""),
        "{page}"
    );
    assert!(
        page.contains(
            "<code>airlift promote --from SOURCE --to guarded --request promotion.json</code>"
        ),
        "{page}"
    );
    let (status, preview, _) =
        get(&site.ui, "/ui/environments/production/promote?from=default").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        preview.contains("2 added, 0 changed, 0 removed"),
        "{preview}"
    );
    let send = |path: &'static str, form: &'static str| {
        let ui = site.ui.clone();
        async move {
            let caller = airlift_ecosystem::Caller {
                principal: Some("alice".into()),
                ..Default::default()
            };
            let request = Request::post(path)
                .header(header::HOST, "airlift.example.com")
                .header(header::ORIGIN, "http://airlift.example.com")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .extension(caller)
                .body(Body::from(form))
                .unwrap();
            let response = routes(ui).oneshot(request).await.unwrap();
            (
                response.status(),
                response.headers().get(header::LOCATION).cloned(),
            )
        }
    };
    let (status, location) = send("/ui/environments/production/promote", "from=default").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.unwrap(), "/ui/environments");
    let production = |meta: &dyn airlift_store::MetaStore| {
        airlift_store::environment::get(meta, "production")
            .unwrap()
            .unwrap()
    };
    assert_eq!(production(meta.as_ref()).generation, 2);
    assert_eq!(production(meta.as_ref()).moved_by, "alice");
    // Needs approvals: refused, whatever the form says.
    let (status, _) = send("/ui/environments/guarded/promote", "from=default").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = send("/ui/environments/production/rollback", "to=").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(production(meta.as_ref()).generation, 1);
    let (status, _) = send("/ui/environments/nowhere/rollback", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let events = events.lock().unwrap();
    let kinds: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(kinds, ["env-promote", "env-rollback"]);
    assert_eq!(events[0].1["to"], 2);
    assert_eq!(events[0].1["added"], 2);
    assert_eq!(events[0].1["caller"]["principal"], "alice");
    assert_eq!(events[1].1["to"], 1);
}

/// The documents page shows the findings the last drift check counted, by
/// severity, and says so when none were counted.
#[tokio::test]
async fn the_documents_page_shows_the_findings_drift_counted() {
    let site = site(npm(1));
    let (_, body, _) = get(&site.ui, "/ui/documents").await;
    assert!(body.contains("No findings were counted"), "{body}");
    site.store
        .meta
        .put_record(
            "drift",
            "last",
            Some(r#"{"integrity":0,"provenance":0,"checked_at":1700000000,"staleness_check":1,"findings_high":3,"finding_check":1}"#),
            false,
        )
        .unwrap();
    let (status, body, _) = get(&site.ui, "/ui/documents").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<tr><td>high</td><td>3</td></tr>"), "{body}");
    assert!(
        body.contains("<tr><td>critical</td><td>0</td></tr>"),
        "{body}"
    );
    // The staleness flag is a count, not a time.
    assert!(!body.contains("1970"), "{body}");
}
