//! The listener's limits and protocol, against an in-process server on a
//! loopback port: idle, header and body timeouts, the connection bound, the
//! headers every answer carries, and HTTP/1.1 only (no h2c).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use airlift_server::{Limits, NO_CONTENT_POLICY, Services, app_with, serve_listener};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::ecosystems;

struct Running {
    address: SocketAddr,
    home: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start(limits: Limits) -> Running {
    start_with(limits, None).await
}

async fn start_with(limits: Limits, tls: Option<Arc<rustls::ServerConfig>>) -> Running {
    let home = tempfile::tempdir().unwrap();
    let store = airlift_store::Store::open_embedded(home.path()).unwrap();
    let uploads = home.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_listener(
        listener,
        app_with(
            store,
            uploads,
            Services {
                ecosystems: Arc::from(ecosystems()),
                ..Default::default()
            },
        ),
        limits,
        tls,
        async move {
            let _ = stopped.await;
        },
    ));
    Running {
        address,
        home,
        _stop: stop,
    }
}

fn limits(header: u64, idle: u64, body: u64, connections: usize) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(header),
        idle_timeout: Duration::from_millis(idle),
        body_timeout: Duration::from_millis(body),
        max_connections: connections,
    }
}

/// Reads until the server closes the connection (or resets it), within
/// `within`; returns what arrived and when the connection ended.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 65536];
    loop {
        let read = tokio::time::timeout(
            within.saturating_sub(started.elapsed()),
            stream.read(&mut buffer),
        )
        .await
        .unwrap_or_else(|_| panic!("the connection was still open after {within:?}"));
        match read {
            Ok(0) | Err(_) => return (seen, started.elapsed()),
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

/// One request on a new connection, answered within `within`: the status
/// line and headers (lower-cased names) of the answer.
async fn ask(address: SocketAddr, request: &str, within: Duration) -> (u16, Vec<(String, String)>) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, within).await;
    parse_head(&answer)
}

fn parse_head(answer: &[u8]) -> (u16, Vec<(String, String)>) {
    let text = String::from_utf8_lossy(answer);
    let head = text.split("\r\n\r\n").next().unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_says_nosniff_and_lets_nothing_load() {
    let server = start(Limits::default()).await;
    let within = Duration::from_secs(5);
    for (path, status) in [
        ("/healthz", 200),
        ("/nowhere", 404),
        ("/v2/", 200),
        ("/v2/team/app/manifests/latest", 404),
        ("/files/missing.txt", 404),
        ("/metrics", 200),
    ] {
        let (got, headers) = ask(server.address, &get(path), within).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            header(&headers, "content-security-policy"),
            Some(NO_CONTENT_POLICY),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
    let server = start(limits(10_000, 1_000, 10_000, 100)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let (seen, after) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(3),
        "closed after {after:?}, not about 1s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_handshake_that_never_comes_is_cut_off_at_the_header_timeout() {
    let tls = tempfile::tempdir().unwrap();
    airlift_tls::init(tls.path(), &[], jiff::Timestamp::now()).unwrap();
    let config = airlift_tls::server_config(tls.path()).unwrap();
    let server = start_with(limits(1_000, 10_000, 10_000, 100), Some(config)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    // The first bytes of a TLS record header, and then nothing.
    stream.write_all(&[0x16, 0x03]).await.unwrap();
    let (_, after) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(3),
        "closed after {after:?}, not about 1s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_request_head_is_cut_off_at_the_header_timeout() {
    let server = start(limits(1_000, 10_000, 10_000, 100)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let started = Instant::now();
    // One byte every 100 ms: it never stops arriving, yet never ends.
    let request = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(4) {
            panic!("still sending after 4s: the header timeout did not close the connection");
        }
    }
    let (_, _) = read_until_closed(&mut stream, Duration::from_secs(4)).await;
    let after = started.elapsed();
    assert!(
        after < Duration::from_millis(2_500),
        "closed after {after:?}, not about 1s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_gets_the_idle_timeout_not_the_header_timeout() {
    let server = start(limits(500, 3_000, 10_000, 100)).await;
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let keep = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
    for _ in 0..2 {
        stream.write_all(keep.as_bytes()).await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buffer))
            .await
            .expect("no answer")
            .unwrap();
        assert!(
            buffer[..n].starts_with(b"HTTP/1.1 200"),
            "{:?}",
            String::from_utf8_lossy(&buffer[..n])
        );
        // Longer than the header timeout, shorter than the idle timeout.
        tokio::time::sleep(Duration::from_millis(1_200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_body_that_stalls_ends_its_connection_and_a_slow_one_does_not() {
    let server = start(limits(10_000, 10_000, 1_000, 100)).await;
    let digest = format!("sha256:{}", airlift_core::Digest::of(b"0123456789").hex());
    let head = format!(
        "POST /v2/team/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
    );

    // Slow but moving: one byte every 400 ms, 4 s in all, with a 1 s body timeout.
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    for byte in b"0123456789" {
        tokio::time::sleep(Duration::from_millis(400)).await;
        stream.write_all(&[*byte]).await.unwrap();
    }
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(
        parse_head(&answer).0,
        201,
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // Stalled: half the body, then nothing.
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(b"01234").await.unwrap();
    let started = Instant::now();
    let (answer, after) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after < Duration::from_secs(3),
        "the stalled body held its connection for {after:?}"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed before the body timeout"
    );
    if !answer.is_empty() {
        let (status, _) = parse_head(&answer);
        assert!(status >= 400, "{}", String::from_utf8_lossy(&answer));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_a_response_is_dropped() {
    let server = start(limits(10_000, 10_000, 1_000, 100)).await;
    // A blob far larger than the socket buffers on both sides.
    let blob: Vec<u8> = (0..32u32 << 20).map(|i| (i % 251) as u8).collect();
    let digest = format!("sha256:{}", airlift_core::Digest::of(&blob).hex());
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    let head = format!(
        "POST /v2/team/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        blob.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&blob).await.unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(20)).await;
    assert_eq!(parse_head(&answer).0, 201);

    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(get(&format!("/v2/team/app/blobs/{digest}")).as_bytes())
        .await
        .unwrap();
    // Take nothing for three body timeouts, then everything that is left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(
        answer.len() < blob.len(),
        "the whole blob arrived: the server waited for a client that took nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_http1_is_spoken_h2c_is_refused() {
    let server = start(Limits::default()).await;
    // HTTP/2 with prior knowledge: the preface and an empty SETTINGS frame.
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    // An HTTP/2 server answers with its own SETTINGS frame (type 4).
    assert!(
        answer.len() < 9 || answer[3] != 4,
        "the server spoke HTTP/2: {answer:?}"
    );
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "{answer:?}"
    );

    // An upgrade request is answered over HTTP/1.1 and not upgraded.
    let (status, headers) = ask(
        server.address,
        "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "upgrade"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_makes_new_clients_wait_until_a_slot_frees() {
    let server = start(limits(10_000, 1_000, 10_000, 2)).await;
    let _first = TcpStream::connect(server.address).await.unwrap();
    let _second = TcpStream::connect(server.address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (status, _) = ask(server.address, &get("/healthz"), Duration::from_secs(5)).await;
    let after = started.elapsed();
    assert_eq!(status, 200);
    // Answered once the idle timeout freed a slot, not refused, not at once.
    assert!(
        after >= Duration::from_millis(700),
        "answered after {after:?}: more than 2 connections were open"
    );
}

#[test]
fn the_connection_limit_fits_the_open_files_limit() {
    let wanted = Limits::default();
    assert_eq!(
        airlift_server::fit_to_open_files(wanted, Some(1024)).max_connections,
        480
    );
    assert_eq!(
        airlift_server::fit_to_open_files(wanted, Some(1 << 20)).max_connections,
        4096
    );
    assert_eq!(airlift_server::fit_to_open_files(wanted, None), wanted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_that_goes_silent_gets_the_header_timeout_and_a_silent_connection_the_idle_one() {
    // The header timeout is the shorter, so each connection shows which
    // clock it was given.
    let server = start(limits(500, 2_500, 10_000, 100)).await;
    let mut silent = TcpStream::connect(server.address).await.unwrap();
    let mut started = TcpStream::connect(server.address).await.unwrap();
    // Part of a request line, and then nothing: no header line ever comes.
    started.write_all(b"GET /healthz HT").await.unwrap();
    let (head_closed, idle_closed) = tokio::join!(
        read_until_closed(&mut started, Duration::from_secs(5)),
        read_until_closed(&mut silent, Duration::from_secs(6)),
    );
    let (seen, after) = head_closed;
    assert!(seen.is_empty(), "{:?}", String::from_utf8_lossy(&seen));
    assert!(
        after >= Duration::from_millis(400) && after < Duration::from_millis(1_800),
        "the started head was closed after {after:?}, not about 0.5s"
    );
    let (seen, after) = idle_closed;
    assert!(seen.is_empty(), "{:?}", String::from_utf8_lossy(&seen));
    assert!(
        after >= Duration::from_millis(2_300) && after < Duration::from_secs(5),
        "the silent connection was closed after {after:?}, not about 2.5s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_that_stalls_is_cut_at_the_body_timeout_and_stores_nothing() {
    let server = start(limits(10_000, 10_000, 1_000, 100)).await;
    let digest = format!("sha256:{}", airlift_core::Digest::of(b"0123456789").hex());
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    // No Content-Length: the body's end is only known from its last chunk,
    // which never comes.
    stream
        .write_all(
            format!(
                "POST /v2/team/app/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\n01234\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, after) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        after >= Duration::from_millis(900) && started.elapsed() < Duration::from_secs(3),
        "closed after {after:?}, not about 1s"
    );
    if !answer.is_empty() {
        let (status, _) = parse_head(&answer);
        assert!(status >= 400, "{}", String::from_utf8_lossy(&answer));
    }
    // The session the request opened is gone with its half of the data.
    let uploads = server.home.path().join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in {}: {left:?}", uploads.display());
    let (status, _) = ask(
        server.address,
        &get(&format!("/v2/team/app/blobs/{digest}")),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(status, 404);
}
