//! The ecosystem contract at work: a toy ecosystem defined here, registered
//! with one line next to the real ones, gets `collect`, `pack`, `import`,
//! `serve` and `client-config` with no other edit anywhere.

use std::path::Path;
use std::sync::Arc;

use airlift_ecosystem::{
    About, BoxFuture, Client, ClientConfig, ClientRequest, CollectContext, Collected, Declared,
    Ecosystem, Error, Package, Plan, Services, Table,
};
use airlift_store::{Entry, Store};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use tower::ServiceExt;

mod common;

/// `[toy] things = ["a", "b"]`: each thing is a blob holding `thing <name>`.
struct Toy;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ToySpec {
    things: Vec<String>,
}

struct ToyPlan(Vec<String>);

impl Ecosystem for Toy {
    fn about(&self) -> About {
        About {
            name: "toy",
            title: "Toy things",
            table: Table::one("toy"),
            served_at: "/toy/",
        }
    }
    fn plan(&self, declared: &Declared<'_>) -> Result<Option<Box<dyn Plan>>, Error> {
        Ok(declared
            .table::<ToySpec>("toy")?
            .map(|spec| Box::new(ToyPlan(spec.things)) as Box<dyn Plan>))
    }
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        Some(entry.key.clone())
    }
    fn access(&self, method: &axum::http::Method, path: &str) -> Option<airlift_ecosystem::Access> {
        let name = path.strip_prefix("/toy/")?;
        Some(airlift_ecosystem::Access::by_method(method, name))
    }
    fn routes(&self, services: &Services) -> Router {
        Router::new()
            .route("/toy/{name}", axum::routing::get(serve_thing))
            .with_state(services.store.clone())
    }
    fn clients(&self) -> &'static [Client] {
        &[Client {
            name: "toyctl",
            about: "toyctl: a toy.conf",
        }]
    }
    fn client_config(
        &self,
        _tool: &str,
        request: &ClientRequest<'_>,
    ) -> Result<ClientConfig, Error> {
        Ok(ClientConfig {
            tool: "toyctl",
            file: "toy.conf",
            content: format!("url = {}/toy/\n", request.base),
            environment: Vec::new(),
        })
    }
    fn package(&self, entry: &Entry) -> Option<Package> {
        Some(Package {
            ecosystem: "toy",
            name: entry.key.clone(),
            version: "1".into(),
            purl: format!("pkg:generic/{}@1", entry.key),
            digest: None,
            licenses: Vec::new(),
        })
    }
}

impl Plan for ToyPlan {
    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>> {
        Box::pin(async move {
            let entries = common::store_named(context.store, "toy", &self.0, |name| {
                format!("thing {name}")
            })?;
            Ok(Collected {
                line: Some(format!("{} toy things", entries.len())),
                summary: vec![("toy_things", entries.len().into())],
                notes: Vec::new(),
                entries,
                upstream: Vec::new(),
            })
        })
    }
}

async fn serve_thing(
    State(store): State<Store>,
    UrlPath(name): UrlPath<String>,
) -> axum::response::Response {
    let found = tokio::task::spawn_blocking(move || -> Option<Vec<u8>> {
        let generation = store.meta.current().ok()??;
        let entry = store
            .meta
            .entries(generation.id, Some("toy"))
            .ok()?
            .into_iter()
            .find(|e| e.key == name)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut store.blobs.open(&entry.digest).ok()?, &mut bytes).ok()?;
        Some(bytes)
    })
    .await
    .ok()
    .flatten();
    match found {
        Some(bytes) => bytes.into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

/// The real ecosystems and the toy: the one line that registers it.
fn registry() -> Arc<[Arc<dyn Ecosystem>]> {
    let mut all = airlift::ecosystems::all().to_vec();
    all.push(Arc::new(Toy));
    Arc::from(all)
}

/// Runs one airlift command in-process with the toy registered; its output.
fn airlift(home: &Path, args: &[&str]) -> String {
    common::in_process_ok(home, args, registry())
}

#[test]
fn a_toy_ecosystem_registered_in_one_line_goes_across_the_gap() {
    let work = tempfile::tempdir().expect("tempdir");
    let connected = work.path().join("connected");
    let isolated = work.path().join("isolated");
    let config = work.path().join("airlift.toml");
    std::fs::write(&config, "[toy]\nthings = [\"a\", \"b\"]\n").expect("config");

    let collected = airlift(
        &connected,
        &["collect", "--config", config.to_str().expect("utf-8")],
    );
    assert!(
        collected.contains("collected 2 toy things into generation 1"),
        "{collected}"
    );
    let summary = airlift(&connected, &["--json", "status"]);
    assert!(summary.contains("\"toy\""), "{summary}");

    airlift(&connected, &["keys", "init"]);
    let bundle = work.path().join("bundle.tar");
    let packed = airlift(
        &connected,
        &["pack", "--out", bundle.to_str().expect("utf-8")],
    );
    // The two things and the generation's two SBOMs.
    assert!(packed.contains("packed 4 entries"), "{packed}");

    let root = connected.join("keys/roots/1.root.json");
    airlift(
        &isolated,
        &["init", "--trust", root.to_str().expect("utf-8")],
    );
    let plan = airlift(&isolated, &["plan", bundle.to_str().expect("utf-8")]);
    assert!(
        plan.contains("+ toy/a") && plan.contains("+ toy/b"),
        "{plan}"
    );
    let imported = airlift(&isolated, &["import", bundle.to_str().expect("utf-8")]);
    assert!(imported.contains("with 4 entries is current"), "{imported}");

    let configured = airlift(
        &isolated,
        &[
            "client-config",
            "toyctl",
            "--url",
            "http://airlift.example.com:8080/",
        ],
    );
    assert!(
        configured.contains("url = http://airlift.example.com:8080/toy/"),
        "{configured}"
    );

    // serve: the application `airlift serve` runs, with the same registry.
    let store = Store::open_embedded(&isolated).expect("store");
    let app = airlift_server::app_with(
        store,
        isolated.join("uploads"),
        airlift_server::Services {
            ecosystems: registry(),
            ..Default::default()
        },
    );
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let body = |path: &str| {
        let request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .expect("request");
        runtime.block_on(async {
            let response = app.clone().oneshot(request).await.expect("answer");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("body");
            (status, String::from_utf8_lossy(&bytes).into_owned())
        })
    };
    assert_eq!(
        body("/toy/a"),
        (axum::http::StatusCode::OK, "thing a".to_owned())
    );
    assert_eq!(body("/toy/b").1, "thing b");
    assert_eq!(body("/toy/c").0, axum::http::StatusCode::NOT_FOUND);
    let (_, page) = body("/");
    assert!(
        page.contains("Toy things") && page.contains("airlift client-config toyctl"),
        "{page}"
    );
    // The real ecosystems are still mounted next to it.
    assert_eq!(body("/pypi/simple/").0, axum::http::StatusCode::OK);
}

#[test]
fn an_unknown_table_is_refused_with_the_registered_ones_named() {
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("airlift.toml");
    std::fs::write(&config, "[toys]\nthings = [\"a\"]\n").expect("config");
    let (_, result) = common::in_process(
        work.path(),
        &["collect", "--config", config.to_str().expect("utf-8")],
        registry(),
    );
    let failure = result.expect_err("refused");
    assert_eq!(failure.code, airlift::Exit::Input);
    assert!(
        failure.message.contains(":1:") && failure.message.contains("`toy`"),
        "{}",
        failure.message
    );
}
