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
