//! Staleness: collect records what the upstreams offer of every carried
//! package, the bundle carries that record signed, and `airlift drift` on
//! the isolated side shows what is out of date and what each advisory's
//! fix is waiting for. An ecosystem not collected again keeps its part.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use airlift_ecosystem::{
    About, BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error, Package, Plan,
    Services, Table, UpstreamVersions,
};
use airlift_store::Entry;
use airlift_test_support::pypi::{Index, release};
use serde_json::json;

/// A toy ecosystem whose collect says its upstream has 2.0.0 of every
/// thing it carries at 1.0.0; it plans only when `[toy]` is declared, so
/// a collect without it keeps its entries (and its staleness part).
struct Toy;

#[derive(serde::Deserialize)]
struct ToySpec {
    things: Vec<String>,
}

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
    fn routes(&self, _services: &Services) -> axum::Router {
        axum::Router::new()
    }
    fn entry_name(&self, entry: &Entry) -> Option<String> {
        Some(entry.key.clone())
    }
    fn access(&self, _: &axum::http::Method, _: &str) -> Option<airlift_ecosystem::Access> {
        None
    }
    fn package(&self, entry: &Entry) -> Option<Package> {
        Some(Package {
            ecosystem: "toy",
            name: entry.key.clone(),
            version: "1.0.0".into(),
            purl: format!("pkg:generic/{}@1.0.0", entry.key),
            digest: None,
            licenses: Vec::new(),
        })
    }
}

struct ToyPlan(Vec<String>);

impl Plan for ToyPlan {
    fn collect<'a>(
        &'a self,
        context: &'a CollectContext<'a>,
    ) -> BoxFuture<'a, Result<Collected, Error>> {
        Box::pin(async move {
            let entries = common::store_named(context.store, "toy", &self.0, str::to_owned)?;
            Ok(Collected {
                entries,
                upstream: self
                    .0
                    .iter()
                    .map(|name| UpstreamVersions {
                        name: name.clone(),
                        versions: vec!["2.0.0".into()],
                    })
                    .collect(),
                ..Collected::default()
            })
        })
    }
}

fn airlift(home: &Path, args: &[&str]) -> String {
    let mut registry = airlift::ecosystems::all().to_vec();
    registry.push(Arc::new(Toy));
    common::in_process_ok(home, args, Arc::from(registry))
}

fn osv(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let records = [
        json!({
            "schema_version": "1.6.0", "id": "GHSA-fix-upstream", "modified": "2026-11-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}]}],
        }),
        json!({
            "schema_version": "1.6.0", "id": "GHSA-no-fix-yet", "modified": "2026-11-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "left-pad"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.0"}]}]}],
        }),
    ];
    for record in records {
        std::fs::write(
            dir.join(format!("{}.json", record["id"].as_str().unwrap())),
            record.to_string(),
        )
        .unwrap();
    }
}

fn config(path: &Path, pypi: &str, npm: &str, toy: bool) {
    let mut text = format!(
        "[pypi]\nindex = \"{pypi}\"\npython = [\"3.12\"]\nplatforms = [\"any\"]\npackages = [\"requests==2.31.0\"]\n\n\
         [npm]\nregistry = \"{npm}/\"\npackages = [\"left-pad@2.0.0-beta.1\"]\n\n\
         [advisories]\nsources = [{{ directory = \"osv\" }}]\n"
    );
    if toy {
        text.push_str("\n[toy]\nthings = [\"gadget\"]\n");
    }
    std::fs::write(path, text).unwrap();
}

fn staleness_of(drift: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let out_of_date = drift["staleness"]["out_of_date"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {} {} -> {} ({} newer)",
                s["ecosystem"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
                s["carried"].as_str().unwrap(),
                s["newest"].as_str().unwrap(),
                s["newer"]
            )
        })
        .collect();
    let waiting = drift["staleness"]["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{} {} {}: {} {}",
                w["advisory"].as_str().unwrap(),
                w["name"].as_str().unwrap(),
                w["version"].as_str().unwrap(),
                w["status"].as_str().unwrap(),
                w["detail"].as_str().unwrap()
            )
        })
        .collect();
    (out_of_date, waiting)
}

#[test]
fn drift_across_the_gap_shows_what_is_out_of_date_and_what_a_fix_waits_for() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let first_index = runtime.block_on(
        Index::build(&[
            release("requests", "2.31.0", &[]),
            release("requests", "2.32.0", &[]),
        ])
        .serve(),
    );
    let npm = runtime.block_on(airlift_test_support::npm::Registry::serve(
        &[
            ("left-pad", "1.0.0", json!({})),
            ("left-pad", "2.0.0-beta.1", json!({})),
        ],
        &[("left-pad", "1.0.0")],
        "",
    ));
    let work = tempfile::tempdir().unwrap();
    osv(&work.path().join("osv"));
    let toml = work.path().join("airlift.toml");
    let connected = work.path().join("connected");
    let collect = |home: &Path| {
        airlift(
            home,
            &["--json", "collect", "--config", toml.to_str().unwrap()],
        );
    };

    config(&toml, &first_index, &npm, true);
    collect(&connected);
    // The upstream moves on; the toy is not collected again.
    let second_index = runtime.block_on(
        Index::build(&[
            release("requests", "2.31.0", &[]),
            release("requests", "2.32.0", &[]),
            release("requests", "2.33.0", &[]),
        ])
        .serve(),
    );
    config(&toml, &second_index, &npm, false);
    collect(&connected);

    airlift(&connected, &["keys", "init"]);
    let bundle = work.path().join("bundle");
    airlift(&connected, &["pack", "--out", bundle.to_str().unwrap()]);
    let isolated = work.path().join("isolated");
    let root = connected.join("keys/roots/1.root.json");
    airlift(&isolated, &["init", "--trust", root.to_str().unwrap()]);
    airlift(&isolated, &["import", bundle.to_str().unwrap()]);

    let drift: serde_json::Value =
        serde_json::from_str(&airlift(&isolated, &["--json", "drift"])).unwrap();
    assert_eq!(drift["counts"]["integrity"], 0, "{drift:#}");
    assert!(drift["staleness"]["collected"].is_string(), "{drift:#}");
    let (out_of_date, waiting) = staleness_of(&drift);
    assert_eq!(
        out_of_date,
        [
            "pypi requests 2.31.0 -> 2.33.0 (2 newer)",
            "toy gadget 1.0.0 -> 2.0.0 (1 newer)",
        ],
        "the re-collect read pypi again and kept the toy's part: {drift:#}"
    );
    let as_of = drift["staleness"]["collected"].as_str().unwrap();
    assert_eq!(
        waiting,
        [
            format!("GHSA-no-fix-yet left-pad 2.0.0-beta.1: no-fix-upstream no fix upstream as of {as_of}"),
            "GHSA-fix-upstream requests 2.31.0: fixed-upstream fixed upstream in 2.32.0 (not carried)".to_owned(),
        ],
        "sorted by ecosystem and name: {drift:#}"
    );
    assert_eq!(drift["counts"]["stale"], 2);
    // The findings, counted by level for /metrics (airlift_findings).
    assert_eq!(drift["counts"]["finding_check"], 1, "{drift:#}");
    let counted: u64 = ["critical", "high", "medium", "low", "unknown"]
        .iter()
        .map(|level| {
            drift["counts"][format!("findings_{level}")]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(counted, 2, "{drift:#}");

    let human = airlift(&isolated, &["drift"]);
    assert!(
        human.contains("staleness: 2 carried packages have newer versions upstream"),
        "{human}"
    );
    assert!(
        human.contains("requests 2.31.0: fixed upstream in 2.32.0 (not carried)"),
        "{human}"
    );

    let report_dir = work.path().join("report");
    airlift(
        &isolated,
        &["report", "--out", report_dir.to_str().unwrap()],
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    let staleness = report["drift"]["staleness"].as_array().unwrap();
    assert!(
        staleness.iter().any(|item| item["key"] == "requests 2.31.0"
            && item["detail"]
                .as_str()
                .unwrap()
                .contains("the newest 2.33.0")),
        "{report:#}"
    );
    assert!(
        staleness
            .iter()
            .any(|item| item["detail"] == format!("GHSA-no-fix-yet: no fix upstream as of {as_of}")),
        "{report:#}"
    );
}

#[test]
fn a_generation_without_upstream_records_carries_no_staleness_document() {
    let work = tempfile::tempdir().unwrap();
    osv(&work.path().join("osv"));
    let toml = work.path().join("airlift.toml");
    std::fs::write(&toml, "[advisories]\nsources = [{ directory = \"osv\" }]\n").unwrap();
    let home = work.path().join("home");
    airlift(&home, &["collect", "--config", toml.to_str().unwrap()]);
    let drift: serde_json::Value =
        serde_json::from_str(&airlift(&home, &["--json", "drift"])).unwrap();
    assert_eq!(drift["staleness"]["collected"], serde_json::Value::Null);
    assert_eq!(drift["counts"]["staleness_check"], 0);
    // A database is carried, with nothing to match: checked, none found.
    assert_eq!(drift["counts"]["finding_check"], 1, "{drift:#}");
    assert_eq!(drift["counts"]["findings_critical"], 0, "{drift:#}");
}
