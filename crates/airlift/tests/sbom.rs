//! `airlift sbom`: a CycloneDX or SPDX document of the current generation,
//! with every package the registered ecosystems recognise, its package URL
//! and hashes, and the same bytes for the same generation and clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use airlift_ecosystem::{
    About, BoxFuture, CollectContext, Collected, Declared, Ecosystem, Error, Package, Plan,
    Services, Table,
};
use airlift_store::Entry;
use base64::Engine as _;
use common::{Connected, Home, epoch, sha256_hex};

fn sample() -> Connected {
    Connected::new(vec![
        ("tools/tool.bin".into(), b"a tool\n".to_vec()),
        ("docs/readme.txt".into(), b"read me\n".to_vec()),
    ])
}

#[test]
fn cyclonedx_lists_every_file_with_its_purl_and_sha256() {
    let connected = sample();
    let out = connected.work.path().join("sbom.cdx.json");
    let run = connected
        .home
        .run(&["--json", "sbom", "--out", out.to_str().unwrap()])
        .ok();
    let summary = run.json();
    assert_eq!(summary["format"], "cyclonedx");
    assert_eq!(summary["components"], 2);
    assert_eq!(summary["out"], out.to_str().unwrap());

    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    let seconds: i64 = epoch().parse().unwrap();
    let expected_time = jiff::Timestamp::from_second(seconds).unwrap().to_string();
    assert_eq!(bom["metadata"]["timestamp"], expected_time.as_str());
    let serial = bom["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );

    let components = bom["components"].as_array().unwrap();
    // Sorted by ecosystem and key: docs/ before tools/.
    let names: Vec<&str> = components
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docs/readme.txt", "tools/tool.bin"]);
    for (component, (path, data)) in components.iter().zip(connected.files.iter().rev()) {
        let sha = sha256_hex(data);
        assert_eq!(component["type"], "file");
        assert_eq!(component["bom-ref"], format!("files:{path}"));
        assert_eq!(
            component["hashes"],
            serde_json::json!([{"alg": "SHA-256", "content": sha}])
        );
        let base = path.rsplit('/').next().unwrap();
        assert_eq!(
            component["purl"],
            format!("pkg:generic/{base}?checksum=sha256:{sha}")
        );
    }
}

#[test]
fn spdx_lists_every_file_and_describes_it() {
    let connected = sample();
    let run = connected.home.run(&["sbom", "--format", "spdx"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert!(
        doc["documentNamespace"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    let packages = doc["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 2);
    let readme = &packages[0];
    assert_eq!(readme["name"], "docs/readme.txt");
    assert_eq!(
        readme["checksums"],
        serde_json::json!([{"algorithm": "SHA256", "checksumValue": sha256_hex(b"read me\n")}])
    );
    assert_eq!(readme["externalRefs"][0]["referenceType"], "purl");
    let relationships = doc["relationships"].as_array().unwrap();
    assert_eq!(relationships.len(), 2);
    assert_eq!(relationships[0]["relatedSpdxElement"], readme["SPDXID"]);
}

#[test]
fn the_same_generation_and_clock_give_the_same_bytes() {
    let connected = sample();
    for format in ["cyclonedx", "spdx"] {
        let first = connected.home.run(&["sbom", "--format", format]).ok();
        let second = connected.home.run(&["sbom", "--format", format]).ok();
        assert_eq!(first.stdout, second.stdout, "{format}");
        // A different clock changes the timestamp but not the serial number.
        let later = connected
            .home
            .run_env(
                &["sbom", "--format", format],
                &[("SOURCE_DATE_EPOCH", "1700000000")],
            )
            .ok();
        assert_ne!(first.stdout, later.stdout, "{format}");
        let id = |text: &str| {
            let doc: serde_json::Value = serde_json::from_str(text).unwrap();
            doc.get("serialNumber")
                .or(doc.get("documentNamespace"))
                .unwrap()
                .clone()
        };
        assert_eq!(id(&first.stdout), id(&later.stdout), "{format}");
    }
}

#[test]
fn a_home_without_a_generation_and_a_bad_format_are_errors() {
    let home = Home::new();
    home.run(&["sbom"]).fails_with(1, "no generation yet");
    let connected = sample();
    connected
        .home
        .run(&["sbom", "--format", "swid"])
        .fails_with(2, "swid");
}

/// npm packages collected from an upstream carry the licence their
/// manifest states and their dependency on the other carried package, in
/// both formats.
#[test]
fn collected_npm_packages_have_their_licences_and_dependencies() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = runtime.block_on(airlift_test_support::npm::Registry::serve(
        &[
            (
                "fx-app",
                "1.0.0",
                serde_json::json!({"license": "MIT", "dependencies": {"fx-dep": "^1.0.0"}}),
            ),
            ("fx-dep", "1.0.0", serde_json::json!({"license": "ISC"})),
            ("fx-dep", "1.2.0", serde_json::json!({"license": "ISC"})),
        ],
        &[],
        "",
    ));
    let home = Home::new();
    let config = home.path().join("npm.toml");
    std::fs::write(
        &config,
        format!("[npm]\nregistry = \"{base}/\"\npackages = [\"fx-app@1.0.0\"]\n"),
    )
    .unwrap();
    home.run(&["collect", "--config", config.to_str().unwrap()])
        .ok();

    let run = home.run(&["sbom"]).ok();
    let bom: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let component = |reference: &str| {
        bom["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["bom-ref"] == reference)
            .unwrap_or_else(|| panic!("no {reference} in {bom:#}"))
            .clone()
    };
    assert_eq!(
        component("npm:v:fx-app/1.0.0")["licenses"],
        serde_json::json!([{"license": {"name": "MIT"}}])
    );
    // The closure carries the newest match of `^1.0.0`, which the edge names.
    assert_eq!(
        component("npm:v:fx-dep/1.2.0")["licenses"],
        serde_json::json!([{"license": {"name": "ISC"}}])
    );
    assert_eq!(
        bom["dependencies"],
        serde_json::json!([{"ref": "npm:v:fx-app/1.0.0", "dependsOn": ["npm:v:fx-dep/1.2.0"]}]),
        "{bom:#}"
    );

    let run = home.run(&["sbom", "--format", "spdx"]).ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let packages = doc["packages"].as_array().unwrap();
    let id = |name: &str| {
        let package = packages.iter().find(|p| p["name"] == name).unwrap();
        assert_eq!(
            package["licenseDeclared"],
            if name == "fx-app" { "MIT" } else { "ISC" }
        );
        package["SPDXID"].clone()
    };
    let depends: Vec<_> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .map(|r| (r["spdxElementId"].clone(), r["relatedSpdxElement"].clone()))
        .collect();
    assert_eq!(depends, [(id("fx-app"), id("fx-dep"))], "{doc:#}");
}

/// An ecosystem that recognises its entries except `meta`, and states a
/// SHA-512 for each as npm does (`integrity`).
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
        (entry.key != "meta").then(|| Package {
            ecosystem: "toy",
            name: entry.key.clone(),
            version: "1.0.0".into(),
            purl: format!("pkg:generic/{}@1.0.0", entry.key),
            digest: Some(format!("sha512-{}", sha512_base64(entry.key.as_bytes()))),
            licenses: Vec::new(),
        })
    }
}

fn sha512_base64(data: &[u8]) -> String {
    let digest = sha512(data);
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// SHA-512 through airlift-core's integrity hasher (no new dependency).
fn sha512(data: &[u8]) -> [u8; 64] {
    let mut hasher = airlift_core::Integrity::Sha512([0; 64]).hasher();
    hasher.update(data);
    match hasher.finish() {
        airlift_core::Integrity::Sha512(bytes) => bytes,
        airlift_core::Integrity::Sha1(_) => unreachable!("a SHA-512 hasher"),
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
                ..Collected::default()
            })
        })
    }
}

/// Runs one airlift command in-process with the toy registered.
fn airlift(home: &Path, args: &[&str]) -> String {
    let mut registry = airlift::ecosystems::all().to_vec();
    registry.push(Arc::new(Toy));
    common::in_process_ok(home, args, Arc::from(registry))
}

#[test]
fn every_registered_ecosystem_is_asked_and_upstream_sha512_digests_are_kept() {
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let config = work.path().join("airlift.toml");
    std::fs::write(&config, "[toy]\nthings = [\"alpha\", \"meta\"]\n").unwrap();
    airlift(&home, &["collect", "--config", config.to_str().unwrap()]);

    let bom: serde_json::Value = serde_json::from_str(&airlift(&home, &["sbom"])).unwrap();
    let components = bom["components"].as_array().unwrap();
    // `meta` is not a package: only `alpha` is listed.
    assert_eq!(components.len(), 1, "{bom:#}");
    let alpha = &components[0];
    assert_eq!(alpha["type"], "file");
    assert_eq!(alpha["version"], "1.0.0");
    assert_eq!(alpha["purl"], "pkg:generic/alpha@1.0.0");
    let sha512: String = sha512(b"alpha")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        alpha["hashes"],
        serde_json::json!([
            {"alg": "SHA-256", "content": sha256_hex(b"alpha")},
            {"alg": "SHA-512", "content": sha512},
        ])
    );

    let spdx: serde_json::Value =
        serde_json::from_str(&airlift(&home, &["sbom", "--format", "spdx"])).unwrap();
    assert_eq!(
        spdx["packages"][0]["checksums"][1],
        serde_json::json!({"algorithm": "SHA512", "checksumValue": sha512})
    );
}
