//! Advisories: `[advisories]` collects OSV records one blob each, bundles
//! carry them, and `airlift scan` on the isolated side matches the
//! generation's packages with each ecosystem's version order, offline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::Path;

use airlift_store::{Change, Entry, Store};
use common::{Home, epoch};

fn record(id: &str, modified: &str, body: serde_json::Value) -> serde_json::Value {
    let mut record = serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": modified,
    });
    for (key, value) in body.as_object().unwrap() {
        record[key] = value.clone();
    }
    record
}

fn ecosystem_range(ecosystem: &str, name: &str, events: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
    })
}

/// The fixture database: a PyPI advisory in two records that alias each
/// other, a crate, an npm package with a pre-release fix, a Debian 12
/// package fixed in a security update, and a withdrawn record.
fn records() -> Vec<serde_json::Value> {
    vec![
        record(
            "GHSA-aaaa-bbbb-cccc",
            "2026-11-01T00:00:00Z",
            serde_json::json!({
                "aliases": ["CVE-2099-0001"],
                "summary": "requests leaks credentials",
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
                "affected": [ecosystem_range("PyPI", "Requests", serde_json::json!([{"introduced": "0"}, {"fixed": "2.32.0"}]))],
            }),
        ),
        record(
            "PYSEC-2099-1",
            "2026-11-02T00:00:00Z",
            serde_json::json!({
                "aliases": ["CVE-2099-0001"],
                "affected": [ecosystem_range("PyPI", "requests", serde_json::json!([{"introduced": "2.0"}, {"fixed": "2.32.0"}]))],
            }),
        ),
        record(
            "RUSTSEC-2099-0001",
            "2026-10-01T00:00:00Z",
            serde_json::json!({
                "database_specific": {"severity": "MODERATE"},
                "affected": [ecosystem_range(airlift_ecosystem::OSV_RUST, "smallvec", serde_json::json!([{"introduced": "1.0.0"}, {"fixed": "1.6.1"}]))],
            }),
        ),
        record(
            "GHSA-npmx-0000-0001",
            "2026-10-05T00:00:00Z",
            serde_json::json!({
                "database_specific": {"severity": "HIGH"},
                "affected": [ecosystem_range("npm", "left-pad", serde_json::json!([{"introduced": "0"}, {"fixed": "2.0.0-rc.1"}]))],
            }),
        ),
        record(
            "DSA-9999-1",
            "2026-12-01T00:00:00Z",
            serde_json::json!({
                "affected": [ecosystem_range("Debian:12", "jq", serde_json::json!([{"introduced": "0"}, {"fixed": "1.6-2.1+deb12u1"}]))],
            }),
        ),
        record(
            "GHSA-gone-0000-0001",
            "2026-09-01T00:00:00Z",
            serde_json::json!({
                "withdrawn": "2026-09-02T00:00:00Z",
                "affected": [ecosystem_range("PyPI", "requests", serde_json::json!([{"introduced": "0"}]))],
            }),
        ),
    ]
}

fn write_records(dir: &Path, records: &[serde_json::Value]) {
    std::fs::create_dir_all(dir).unwrap();
    for record in records {
        let id = record["id"].as_str().unwrap();
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec_pretty(record).unwrap(),
        )
        .unwrap();
    }
}

fn config(dir: &Path, sources: &str) -> std::path::PathBuf {
    let path = dir.join("airlift.toml");
    std::fs::write(&path, format!("[advisories]\nsources = [{sources}]\n")).unwrap();
    path
}

fn collect(home: &Home, config: &Path) -> serde_json::Value {
    home.run(&["--json", "collect", "--config", config.to_str().unwrap()])
        .ok()
        .json()
}

/// Adds one package entry of each ecosystem to the current generation, the
/// shape each collect writes, with blobs so that a bundle can carry them.
fn add_packages(home: &Home) {
    let store = Store::open_embedded(home.path()).unwrap();
    let mut upserts = Vec::new();
    let mut put = |ecosystem: &str, key: &str, meta: serde_json::Value| {
        let bytes = format!("{ecosystem} {key}");
        let digest = airlift_core::Digest::of(bytes.as_bytes());
        let mut writer = store.blobs.writer().unwrap();
        writer.write_all(bytes.as_bytes()).unwrap();
        writer.commit(Some(&digest)).unwrap();
        upserts.push(Entry {
            ecosystem: ecosystem.into(),
            key: key.into(),
            digest,
            size: bytes.len() as u64,
            meta,
        });
    };
    put(
        "pypi",
        "f:requests/requests-2.31.0-py3-none-any.whl",
        serde_json::json!({"version": "2.31.0"}),
    );
    put(
        "pypi",
        "f:requests/requests-2.31.0.tar.gz",
        serde_json::json!({"version": "2.31.0"}),
    );
    put("cargo", "c:smallvec/1.6.1", serde_json::json!({}));
    put("npm", "v:left-pad/2.0.0-beta.1", serde_json::json!({}));
    put(
        "apt",
        "debian/dists/bookworm",
        serde_json::json!({"suite": "bookworm", "fields": {"origin": "Debian", "version": "12.8"}}),
    );
    put(
        "apt",
        "debian/pool/main/j/jq/jq_1.6-2.1_amd64.deb",
        serde_json::json!({"package": "jq", "version": "1.6-2.1", "architecture": "amd64"}),
    );
    store
        .meta
        .apply(Change {
            source: "test".into(),
            created_at: epoch().parse().unwrap(),
            upserts,
            ..Change::default()
        })
        .unwrap();
}

#[test]
fn each_record_is_its_own_blob_and_a_new_day_stores_only_what_changed() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let mut fixtures = records();
    write_records(&work.path().join("osv"), &fixtures);
    let config = config(work.path(), r#"{ directory = "osv" }"#);

    let first = collect(&home, &config);
    assert_eq!(first["advisories"], 6, "{first:#}");
    assert_eq!(first["advisories_stored"], 6);
    assert_eq!(first["advisories_withdrawn"], 1);
    assert_eq!(first["advisories_built"], "2026-12-01T00:00:00Z");

    // The next day one record changes.
    fixtures[2]["modified"] = "2026-12-02T00:00:00Z".into();
    fixtures[2]["affected"][0]["ranges"][0]["events"][1]["fixed"] = "1.6.2".into();
    write_records(&work.path().join("osv"), &fixtures);
    let second = collect(&home, &config);
    assert_eq!(second["advisories"], 6);
    assert_eq!(second["advisories_stored"], 1, "{second:#}");
    assert_eq!(second["advisories_built"], "2026-12-02T00:00:00Z");
}

#[test]
fn records_that_are_not_osv_are_skipped_and_named() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("osv");
    write_records(&dir, &records()[..1]);
    std::fs::write(dir.join("broken.json"), b"{ not json").unwrap();
    std::fs::write(
        dir.join("no-id.json"),
        br#"{"modified": "2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("traversal.json"),
        br#"{"id": "../../etc/passwd", "modified": "2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let config = config(work.path(), r#"{ directory = "osv" }"#);
    let run = home
        .run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
    assert!(run.stdout.contains("1 advisories"), "{}", run.stdout);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("skipped 3 advisory records"), "{all}");
    assert!(all.contains("broken.json"), "{all}");
    assert!(all.contains("traversal.json"), "{all}");
}

#[test]
fn an_archive_that_is_not_a_zip_fails_the_collect_and_changes_nothing() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("all.zip");
    std::fs::write(&archive, b"this is not a zip archive").unwrap();
    let config = config(
        work.path(),
        &format!(r#"{{ url = "file://{}" }}"#, archive.display()),
    );
    home.run(&["collect", "--config", config.to_str().unwrap()])
        .fails_with(4, "not an OSV export archive");
    home.run(&["scan"]).fails_with(1, "no generation yet");
}

#[test]
fn an_export_archive_is_read_entry_by_entry_with_bounds() {
    let home = Home::new();
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("all.zip");
    {
        let file = std::fs::File::create(&archive).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for record in records() {
            zip.start_file(format!("{}.json", record["id"].as_str().unwrap()), options)
                .unwrap();
            zip.write_all(&serde_json::to_vec(&record).unwrap())
                .unwrap();
        }
        // A bomb: 64 MiB of zeros that compress to almost nothing.
        zip.start_file("BOMB-1.json", options).unwrap();
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..64 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
    }
    let config = config(
        work.path(),
        &format!(r#"{{ url = "file://{}" }}"#, archive.display()),
    );
    let run = home
        .run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("6 advisories"), "{all}");
    assert!(all.contains("BOMB-1.json"), "{all}");
}

#[test]
fn scan_across_the_gap_matches_with_each_ecosystems_order_and_merges_aliases() {
    let connected = Home::new();
    let work = tempfile::tempdir().unwrap();
    write_records(&work.path().join("osv"), &records());
    let config = config(work.path(), r#"{ directory = "osv" }"#);
    collect(&connected, &config);
    add_packages(&connected);
    connected.run(&["keys", "init"]).ok();
    let bundle = work.path().join("bundle");
    connected
        .run(&["pack", "--out", bundle.to_str().unwrap()])
        .ok();

    let isolated = Home::new();
    isolated
        .run(&["init", "--trust", connected.root().to_str().unwrap()])
        .ok();
    // Before the import: the bundle itself, verified, scanned and described.
    let before = isolated
        .run(&["--json", "scan", "--bundle", bundle.to_str().unwrap()])
        .ok()
        .json();
    let bundle_sbom = isolated
        .run(&["sbom", "--bundle", bundle.to_str().unwrap()])
        .ok()
        .json();
    // A bundle with one altered advisory record is refused, not scanned.
    let tampered = work.path().join("tampered");
    let copied = std::process::Command::new("cp")
        .args(["-r", bundle.to_str().unwrap(), tampered.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(copied.success());
    let record = walk(&tampered)
        .into_iter()
        .find(|path| std::fs::read(path).is_ok_and(|b| b.windows(10).any(|w| w == b"DSA-9999-1")))
        .expect("no record file in the bundle");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(&record, text.replace("DSA-9999-1", "DSA-9999-2")).unwrap();
    let refused = isolated.run(&["scan", "--bundle", tampered.to_str().unwrap()]);
    assert_eq!(
        refused.code, 3,
        "a tampered bundle was scanned: {}",
        refused.stdout
    );
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let served_sbom = isolated.run(&["sbom"]).ok().json();
    assert_eq!(
        bundle_sbom["components"], served_sbom["components"],
        "the bundle's SBOM is not the generation's it becomes"
    );

    let sarif = work.path().join("scan.sarif");
    let report = isolated
        .run(&["--json", "scan", "--sarif", sarif.to_str().unwrap()])
        .ok()
        .json();
    assert_eq!(report["database"]["records"], 6);
    assert_eq!(report["database"]["built"], "2026-12-01T00:00:00Z");
    let found: Vec<(String, String, String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["subject"]["ecosystem"].as_str().unwrap().to_owned(),
                f["subject"]["name"].as_str().unwrap().to_owned(),
                f["subject"]["version"].as_str().unwrap().to_owned(),
                f["records"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
        .collect();
    let expected = [
        ("Debian:12", "jq", "1.6-2.1", "DSA-9999-1"),
        (
            "PyPI",
            "requests",
            "2.31.0",
            "GHSA-aaaa-bbbb-cccc,PYSEC-2099-1",
        ),
        ("npm", "left-pad", "2.0.0-beta.1", "GHSA-npmx-0000-0001"),
    ];
    let mut found_sorted = found.clone();
    found_sorted.sort();
    let expected: Vec<(String, String, String, String)> = expected
        .iter()
        .map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into()))
        .collect();
    // smallvec 1.6.1 is the fixed version: not affected.
    assert_eq!(found_sorted, expected, "{report:#}");
    assert_eq!(before["findings"], report["findings"], "{before:#}");
    assert_eq!(before["database"]["records"], 6);

    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sarif).unwrap()).unwrap();
    assert_eq!(document["version"], "2.1.0");
    assert_eq!(document["runs"][0]["results"].as_array().unwrap().len(), 3);

    isolated
        .run(&["scan", "--fail-on", "high"])
        .fails_with(7, "at or above --fail-on high");
    isolated
        .run(&["scan", "--fail-on", "critical"])
        .fails_with(7, "critical");
    // A database built on 2026-12-01 is older than a day at the test's clock.
    isolated
        .run_env(
            &["scan", "--max-age", "1"],
            &[("SOURCE_DATE_EPOCH", "1798000000")],
        )
        .fails_with(3, "days old, over --max-age 1");
}

#[test]
fn a_days_update_travels_as_a_delta_of_the_changed_records_and_metrics_show_the_age() {
    let connected = Home::new();
    let work = tempfile::tempdir().unwrap();
    let mut fixtures = records();
    write_records(&work.path().join("osv"), &fixtures);
    let config = config(work.path(), r#"{ directory = "osv" }"#);
    collect(&connected, &config);
    connected.run(&["keys", "init"]).ok();
    let first = work.path().join("first");
    connected
        .run(&["pack", "--out", first.to_str().unwrap()])
        .ok();
    let isolated = Home::new();
    isolated
        .run(&["init", "--trust", connected.root().to_str().unwrap()])
        .ok();
    isolated.run(&["import", first.to_str().unwrap()]).ok();
    let receipt = work.path().join("receipt.json");
    isolated
        .run(&["receipt", "export", "--out", receipt.to_str().unwrap()])
        .ok();

    // The next day: one record changes.
    fixtures[2]["modified"] = "2026-12-02T00:00:00Z".into();
    fixtures[2]["affected"][0]["ranges"][0]["events"][1]["fixed"] = "1.6.2".into();
    write_records(&work.path().join("osv"), &fixtures);
    collect(&connected, &config);
    let delta = work.path().join("delta");
    let packed = connected
        .run_env(
            &[
                "--json",
                "pack",
                "--out",
                delta.to_str().unwrap(),
                "--receipt",
                receipt.to_str().unwrap(),
            ],
            &[("SOURCE_DATE_EPOCH", &common::epoch_plus(60))],
        )
        .ok()
        .json();
    // The changed record and the database's description: two small blobs.
    assert_eq!(packed["blobs"], 2, "{packed:#}");
    assert!(packed["blob_bytes"].as_u64().unwrap() < 4096, "{packed:#}");
    // Advisories are no packages: the generation's SBOMs (two) are the
    // same and stay behind with the unchanged records.
    assert_eq!(packed["omitted_blobs"], 7, "{packed:#}");
    isolated.run(&["import", delta.to_str().unwrap()]).ok();

    let server = common::Server::start(&isolated);
    let (status, _, body) = common::http(server.address, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("airlift_advisory_records 6\n"), "{text}");
    let expected = "2026-12-02T00:00:00Z"
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    assert!(
        text.contains(&format!(
            "airlift_advisory_database_built_timestamp_seconds {expected}\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("airlift_advisory_database_age_seconds "),
        "{text}"
    );
}

#[test]
fn drift_compares_what_a_host_runs_with_what_the_site_serves() {
    let connected = Home::new();
    let work = tempfile::tempdir().unwrap();
    write_records(&work.path().join("osv"), &records());
    let config = config(work.path(), r#"{ directory = "osv" }"#);
    collect(&connected, &config);
    add_packages(&connected);
    connected.run(&["keys", "init"]).ok();
    let bundle = work.path().join("bundle");
    connected
        .run(&["pack", "--out", bundle.to_str().unwrap()])
        .ok();
    let isolated = Home::new();
    isolated
        .run(&["init", "--trust", connected.root().to_str().unwrap()])
        .ok();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();

    // A host: requests as served, smallvec at another version, a package
    // the site does not carry, and a Go module (no Go packages here).
    let freeze = work.path().join("freeze.txt");
    std::fs::write(&freeze, "requests==2.31.0\nflask==3.0.0\n").unwrap();
    let lock = work.path().join("Cargo.lock");
    std::fs::write(
        &lock,
        "version = 4\n\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://index.example.com/\"\n",
    )
    .unwrap();
    let report = isolated
        .run(&[
            "--json",
            "drift",
            "--inventory",
            freeze.to_str().unwrap(),
            "--inventory",
            lock.to_str().unwrap(),
        ])
        .ok()
        .json();
    let hosts: Vec<(String, String, String, String)> = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_owned(),
                h["name"].as_str().unwrap().to_owned(),
                h["version"].as_str().unwrap().to_owned(),
                h["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        })
        .collect();
    let expected: Vec<(String, String, String, String)> = [
        ("not-carried", "flask", "3.0.0", ""),
        // 1.6.0 is below the fix the site's 1.6.1 carries.
        (
            "version-not-served",
            "smallvec",
            "1.6.0",
            "RUSTSEC-2099-0001",
        ),
    ]
    .iter()
    .map(|(a, b, c, d)| ((*a).into(), (*b).into(), (*c).into(), (*d).into()))
    .collect();
    assert_eq!(hosts, expected, "{report:#}");
    assert_eq!(
        report["hosts"][1]["served_versions"],
        serde_json::json!(["1.6.1"])
    );
    assert_eq!(report["counts"]["hosts"], 2);
}

#[test]
fn plan_shows_what_a_bundle_introduces_and_an_import_policy_refuses_it_without_an_exception() {
    let connected = Home::new();
    let work = tempfile::tempdir().unwrap();
    write_records(&work.path().join("osv"), &records());
    let config = config(work.path(), r#"{ directory = "osv" }"#);
    collect(&connected, &config);
    add_packages(&connected);
    connected.run(&["keys", "init"]).ok();
    let bundle = work.path().join("bundle");
    connected
        .run(&["pack", "--out", bundle.to_str().unwrap()])
        .ok();
    let isolated = Home::new();
    isolated
        .run(&["init", "--trust", connected.root().to_str().unwrap()])
        .ok();

    // The plan lists the findings the bundle brings, from its own records.
    let plan = isolated
        .run(&["--json", "plan", bundle.to_str().unwrap()])
        .ok()
        .json();
    let mut introduced: Vec<String> = plan["admission"]["introduced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["id"].as_str().unwrap(), f["new_package"]))
        .collect();
    introduced.sort();
    assert_eq!(
        introduced,
        [
            "DSA-9999-1 true",
            "GHSA-aaaa-bbbb-cccc true",
            "GHSA-npmx-0000-0001 true"
        ],
        "{plan:#}"
    );
    assert_eq!(plan["admission"]["database"]["from"], "bundle");
    assert!(
        plan.get("admission_refusal").is_none(),
        "no policy, no refusal"
    );
    let text = isolated
        .run(&["plan", bundle.to_str().unwrap()])
        .ok()
        .stdout;
    assert!(text.contains("3 findings introduced, 0 fixed"), "{text}");

    // A policy that refuses high findings: the import is refused, nothing changes.
    let policy = isolated.path().join("import-policy.toml");
    std::fs::write(&policy, "[advisories]\nrefuse = \"high\"\n").unwrap();
    let refused = isolated
        .run(&["import", bundle.to_str().unwrap()])
        .fails_with(3, "the import policy refuses 2 finding(s)");
    assert!(
        refused.stderr.contains("GHSA-aaaa-bbbb-cccc (critical)"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("GHSA-npmx-0000-0001 (high)"),
        "{}",
        refused.stderr
    );
    isolated.run(&["scan"]).fails_with(1, "no generation yet");

    // An exception that expired does not admit; one in force does, by any
    // of the advisory's ids, and the import's audit event names it.
    std::fs::write(
        &policy,
        "[advisories]\nrefuse = \"high\"\n\n\
         [[exception]]\nadvisory = \"CVE-2099-0001\"\npackage = \"PyPI/requests\"\n\
         justification = \"the affected proxy code is not used\"\nexpires = \"2099-12-31\"\napproved_by = \"alice\"\n\n\
         [[exception]]\nadvisory = \"GHSA-npmx-0000-0001\"\njustification = \"old\"\nexpires = \"2020-01-01\"\napproved_by = \"bob\"\n",
    )
    .unwrap();
    isolated
        .run(&["import", bundle.to_str().unwrap()])
        .fails_with(
            3,
            "refuses 1 finding(s): npm left-pad 2.0.0-beta.1 brings GHSA-npmx-0000-0001",
        );
    std::fs::write(
        &policy,
        "[advisories]\nrefuse = \"critical\"\n\n\
         [[exception]]\nadvisory = \"CVE-2099-0001\"\npackage = \"PyPI/requests\"\n\
         justification = \"the affected proxy code is not used\"\nexpires = \"2099-12-31\"\napproved_by = \"alice\"\n",
    )
    .unwrap();
    let imported = isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    assert!(
        imported
            .stdout
            .contains("exception used: CVE-2099-0001 for PyPI/requests 2.31.0 (approved by alice"),
        "{}",
        imported.stdout
    );
    let export = isolated.run(&["--json", "audit", "export"]).ok().stdout;
    assert!(export.contains("exceptions_used"), "{export}");
    assert!(
        export.contains("the affected proxy code is not used"),
        "{export}"
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
