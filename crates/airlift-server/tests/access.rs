//! Access control in front of every protocol, without a socket: the app
//! with a gate over a temporary home, users and tokens made through the
//! directory, requests driven with `tower`'s `oneshot`. The real clients
//! (skopeo, crane, oras, pip, uv, npm, cargo, apt) are in the shell suites.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use airlift_access::{Directory, Gate, Policy, TokenScope};
use airlift_server::Services;
use airlift_store::Store;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;

mod common;

const NAMES: &[&str] = &["files", "oci", "pypi", "cargo", "npm", "apt", "ui"];

type Events = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

struct Site {
    _home: tempfile::TempDir,
    app: Router,
    events: Events,
    write: String,
    read: String,
}

fn site(rules: Option<&str>) -> Site {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open_embedded(home.path()).unwrap();
    let directory = Directory::new(store.meta.clone());
    directory.add_user("ci", &[], None, 1).unwrap();
    directory
        .add_user("alice", &[], Some("alice's long password"), 1)
        .unwrap();
    let (_, write) = directory
        .create_token(
            "push",
            "ci",
            &[TokenScope::parse("oci:team/*:read,write", NAMES).unwrap()],
            None,
            1,
        )
        .unwrap();
    let (_, read) = directory
        .create_token(
            "pull",
            "ci",
            &[TokenScope::parse("*:team/*:read", NAMES).unwrap()],
            None,
            1,
        )
        .unwrap();
    let policy = match rules {
        Some(text) => Policy::parse(Path::new("access.toml"), text, NAMES).unwrap(),
        None => Policy::default_rules(true),
    };
    let gate = Gate::new(store.meta.clone(), policy, "airlift").unwrap();
    let events: Events = Arc::default();
    let recorded = events.clone();
    let audit: airlift_ecosystem::AuditHook = Arc::new(move |event, detail| {
        recorded.lock().unwrap().push((event.to_owned(), detail));
        Ok(())
    });
    let app = airlift_server::app_with(
        store,
        home.path().join("uploads"),
        Services {
            ecosystems: Arc::from(common::ecosystems()),
            gate: Some(Arc::new(gate)),
            audit: Some(audit),
            ..Default::default()
        },
    );
    Site {
        _home: home,
        app,
        events,
        write: format!("Bearer {write}"),
        read: format!("Bearer {read}"),
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Site {
    async fn send(&self, method: Method, path: &str, auth: Option<&str>, body: &[u8]) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "airlift.test")
            .header(header::USER_AGENT, "access-test/1");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        let response = self
            .app
            .clone()
            .oneshot(request.body(Body::from(body.to_vec())).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn events(&self, name: &str) -> Vec<serde_json::Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|(event, _)| event == name)
            .map(|(_, detail)| detail.clone())
            .collect()
    }
}

const BLOB: &[u8] = b"a blob";

fn blob_digest() -> String {
    format!("sha256:{}", airlift_core::Digest::of(BLOB).hex())
}

#[tokio::test]
async fn anonymous_callers_read_but_never_write_and_refusals_are_audited() {
    let site = site(None);
    let push = format!("/v2/team/app/blobs/uploads/?digest={}", blob_digest());
    let refused = site.send(Method::POST, &push, None, BLOB).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    assert_eq!(
        refused.headers[header::WWW_AUTHENTICATE],
        "Bearer realm=\"http://airlift.test/v2/token\",service=\"airlift\",scope=\"repository:team/app:pull,push\""
    );
    assert!(
        refused.body.contains("\"UNAUTHORIZED\""),
        "{}",
        refused.body
    );
    let events = site.events("access-refused");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["caller"]["principal"], "anonymous");
    assert_eq!(events[0]["caller"]["user_agent"], "access-test/1");
    assert_eq!(events[0]["action"], "write");
    assert_eq!(events[0]["name"], "team/app");

    // The same push with a write token: stored, and the audit event names
    // who pushed.
    let pushed = site
        .send(Method::POST, &push, Some(&site.write), BLOB)
        .await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.body);
    let changes = site.events("registry-change");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["caller"]["principal"], "ci");
    assert_eq!(changes[0]["caller"]["token"], "push");

    // Anonymous reads pass on this (loopback-default) policy; the API base
    // still challenges, so that `login` commands verify credentials.
    let blob = format!("/v2/team/app/blobs/{}", blob_digest());
    assert_eq!(
        site.send(Method::GET, &blob, None, b"").await.status,
        StatusCode::OK
    );
    assert_eq!(
        site.send(Method::GET, "/v2/", None, b"").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        site.send(Method::GET, "/v2/", Some(&site.read), b"")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        site.send(Method::GET, "/healthz", None, b"").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn tokens_are_confined_to_their_scopes_and_actions() {
    let site = site(None);
    let push = format!("/v2/team/app/blobs/uploads/?digest={}", blob_digest());
    let read_only = site.send(Method::POST, &push, Some(&site.read), BLOB).await;
    assert_eq!(
        read_only.status,
        StatusCode::FORBIDDEN,
        "{}",
        read_only.body
    );
    assert!(read_only.body.contains("\"DENIED\""));
    assert!(
        read_only.body.contains("token \\\"pull\\\""),
        "{}",
        read_only.body
    );
    let elsewhere = "/v2/other/app/blobs/uploads/";
    assert_eq!(
        site.send(Method::POST, elsewhere, Some(&site.write), b"")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        site.send(Method::POST, &push, Some(&site.write), BLOB)
            .await
            .status,
        StatusCode::CREATED
    );
    let blob = format!("/v2/team/app/blobs/{}", blob_digest());
    let delete = site
        .send(Method::DELETE, &blob, Some(&site.write), b"")
        .await;
    assert_eq!(
        delete.status,
        StatusCode::FORBIDDEN,
        "a read,write token deleted: {}",
        delete.body
    );
    assert_eq!(
        site.send(Method::DELETE, &blob, None, b"").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Denied writes are audited with the token that tried.
    let refused = site.events("access-refused");
    assert!(
        refused
            .iter()
            .any(|e| e["caller"]["token"] == "pull" && e["status"] == 403),
        "{refused:?}"
    );
    // Other protocols refuse in their own words.
    let npm = site
        .send(
            Method::GET,
            "/npm/left-pad",
            Some("Bearer airlift_wrong"),
            b"",
        )
        .await;
    assert_eq!(npm.status, StatusCode::UNAUTHORIZED);
    assert_eq!(npm.body, "{\"error\":\"unknown token\"}");
    let cargo = site
        .send(
            Method::GET,
            "/cargo/index/3/s/syn",
            Some("airlift_wrong"),
            b"",
        )
        .await;
    assert_eq!(cargo.headers[header::WWW_AUTHENTICATE], "Cargo");
    assert!(
        cargo.body.starts_with("{\"errors\":[{\"detail\":"),
        "{}",
        cargo.body
    );
    let pypi = site
        .send(
            Method::GET,
            "/pypi/simple/six/",
            Some("Basic Ym9iOnBhc3N3b3Jk"),
            b"",
        )
        .await;
    assert_eq!(pypi.status, StatusCode::UNAUTHORIZED);
    assert!(
        pypi.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=\"airlift\"")
    );
}

#[tokio::test]
async fn the_token_endpoint_grants_what_the_caller_may_and_no_more() {
    let site = site(None);
    let basic = format!(
        "Basic {}",
        data_encoding::BASE64.encode(b"alice:alice's long password")
    );
    let answer = site
        .send(
            Method::GET,
            "/v2/token?service=airlift&scope=repository:team/app:pull,push",
            Some(&basic),
            b"",
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let token: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(token["expires_in"], 300);
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let push = format!("/v2/team/app/blobs/uploads/?digest={}", blob_digest());
    assert_eq!(
        site.send(Method::POST, &push, Some(&bearer), BLOB)
            .await
            .status,
        StatusCode::CREATED
    );
    // The token covers team/app only: another repository is a new scope
    // to ask for (401 naming it), not a 403.
    let other = site
        .send(
            Method::POST,
            "/v2/team/other/blobs/uploads/",
            Some(&bearer),
            b"",
        )
        .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    assert!(
        other.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("repository:team/other:pull,push")
    );
    // A wrong password at the token endpoint is refused; anonymous gets a
    // token that pulls what anonymous may pull and pushes nothing.
    let wrong = format!(
        "Basic {}",
        data_encoding::BASE64.encode(b"alice:not the password")
    );
    assert_eq!(
        site.send(
            Method::GET,
            "/v2/token?scope=repository:team/app:pull",
            Some(&wrong),
            b""
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let anonymous = site
        .send(
            Method::GET,
            "/v2/token?scope=repository:team/app:pull,push",
            None,
            b"",
        )
        .await;
    let token: serde_json::Value = serde_json::from_str(&anonymous.body).unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let blob = format!("/v2/team/app/blobs/{}", blob_digest());
    assert_eq!(
        site.send(Method::GET, &blob, Some(&bearer), b"")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        site.send(Method::POST, &push, Some(&bearer), BLOB)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn rules_close_what_they_do_not_open_and_guessing_is_slowed() {
    let site = site(Some(
        "[[rule]]\necosystems = [\"oci\"]\nnames = [\"team/*\"]\nread = [\"ci\"]\nwrite = [\"ci\"]\n",
    ));
    let blob = format!("/v2/team/app/blobs/{}", blob_digest());
    assert_eq!(
        site.send(Method::GET, &blob, None, b"").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        site.send(Method::GET, "/files/readme.txt", None, b"")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        site.send(Method::GET, "/pypi/simple/six/", Some(&site.read), b"")
            .await
            .status,
        StatusCode::FORBIDDEN,
        "no rule opens pypi"
    );
    assert_eq!(
        site.send(Method::GET, "/nowhere/at/all", None, b"")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let wrong = format!(
        "Basic {}",
        data_encoding::BASE64.encode(b"alice:not the password")
    );
    for _ in 0..airlift_access::gate::MAX_FAILURES {
        assert_eq!(
            site.send(Method::GET, &blob, Some(&wrong), b"")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = site.send(Method::GET, &blob, Some(&wrong), b"").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
    assert!(limited.body.contains("TOOMANYREQUESTS"), "{}", limited.body);
}

/// The web UI is behind the gate like every protocol: reading it is `read`
/// on every name of `ui` (a token narrowed to some names cannot, since the
/// pages list every name), moving an environment is `admin` on it, and the
/// pages keep their own policy, which lets their stylesheet load.
#[tokio::test]
async fn the_web_ui_is_behind_the_gate() {
    let site = site(Some(
        r#"
[[rule]]
ecosystems = ["pypi"]
read = ["anonymous"]

[[rule]]
ecosystems = ["ui"]
read = ["alice", "ci"]
"#,
    ));
    let alice = format!(
        "Basic {}",
        data_encoding::BASE64.encode(b"alice:alice's long password")
    );
    let anonymous = site.send(Method::GET, "/ui/", None, b"").await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );
    assert!(
        anonymous.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    let page = site.send(Method::GET, "/ui/", Some(&alice), b"").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.headers[header::CONTENT_SECURITY_POLICY],
        airlift_ui::html::POLICY
    );
    assert!(page.body.contains("<h1>Overview</h1>"), "{}", page.body);
    let narrowed = site
        .send(Method::GET, "/ui/audit", Some(&site.read), b"")
        .await;
    assert_eq!(narrowed.status, StatusCode::FORBIDDEN, "{}", narrowed.body);
    let promote = site
        .send(
            Method::POST,
            "/ui/environments/production/promote",
            Some(&alice),
            b"from=default",
        )
        .await;
    assert_eq!(promote.status, StatusCode::FORBIDDEN, "{}", promote.body);
    assert!(promote.body.contains("admin"), "{}", promote.body);
    let refused = site.events("access-refused");
    assert!(
        refused
            .iter()
            .any(|e| e["ecosystem"] == "ui" && e["name"] == "production"),
        "{refused:?}"
    );
    // The server's own page stays open and links the UI.
    let home = site.send(Method::GET, "/", None, b"").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("href=\"/ui/\""), "{}", home.body);
}
