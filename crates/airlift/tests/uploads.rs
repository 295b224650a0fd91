//! OCI upload sessions: bound to the repository they were opened for, chunks
//! whose `Content-Range` does not match their body refused without storing
//! anything, and sessions that expire and give their space back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use std::time::Duration;

use common::{Home, noise, sha256_hex};

use common::Server as Serve;

fn error_code(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    value["errors"][0]["code"].as_str().unwrap_or("").to_owned()
}

/// Opens a session in `repository`; returns its id.
fn open(address: SocketAddr, repository: &str) -> String {
    let (status, headers, _) = common::request(
        address,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        b"",
    );
    assert_eq!(status, 202);
    headers["location"].rsplit('/').next().unwrap().to_owned()
}

fn session_bytes(home: &Home, id: &str) -> Option<u64> {
    std::fs::metadata(home.path().join("uploads").join(id))
        .ok()
        .map(|m| m.len())
}

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// A PATCH whose body is sent chunked, so its length is known only once it
/// has streamed; returns the status.
fn patch_chunked(address: SocketAddr, path: &str, content_range: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).unwrap();
    let auth = common::writer_header(address).unwrap_or_default();
    write!(
        stream,
        "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nAuthorization: {auth}\r\nContent-Range: {content_range}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    stream.write_all(b"\r\n0\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_session_is_bound_to_its_repository() {
    let home = Home::new();
    let server = Serve::start(&home);
    let data = noise(7, 5000);
    let digest = format!("sha256:{}", sha256_hex(&data));
    let id = open(server.address, "team/app");
    let path = format!("/v2/other/app/blobs/uploads/{id}");
    for (method, path, body) in [
        ("PATCH", path.clone(), &data[..]),
        ("GET", path.clone(), &b""[..]),
        ("PUT", format!("{path}?digest={digest}"), &data[..]),
        ("DELETE", path.clone(), &b""[..]),
    ] {
        let (status, _, answer) = common::request(server.address, method, &path, &[], body);
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(
            error_code(&answer),
            "BLOB_UPLOAD_UNKNOWN",
            "{method} {path}"
        );
    }
    assert_eq!(
        session_bytes(&home, &id),
        Some(0),
        "another repository wrote into the session"
    );
    // Its own repository finishes it, and only there is the blob linked.
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        &format!("/v2/team/app/blobs/uploads/{id}?digest={digest}"),
        &[],
        &data,
    );
    assert_eq!(status, 201);
    let (status, _, _) = common::request(
        server.address,
        "GET",
        &format!("/v2/other/app/blobs/{digest}"),
        &[],
        b"",
    );
    assert_eq!(status, 404);
    let (status, _, body) = common::request(
        server.address,
        "GET",
        &format!("/v2/team/app/blobs/{digest}"),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(body == data);
    assert_eq!(
        files_in(&home.path().join("uploads")),
        0,
        "a finished session left files"
    );
}

#[test]
fn a_chunk_must_be_as_long_as_its_content_range_says() {
    let home = Home::new();
    let server = Serve::start(&home);
    let data = noise(8, 3000);
    let digest = format!("sha256:{}", sha256_hex(&data));
    let id = open(server.address, "team/app");
    let path = format!("/v2/team/app/blobs/uploads/{id}");
    let patch = |range: &str, body: &[u8]| {
        common::request(
            server.address,
            "PATCH",
            &path,
            &[("Content-Range", range)],
            body,
        )
    };
    // The end says 1000 bytes, the body has 500 (Content-Length tells).
    let (status, headers, answer) = patch("0-999", &data[..500]);
    assert_eq!(status, 416);
    assert_eq!(error_code(&answer), "BLOB_UPLOAD_INVALID");
    assert_eq!(headers["location"], path);
    assert_eq!(session_bytes(&home, &id), Some(0));
    // The end says 500 bytes, the body has 1000.
    let (status, _, _) = patch("0-499", &data[..1000]);
    assert_eq!(status, 416);
    assert_eq!(session_bytes(&home, &id), Some(0));
    // The same two, with bodies whose length shows only as they stream.
    assert_eq!(
        patch_chunked(server.address, &path, "0-999", &data[..500]),
        416
    );
    assert_eq!(session_bytes(&home, &id), Some(0));
    assert_eq!(
        patch_chunked(server.address, &path, "0-499", &data[..1000]),
        416
    );
    assert_eq!(session_bytes(&home, &id), Some(0));
    // A range without an end.
    let (status, _, _) = patch("0-", &data[..10]);
    assert_eq!(status, 416);
    // Right ranges are taken, and the blob comes out whole.
    let (status, headers, _) = patch("0-999", &data[..1000]);
    assert_eq!(status, 202);
    assert_eq!(headers["range"], "0-999");
    assert_eq!(
        patch_chunked(server.address, &path, "1000-1999", &data[1000..2000]),
        202
    );
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        &format!("{path}?digest={digest}"),
        &[("Content-Range", "2000-2999")],
        &data[2000..],
    );
    assert_eq!(status, 201);
    let (_, _, body) = common::request(
        server.address,
        "GET",
        &format!("/v2/team/app/blobs/{digest}"),
        &[],
        b"",
    );
    assert!(body == data);
}

#[test]
fn sessions_expire_and_give_their_space_back() {
    let home = Home::new();
    let uploads = home.path().join("uploads");
    let data = noise(9, 200_000);
    // A session left open by a server that has since stopped.
    let abandoned = {
        let server = Serve::start(&home);
        let id = open(server.address, "team/app");
        let (status, _, _) = common::request(
            server.address,
            "PATCH",
            &format!("/v2/team/app/blobs/uploads/{id}"),
            &[],
            &data,
        );
        assert_eq!(status, 202);
        id
    };
    assert_eq!(session_bytes(&home, &abandoned), Some(data.len() as u64));
    std::thread::sleep(Duration::from_millis(2100));

    // The next server sweeps it at start-up.
    let server = Serve::start_with(&home, &["--upload-expiry", "2s"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while files_in(&uploads) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(files_in(&uploads), 0, "the start-up sweep left files");

    // A session used after its age is refused and removed on the spot.
    let id = open(server.address, "team/app");
    let path = format!("/v2/team/app/blobs/uploads/{id}");
    let (status, _, _) = common::request(server.address, "PATCH", &path, &[], &data);
    assert_eq!(status, 202);
    std::thread::sleep(Duration::from_millis(2100));
    let (status, _, answer) = common::request(server.address, "PATCH", &path, &[], &data);
    assert_eq!(status, 404);
    assert_eq!(error_code(&answer), "BLOB_UPLOAD_UNKNOWN");
    assert!(
        String::from_utf8_lossy(&answer).contains("expired"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(files_in(&uploads), 0, "an expired session kept its files");

    // Fresh sessions still work.
    let digest = format!("sha256:{}", sha256_hex(&data));
    let id = open(server.address, "team/app");
    let (status, _, _) = common::request(
        server.address,
        "PUT",
        &format!("/v2/team/app/blobs/uploads/{id}?digest={digest}"),
        &[],
        &data,
    );
    assert_eq!(status, 201);
}

#[test]
fn upload_expiry_must_be_a_sane_age() {
    let home = Home::new();
    for bad in ["0s", "24", "5y", "400d", "h"] {
        let run = home.run(&["serve", "--listen", "127.0.0.1:0", "--upload-expiry", bad]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(
            run.stderr.contains("invalid value") && run.stderr.contains("--upload-expiry"),
            "{bad}: {}",
            run.stderr
        );
    }
}
