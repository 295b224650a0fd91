//! The fetcher against a scripted HTTP server on 127.0.0.1: which answers
//! are retried and how long it waits, resuming with `Range`, refusing a
//! digest mismatch, capped small reads, and how failures are worded.
//!
//! The server answers the N-th connection with the N-th scripted response
//! (the last one again when the script runs out), as raw bytes, so a test
//! can send a body that breaks off, and then closes the connection. It
//! records every request head it reads.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use airlift_core::{Digest, SafeUrl};
use airlift_fetch::{FetchError, FetchOptions, Fetcher, Quiet, Request, StatusCode};
use airlift_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

struct Server {
    url: SafeUrl,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Serves `script` on a free port of 127.0.0.1.
    async fn start(script: Vec<Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            let mut served = 0;
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                seen.lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&head).to_ascii_lowercase());
                let answer = &script[served.min(script.len() - 1)];
                served += 1;
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            }
        });
        Self {
            url: SafeUrl::parse(&format!("http://{address}/blob")).expect("url"),
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

/// A complete response with `status` and `body`, and extra header lines.
fn response(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A 200 that promises `length` bytes and sends only `body`.
fn broken_off(length: usize, body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n")
            .into_bytes();
    out.extend_from_slice(body);
    out
}

fn fetcher(attempts: u32, backoff: Duration) -> Fetcher {
    Fetcher::new(FetchOptions {
        concurrency: 1,
        attempts,
        backoff,
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
    })
    .expect("client")
}

fn request(url: &SafeUrl, expected: Option<Digest>) -> Request {
    Request {
        url: url.clone(),
        expected,
        authorization: None,
    }
}

fn store() -> (tempfile::TempDir, Store) {
    let home = tempfile::tempdir().expect("tempdir");
    let store = Store::open_embedded(home.path()).expect("store");
    (home, store)
}

#[tokio::test]
async fn a_server_error_is_retried_and_the_download_completes() {
    let server = Server::start(vec![
        response("503 Service Unavailable", "", b""),
        response("200 OK", "", b"hello"),
    ])
    .await;
    let (_home, store) = store();
    let fetched = fetcher(3, Duration::from_millis(1))
        .fetch(
            &store,
            &request(&server.url, Some(Digest::of(b"hello"))),
            &Quiet,
        )
        .await
        .expect("fetched");
    assert_eq!(fetched.digest, Digest::of(b"hello"));
    assert_eq!(fetched.size, 5);
    assert!(!fetched.cached);
    assert_eq!(server.requests().len(), 2);
    // Asked again, it is already stored: no request at all.
    let again = fetcher(3, Duration::from_millis(1))
        .fetch(
            &store,
            &request(&server.url, Some(Digest::of(b"hello"))),
            &Quiet,
        )
        .await
        .expect("cached");
    assert!(again.cached);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let server = Server::start(vec![response("404 Not Found", "", b"")]).await;
    let (_home, store) = store();
    let error = fetcher(4, Duration::from_millis(1))
        .fetch(&store, &request(&server.url, None), &Quiet)
        .await
        .expect_err("refused");
    assert!(
        matches!(
            error,
            FetchError::Status {
                status: StatusCode::NOT_FOUND,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn too_many_requests_is_retried_with_a_doubling_backoff_until_attempts_run_out() {
    let server = Server::start(vec![response("429 Too Many Requests", "", b"")]).await;
    let (_home, store) = store();
    let backoff = Duration::from_millis(60);
    let started = Instant::now();
    let error = fetcher(3, backoff)
        .fetch(&store, &request(&server.url, None), &Quiet)
        .await
        .expect_err("gave up");
    // Waits of 60 ms then 120 ms: a backoff that did not double would
    // take 120 ms in all.
    assert!(started.elapsed() >= backoff * 3, "{:?}", started.elapsed());
    match &error {
        FetchError::Transfer {
            message, attempts, ..
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(message, "server answered 429 Too Many Requests");
        }
        other => panic!("not a transfer error: {other}"),
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_download_that_breaks_off_resumes_with_a_range_request() {
    let server = Server::start(vec![
        broken_off(10, b"hello"),
        response(
            "206 Partial Content",
            "Content-Range: bytes 5-9/10\r\n",
            b"world",
        ),
    ])
    .await;
    let (_home, store) = store();
    let fetched = fetcher(3, Duration::from_millis(1))
        .fetch(
            &store,
            &request(&server.url, Some(Digest::of(b"helloworld"))),
            &Quiet,
        )
        .await
        .expect("fetched");
    assert_eq!(fetched.digest, Digest::of(b"helloworld"));
    assert_eq!(fetched.size, 10);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(!requests[0].contains("range:"), "{}", requests[0]);
    assert!(
        requests[1].contains("range: bytes=5-\r\n"),
        "{}",
        requests[1]
    );
}

#[tokio::test]
async fn a_server_that_ignores_the_range_makes_the_download_start_over() {
    // The second answer is the whole file with 200 instead of 206: its
    // bytes must not be appended to the first five.
    let server = Server::start(vec![
        broken_off(10, b"hello"),
        response("200 OK", "", b"helloworld"),
    ])
    .await;
    let (_home, store) = store();
    let fetched = fetcher(4, Duration::from_millis(1))
        .fetch(&store, &request(&server.url, None), &Quiet)
        .await
        .expect("fetched");
    assert_eq!(fetched.digest, Digest::of(b"helloworld"));
    assert_eq!(fetched.size, 10);
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests[1].contains("range: bytes=5-"), "{}", requests[1]);
    assert!(!requests[2].contains("range:"), "{}", requests[2]);
}

#[tokio::test]
async fn a_digest_mismatch_is_refused_and_stores_nothing() {
    let server = Server::start(vec![response("200 OK", "", b"tampered")]).await;
    let (_home, store) = store();
    let expected = Digest::of(b"original");
    let error = fetcher(2, Duration::from_millis(1))
        .fetch(&store, &request(&server.url, Some(expected)), &Quiet)
        .await
        .expect_err("refused");
    match &error {
        FetchError::DigestMismatch {
            expected: wanted,
            actual,
            length,
            ..
        } => {
            assert_eq!(*wanted, expected);
            assert_eq!(*actual, Digest::of(b"tampered"));
            assert_eq!(*length, 8);
        }
        other => panic!("not a digest mismatch: {other}"),
    }
    assert!(error.to_string().ends_with("nothing was stored"), "{error}");
    assert_eq!(
        store.blobs.size(&Digest::of(b"tampered")).expect("size"),
        None
    );
    assert_eq!(store.blobs.size(&expected).expect("size"), None);
    // A mismatch is final: not retried.
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_integrity_mismatch_is_refused_and_stores_nothing() {
    let server = Server::start(vec![response("200 OK", "", b"tampered")]).await;
    let (_home, store) = store();
    // The SHA-512 integrity of other content than the server sends.
    let mut hasher = airlift_core::Integrity::Sha512([0; 64]).hasher();
    hasher.update(b"original");
    let stated = hasher.finish();
    let results = fetcher(2, Duration::from_millis(1))
        .fetch_all_checked(
            &store,
            vec![(request(&server.url, None), Some(stated))],
            Arc::new(Quiet),
        )
        .await;
    assert!(
        matches!(&results[0], Err(FetchError::IntegrityMismatch { .. })),
        "{:?}",
        results[0]
    );
    assert_eq!(
        store.blobs.size(&Digest::of(b"tampered")).expect("size"),
        None
    );
}

#[tokio::test]
async fn small_reads_are_capped_and_answer_any_status() {
    let server = Server::start(vec![response("200 OK", "", b"0123456789")]).await;
    let client = fetcher(3, Duration::from_millis(1));
    let whole = client
        .get_small(&server.url, &[], None, 10)
        .await
        .expect("within the cap");
    assert_eq!(whole.body, b"0123456789");
    let error = client
        .get_small(&server.url, &[("accept", "text/plain")], None, 9)
        .await
        .expect_err("over the cap");
    assert_eq!(
        error.detail(),
        "response larger than 9 bytes (after 1 attempts)"
    );
    assert!(server.requests()[1].contains("accept: text/plain\r\n"));

    // A 404 is the caller's to judge (one request); a 500 is retried.
    let missing = Server::start(vec![response("404 Not Found", "", b"no")]).await;
    let small = client
        .get_small(&missing.url, &[], None, 100)
        .await
        .expect("an answer");
    assert_eq!(small.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.requests().len(), 1);
    let flaky = Server::start(vec![
        response("500 Internal Server Error", "", b""),
        response("200 OK", "", b"ok"),
    ])
    .await;
    let small = client
        .get_small(&flaky.url, &[], None, 100)
        .await
        .expect("an answer");
    assert_eq!(small.body, b"ok");
    assert_eq!(flaky.requests().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_worded_by_its_innermost_cause() {
    // A port that was free a moment ago: nothing listens on it.
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        listener.local_addr().expect("address")
    };
    let error = reqwest::get(format!("http://{address}/"))
        .await
        .expect_err("refused");
    let text = airlift_fetch::cause(&error);
    assert!(text.starts_with("cannot connect: "), "{text}");
    assert!(text.to_ascii_lowercase().contains("refused"), "{text}");
    // reqwest's own words, which hide the cause, are not repeated.
    assert!(!text.contains("error sending request"), "{text}");

    // Through the fetcher: every attempt made, the cause in the message,
    // the URL once, and never its credentials.
    let url = SafeUrl::parse(&format!("http://user:hunter2@{address}/blob")).expect("url");
    let (_home, store) = store();
    let error = fetcher(2, Duration::from_millis(1))
        .fetch(&store, &request(&url, None), &Quiet)
        .await
        .expect_err("refused");
    let detail = error.detail();
    assert!(detail.starts_with("cannot connect: "), "{detail}");
    assert!(detail.ends_with("(after 2 attempts)"), "{detail}");
    assert_eq!(error.to_string(), format!("{}: {detail}", error.url()));
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn the_detail_of_an_error_leaves_out_only_the_url() {
    let url = SafeUrl::parse("https://mirror.invalid/a/b.tar").expect("url");
    let error = FetchError::Status {
        url: url.clone(),
        status: StatusCode::FORBIDDEN,
    };
    assert_eq!(error.detail(), "server answered 403 Forbidden");
    assert_eq!(
        error.to_string(),
        "https://mirror.invalid/a/b.tar: server answered 403 Forbidden"
    );
    let scheme = FetchError::Scheme {
        url: SafeUrl::parse("ftp://mirror.invalid/x").expect("url"),
    };
    assert_eq!(
        scheme.detail(),
        "unsupported URL scheme (use https, http or file)"
    );
}

#[tokio::test]
async fn an_unsupported_scheme_is_refused_without_a_request() {
    let (_home, store) = store();
    let url = SafeUrl::parse("ftp://127.0.0.1/x").expect("url");
    let error = fetcher(2, Duration::from_millis(1))
        .fetch(&store, &request(&url, None), &Quiet)
        .await
        .expect_err("refused");
    assert!(matches!(error, FetchError::Scheme { .. }), "{error}");
}
