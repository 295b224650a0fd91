//! Debian archives through the whole path with the binary: a mock upstream
//! signed with its own key, collect with closure, pack, import, serve, and
//! the served Release checked against the site's key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airlift_test_support::apt::archive;
use common::{Behaviour, Home, Server, Upstream, http, sha256_hex};

fn config(home: &Home, upstream: &Upstream, packages: &str) -> std::path::PathBuf {
    let path = home.path().join("airlift.toml");
    std::fs::write(
        &path,
        format!(
            "[[apt]]\nname = \"mock\"\nurl = \"{}\"\nsuites = [\"test\"]\narchitectures = [\"amd64\"]\nkeyring = \"upstream.asc\"\npackages = [{packages}]\n",
            upstream.url("deb/")
        ),
    )
    .unwrap();
    path
}

#[test]
fn an_archive_crosses_the_gap_and_is_served_signed_by_the_site() {
    let (upstream_key, _) =
        airlift_pgp::SigningKey::generate("mock <mock@example.com>", 1_700_000_000).unwrap();
    let mock = archive(&upstream_key, |_| {});
    let upstream = Upstream::start(mock.routes.clone());
    let connected = Home::new();
    std::fs::write(
        connected.path().join("upstream.asc"),
        upstream_key.public_key_armored(),
    )
    .unwrap();
    let toml = config(&connected, &upstream, "\"app\"");
    let report = connected
        .run(&["--json", "collect", "--config", toml.to_str().unwrap()])
        .ok()
        .json();
    // app, lib 2.0 (not 1.0), base, postfix-mock (the virtual); not unrelated.
    assert_eq!(report["debian_packages"], 4, "{report}");
    connected.run(&["keys", "init"]).ok();
    let bundle = connected.path().join("apt.tar");
    connected
        .run(&["pack", "--out", bundle.to_str().unwrap()])
        .ok();

    let isolated = Home::new();
    isolated
        .run(&["init", "--trust", connected.root().to_str().unwrap()])
        .ok();
    // The index document holds stanzas with newlines and tabs.
    isolated.run(&["import", bundle.to_str().unwrap()]).ok();
    let key = isolated.run(&["apt", "key"]).ok().stdout;
    let keyring = airlift_pgp::Keyring::parse(key.as_bytes()).unwrap();
    let server = Server::start(&isolated);

    let (status, _, in_release) =
        http(server.address, "GET", "/apt/mock/dists/test/InRelease", &[]);
    assert_eq!(status, 200);
    let (text, _) = keyring.verify_cleartext(&in_release).unwrap();
    let release = String::from_utf8(text).unwrap();
    assert!(
        release.contains("Codename: test\n") && release.contains("Suite: stable\n"),
        "{release}"
    );
    assert!(
        release.contains("Valid-Until: ") && !release.contains("MD5Sum"),
        "{release}"
    );
    assert!(
        upstream_key.public_key_armored() != key
            && airlift_pgp::Keyring::parse(upstream_key.public_key_armored().as_bytes())
                .unwrap()
                .verify_cleartext(&in_release)
                .is_err(),
        "served Release must be signed by the site, not the upstream"
    );
    let (_, _, release_gpg) = http(
        server.address,
        "GET",
        "/apt/mock/dists/test/Release.gpg",
        &[],
    );
    let (_, _, plain) = http(server.address, "GET", "/apt/mock/dists/test/Release", &[]);
    keyring.verify_detached(&plain, &release_gpg).unwrap();

    let (status, _, packages) = http(
        server.address,
        "GET",
        "/apt/mock/dists/test/main/binary-amd64/Packages",
        &[],
    );
    assert_eq!(status, 200);
    let packages = String::from_utf8(packages).unwrap();
    let listed = [
        sha256_hex(packages.as_bytes()),
        packages.len().to_string(),
        "main/binary-amd64/Packages".to_owned(),
    ];
    assert!(
        release
            .lines()
            .any(|l| l.split_whitespace().eq(listed.iter().map(String::as_str))),
        "the Release lists the Packages served:\n{release}"
    );
    let names: Vec<&str> = packages
        .lines()
        .filter_map(|l| l.strip_prefix("Package: "))
        .collect();
    assert_eq!(names, ["app", "base", "lib", "postfix-mock"]);
    assert!(
        packages.contains("Version: 2.0")
            && !packages.contains("Version: 1.0\nArchitecture: amd64\nFilename: pool/main/l")
    );
    assert!(
        packages.contains(" with a second line\n .\n\tand a tab\n") && !packages.contains("MD5sum")
    );

    // by-hash, the .deb, and a miss.
    let xz_line = release
        .lines()
        .find(|l| l.ends_with(" main/binary-amd64/Packages.xz"))
        .unwrap();
    let xz_hash = xz_line.split_whitespace().next().unwrap();
    let (status, _, xz) = http(
        server.address,
        "GET",
        &format!("/apt/mock/dists/test/main/binary-amd64/by-hash/SHA256/{xz_hash}"),
        &[],
    );
    assert_eq!((status, sha256_hex(&xz)), (200, xz_hash.to_owned()));
    let file = "pool/main/l/lib/lib_2.0_amd64.deb";
    let (status, _, body) = http(server.address, "GET", &format!("/apt/mock/{file}"), &[]);
    assert_eq!((status, &body), (200, &mock.debs[file]));
    let (status, _, _) = http(
        server.address,
        "GET",
        "/apt/mock/pool/main/l/lib/lib_1.0_amd64.deb",
        &[],
    );
    assert_eq!(status, 404);
}

#[test]
fn a_release_edited_after_signing_is_refused_and_nothing_changes() {
    let (upstream_key, _) =
        airlift_pgp::SigningKey::generate("mock <mock@example.com>", 1_700_000_000).unwrap();
    let mut mock = archive(&upstream_key, |_| {});
    let Behaviour::Serve(signed) = mock.routes["deb/dists/test/InRelease"].clone() else {
        unreachable!()
    };
    let edited = String::from_utf8(signed)
        .unwrap()
        .replace("Label: Mock", "Label: Evil");
    mock.routes.insert(
        "deb/dists/test/InRelease".into(),
        Behaviour::Serve(edited.into_bytes()),
    );
    let upstream = Upstream::start(mock.routes);
    let home = Home::new();
    std::fs::write(
        home.path().join("upstream.asc"),
        upstream_key.public_key_armored(),
    )
    .unwrap();
    let toml = config(&home, &upstream, "\"app\"");
    let before = home.snapshot();
    home.run(&["collect", "--config", toml.to_str().unwrap()])
        .fails_with(4, "InRelease: BAD signature by");
    assert_eq!(home.snapshot(), before);

    // And a Release the keyring does not know, and a dependency nobody has.
    let (stranger, _) =
        airlift_pgp::SigningKey::generate("stranger <s@example.com>", 1_700_000_000).unwrap();
    let mock = archive(&stranger, |_| {});
    let upstream = Upstream::start(mock.routes);
    let toml = config(&home, &upstream, "\"app\"");
    home.run(&["collect", "--config", toml.to_str().unwrap()])
        .fails_with(4, "no signature by a key of the keyring");
    let mock = archive(&upstream_key, |_| {});
    let upstream = Upstream::start(mock.routes);
    let toml = config(&home, &upstream, "\"app (>= 2)\"");
    home.run(&["collect", "--config", toml.to_str().unwrap()])
        .fails_with(
            4,
            "mock (amd64): app (>= 2): no package satisfies it (the index has app 1.0 (amd64))",
        );
    assert_eq!(home.snapshot(), before);
}
