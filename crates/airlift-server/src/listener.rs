//! The listener: accepts TCP connections, optionally completes a TLS
//! handshake, and serves each connection with hyper's HTTP/1.1 server.
//!
//! A server that holds every connection for as long as the client likes can
//! be starved by a few thousand sockets that never send a request, or that
//! send one header byte a second: each holds a file descriptor, and once the
//! process runs out of them `accept` fails for everyone, `/healthz`
//! included. So every connection here is bounded in time and in number:
//!
//! - **Idle:** a connection waiting for a request (a new one, or a
//!   keep-alive one after its last response) is closed when no byte arrives
//!   within [`Limits::idle_timeout`].
//! - **Header:** once the first byte of a request has arrived, the whole
//!   request head (request line and headers) must arrive within
//!   [`Limits::header_timeout`]; sending it one byte at a time does not
//!   extend that. With TLS, the handshake must finish within the same time.
//! - **Body:** while a handler reads a request body, the body may go at
//!   most [`Limits::body_timeout`] without a new chunk; while a response is
//!   written, the client may go as long without taking any of it. Neither
//!   bounds the whole transfer, so a multi-gigabyte push or pull that keeps
//!   moving is never cut off, while a stalled one is.
//! - **Number:** at most [`Limits::max_connections`] connections are open at
//!   once. When all are taken, the listener stops accepting until one
//!   closes: new clients wait in the kernel's accept queue instead of being
//!   refused, and because idle and stalled connections are reaped by the
//!   timeouts above, a slot frees up within those timeouts.
//!
//! Only HTTP/1.1 (and 1.0) is spoken, on plain and TLS listeners alike, as
//! the documentation says: TLS offers only `http/1.1` by ALPN, and a client
//! that opens a plain connection with the HTTP/2 preface (h2c with prior
//! knowledge) has that connection closed without an answer. An
//! `Upgrade: h2c` header is ignored and the request answered over HTTP/1.1.
//! One protocol means one set of limits to reason about; HTTP/2's own
//! stream and flow-control limits would need their own hardening.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use hyper::body::{Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};

use crate::ServerError;

/// How long connections may take and how many may be open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From the first byte of a request to the end of its headers (and the
    /// longest a TLS handshake may take).
    pub header_timeout: Duration,
    /// How long a connection may wait for the first byte of a request, new
    /// or after a keep-alive response.
    pub idle_timeout: Duration,
    /// How long a request body may go without a new chunk while a handler
    /// reads it, and a response may go without the client taking any of it.
    pub body_timeout: Duration,
    /// Connections open at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// How long connections get to finish after Ctrl-C or SIGTERM before the
/// server stops anyway. In-flight requests finish; idle connections close at
/// once.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How long the accept loop pauses after an error such as running out of
/// file descriptors, so it does not spin while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// File descriptors kept back for the store, the index and logging when
/// [`fit_to_open_files`] sizes the connection limit.
const RESERVED_FILES: u64 = 64;

/// Raises the soft limit on open files (`RLIMIT_NOFILE`) to the hard limit,
/// since every connection costs a descriptor (two while it streams a blob)
/// and the common soft limit of 1024 is far below what a registry needs.
/// Returns the soft limit in force afterwards (`None`: unlimited or not
/// known). A failure leaves the limit as it was and is logged, not fatal.
pub fn raise_open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current == limit.maximum {
            return limit.current;
        }
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!(
                    from = ?limit.current,
                    to = ?limit.maximum,
                    "raised the open-files limit"
                );
                limit.maximum
            }
            Err(e) => {
                tracing::warn!(
                    "cannot raise the open-files limit from {:?} to {:?}: {e}",
                    limit.current,
                    limit.maximum
                );
                limit.current
            }
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Lowers `limits.max_connections` so that the connections, at two
/// descriptors each, fit within the open-files limit `open_files`.
pub fn fit_to_open_files(limits: Limits, open_files: Option<u64>) -> Limits {
    let Some(open_files) = open_files else {
        return limits;
    };
    let fits = usize::try_from(open_files.saturating_sub(RESERVED_FILES) / 2)
        .unwrap_or(usize::MAX)
        .max(1);
    if limits.max_connections <= fits {
        return limits;
    }
    tracing::warn!(
        "serving at most {fits} connections, not {}: the open-files limit is {open_files}",
        limits.max_connections
    );
    Limits {
        max_connections: fits,
        ..limits
    }
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until
/// `shutdown` completes, then lets open connections finish for up to
/// [`SHUTDOWN_GRACE`].
pub async fn serve_listener(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let app = app.layer(axum::Extension(airlift_http::Scheme(scheme)));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // Take a slot before accepting, so a full server leaves new clients
        // in the accept queue rather than accepting and dropping them.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !transient(&e) {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
        };
        // A response is a head and a body written separately; with Nagle's
        // algorithm the body of a small answer waits for the client's
        // delayed ACK of the head (milliseconds per request on loopback).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, "TCP_NODELAY: {e}");
        }
        let app = app.clone();
        let acceptor = acceptor.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                None => connection(stream, peer, None, app, limits, stopping).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await;
                    match handshake {
                        Ok(Ok(stream)) => {
                            let certificate = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|chain| chain.first())
                                .map(|der| airlift_access::PeerCertificate::of(der));
                            connection(stream, peer, certificate, app, limits, stopping).await;
                        }
                        Ok(Err(e)) => tracing::info!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let open = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(open))
        .await
        .is_err()
    {
        tracing::warn!(
            "stopping with connections still open after {}s",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    Ok(())
}

/// Accept errors that concern one connection only and need no pause.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until it closes, a limit closes it, or the server
/// stops (then the request in flight, if any, finishes first).
async fn connection<IO>(
    io: IO,
    peer: SocketAddr,
    certificate: Option<airlift_access::PeerCertificate>,
    app: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = Watched::new(io, activity.clone(), limits);
    let service = ConnectionService {
        app,
        peer,
        certificate,
        activity,
        body_timeout: limits.body_timeout,
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The header and idle timeouts are `Watched`'s: hyper's own header
    // timeout also runs while a keep-alive connection is idle, so it cannot
    // tell the two apart.
    builder.keep_alive(true).header_read_timeout(None);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = async { let _ = stopping.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

/// Where a connection is in its request cycle, as far as the timeouts care.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for the first byte of a request since this instant.
    Idle(Instant),
    /// Reading a request head whose first byte arrived at this instant.
    Head(Instant),
    /// This many requests are being handled or their responses written.
    Busy(usize),
}

/// The phase of one connection, shared by its socket wrapper (which sees
/// bytes arrive) and its service (which sees requests start and responses
/// end).
#[derive(Debug)]
struct Activity(Mutex<Phase>);

impl Activity {
    fn new() -> Self {
        Self(Mutex::new(Phase::Idle(Instant::now())))
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = change(*phase);
    }

    fn bytes_arrived(&self) {
        self.update(|phase| match phase {
            Phase::Idle(_) => Phase::Head(Instant::now()),
            other => other,
        });
    }

    fn request_started(&self) {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
    }

    fn response_finished(&self) {
        self.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }

    /// When the connection must be closed if nothing arrives, and why.
    fn deadline(&self, limits: &Limits) -> Option<(Instant, &'static str)> {
        match *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Idle(since) => Some((since + limits.idle_timeout, "idle timeout")),
            Phase::Head(since) => Some((since + limits.header_timeout, "request header timeout")),
            Phase::Busy(_) => None,
        }
    }
}

/// A connection's socket with the idle, header and write-stall timeouts.
/// They are checked only when a read or write would wait, so a connection
/// that keeps moving costs no timer work.
struct Watched<IO> {
    io: IO,
    activity: Arc<Activity>,
    limits: Limits,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    write_stalled: bool,
}

impl<IO> Watched<IO> {
    fn new(io: IO, activity: Arc<Activity>, limits: Limits) -> Self {
        Self {
            io,
            activity,
            limits,
            read_timer: Box::pin(tokio::time::sleep(limits.idle_timeout)),
            write_timer: Box::pin(tokio::time::sleep(limits.body_timeout)),
            write_stalled: false,
        }
    }

    /// Called when a write or flush would wait: fails once the client has
    /// taken nothing for the body timeout.
    fn write_waits<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        if !self.write_stalled {
            self.write_stalled = true;
            self.write_timer
                .as_mut()
                .reset(Instant::now() + self.limits.body_timeout);
        }
        match self.write_timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the response",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn wrote<T>(&mut self, result: Poll<T>) -> Poll<T> {
        if result.is_ready() {
            self.write_stalled = false;
        }
        result
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.activity.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if let Some((deadline, what)) = this.activity.deadline(&this.limits) {
                    if this.read_timer.deadline() != deadline {
                        this.read_timer.as_mut().reset(deadline);
                    }
                    if this.read_timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                    }
                }
                Poll::Pending
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, data) {
            Poll::Pending => this.write_waits(cx),
            ready => this.wrote(ready),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write_vectored(cx, data) {
            Poll::Pending => this.write_waits(cx),
            ready => this.wrote(ready),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Pending => this.write_waits(cx),
            ready => this.wrote(ready),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_shutdown(cx) {
            Poll::Pending => this.write_waits(cx),
            ready => this.wrote(ready),
        }
    }
}

/// The per-connection service: marks the connection busy from a request's
/// start until its response body is done, and puts the body timeout on the
/// request body.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    peer: SocketAddr,
    certificate: Option<airlift_access::PeerCertificate>,
    activity: Arc<Activity>,
    body_timeout: Duration,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response<Body>, Infallible>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.activity.request_started();
        let busy = BusyGuard(self.activity.clone());
        let mut request = request.map(|body| Body::new(BodyTimeout::new(body, self.body_timeout)));
        // The client's address, for access decisions and the audit log.
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        if let Some(certificate) = &self.certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        let response = tower_service::Service::call(&mut self.app.clone(), request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| Body::new(Tracked { body, _busy: busy })))
        })
    }
}

/// Marks the end of a request's handling when dropped: after its response
/// body has been written, or when the request was abandoned.
struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.response_finished();
    }
}

/// A response body that keeps its connection busy until it is dropped.
struct Tracked {
    body: Body,
    _busy: BusyGuard,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A request body went too long without a new chunk.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {}s", .0.as_secs())]
pub struct BodyStalled(Duration);

/// A request body that fails once it goes `timeout` without a new chunk
/// while someone waits for one.
struct BodyTimeout {
    body: Incoming,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
    waiting: bool,
}

impl BodyTimeout {
    fn new(body: Incoming, timeout: Duration) -> Self {
        Self {
            body,
            timeout,
            timer: Box::pin(tokio::time::sleep(timeout)),
            waiting: false,
        }
    }
}

impl hyper::body::Body for BodyTimeout {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    this.timer.as_mut().reset(Instant::now() + this.timeout);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyStalled(this.timeout).into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
