//! `airlift drift`: the served index and blobs against the last bundle's
//! signed metadata (integrity), and what no imported bundle accounts for
//! (provenance), with who put it there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Connected, Home, Server};

fn drift(home: &Home) -> (i32, serde_json::Value) {
    let run = home.run(&["--json", "drift"]);
    (
        run.code,
        serde_json::from_str(&run.stdout).unwrap_or_default(),
    )
}

fn imported() -> (Connected, Home) {
    let connected = Connected::sample();
    let bundle = connected.pack("bundle", &[]);
    let isolated = connected.isolated();
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    (connected, isolated)
}

fn problems(report: &serde_json::Value) -> Vec<String> {
    report["integrity"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}: {}",
                p["kind"].as_str().unwrap(),
                p["detail"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_site_as_imported_has_no_drift() {
    let (_connected, isolated) = imported();
    let (code, report) = drift(&isolated);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["integrity"]["signed"], true);
    // Three files and the generation's two SBOMs.
    assert_eq!(report["integrity"]["entries_checked"], 5);
    assert_eq!(report["integrity"]["blobs_checked"], 5);
    assert_eq!(report["counts"]["integrity"], 0);
    assert_eq!(report["counts"]["provenance"], 0);
}

#[test]
fn an_index_edited_in_the_database_is_drift_though_every_blob_is_intact() {
    let (_connected, isolated) = imported();
    // Point one entry at another stored blob: fsck finds nothing wrong
    // (the blob exists and has that size), but no signed bundle says so.
    let db = rusqlite::Connection::open(isolated.path().join("store/index.sqlite")).unwrap();
    let (digest, size): (String, i64) = db
        .query_row(
            "SELECT digest, size FROM entries WHERE key = 'tools/big.bin'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let changed = db
        .execute(
            "UPDATE entries SET digest = ?1, size = ?2 WHERE key = 'docs/readme.txt'",
            rusqlite::params![digest, size],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(db);
    isolated.run(&["fsck"]).ok();
    let (code, report) = drift(&isolated);
    assert_eq!(code, 5, "{report:#}");
    let problems = problems(&report);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("index: the files entries")),
        "{problems:?}"
    );
}

#[test]
fn a_blob_changed_on_disk_is_drift() {
    let (_connected, isolated) = imported();
    let blobs = isolated.path().join("store/blobs/sha256");
    let data = b"hello from the connected side\n".repeat(100);
    let hex = common::sha256_hex(&data);
    let path = blobs.join(&hex[..2]).join(&hex);
    std::fs::write(&path, b"hello from somewhere else....\n".repeat(100)).unwrap();
    let (code, report) = drift(&isolated);
    assert_eq!(code, 5, "{report:#}");
    let problems = problems(&report);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("corrupt-blob: blob sha256:")),
        "{problems:?}"
    );
    // --no-rehash leaves the bytes alone: the signed index still matches.
    let run = isolated.run(&["--json", "drift", "--no-rehash"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn signed_metadata_edited_after_the_import_is_drift() {
    let (_connected, isolated) = imported();
    let path = isolated.path().join("trust/tuf/targets.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let targets = value["signed"]["targets"].as_object_mut().unwrap();
    let name = targets.keys().next().unwrap().clone();
    targets[&name]["length"] = 1.into();
    std::fs::write(&path, serde_json::to_vec(&value).unwrap()).unwrap();
    let (code, report) = drift(&isolated);
    assert_eq!(code, 5, "{report:#}");
    assert_eq!(report["integrity"]["signed"], false);
    let problems = problems(&report);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("does not verify against the trusted root")),
        "{problems:?}"
    );
}

#[test]
fn what_was_pushed_inside_is_provenance_with_who_and_the_server_exports_the_counts() {
    let connected = Connected::sample();
    let isolated = connected.hosting_site("files", "uploads/*");
    let server = Server::start(&isolated);
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        "/files/uploads/report.pdf",
        &[],
        b"%PDF",
    );
    assert_eq!(status, 201);
    let (status, _, _) =
        common::request(server.address, "DELETE", "/files/docs/readme.txt", &[], b"");
    assert_eq!(status, 403, "a bundle's file is not the hosted name space");

    let (code, report) = drift(&isolated);
    assert_eq!(code, 0, "{report:#}");
    let provenance = report["provenance"].as_array().unwrap();
    assert_eq!(provenance.len(), 1, "{report:#}");
    assert_eq!(provenance[0]["change"], "added");
    assert_eq!(provenance[0]["key"], "uploads/report.pdf");
    assert_eq!(provenance[0]["hosted"], true);
    assert_eq!(provenance[0]["by"], "writer");
    assert!(provenance[0]["at"].as_str().is_some());

    let (status, _, body) = common::http(server.address, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("airlift_drift_provenance_entries 1\n"),
        "{text}"
    );
    assert!(
        text.contains("airlift_drift_integrity_problems 0\n"),
        "{text}"
    );
}
