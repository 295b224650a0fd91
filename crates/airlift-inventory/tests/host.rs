//! Host inventory files: each format `read_inventory` detects, and what it refuses.

#![allow(clippy::unwrap_used)]

use airlift_inventory::{Error, Kind, Limits, read_inventory, read_inventory_with};

fn summary(bytes: &[u8]) -> Vec<String> {
    let inventory = read_inventory(bytes, "host.txt").unwrap();
    let mut lines: Vec<String> = inventory
        .packages
        .iter()
        .map(|package| {
            format!(
                "{} {}@{} {}",
                package.kind,
                package.name,
                package.version,
                package.osv_ecosystem.as_deref().unwrap_or("-")
            )
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn dpkg_status_file() {
    let text = b"Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\nArchitecture: amd64\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1\n";
    assert_eq!(summary(text), vec!["deb curl@7.88.1-10 -"]);
    let inventory = read_inventory(text, "status").unwrap();
    assert_eq!(
        inventory.packages[0].purl,
        "pkg:deb/debian/curl@7.88.1-10?arch=amd64"
    );
}

#[test]
fn pip_inspect_json() {
    let json = br#"{"version":"1","pip_version":"23.3","installed":[
        {"metadata":{"metadata_version":"2.1","name":"requests","version":"2.31.0","license":"Apache 2.0","classifier":["License :: OSI Approved :: Apache Software License"]},"metadata_location":"/usr/lib/python3/site-packages/requests-2.31.0.dist-info"},
        {"metadata":{"name":"attrs","version":"23.1.0","license_expression":"MIT"}},
        {"metadata":{"name":"broken"}}
    ],"environment":{}}"#;
    assert_eq!(
        summary(json),
        vec!["python attrs@23.1.0 PyPI", "python requests@2.31.0 PyPI"]
    );
    let inventory = read_inventory(json, "inspect.json").unwrap();
    assert_eq!(
        inventory.packages[0].licenses,
        vec!["Apache 2.0", "Apache Software License"]
    );
    assert_eq!(
        inventory.packages[0].location,
        "/usr/lib/python3/site-packages/requests-2.31.0.dist-info"
    );
    assert_eq!(inventory.skipped.len(), 1);
}

#[test]
fn pip_freeze_output() {
    let text = b"# generated\nrequests==2.31.0\nSome_Package[extra]==1.0\n-e git+https://git.example.com/x.git#egg=x\nlocal @ file:///tmp/local\n";
    assert_eq!(
        summary(text),
        vec![
            "python requests@2.31.0 PyPI",
            "python some-package@1.0 PyPI"
        ]
    );
    let inventory = read_inventory(text, "freeze.txt").unwrap();
    assert_eq!(
        inventory
            .packages
            .iter()
            .find(|package| package.name == "some-package")
            .unwrap()
            .purl,
        "pkg:pypi/some-package@1.0"
    );
    assert_eq!(inventory.skipped.len(), 2);
}

#[test]
fn npm_ls_json() {
    let json = br#"{"name":"app","version":"1.0.0","dependencies":{
        "express":{"version":"4.18.2","dependencies":{"debug":{"version":"2.6.9","dependencies":{"ms":{"version":"2.0.0"}}},"@types/node":{"version":"20.0.0"}}},
        "ms":{"version":"2.0.0"},
        "missing-one":{"required":"^1.0.0","missing":true}
    }}"#;
    assert_eq!(
        summary(json),
        vec![
            "npm @types/node@20.0.0 npm",
            "npm debug@2.6.9 npm",
            "npm express@4.18.2 npm",
            "npm ms@2.0.0 npm"
        ]
    );
    let inventory = read_inventory(json, "ls.json").unwrap();
    assert_eq!(inventory.skipped.len(), 1);
    // Nesting deeper than the bound is refused.
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(matches!(
        read_inventory_with(json, "ls.json", &limits),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn cargo_lock() {
    let text = b"version = 4\n\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://index.example.com/\"\nchecksum = \"abc\"\n\n[[package]]\nname = \"g\"\nversion = \"0.2.0\"\nsource = \"git+https://git.example.com/g#abc\"\n";
    assert_eq!(
        summary(text),
        vec![
            "rust app@0.1.0 -",
            "rust g@0.2.0 -",
            "rust itoa@1.0.11 crates.io"
        ]
    );
}

#[test]
fn cyclonedx_sbom() {
    let json = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
        {"type":"library","name":"curl","version":"7.88.1-10","purl":"pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12","licenses":[{"license":{"id":"curl"}}]},
        {"type":"library","name":"thing","version":"2.0.0","purl":"pkg:npm/%40scope/thing@2.0.0","components":[
            {"type":"library","name":"uuid","version":"v1.6.0","purl":"pkg:golang/github.com/google/uuid@v1.6.0","licenses":[{"expression":"BSD-3-Clause"}]}
        ]},
        {"type":"library","name":"jar","version":"1","purl":"pkg:maven/org.example/jar@1"},
        {"type":"library","name":"stdlib","version":"go1.22.1","purl":"pkg:golang/stdlib@1.22.1"},
        {"type":"library","name":"cmd/go","version":"UNKNOWN","purl":"pkg:golang/cmd/go"},
        {"type":"operating-system","name":"debian","version":"12"}
    ]}"#;
    assert_eq!(
        summary(json),
        vec![
            "deb curl@7.88.1-10 Debian:12",
            "go github.com/google/uuid@v1.6.0 Go",
            "go stdlib@go1.22.1 Go",
            "npm @scope/thing@2.0.0 npm"
        ]
    );
    let inventory = read_inventory(json, "sbom.json").unwrap();
    let mut skipped = inventory.skipped.clone();
    skipped.sort();
    assert_eq!(
        skipped,
        vec![
            "sbom.json: pkg:golang/cmd/go has no version",
            "sbom.json: unsupported purl pkg:maven/org.example/jar@1"
        ]
    );
    let stdlib = inventory
        .packages
        .iter()
        .find(|package| package.name == "stdlib")
        .unwrap();
    assert_eq!(
        (stdlib.purl.as_str(), stdlib.osv_version()),
        ("pkg:golang/stdlib@1.22.1", "1.22.1")
    );
    let uuid = inventory
        .packages
        .iter()
        .find(|package| package.kind == Kind::Go && package.name != "stdlib")
        .unwrap();
    assert_eq!(uuid.licenses, vec!["BSD-3-Clause"]);
}

#[test]
fn unknown_and_oversized_inputs() {
    assert!(
        matches!(read_inventory(b"just some text\n", "notes.txt"), Err(Error::UnknownFormat { path }) if path == "notes.txt")
    );
    assert!(matches!(
        read_inventory(br#"{"something":"else"}"#, "x.json"),
        Err(Error::UnknownFormat { .. })
    ));
    assert!(matches!(
        read_inventory(b"{ not json", "x.json"),
        Err(Error::Malformed { .. })
    ));
    let limits = Limits {
        max_status_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        read_inventory_with(b"requests==2.31.0\n", "freeze.txt", &limits),
        Err(Error::TooLarge {
            size: 17,
            limit: 10,
            ..
        })
    ));
    // One stanza without a version is left out and listed; the others are read.
    let inventory = read_inventory(b"Package: x\n\nPackage: y\nVersion: 1\n", "status").unwrap();
    assert_eq!(inventory.packages.len(), 1);
    assert_eq!(inventory.skipped, vec!["status: package x has no Version"]);
    let error =
        read_inventory(b"Package: x\n continued\n oops\nnot a field\n", "status").unwrap_err();
    assert_eq!(
        error.to_string(),
        "status: line 4: not a `Field: value` line"
    );
}
