//! Serving over TLS when a blob file goes bad under a response: the blob
//! file shrinks while a client is still reading it. That one response must
//! fail (the connection is cut short, since its `Content-Length` is already
//! sent) and the server must keep answering everything else. When blobs were
//! sent from memory-mapped windows, rustls read the vanished pages in user
//! space and the whole process died of SIGBUS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use std::sync::Arc;
use std::time::Duration;

use common::{Home, Server, noise, sha256_hex};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

use common::Server as TlsServer;

/// A client configuration that trusts only the home's site CA.
fn client_config(home: &Home) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(home.path().join("tls/ca.crt")).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Sends a GET over a new TLS connection and reads the status line and
/// headers; returns the stream positioned at the body, the status and the
/// `Content-Length`.
fn get(config: &Arc<rustls::ClientConfig>, address: SocketAddr, path: &str) -> (Tls, u16, u64) {
    let server = ServerName::IpAddress(address.ip().into());
    let connection = rustls::ClientConnection::new(config.clone(), server).unwrap();
    let socket = TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut stream = rustls::StreamOwned::new(connection, socket);
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream.flush().unwrap();
    // Byte by byte up to the blank line, so no body byte is consumed here.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse().unwrap())
        .unwrap_or(0);
    (stream, status, length)
}

/// A whole GET over TLS: status and body.
fn fetch(config: &Arc<rustls::ClientConfig>, address: SocketAddr, path: &str) -> (u16, Vec<u8>) {
    let (mut stream, status, length) = get(config, address, path);
    let mut body = vec![0u8; length as usize];
    stream.read_exact(&mut body).unwrap();
    (status, body)
}

#[test]
fn a_blob_truncated_while_served_over_tls_fails_that_response_not_the_server() {
    let home = Home::new();
    home.run(&["tls", "init", "--name", "registry.test"]).ok();
    let big = noise(41, 64 << 20);
    let small = noise(42, 300_000);
    let (big_digest, small_digest) = {
        let server = Server::start(&home);
        let push = |data: &[u8]| {
            let digest = format!("sha256:{}", sha256_hex(data));
            let (status, _, body) = common::request(
                server.address,
                "POST",
                &format!("/v2/team/app/blobs/uploads/?digest={digest}"),
                &[("Content-Type", "application/octet-stream")],
                data,
            );
            assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
            digest
        };
        (push(&big), push(&small))
    };
    let store = airlift_store::Store::open_embedded(home.path()).unwrap();
    let big_file = store
        .blobs
        .local_path(&big_digest.parse().unwrap())
        .unwrap();

    let mut server = TlsServer::start_with(&home, &["--tls"]);
    let config = client_config(&home);

    // Start reading the big blob, slowly: take its first MiB, then cut the
    // file to nothing while the server still has most of it to send.
    let (mut stream, status, length) = get(
        &config,
        server.address,
        &format!("/v2/team/app/blobs/{big_digest}"),
    );
    assert_eq!(status, 200);
    assert_eq!(length, big.len() as u64);
    let mut first = vec![0u8; 1 << 20];
    stream.read_exact(&mut first).unwrap();
    assert_eq!(first, big[..1 << 20]);
    std::thread::sleep(Duration::from_millis(200));
    let mut permissions = std::fs::metadata(&big_file).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    permissions.set_readonly(false);
    std::fs::set_permissions(&big_file, permissions).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big_file)
        .unwrap()
        .set_len(0)
        .unwrap();

    // That response ends early: the client never gets the whole length.
    let mut rest = Vec::new();
    let outcome = stream.read_to_end(&mut rest);
    assert!(
        outcome.is_err() || ((1 << 20) + rest.len() as u64) < length,
        "the response of a truncated blob must not complete ({} bytes after the first MiB)",
        rest.len()
    );

    // The server lives on and serves everything else.
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died: {:?}",
        server.child.try_wait()
    );
    let (status, body) = fetch(&config, server.address, "/healthz");
    assert_eq!(status, 200);
    assert_eq!(body, b"ok\n");
    let (status, body) = fetch(
        &config,
        server.address,
        &format!("/v2/team/app/blobs/{small_digest}"),
    );
    assert_eq!(status, 200);
    assert!(body == small, "the other blob came back different");
}
