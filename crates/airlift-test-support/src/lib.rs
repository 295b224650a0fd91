//! Test support for airlift, used only as a dev-dependency and never
//! published: the fake upstreams that the Rust tests collect from, each on
//! loopback with an ephemeral port, so tests run inside a network namespace
//! with nothing but `lo`.
//!
//! One builder per ecosystem, so that a test states what the upstream holds
//! and not how it is served:
//!
//! - [`upstream::Upstream`]: plain files (and anything path-addressed, such
//!   as an OCI registry's routes) with scripted misbehaviour: failures, a
//!   download cut short once, bearer-protected paths; it records requests.
//! - [`apt::archive`]: a signed Debian archive (`InRelease`, `Packages`,
//!   `.deb` files) as routes for [`upstream::Upstream`].
//! - [`oci::Registry`]: an OCI registry behind a bearer token, as routes
//!   for [`upstream::Upstream`] (with [`oci::image_manifest`]).
//! - [`pypi::Index`]: a PEP 691 simple index with PEP 658 metadata files.
//! - [`npm::Registry`]: an npm registry of packuments and tarballs.
//!
//! Failures here are bugs in a test, so this crate panics instead of
//! returning errors. The Python fixture generators of the shell suites
//! (`tests/*/fixtures.py`) are separate and stay where they are.

pub mod apt;
pub mod npm;
pub mod oci;
pub mod pypi;
pub mod upstream;

use std::net::SocketAddr;

/// The SHA-256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    airlift_core::Digest::of(data).hex()
}

/// Deterministic pseudo-random bytes (xorshift), so that test data is the
/// same on every run and does not compress.
pub fn noise(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Binds a loopback listener on an ephemeral port; the caller serves on it
/// (after building what needs the address, such as absolute tarball URLs).
pub async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let address = listener.local_addr().expect("the bound address");
    (listener, address)
}

/// Serves `app` on `listener` in a task of the current runtime, for as long
/// as the runtime lives.
pub fn spawn(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move { axum::serve(listener, app).await });
}

/// Serves `app` on a new loopback port; its address.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let (listener, address) = bind().await;
    spawn(listener, app);
    address
}

/// An upstream that answers every request with `status` and an empty body;
/// its base URL (`http://<address>/`).
pub async fn answering(status: u16) -> String {
    let status = axum::http::StatusCode::from_u16(status).expect("an HTTP status");
    let app = axum::Router::new().fallback(move || async move { status });
    format!("http://{}/", serve(app).await)
}

/// What a collect in a test needs: a store in a temporary home and an HTTP
/// client that tries each request once (a test's upstream answers at once,
/// so a retry would only hide what it answered).
pub struct Collecting {
    /// The home, removed when this is dropped.
    pub home: tempfile::TempDir,
    /// The store in it.
    pub store: airlift_store::Store,
    /// The client.
    pub fetcher: airlift_fetch::Fetcher,
}

impl Collecting {
    /// A new home, store and client.
    pub fn new() -> Self {
        let home = tempfile::tempdir().expect("a temporary home");
        let store = airlift_store::Store::open_embedded(home.path()).expect("a store");
        let fetcher = airlift_fetch::Fetcher::new(airlift_fetch::FetchOptions {
            attempts: 1,
            ..Default::default()
        })
        .expect("an HTTP client");
        Self {
            home,
            store,
            fetcher,
        }
    }

    /// The collect context over them: two downloads at once, no progress.
    pub fn context(&self) -> airlift_ecosystem::CollectContext<'_> {
        airlift_ecosystem::CollectContext {
            store: &self.store,
            fetcher: &self.fetcher,
            concurrency: 2,
            progress: std::sync::Arc::new(airlift_fetch::Quiet),
        }
    }
}

impl Default for Collecting {
    fn default() -> Self {
        Self::new()
    }
}

/// The loop of a differential-test oracle (`tests/diff/run.sh`): reads one
/// case per line on standard input and prints `answer`'s reply to each on
/// standard output, one line each.
pub fn answer_lines(answer: impl Fn(&str) -> String) -> std::io::Result<()> {
    use std::io::{BufRead, Write};
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in stdin.lock().lines() {
        writeln!(out, "{}", answer(&line?))?;
    }
    out.flush()
}

/// An ordering as the oracles print it: `-1`, `0` or `1`.
pub fn ordering(order: std::cmp::Ordering) -> String {
    (order as i8).to_string()
}
