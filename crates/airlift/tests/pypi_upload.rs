//! `POST /pypi/legacy/`, the upload API of `twine upload` and `uv
//! publish`: what is accepted becomes part of the project page, and each
//! kind of bad upload is refused with nothing stored.

mod common;

use common::{Home, Server};

const BOUNDARY: &str = "airlift-test-boundary";

/// A multipart body as twine sends it: fields first, the file last.
fn form(fields: &[(&str, &str)], filename: &str, content: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A multipart body without a file part.
fn fields_only(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn sha256_hex(bytes: &[u8]) -> String {
    airlift_core::Digest::of(bytes).hex()
}

/// The fields of a release of `name` `version` whose file is `content`.
fn fields<'a>(
    name: &'a str,
    version: &'a str,
    filetype: &'a str,
    sha: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("metadata_version", "2.1"),
        ("name", name),
        ("version", version),
        ("filetype", filetype),
        ("pyversion", "source"),
        ("requires_python", ">=3.8"),
        ("sha256_digest", sha),
    ]
}

fn upload(server: &Server, auth: Option<&str>, body: &[u8]) -> (u16, String) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let mut headers = vec![("Content-Type", content_type.as_str())];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    let (status, _, body) =
        common::request(server.address, "POST", "/pypi/legacy/", &headers, body);
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn page(server: &Server, project: &str) -> (u16, String) {
    let (status, _, body) = common::http(
        server.address,
        "GET",
        &format!("/pypi/simple/{project}/"),
        &[("Accept", "application/vnd.pypi.simple.v1+json")],
    );
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// CRC-32 (IEEE), for the stored zip below.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip of `members`, stored without compression.
fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut directory = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let mut head = Vec::new();
        head.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        head.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        head.extend_from_slice(&crc.to_le_bytes());
        head.extend_from_slice(&(data.len() as u32).to_le_bytes());
        head.extend_from_slice(&(data.len() as u32).to_le_bytes());
        head.extend_from_slice(&(name.len() as u16).to_le_bytes());
        head.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&head);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        directory.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        directory.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        directory.extend_from_slice(&crc.to_le_bytes());
        directory.extend_from_slice(&(data.len() as u32).to_le_bytes());
        directory.extend_from_slice(&(data.len() as u32).to_le_bytes());
        directory.extend_from_slice(&(name.len() as u16).to_le_bytes());
        directory.extend_from_slice(&[0; 12]);
        directory.extend_from_slice(&offset.to_le_bytes());
        directory.extend_from_slice(name.as_bytes());
    }
    let start = out.len() as u32;
    out.extend_from_slice(&directory);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(members.len() as u16).to_le_bytes());
    out.extend_from_slice(&(directory.len() as u32).to_le_bytes());
    out.extend_from_slice(&start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// An sdist and a wheel upload; the page lists both with their hashes,
/// the files and the wheel's core metadata are served, and the same
/// filename again is refused with the words twine's --skip-existing knows.
#[test]
fn uploads_are_listed_and_served_and_never_replaced() {
    let home = Home::new();
    let server = Server::start(&home);
    let sdist = b"not really a tarball, but nobody unpacks it here".to_vec();
    let sha = sha256_hex(&sdist);
    let body = form(
        &fields("Corp_Tool", "0.1.0", "sdist", &sha),
        "corp_tool-0.1.0.tar.gz",
        &sdist,
    );
    let (status, text) = upload(&server, None, &body);
    assert_eq!(status, 200, "{text}");

    let metadata =
        b"Metadata-Version: 2.1\nName: corp-tool\nVersion: 0.1.0\nRequires-Python: >=3.8\n\n";
    let wheel = zip(&[
        ("corp_tool/__init__.py", b"VERSION = '0.1.0'\n"),
        ("corp_tool-0.1.0.dist-info/METADATA", metadata),
    ]);
    let wheel_sha = sha256_hex(&wheel);
    let (status, text) = upload(
        &server,
        None,
        &form(
            &fields("corp-tool", "0.1.0", "bdist_wheel", &wheel_sha),
            "corp_tool-0.1.0-py3-none-any.whl",
            &wheel,
        ),
    );
    assert_eq!(status, 200, "{text}");

    let (status, listed) = page(&server, "corp-tool");
    assert_eq!(status, 200, "{listed}");
    let json: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{listed}");
    let sdist_entry = files
        .iter()
        .find(|f| f["filename"] == "corp_tool-0.1.0.tar.gz")
        .unwrap();
    assert_eq!(sdist_entry["hashes"]["sha256"], sha.as_str());
    assert_eq!(sdist_entry["requires-python"], ">=3.8");
    assert!(sdist_entry["upload-time"].is_string(), "{listed}");
    let wheel_entry = files
        .iter()
        .find(|f| f["filename"] == "corp_tool-0.1.0-py3-none-any.whl")
        .unwrap();
    assert_eq!(
        wheel_entry["core-metadata"]["sha256"],
        sha256_hex(metadata).as_str(),
        "{listed}"
    );
    assert_eq!(json["versions"][0], "0.1.0");

    let (status, _, served) = common::http(
        server.address,
        "GET",
        "/pypi/files/corp-tool/corp_tool-0.1.0.tar.gz",
        &[],
    );
    assert_eq!((status, served), (200, sdist.clone()));
    let (status, _, served) = common::http(
        server.address,
        "GET",
        "/pypi/files/corp-tool/corp_tool-0.1.0-py3-none-any.whl.metadata",
        &[],
    );
    assert_eq!((status, served.as_slice()), (200, &metadata[..]));

    // The same file again, even with the same bytes: refused, once stored.
    let (status, text) = upload(&server, None, &body);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("File already exists"), "{text}");
    // Without the trailing slash too.
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let (status, _, text) = common::request(
        server.address,
        "POST",
        "/pypi/legacy",
        &[("Content-Type", content_type.as_str())],
        &body,
    );
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&text));
}

/// Each bad upload is refused with 400 and a reason, and none of them
/// leaves a trace on the project page.
#[test]
fn bad_uploads_are_refused_with_nothing_stored() {
    let home = Home::new();
    let server = Server::start(&home);
    let file = b"sdist bytes".to_vec();
    let sha = sha256_hex(&file);
    let wrong = sha256_hex(b"other bytes");
    let wheel_without_metadata = zip(&[("corp_tool/__init__.py", b"")]);
    let wheel_sha = sha256_hex(&wheel_without_metadata);
    let foreign_metadata = zip(&[(
        "corp_tool-0.1.0.dist-info/METADATA",
        b"Metadata-Version: 2.1\nName: other-tool\nVersion: 0.1.0\n\n",
    )]);
    let foreign_sha = sha256_hex(&foreign_metadata);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a digest the file does not hash to",
            form(
                &fields("corp-tool", "0.1.0", "sdist", &wrong),
                "corp_tool-0.1.0.tar.gz",
                &file,
            ),
            "not the sha256_digest given",
        ),
        (
            "a file of another project",
            form(
                &fields("corp-tool", "0.1.0", "sdist", &sha),
                "other_tool-0.1.0.tar.gz",
                &file,
            ),
            "does not name the project",
        ),
        (
            "a file of another version",
            form(
                &fields("corp-tool", "0.1.0", "sdist", &sha),
                "corp_tool-0.2.0.tar.gz",
                &file,
            ),
            "does not carry the version",
        ),
        (
            "an unknown kind of file",
            form(
                &fields("corp-tool", "0.1.0", "sdist", &sha),
                "corp_tool-0.1.0.exe",
                &file,
            ),
            "invalid file extension",
        ),
        (
            "a filetype that is not the file's",
            form(
                &fields("corp-tool", "0.1.0", "bdist_wheel", &sha),
                "corp_tool-0.1.0.tar.gz",
                &file,
            ),
            "is not a bdist_wheel",
        ),
        (
            "no digest",
            form(
                &fields("corp-tool", "0.1.0", "sdist", &sha)[..8],
                "corp_tool-0.1.0.tar.gz",
                &file,
            ),
            "sha256_digest is required",
        ),
        (
            "another action",
            form(
                &[
                    (":action", "remove_pkg"),
                    ("name", "corp-tool"),
                    ("version", "0.1.0"),
                ],
                "corp_tool-0.1.0.tar.gz",
                &file,
            ),
            "unsupported :action",
        ),
        (
            "the file before its name",
            form(
                &[(":action", "file_upload")],
                "corp_tool-0.1.0.tar.gz",
                &file,
            ),
            "`name` must come before the file",
        ),
        (
            "a wheel without METADATA",
            form(
                &fields("corp-tool", "0.1.0", "bdist_wheel", &wheel_sha),
                "corp_tool-0.1.0-py3-none-any.whl",
                &wheel_without_metadata,
            ),
            "no .dist-info/METADATA",
        ),
        (
            "a wheel whose METADATA names another project",
            form(
                &fields("corp-tool", "0.1.0", "bdist_wheel", &foreign_sha),
                "corp_tool-0.1.0-py3-none-any.whl",
                &foreign_metadata,
            ),
            "names the project \"other-tool\"",
        ),
        (
            "no file",
            fields_only(&fields("corp-tool", "0.1.0", "sdist", &sha)),
            "no `content` part",
        ),
    ];
    for (what, body, needle) in cases {
        let (status, text) = upload(&server, None, &body);
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains(needle), "{what}: {text}");
    }
    // A metadata field over 1 MiB is refused before the file is read.
    let long = "x".repeat((1 << 20) + 1);
    let mut big = fields("corp-tool", "0.1.0", "sdist", &sha);
    big.insert(3, ("description", long.as_str()));
    let (status, text) = upload(&server, None, &form(&big, "corp_tool-0.1.0.tar.gz", &file));
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("\"description\" is larger than"), "{text}");
    let (status, text) = upload(&server, None, b"not a multipart body");
    assert_eq!(status, 400, "{text}");
    let (status, listed) = page(&server, "corp-tool");
    assert_eq!(status, 404, "{listed}");
}

/// The path names no project, so the server lets any writer reach the
/// handler; the handler asks about the project in the form. A publisher
/// who may write `corp-*` uploads there, and is refused (403) a project
/// outside the hosted names, and a reader is refused writing at all.
#[test]
fn the_project_in_the_form_is_authorized() {
    let home = Home::new();
    std::fs::write(
        home.path().join("access.toml"),
        "[[rule]]\nread = [\"authenticated\"]\n\n[[rule]]\necosystems = [\"pypi\"]\nnames = [\"corp-*\"]\nwrite = [\"writer\"]\n\n[[rule]]\necosystems = [\"pypi\"]\nnames = [\"other-*\"]\nwrite = [\"writer\"]\n\n[[hosted]]\necosystems = [\"pypi\"]\nnames = [\"corp-*\"]\n",
    )
    .unwrap();
    home.run(&["user", "add", "reader"]).ok();
    let made = home
        .run(&["--json", "token", "create", "read", "--user", "reader"])
        .ok()
        .json();
    let reader = format!("Bearer {}", made["secret"].as_str().unwrap());
    let server = Server::start(&home);
    let file = b"sdist bytes".to_vec();
    let sha = sha256_hex(&file);

    // other-* is writable by rule but not hosted: imported content.
    let (status, text) = upload(
        &server,
        None,
        &form(
            &fields("other-tool", "0.1.0", "sdist", &sha),
            "other_tool-0.1.0.tar.gz",
            &file,
        ),
    );
    assert_eq!(status, 403, "{text}");
    let (status, text) = upload(
        &server,
        Some(&reader),
        &form(
            &fields("corp-tool", "0.1.0", "sdist", &sha),
            "corp_tool-0.1.0.tar.gz",
            &file,
        ),
    );
    assert_eq!(status, 403, "{text}");
    let (status, text) = upload(
        &server,
        None,
        &form(
            &fields("corp-tool", "0.1.0", "sdist", &sha),
            "corp_tool-0.1.0.tar.gz",
            &file,
        ),
    );
    assert_eq!(status, 200, "{text}");
    let (status, _, listed) = common::http(
        server.address,
        "GET",
        "/pypi/simple/other-tool/",
        &[("Authorization", &reader)],
    );
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&listed));
    let (status, _, listed) = common::http(
        server.address,
        "GET",
        "/pypi/simple/corp-tool/",
        &[("Authorization", &reader)],
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&listed));
}

/// On a site that hosts `corp-*`, an uploaded project is hosted content:
/// a newer bundle imports without `--allow-removals` and the upload is
/// still listed and served.
#[test]
fn uploads_under_hosted_names_survive_imports() {
    let connected = common::Connected::sample();
    let isolated = connected.hosting_site("pypi", "corp-*");
    let sdist = b"an sdist published inside the gap".to_vec();
    let body = form(
        &fields("corp-tool", "0.1.0", "sdist", &sha256_hex(&sdist)),
        "corp_tool-0.1.0.tar.gz",
        &sdist,
    );
    {
        let server = Server::start(&isolated);
        let (status, text) = upload(&server, None, &body);
        assert_eq!(status, 200, "{text}");
    }
    let second = connected.pack_newer("second");
    isolated.run(&["import", second.to_str().unwrap()]).ok();
    let server = Server::start(&isolated);
    let (status, listed) = page(&server, "corp-tool");
    assert_eq!(status, 200, "{listed}");
    assert!(listed.contains("corp_tool-0.1.0.tar.gz"), "{listed}");
    let (status, _, served) = common::http(
        server.address,
        "GET",
        "/pypi/files/corp-tool/corp_tool-0.1.0.tar.gz",
        &[],
    );
    assert_eq!(status, 200);
    assert_eq!(served, sdist);
}
