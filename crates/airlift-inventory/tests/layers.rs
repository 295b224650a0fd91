//! Image layers built in memory with the tar crate: each source of packages, OCI whiteouts and
//! opaque directories, distroless `status.d`, bounds, and the errors that fail a whole image.

#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write};

use airlift_inventory::{Error, Inventory, Kind, Limits, decompressed, inspect_layers};

enum Item<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    HardLink(&'a str, &'a str),
}

fn layer(items: &[Item<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for item in items {
        let mut header = tar::Header::new_gnu();
        match item {
            Item::File(path, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o755);
                header.set_size(data.len() as u64);
                builder.append_data(&mut header, path, *data).unwrap();
            }
            Item::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .unwrap();
            }
            Item::HardLink(path, target) => {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                builder.append_link(&mut header, path, target).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

fn inspect(layers: Vec<Vec<u8>>) -> Inventory {
    inspect_layers(layers.into_iter().map(Cursor::new), &Limits::default()).unwrap()
}

fn names(inventory: &Inventory, kind: Kind) -> Vec<String> {
    let mut names: Vec<String> = inventory
        .packages
        .iter()
        .filter(|package| package.kind == kind)
        .map(|package| format!("{}@{}", package.name, package.version))
        .collect();
    names.sort();
    names
}

const DEBIAN_OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";

const DPKG_STATUS: &[u8] = b"Package: curl\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: 7.88.1-10+deb12u5\nDescription: command line tool\n for transferring data\n\nPackage: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\nPackage: removed\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0-1\n";

#[test]
fn debian_status_with_distro() {
    let inventory = inspect(vec![layer(&[
        Item::Dir("./etc/"),
        Item::File("./etc/os-release", DEBIAN_OS_RELEASE),
        Item::File("./var/lib/dpkg/status", DPKG_STATUS),
    ])]);
    let distro = inventory.distro.clone().unwrap();
    assert_eq!(
        (distro.id.as_str(), distro.version_id.as_str()),
        ("debian", "12")
    );
    assert_eq!(
        names(&inventory, Kind::Deb),
        vec!["curl@7.88.1-10+deb12u5", "libc6@2.36-9+deb12u4"]
    );
    let curl = inventory
        .packages
        .iter()
        .find(|package| package.name == "curl")
        .unwrap();
    assert_eq!(
        curl.purl,
        "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12"
    );
    assert_eq!(curl.osv_ecosystem.as_deref(), Some("Debian:12"));
    assert_eq!(curl.location, "/var/lib/dpkg/status");
    let libc = inventory
        .packages
        .iter()
        .find(|package| package.name == "libc6")
        .unwrap();
    assert!(libc.purl.ends_with("&upstream=glibc"), "{}", libc.purl);
    assert!(inventory.skipped.is_empty(), "{:?}", inventory.skipped);
}

#[test]
fn distroless_status_directory() {
    let inventory = inspect(vec![layer(&[
        Item::File("usr/lib/os-release", DEBIAN_OS_RELEASE),
        Item::File(
            "var/lib/dpkg/status.d/libssl3",
            b"Package: libssl3\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n",
        ),
        Item::File(
            "var/lib/dpkg/status.d/libssl3.md5sums",
            b"d41d8cd98f00b204e9800998ecf8427e  usr/lib/libssl.so.3\n",
        ),
        Item::File(
            "var/lib/dpkg/status",
            b"Package: base-files\nStatus: install ok installed\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        ),
        Item::File(
            "var/lib/dpkg/status.d/base-files",
            b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n",
        ),
    ])]);
    assert_eq!(
        names(&inventory, Kind::Deb),
        vec!["base-files@12.4+deb12u5", "libssl3@3.0.11-1~deb12u2"]
    );
    // base-files, in both status and status.d, is reported once, from status.
    let base = inventory
        .packages
        .iter()
        .filter(|package| package.name == "base-files")
        .collect::<Vec<_>>();
    assert_eq!(base.len(), 1);
    assert_eq!(base[0].location, "/var/lib/dpkg/status");
    assert_eq!(inventory.distro.unwrap().id, "debian");
    assert!(inventory.skipped.is_empty(), "{:?}", inventory.skipped);
}

#[test]
fn alpine_database() {
    let inventory = inspect(vec![layer(&[
        Item::File("etc/os-release", b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n"),
        Item::File("lib/apk/db/installed", b"C:Q1x=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\n\n"),
    ])]);
    assert_eq!(
        names(&inventory, Kind::Apk),
        vec!["libcrypto3@3.1.4-r5", "musl@1.2.4-r2"]
    );
    let musl = inventory
        .packages
        .iter()
        .find(|package| package.name == "musl")
        .unwrap();
    assert_eq!(
        musl.purl,
        "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"
    );
    assert_eq!(musl.osv_ecosystem.as_deref(), Some("Alpine:v3.19"));
    assert_eq!(musl.licenses, vec!["MIT"]);
    let crypto = inventory
        .packages
        .iter()
        .find(|package| package.name == "libcrypto3")
        .unwrap();
    assert!(crypto.purl.ends_with("&upstream=openssl"));
}

const SITE: &str = "usr/lib/python3/dist-packages";

#[test]
fn python_distributions_and_a_whiteout_that_deletes_one() {
    let requests = format!("{SITE}/requests-2.31.0.dist-info/METADATA");
    let six = format!("{SITE}/six-1.16.0.egg-info");
    let attrs = format!("{SITE}/attrs-23.1.0.egg-info/PKG-INFO");
    let yaml = format!("{SITE}/PyYAML-6.0.1.dist-info/METADATA");
    let first = layer(&[
        Item::File(&requests, b"Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nbody\n"),
        Item::File(&six, b"Metadata-Version: 1.2\nName: six\nVersion: 1.16.0\nClassifier: License :: OSI Approved :: MIT License\n"),
        Item::File(&attrs, b"Metadata-Version: 2.1\nName: attrs\nVersion: 23.1.0\nLicense-Expression: MIT\n"),
        Item::File(&yaml, b"Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0.1\n"),
    ]);
    let inventory = inspect(vec![first.clone()]);
    assert_eq!(
        names(&inventory, Kind::Python),
        vec![
            "attrs@23.1.0",
            "pyyaml@6.0.1",
            "requests@2.31.0",
            "six@1.16.0"
        ]
    );
    let six_package = inventory
        .packages
        .iter()
        .find(|package| package.name == "six")
        .unwrap();
    assert_eq!(six_package.licenses, vec!["MIT License"]);
    assert_eq!(six_package.osv_ecosystem.as_deref(), Some("PyPI"));
    assert_eq!(six_package.purl, "pkg:pypi/six@1.16.0");

    // A later layer deletes the requests dist-info directory and the six egg-info file.
    let whiteout_requests = format!("{SITE}/.wh.requests-2.31.0.dist-info");
    let whiteout_six = format!("{SITE}/.wh.six-1.16.0.egg-info");
    let second = layer(&[
        Item::File(&whiteout_requests, b""),
        Item::File(&whiteout_six, b""),
    ]);
    let inventory = inspect(vec![first.clone(), second]);
    assert_eq!(
        names(&inventory, Kind::Python),
        vec!["attrs@23.1.0", "pyyaml@6.0.1"]
    );

    // A whiteout only hides lower layers: a file a still later layer adds comes back.
    let third = layer(&[Item::File(&requests, b"Name: requests\nVersion: 2.32.0\n")]);
    let second = layer(&[Item::File(&whiteout_requests, b"")]);
    let inventory = inspect(vec![first, second, third]);
    assert_eq!(
        names(&inventory, Kind::Python),
        vec![
            "attrs@23.1.0",
            "pyyaml@6.0.1",
            "requests@2.32.0",
            "six@1.16.0"
        ]
    );
}

#[test]
fn npm_packages_and_an_opaque_directory() {
    let first = layer(&[
        Item::File(
            "app/package.json",
            br#"{"name":"the-app","version":"1.0.0"}"#,
        ),
        Item::File(
            "app/node_modules/left-pad/package.json",
            br#"{"name":"left-pad","version":"1.3.0","license":"WTFPL"}"#,
        ),
        Item::File(
            "app/node_modules/@scope/thing/package.json",
            br#"{"name":"@scope/thing","version":"2.0.0","license":{"type":"MIT"}}"#,
        ),
        Item::File(
            "app/node_modules/left-pad/test/package.json",
            br#"{"name":"fixture","version":"0.0.1"}"#,
        ),
        Item::File(
            "usr/lib/node_modules/npm/package.json",
            br#"{"name":"npm","version":"9.2.0"}"#,
        ),
    ]);
    let inventory = inspect(vec![first.clone()]);
    assert_eq!(
        names(&inventory, Kind::Npm),
        vec!["@scope/thing@2.0.0", "left-pad@1.3.0", "npm@9.2.0"]
    );
    let scoped = inventory
        .packages
        .iter()
        .find(|package| package.name == "@scope/thing")
        .unwrap();
    assert_eq!(scoped.purl, "pkg:npm/%40scope/thing@2.0.0");
    assert_eq!(scoped.licenses, vec!["MIT"]);

    // The later layer makes app/node_modules opaque and installs one package of its own.
    let second = layer(&[
        Item::Dir("app/node_modules/"),
        Item::File(
            "app/node_modules/is-odd/package.json",
            br#"{"name":"is-odd","version":"3.0.1"}"#,
        ),
        Item::File("app/node_modules/.wh..wh..opq", b""),
    ]);
    let inventory = inspect(vec![first, second]);
    assert_eq!(
        names(&inventory, Kind::Npm),
        vec!["is-odd@3.0.1", "npm@9.2.0"]
    );
}

#[test]
fn a_file_replacing_a_directory_hides_what_was_below() {
    let first = layer(&[Item::File(
        "app/node_modules/left-pad/package.json",
        br#"{"name":"left-pad","version":"1.3.0"}"#,
    )]);
    let second = layer(&[Item::File("app/node_modules", b"now a file")]);
    let inventory = inspect(vec![first, second]);
    assert!(names(&inventory, Kind::Npm).is_empty());
}

#[test]
fn hard_links_carry_what_their_target_said() {
    let inventory = inspect(vec![layer(&[
        Item::File(
            "a/node_modules/x/package.json",
            br#"{"name":"x","version":"1.0.0"}"#,
        ),
        Item::HardLink(
            "b/node_modules/x/package.json",
            "a/node_modules/x/package.json",
        ),
    ])]);
    let locations: Vec<&str> = inventory
        .packages
        .iter()
        .map(|package| package.location.as_str())
        .collect();
    assert_eq!(
        locations,
        vec![
            "/a/node_modules/x/package.json",
            "/b/node_modules/x/package.json"
        ]
    );
}

/// A minimal little-endian ELF64 file with the given named sections.
fn elf(named: &[(&str, &[u8])]) -> Vec<u8> {
    let mut names = vec![0u8];
    let mut name_offsets = Vec::new();
    for (name, _) in named {
        name_offsets.push(names.len() as u32);
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let shstrtab_name = names.len() as u32;
    names.extend_from_slice(b".shstrtab\0");
    let mut file = vec![0u8; 64];
    let mut placed = Vec::new();
    for (_, data) in named {
        while !file.len().is_multiple_of(16) {
            file.push(0);
        }
        placed.push((file.len() as u64, data.len() as u64));
        file.extend_from_slice(data);
    }
    let names_offset = file.len() as u64;
    file.extend_from_slice(&names);
    while !file.len().is_multiple_of(8) {
        file.push(0);
    }
    let table_offset = file.len() as u64;
    let entry = |name: u32, kind: u32, offset: u64, size: u64, file: &mut Vec<u8>| {
        let mut bytes = vec![0u8; 64];
        bytes[0..4].copy_from_slice(&name.to_le_bytes());
        bytes[4..8].copy_from_slice(&kind.to_le_bytes());
        bytes[0x18..0x20].copy_from_slice(&offset.to_le_bytes());
        bytes[0x20..0x28].copy_from_slice(&size.to_le_bytes());
        file.extend_from_slice(&bytes);
    };
    entry(0, 0, 0, 0, &mut file);
    for (index, (offset, size)) in placed.iter().enumerate() {
        entry(name_offsets[index], 1, *offset, *size, &mut file);
    }
    entry(
        shstrtab_name,
        3,
        names_offset,
        names.len() as u64,
        &mut file,
    );
    let count = (named.len() + 2) as u16;
    file[0..4].copy_from_slice(b"\x7fELF");
    file[4] = 2;
    file[5] = 1;
    file[6] = 1;
    file[0x10..0x12].copy_from_slice(&2u16.to_le_bytes());
    file[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
    file[0x28..0x30].copy_from_slice(&table_offset.to_le_bytes());
    file[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
    file[0x3c..0x3e].copy_from_slice(&count.to_le_bytes());
    file[0x3e..0x40].copy_from_slice(&(count - 1).to_le_bytes());
    file
}

fn go_buildinfo(version: &str, modinfo: &str) -> Vec<u8> {
    let mut data = b"\xff Go buildinf:".to_vec();
    data.push(8);
    data.push(2);
    data.resize(32, 0);
    let push_string = |text: &[u8], data: &mut Vec<u8>| {
        let mut length = text.len();
        loop {
            let byte = (length & 0x7f) as u8;
            length >>= 7;
            if length == 0 {
                data.push(byte);
                break;
            }
            data.push(byte | 0x80);
        }
        data.extend_from_slice(text);
    };
    push_string(version.as_bytes(), &mut data);
    let mut framed = vec![0x30u8; 16];
    framed.extend_from_slice(modinfo.as_bytes());
    framed.extend_from_slice(&[0x31u8; 16]);
    push_string(&framed, &mut data);
    data
}

#[test]
fn go_binary_build_information() {
    let modinfo = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\ndep\tgithub.com/google/uuid\tv1.6.0\th1:x=\ndep\tgolang.org/x/text\tv0.3.0\th1:y=\n=>\tgolang.org/x/text\tv0.14.0\th1:z=\nbuild\t-compiler=gc\n";
    let binary = elf(&[
        (".text", b"\x90\x90\x90\x90"),
        (".go.buildinfo", &go_buildinfo("go1.22.1", modinfo)),
    ]);
    let inventory = inspect(vec![layer(&[Item::File("usr/local/bin/hello", &binary)])]);
    assert_eq!(
        names(&inventory, Kind::Go),
        vec![
            "github.com/google/uuid@v1.6.0",
            "golang.org/x/text@v0.14.0",
            "stdlib@go1.22.1"
        ]
    );
    let stdlib = inventory
        .packages
        .iter()
        .find(|package| package.name == "stdlib")
        .unwrap();
    assert_eq!(stdlib.purl, "pkg:golang/stdlib@1.22.1");
    assert_eq!(stdlib.osv_version(), "1.22.1");
    let uuid = inventory
        .packages
        .iter()
        .find(|package| package.name == "github.com/google/uuid")
        .unwrap();
    assert_eq!(
        (
            uuid.purl.as_str(),
            uuid.osv_ecosystem.as_deref(),
            uuid.osv_version()
        ),
        (
            "pkg:golang/github.com/google/uuid@v1.6.0",
            Some("Go"),
            "1.6.0"
        )
    );
    assert_eq!(uuid.location, "/usr/local/bin/hello");

    // A released main module is reported too.
    let released = modinfo.replace("(devel)", "v1.4.0");
    let binary = elf(&[(".go.buildinfo", &go_buildinfo("go1.22.1", &released))]);
    let inventory = inspect(vec![layer(&[Item::File("bin/hello", &binary)])]);
    assert!(names(&inventory, Kind::Go).contains(&"example.com/hello@v1.4.0".to_string()));

    // An ELF file that is neither Go nor cargo-auditable reports nothing and is not skipped.
    let plain = elf(&[(".text", &[0x90u8; 80][..])]);
    let inventory = inspect(vec![layer(&[Item::File("usr/lib/libplain.so", &plain)])]);
    assert!(
        inventory.packages.is_empty() && inventory.skipped.is_empty(),
        "{inventory:?}"
    );
}

fn zlib(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn rust_binary_with_cargo_auditable_data() {
    let json = r#"{"packages":[{"name":"hello","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},{"name":"itoa","version":"1.0.11","source":"@RUST@"},{"name":"cc","version":"1.0.83","source":"@RUST@","kind":"build"}]}"#.replace("@RUST@", airlift_inventory::OSV_RUST);
    let binary = elf(&[(".text", b"\x90\x90"), (".dep-v0", &zlib(&json))]);
    let inventory = inspect(vec![layer(&[Item::File(
        "usr/local/bin/hello-rs",
        &binary,
    )])]);
    assert_eq!(
        names(&inventory, Kind::Rust),
        vec!["hello@0.1.0", "itoa@1.0.11"]
    );
    let itoa = inventory
        .packages
        .iter()
        .find(|package| package.name == "itoa")
        .unwrap();
    assert_eq!(
        (itoa.purl.as_str(), itoa.osv_ecosystem.as_deref()),
        ("pkg:cargo/itoa@1.0.11", Some(airlift_inventory::OSV_RUST))
    );
    let root = inventory
        .packages
        .iter()
        .find(|package| package.name == "hello")
        .unwrap();
    assert_eq!(root.osv_ecosystem, None);

    // Broken compressed data fails that file, listed as skipped.
    let binary = elf(&[(".dep-v0", b"not zlib at all")]);
    let inventory = inspect(vec![layer(&[Item::File("usr/local/bin/broken", &binary)])]);
    assert!(inventory.packages.is_empty());
    assert_eq!(inventory.skipped.len(), 1);
    assert!(
        inventory.skipped[0].starts_with("/usr/local/bin/broken: "),
        "{:?}",
        inventory.skipped
    );
}

#[test]
fn malformed_and_oversized_files_are_skipped_not_fatal() {
    let big = vec![b'x'; 2048];
    let layers = vec![layer(&[
        Item::File("app/node_modules/bad/package.json", b"{ not json"),
        Item::File("app/node_modules/big/package.json", &big),
        Item::File(
            "app/node_modules/good/package.json",
            br#"{"name":"good","version":"1.0.0"}"#,
        ),
        Item::File("var/lib/dpkg/status", b" starts with a continuation\n"),
    ])];
    let limits = Limits {
        max_metadata_bytes: 1024,
        ..Limits::default()
    };
    let inventory = inspect_layers(layers.into_iter().map(Cursor::new), &limits).unwrap();
    assert_eq!(names(&inventory, Kind::Npm), vec!["good@1.0.0"]);
    assert_eq!(inventory.skipped.len(), 3, "{:?}", inventory.skipped);
    assert!(
        inventory.skipped.iter().any(|reason| reason.starts_with(
            "/app/node_modules/big/package.json: 2048 bytes is over the limit of 1024"
        ))
    );
    assert!(
        inventory
            .skipped
            .iter()
            .any(|reason| reason.starts_with("/var/lib/dpkg/status: line 1"))
    );

    // An executable over the binary bound is skipped without being read.
    let binary = elf(&[(
        ".go.buildinfo",
        &go_buildinfo("go1.22.1", "mod\tx\tv1.0.0\t\n"),
    )]);
    let limits = Limits {
        max_binary_bytes: 100,
        ..Limits::default()
    };
    let inventory = inspect_layers(
        vec![Cursor::new(layer(&[Item::File("bin/x", &binary)]))],
        &limits,
    )
    .unwrap();
    assert!(inventory.packages.is_empty());
    assert!(
        inventory.skipped[0].contains("over the limit of 100"),
        "{:?}",
        inventory.skipped
    );
}

#[test]
fn image_wide_failures_are_errors() {
    let items: Vec<String> = (0..10).map(|index| format!("file-{index}")).collect();
    let entries: Vec<Item<'_>> = items.iter().map(|path| Item::File(path, b"x")).collect();
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let error = inspect_layers(vec![Cursor::new(layer(&entries))], &limits).unwrap_err();
    assert!(
        matches!(error, Error::TooManyEntries { limit: 5, .. }),
        "{error}"
    );

    // A tar stream whose header checksum is wrong.
    let mut broken = layer(&[Item::File("etc/os-release", DEBIAN_OS_RELEASE)]);
    broken[0] ^= 0xff;
    let error = inspect_layers(
        vec![Cursor::new(layer(&[])), Cursor::new(broken)],
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Tar { layer: 1, .. }), "{error}");
    assert!(
        error.to_string().starts_with("layer 1: broken tar stream"),
        "{error}"
    );

    // A stream cut inside a file's data.
    let mut cut = layer(&[Item::File("var/lib/dpkg/status", DPKG_STATUS)]);
    cut.truncate(600);
    let error = inspect_layers(vec![Cursor::new(cut)], &Limits::default()).unwrap_err();
    assert!(matches!(error, Error::Tar { layer: 0, .. }), "{error}");

    let limits = Limits {
        max_packages: 1,
        ..Limits::default()
    };
    let error = inspect_layers(
        vec![Cursor::new(layer(&[Item::File(
            "var/lib/dpkg/status",
            DPKG_STATUS,
        )]))],
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::TooManyPackages { limit: 1, .. }),
        "{error}"
    );
}

#[test]
fn compressed_layers_through_decompressed() {
    let for_package = |name: &str| {
        let path = format!("app/node_modules/{name}/package.json");
        let manifest = format!(r#"{{"name":"{name}","version":"1.0.0"}}"#);
        layer(&[Item::File(&path, manifest.as_bytes())])
    };
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(&for_package("from-gzip")).unwrap();
    let gzip = gzip.finish().unwrap();
    let zstd = zstd::encode_all(Cursor::new(for_package("from-zstd")), 3).unwrap();
    let plain = for_package("from-plain");
    let readers = vec![
        decompressed(Cursor::new(gzip)).unwrap(),
        decompressed(Cursor::new(zstd)).unwrap(),
        decompressed(Cursor::new(plain)).unwrap(),
    ];
    let inventory = inspect_layers(readers, &Limits::default()).unwrap();
    assert_eq!(
        names(&inventory, Kind::Npm),
        vec!["from-gzip@1.0.0", "from-plain@1.0.0", "from-zstd@1.0.0"]
    );
}

#[test]
fn a_bad_stanza_costs_only_itself() {
    let status = [
        DPKG_STATUS,
        b"\nPackage: noversion\nStatus: install ok installed\n".as_slice(),
    ]
    .concat();
    let apk = b"P:musl\nV:1.2.4-r2\n\nP:broken\n\n";
    let inventory = inspect(vec![layer(&[
        Item::File("var/lib/dpkg/status", &status),
        Item::File("lib/apk/db/installed", apk),
    ])]);
    assert_eq!(names(&inventory, Kind::Deb).len(), 2);
    assert_eq!(names(&inventory, Kind::Apk), vec!["musl@1.2.4-r2"]);
    assert_eq!(
        inventory.skipped,
        vec![
            "/lib/apk/db/installed: a record without P: or V: (P:broken V:)",
            "/var/lib/dpkg/status: package noversion has no Version",
        ]
    );
}

#[test]
fn mangled_layers_never_panic() {
    let original = layer(&[
        Item::File("etc/os-release", DEBIAN_OS_RELEASE),
        Item::File("var/lib/dpkg/status", DPKG_STATUS),
        Item::File(
            "app/node_modules/x/package.json",
            br#"{"name":"x","version":"1.0.0"}"#,
        ),
        Item::File(
            "usr/lib/python3/dist-packages/x-1.dist-info/METADATA",
            b"Name: x\nVersion: 1\n",
        ),
    ]);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut mangled = original.clone();
        let at = (seed % mangled.len() as u64) as usize;
        mangled[at] = (seed >> 32) as u8;
        // Either an inventory or an error; never a panic.
        let _ = inspect_layers(vec![Cursor::new(mangled)], &Limits::default());
    }
}

#[test]
fn older_and_stripped_binaries() {
    // cargo-auditable before 0.5 named its section .rust-deps-v0.
    let json = r#"{"packages":[{"name":"itoa","version":"1.0.1","source":"@RUST@"}]}"#
        .replace("@RUST@", airlift_inventory::OSV_RUST);
    let binary = elf(&[(".rust-deps-v0", &zlib(&json))]);
    let inventory = inspect(vec![layer(&[Item::File("bin/old-rust", &binary)])]);
    assert_eq!(names(&inventory, Kind::Rust), vec!["itoa@1.0.1"]);

    // A Go binary whose section header table was stripped: the magic is searched for.
    let mut stripped = elf(&[]);
    stripped[0x28..0x30].copy_from_slice(&0u64.to_le_bytes());
    stripped[0x3c..0x40].copy_from_slice(&[0, 0, 0, 0]);
    while !stripped.len().is_multiple_of(16) {
        stripped.push(0);
    }
    stripped.extend_from_slice(&go_buildinfo(
        "go1.21.5",
        "mod\texample.com/tool\tv0.3.0\t\n",
    ));
    let inventory = inspect(vec![layer(&[Item::File("bin/stripped", &stripped)])]);
    assert_eq!(
        names(&inventory, Kind::Go),
        vec!["example.com/tool@v0.3.0", "stdlib@go1.21.5"]
    );
}

#[test]
fn an_empty_whiteout_name_hides_nothing() {
    let first = layer(&[
        Item::File("etc/os-release", DEBIAN_OS_RELEASE),
        Item::File("var/lib/dpkg/status", DPKG_STATUS),
    ]);
    let second = layer(&[Item::File(".wh.", b""), Item::File("var/lib/.wh.", b"")]);
    let inventory = inspect(vec![first, second]);
    assert_eq!(names(&inventory, Kind::Deb).len(), 2);
    assert!(inventory.distro.is_some());
}
