//! `airlift report --out DIR`: the auditor's page and its JSON, gathered
//! from an isolated home that imported a bundle with advisories and had a
//! file pushed inside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Connected, Server};

#[test]
fn the_report_states_bundles_audit_packages_findings_and_drift() {
    let connected = Connected::sample();
    // One advisory for a package the site does not carry: the database is
    // reported, with no finding.
    let osv = connected.work.path().join("osv");
    std::fs::create_dir_all(&osv).unwrap();
    std::fs::write(
        osv.join("PYSEC-2099-1.json"),
        r#"{"id": "PYSEC-2099-1", "modified": "2026-12-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "PyPI", "name": "nothere"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}"#,
    )
    .unwrap();
    let config = connected.work.path().join("airlift.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[advisories]\nsources = [{{ directory = \"{}\" }}]\n",
        osv.display()
    ));
    std::fs::write(&config, text).unwrap();
    connected
        .home
        .run(&["collect", "--config", config.to_str().unwrap()])
        .ok();
    let isolated = connected.hosting_site("files", "uploads/*");
    let server = Server::start(&isolated);
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        "/files/uploads/notes.txt",
        &[],
        b"<script>alert(1)</script>",
    );
    assert_eq!(status, 201);
    // A client asks for a file the site does not carry, and reads one it does.
    let (status, _, _) = common::http(server.address, "GET", "/files/tools/missing.bin", &[]);
    assert_eq!(status, 404);
    let (status, _, _) = common::http(server.address, "GET", "/files/docs/readme.txt", &[]);
    assert_eq!(status, 200);
    // Stopped as a service manager does, so that it writes its counts.
    let mut server = server;
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(server.child.wait().unwrap().success());

    // Without an inventory, the hosts section says none was compared.
    let bare = connected.work.path().join("bare");
    isolated
        .run(&["report", "--out", bare.to_str().unwrap()])
        .ok();
    let html = std::fs::read_to_string(bare.join("report.html")).unwrap();
    assert!(html.contains("No host inventory was compared"), "{html}");

    // A host that runs a Python package the site does not carry (and
    // which the carried advisory names).
    let freeze = connected.work.path().join("freeze.txt");
    std::fs::write(&freeze, "nothere==1.0\n").unwrap();
    let out = connected.work.path().join("report");
    let summary = isolated
        .run(&[
            "--json",
            "report",
            "--out",
            out.to_str().unwrap(),
            "--inventory",
            freeze.to_str().unwrap(),
        ])
        .ok()
        .json();
    assert_eq!(summary["bundles"], 1, "{summary:#}");
    assert_eq!(summary["audit_verified"], true);
    assert_eq!(summary["drift_integrity"], 0);
    assert_eq!(summary["drift_provenance"], 1);

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let bundle = &report["bundles"][0];
    assert!(bundle["bundle_id"].as_str().unwrap().starts_with("sha256:"));
    // Five packages and the generation's two SBOMs.
    assert_eq!(bundle["entries_added"], 7, "{bundle:#}");
    assert!(
        !bundle["signers"].as_array().unwrap().is_empty(),
        "{bundle:#}"
    );
    assert_eq!(report["audit"]["verified"], true);
    assert_eq!(report["sbom"]["packages"], 4, "{:#}", report["sbom"]);
    assert_eq!(report["findings"]["database"]["records"], 1);
    assert_eq!(report["findings"]["items"], serde_json::json!([]));
    let provenance = &report["drift"]["provenance"][0];
    assert_eq!(provenance["key"], "uploads/notes.txt");
    assert!(
        provenance["detail"].as_str().unwrap().contains("by writer"),
        "{provenance:#}"
    );

    assert_eq!(
        report["drift"]["consumption_wanted"],
        serde_json::json!([{"ecosystem": "files", "name": "tools/missing.bin", "requests": 1}]),
        "{:#}",
        report["drift"]
    );
    let unused: Vec<&str> = report["drift"]["consumption_unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["key"].as_str().unwrap())
        .collect();
    assert!(unused.contains(&"tools/big.bin"), "{unused:?}");
    assert!(!unused.contains(&"docs/readme.txt"), "{unused:?}");

    let hosts = &report["drift"]["hosts"];
    assert_eq!(hosts.as_array().unwrap().len(), 1, "{hosts:#}");
    assert_eq!(hosts[0]["key"], "nothere 1.0");
    let detail = hosts[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("not carried by this site") && detail.contains("PYSEC-2099-1"),
        "{detail}"
    );

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("nothere 1.0"));
    assert!(!html.contains("No host inventory was compared"));
    assert!(html.contains("tools/missing.bin"));
    assert!(html.contains("id=\"vulnerabilities\""));
    assert!(html.contains("uploads/notes.txt"));
    assert!(!html.contains("<script"), "nothing from the data runs");
    assert!(!html.contains("http://") && !html.contains("https://"));
}
