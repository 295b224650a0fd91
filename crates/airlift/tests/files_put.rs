//! `PUT /files/<path>` and `DELETE /files/<path>`: uploaded files are
//! served like collected ones, checked against the checksum the client
//! states, replaced by a later PUT and removed by DELETE.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use base64::Engine;
use common::{Home, Server, sha256_hex};

fn get(server: &Server, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = common::http(server.address, "GET", path, &[]);
    (status, body)
}

#[test]
fn a_put_file_is_served_replaced_and_deleted() {
    let home = Home::new();
    let server = Server::start(&home);
    let (status, headers, _) = common::request(
        server.address,
        "PUT",
        "/files/ci/build-1/app.bin",
        &[],
        b"first",
    );
    assert_eq!(status, 201);
    assert_eq!(headers["x-checksum-sha256"], sha256_hex(b"first"));
    assert_eq!(
        get(&server, "/files/ci/build-1/app.bin"),
        (200, b"first".to_vec())
    );

    let checksum = sha256_hex(b"second");
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        "/files/ci/build-1/app.bin",
        &[("X-Checksum-Sha256", &checksum)],
        b"second",
    );
    assert_eq!(status, 201);
    assert_eq!(
        get(&server, "/files/ci/build-1/app.bin"),
        (200, b"second".to_vec())
    );
    let listing = String::from_utf8(get(&server, "/files/").1).unwrap();
    assert!(listing.contains("ci/build-1/app.bin 6"), "{listing}");

    let export = home
        .run(&["--json", "audit", "export"])
        .ok()
        .json()
        .to_string();
    assert!(export.contains("put /files/ci/build-1/app.bin"), "{export}");
    assert!(export.contains("\"principal\":\"writer\""), "{export}");

    let (status, _, _) = common::request(
        server.address,
        "DELETE",
        "/files/ci/build-1/app.bin",
        &[],
        b"",
    );
    assert_eq!(status, 204);
    assert_eq!(get(&server, "/files/ci/build-1/app.bin").0, 404);
    let (status, _, _) = common::request(
        server.address,
        "DELETE",
        "/files/ci/build-1/app.bin",
        &[],
        b"",
    );
    assert_eq!(status, 404);
}

#[test]
fn a_body_that_does_not_match_its_stated_checksum_is_refused() {
    let home = Home::new();
    let server = Server::start(&home);
    let wrong = sha256_hex(b"something else");
    let (status, _, body) = common::request(
        server.address,
        "PUT",
        "/files/a.txt",
        &[("X-Checksum-Sha256", &wrong)],
        b"contents",
    );
    assert_eq!(status, 400);
    assert!(
        String::from_utf8_lossy(&body).contains("checksum mismatch"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(get(&server, "/files/a.txt").0, 404);

    let digest = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        format!(
            "sha-256={}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        "/files/a.txt",
        &[("Digest", &digest(b"other"))],
        b"contents",
    );
    assert_eq!(status, 400);
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        "/files/a.txt",
        &[("Digest", &digest(b"contents"))],
        b"contents",
    );
    assert_eq!(status, 201);
    assert_eq!(get(&server, "/files/a.txt"), (200, b"contents".to_vec()));
}

/// Sends a PUT with `head_extra` and `body` as they are; returns the status.
fn raw_put(address: SocketAddr, auth: &str, path: &str, head_extra: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAuthorization: {auth}\r\n{head_extra}\r\n"
    )
    .unwrap();
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn lengths_bad_paths_and_anonymous_callers_are_refused() {
    let home = Home::new();
    let server = Server::start(&home);
    // No length and not chunked.
    assert_eq!(
        raw_put(server.address, &server.auth, "/files/b", "", b""),
        411
    );
    // Said to be too large.
    assert_eq!(
        raw_put(
            server.address,
            &server.auth,
            "/files/b",
            &format!("Content-Length: {}\r\n", (16u64 << 30) + 1),
            b""
        ),
        413
    );
    // Chunked is accepted.
    assert_eq!(
        raw_put(
            server.address,
            &server.auth,
            "/files/b",
            "Transfer-Encoding: chunked\r\n",
            b"3\r\nabc\r\n0\r\n\r\n"
        ),
        201
    );
    assert_eq!(get(&server, "/files/b"), (200, b"abc".to_vec()));
    let (status, _, _) = common::request(server.address, "PUT", "/files/a/%2e%2e/b", &[], b"x");
    assert_eq!(status, 400);
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        "/files/c",
        &[("Authorization", "")],
        b"x",
    );
    assert_eq!(status, 401);
    assert_eq!(get(&server, "/files/c").0, 404);
}
