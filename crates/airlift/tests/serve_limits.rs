//! `airlift serve` under abuse: a flood of idle and trickling connections
//! against a server started with the common soft open-files limit of 1024,
//! and manifests whose media type would let a push put a page on the
//! registry's origin.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Home;

/// `airlift serve` under a soft limit of 1024 open files, as many systems
/// start services: the server must raise it itself.
fn serve_limited(home: &Home, extra: &[&str]) -> common::Server {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -Sn 1024 && exec \"$0\" \"$@\"")
        .arg(common::binary())
        .arg("--home")
        .arg(home.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env_remove("AIRLIFT_FAILPOINT")
        .stdin(Stdio::null());
    let auth = common::writer_auth(home);
    common::Server::spawn(command).writable(auth)
}

/// One request with a deadline: the status, or why there was none.
fn timed(address: SocketAddr, path: &str, within: Duration) -> Result<(u16, usize), String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&address, within).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(within)).unwrap();
    stream.set_write_timeout(Some(within)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("{e} after {:?}", started.elapsed()))?;
    if started.elapsed() > within {
        return Err(format!("answered after {:?}", started.elapsed()));
    }
    let status = String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {} bytes", answer.len()))?;
    Ok((status, answer.len()))
}

/// Whether the server has closed (or reset) this connection.
fn closed(mut stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

const IDLE: usize = 2000;
const TRICKLING: usize = 2000;

#[test]
fn healthz_and_blobs_answer_through_a_flood_of_idle_and_trickling_connections() {
    // Both ends of the flood live on this machine: this process holds one
    // descriptor per connection, the server another.
    let open_files = airlift_server::raise_open_files_limit();
    let needed = (IDLE + TRICKLING + 200) as u64;
    if let Some(limit) = open_files {
        assert!(
            limit >= needed,
            "this test needs {needed} open files, but the hard limit is {limit}: raise it (ulimit -Hn) to run it"
        );
    }
    let home = Home::new();
    let server = serve_limited(&home, &["--header-timeout", "3s", "--idle-timeout", "3s"]);
    let blob: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    let digest = format!("sha256:{}", common::sha256_hex(&blob));
    let (status, _, _) = common::request(
        server.address,
        "POST",
        &format!("/v2/team/app/blobs/uploads/?digest={digest}"),
        &[],
        &blob,
    );
    assert_eq!(status, 201);
    let blob_path = format!("/v2/team/app/blobs/{digest}");

    let opened = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    let mut trickling = Vec::with_capacity(TRICKLING);
    for i in 0..IDLE + TRICKLING {
        let stream = TcpStream::connect(server.address)
            .unwrap_or_else(|e| panic!("connection {i} of the flood: {e}"));
        stream.set_nonblocking(true).unwrap();
        if i % 2 == 0 {
            idle.push(stream);
        } else {
            trickling.push(stream);
        }
    }
    let opened = opened.elapsed();

    // While the flood is open, and while it trickles, the server answers.
    let trickle = b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut slowest = Duration::ZERO;
    let mut cut = vec![false; TRICKLING];
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(9) {
        for (i, stream) in trickling.iter_mut().enumerate() {
            if cut[i] {
                continue;
            }
            match stream.write(&trickle[round % trickle.len()..][..1]) {
                Err(e) if e.kind() != ErrorKind::WouldBlock => cut[i] = true,
                _ => {}
            }
        }
        round += 1;
        for path in ["/healthz", blob_path.as_str()] {
            let asked = Instant::now();
            let answer = timed(server.address, path, Duration::from_secs(2));
            assert!(
                matches!(answer, Ok((200, _))),
                "{path} after {:?} of flood: {answer:?}",
                started.elapsed()
            );
            slowest = slowest.max(asked.elapsed());
        }
        std::thread::sleep(Duration::from_millis(900));
    }

    // By now the idle and header timeouts (3 s) have closed the whole flood.
    let idle_open = idle.iter().filter(|s| !closed(s)).count();
    let trickling_open = trickling
        .iter()
        .zip(&cut)
        .filter(|(s, cut)| !**cut && !closed(s))
        .count();
    eprintln!(
        "flood of {} opened in {opened:?}; slowest answer {slowest:?}; still open after 9s: {idle_open} idle, {trickling_open} trickling",
        IDLE + TRICKLING
    );
    assert_eq!(idle_open, 0, "idle connections were not closed");
    assert_eq!(trickling_open, 0, "trickling connections were not closed");
}

/// A manifest with no blobs, of the given `mediaType` field (raw JSON).
fn manifest(media_type_json: &str) -> Vec<u8> {
    format!(r#"{{"schemaVersion":2,"mediaType":{media_type_json},"layers":[]}}"#).into_bytes()
}

#[test]
fn manifests_with_a_media_type_a_browser_would_render_are_refused() {
    let home = Home::new();
    let server = common::Server::start(&home);
    let megabyte = format!("\"application/{}\"", "a".repeat(1 << 20));
    let manifest_type = ("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>);
    let cases: Vec<Case<'_>> = vec![
        ("text/html", vec![manifest_type], manifest("\"text/html\"")),
        (
            "html dressed as application",
            vec![manifest_type],
            manifest("\"application/xhtml+xml\""),
        ),
        ("svg", vec![manifest_type], manifest("\"image/svg+xml\"")),
        (
            "CR LF in the type",
            vec![manifest_type],
            manifest(r#""application/json\r\nSet-Cookie: a=b""#),
        ),
        (
            "a parameter in the field",
            vec![manifest_type],
            manifest("\"application/json; charset=utf-8\""),
        ),
        ("a megabyte long", vec![manifest_type], manifest(&megabyte)),
        ("not a string", vec![manifest_type], manifest("42")),
        (
            "text/html from Content-Type",
            vec![("Content-Type", "text/html; charset=utf-8")],
            br#"{"schemaVersion":2,"layers":[]}"#.to_vec(),
        ),
        (
            "no subtype in Content-Type",
            vec![("Content-Type", "application")],
            br#"{"schemaVersion":2,"layers":[]}"#.to_vec(),
        ),
    ];
    for (label, mut headers, body) in cases {
        headers.push(("Authorization", &server.auth));
        let (status, answer_headers, answer) = common::request(
            server.address,
            "PUT",
            "/v2/team/app/manifests/page",
            &headers,
            &body,
        );
        let text = String::from_utf8_lossy(&answer);
        assert_eq!(status, 400, "{label}: {text}");
        assert!(text.contains("MANIFEST_INVALID"), "{label}: {text}");
        assert!(text.len() < 4096, "{label}: the answer echoes the input");
        assert_eq!(
            answer_headers
                .get("x-content-type-options")
                .map(String::as_str),
            Some("nosniff"),
            "{label}"
        );
    }
    let (status, _, _) = common::http(server.address, "GET", "/v2/team/app/manifests/page", &[]);
    assert_eq!(status, 404, "a refused manifest was stored");

    // Artifacts may use their own application/… types, and get them back.
    let artifact = "application/vnd.example.thing.v1+json";
    let (status, headers, answer) = common::request(
        server.address,
        "PUT",
        "/v2/team/app/manifests/thing",
        &[("Content-Type", artifact), ("Authorization", &server.auth)],
        &manifest(&format!("\"{artifact}\"")),
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, headers, _) =
        common::http(server.address, "GET", "/v2/team/app/manifests/thing", &[]);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], artifact);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"].contains("default-src 'none'"),
        "{headers:?}"
    );
}
