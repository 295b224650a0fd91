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
            "rust app@0.1.0 -".to_owned(),
            "rust g@0.2.0 -".to_owned(),
            format!("rust itoa@1.0.11 {}", airlift_inventory::OSV_RUST)
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
        {"type":"library","name":"thing","version":"1","purl":"pkg:nuget/thing@1"},
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
            "maven org.example:jar@1 Maven",
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
            "sbom.json: unsupported purl pkg:nuget/thing@1"
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

#[test]
fn package_lock_json() {
    let json = br#"{"name":"app","version":"1.0.0","lockfileVersion":3,"packages":{
        "":{"name":"app","version":"1.0.0"},
        "node_modules/lodash":{"version":"4.17.20"},
        "node_modules/@babel/traverse":{"version":"7.23.0"},
        "node_modules/a/node_modules/lodash":{"version":"3.10.1"},
        "node_modules/linked":{"link":true,"resolved":"../linked"},
        "node_modules/broken":{}
    }}"#;
    assert_eq!(
        summary(json),
        vec![
            "npm @babel/traverse@7.23.0 npm",
            "npm lodash@3.10.1 npm",
            "npm lodash@4.17.20 npm",
        ]
    );
    let inventory = read_inventory(json, "package-lock.json").unwrap();
    assert!(
        inventory.skipped.iter().any(|s| s.contains("broken")),
        "{:?}",
        inventory.skipped
    );
}

#[test]
fn go_mod_with_a_replacement() {
    let text = b"module example.com/app\n\ngo 1.22\n\nrequire (\n\tgolang.org/x/net v0.7.0 // indirect\n\tgithub.com/gin-gonic/gin v1.9.0\n)\n\nrequire github.com/docker/docker v20.10.7+incompatible\n\nreplace github.com/gin-gonic/gin => github.com/gin-gonic/gin v1.9.1\n";
    assert_eq!(
        summary(text),
        vec![
            "go github.com/docker/docker@v20.10.7+incompatible Go",
            "go github.com/gin-gonic/gin@v1.9.1 Go",
            "go golang.org/x/net@v0.7.0 Go",
        ]
    );
}

#[test]
fn pom_direct_dependencies_with_literal_versions() {
    let text = b"<?xml version=\"1.0\"?>\n<project>\n<!-- <dependency><groupId>x</groupId><artifactId>commented</artifactId><version>1</version></dependency> -->\n<dependencyManagement><dependencies><dependency><groupId>g</groupId><artifactId>managed</artifactId><version>9</version></dependency></dependencies></dependencyManagement>\n<dependencies>\n<dependency><groupId>commons-io</groupId><artifactId>commons-io</artifactId><version>2.6</version></dependency>\n<dependency><groupId>g</groupId><artifactId>property</artifactId><version>${v}</version></dependency>\n</dependencies>\n</project>\n";
    assert_eq!(summary(text), vec!["maven commons-io:commons-io@2.6 Maven"]);
    let inventory = read_inventory(text, "pom.xml").unwrap();
    assert_eq!(
        inventory.packages[0].purl,
        "pkg:maven/commons-io/commons-io@2.6"
    );
    assert!(inventory.skipped.iter().any(|s| s.contains("g:property")));
}

#[test]
fn apk_database_from_a_host_and_its_distribution_given() {
    let text = b"C:Q1AAAA=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\n\nC:Q1BBBB=\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n";
    assert_eq!(
        summary(text),
        vec!["apk busybox@1.36.1-r15 -", "apk libcrypto3@3.1.4-r5 -"]
    );
    let mut inventory = read_inventory(text, "installed").unwrap();
    inventory.assume_distro(&airlift_inventory::Distro {
        id: "alpine".into(),
        version_id: "3.20.3".into(),
        id_like: Vec::new(),
    });
    let crypto = inventory
        .packages
        .iter()
        .find(|p| p.name == "libcrypto3")
        .unwrap();
    assert_eq!(crypto.osv_ecosystem.as_deref(), Some("Alpine:v3.20"));
    // Alpine advisories name the origin (source) package.
    assert_eq!(
        crypto.advisory_name(),
        ("openssl".to_owned(), "3.1.4-r5".to_owned())
    );
}

#[test]
fn debian_advisories_name_the_source_package_and_its_version() {
    let text = b"Package: libssl3\nStatus: install ok installed\nSource: openssl (3.0.11-1~deb12u2)\nVersion: 3.0.11-1~deb12u2+b1\nArchitecture: amd64\n\nPackage: tar\nStatus: install ok installed\nVersion: 1.34+dfsg-1.2\nArchitecture: amd64\n";
    let mut inventory = read_inventory(text, "status").unwrap();
    inventory.assume_distro(&airlift_inventory::Distro {
        id: "debian".into(),
        version_id: "12".into(),
        id_like: Vec::new(),
    });
    let names: Vec<(String, String)> = inventory
        .packages
        .iter()
        .map(airlift_inventory::Installed::advisory_name)
        .collect();
    assert!(
        names.contains(&("openssl".into(), "3.0.11-1~deb12u2".into())),
        "{names:?}"
    );
    assert!(
        names.contains(&("tar".into(), "1.34+dfsg-1.2".into())),
        "{names:?}"
    );
    assert!(
        inventory
            .packages
            .iter()
            .all(|p| p.osv_ecosystem.as_deref() == Some("Debian:12"))
    );
}
