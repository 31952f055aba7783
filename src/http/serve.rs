//! The accept loop: HTTP/1.1 connections served with limits that a slow or
//! hostile client cannot get around, so that it can never lock Stripe out.
//!
//! - `request_head_timeout`: a request head must arrive complete within it
//!   (hyper's header read timeout), whether it is dripped or never sent;
//! - `request_body_timeout`: a whole body must arrive within it
//!   ([`body_deadline`]); a slower one gets 408;
//! - `keep_alive_timeout`: a connection with no request in progress that
//!   sends nothing for that long is closed;
//! - `max_connections`: at the cap, connections with no request in progress
//!   are closed first, to make room, and a new connection waits (in the
//!   listen backlog) only until one is free.
//!
//! On shutdown the loop stops accepting, lets every request in progress
//! finish, and closes idle connections at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The limits of the accept loop (from `[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a request head.
    pub request_head_timeout: Duration,
    /// Idle time of a connection with no request in progress.
    pub keep_alive_timeout: Duration,
    /// Connection cap.
    pub max_connections: usize,
}

/// How often an idle connection checks its clock.
const IDLE_CHECK: Duration = Duration::from_millis(250);

/// Serves `router` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Wakes idle connections when the cap is reached, so that they make room.
    let pressure = Arc::new(Notify::new());
    let (stop, stopping) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    // Under a flood the cap is hit at every accept: warn once a minute.
    let mut warned: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection cap reached; closing idle connections to make room"
                    );
                    warned = Some(Instant::now());
                }
                pressure.notify_waiters();
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let (pressure, stopping) = (pressure.clone(), stopping.clone());
        connections.spawn(async move {
            serve_connection(stream, remote, router, limits, pressure, stopping).await;
            drop(permit);
        });
        // Reap finished connection tasks as we go.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// One connection: served until the client closes it, a limit closes it, or shutdown.
async fn serve_connection(
    stream: TcpStream,
    remote: std::net::SocketAddr,
    router: Router,
    limits: Limits,
    pressure: Arc<Notify>,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let in_flight = activity.clone();
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let router = router.clone();
            let in_flight = in_flight.clone();
            in_flight.requests.fetch_add(1, Ordering::Relaxed);
            async move {
                let mut request = request.map(Body::new);
                // The peer address, for handlers that check it (`POST /-/reload`).
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                let response = router.oneshot(request).await;
                in_flight.requests.fetch_sub(1, Ordering::Relaxed);
                in_flight.touch();
                response
            }
        });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_head_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(error = %error, "connection closed with an error");
                }
                return;
            }
            () = pressure.notified(), if !closing => {
                if activity.is_idle() {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = stopping.changed(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep(IDLE_CHECK), if !closing => {
                if activity.is_idle() && activity.quiet_for() >= limits.keep_alive_timeout {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// What a connection did last: requests in progress and the last byte moved.
struct Activity {
    started: Instant,
    requests: AtomicUsize,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            requests: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn is_idle(&self) -> bool {
        self.requests.load(Ordering::Relaxed) == 0
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A socket that records when bytes last moved.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Why a request body did not arrive in time.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the request body did not arrive within {} ([server] request_body_timeout)", humantime::format_duration(*.0))]
pub struct BodyTimeout(pub Duration);

/// Middleware: a request's whole body must arrive within `timeout`.
pub async fn body_deadline(timeout: Duration, request: Request, next: Next) -> Response {
    // A request without a body (GET /healthz, /metrics) needs no timer.
    if http_body::Body::is_end_stream(request.body()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let deadline = Deadline {
        inner: body,
        sleep: Box::pin(tokio::time::sleep(timeout)),
        timeout,
    };
    next.run(Request::from_parts(parts, Body::new(deadline)))
        .await
}

/// A body that fails with [`BodyTimeout`] once its deadline passes.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
}

impl http_body::Body for Deadline {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(self.timeout)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const LIMITS: Limits = Limits {
        request_head_timeout: Duration::from_secs(10),
        keep_alive_timeout: Duration::from_secs(5),
        max_connections: 4,
    };

    async fn start() -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let router = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, LIMITS, async move {
            let _ = stopped.await;
        }));
        (address, stop)
    }

    /// On paused time: an idle connection is closed once `keep_alive_timeout`
    /// has passed on the tokio clock, not before, and a kept-alive one the
    /// same after its last answer.
    #[tokio::test(start_paused = true)]
    async fn idle_connections_close_after_the_keep_alive_timeout() {
        let (address, _stop) = start().await;
        let started = Instant::now();
        let mut idle = TcpStream::connect(address).await.unwrap();
        let mut nothing = Vec::new();
        idle.read_to_end(&mut nothing).await.unwrap();
        let waited = started.elapsed();
        assert!(nothing.is_empty());
        assert!(
            waited >= LIMITS.keep_alive_timeout,
            "closed after {waited:?}, before the keep-alive timeout"
        );
        assert!(
            waited < LIMITS.keep_alive_timeout + 2 * IDLE_CHECK,
            "{waited:?}"
        );

        let mut kept = TcpStream::connect(address).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = [0u8; 128];
        let n = kept.read(&mut answer).await.unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
        let answered = Instant::now();
        let mut rest = Vec::new();
        kept.read_to_end(&mut rest).await.unwrap();
        assert!(answered.elapsed() >= LIMITS.keep_alive_timeout);
    }

    /// On paused time: a head that never completes is closed at
    /// `request_head_timeout` even while it keeps dripping bytes.
    #[tokio::test(start_paused = true)]
    async fn a_dripped_head_is_closed_at_the_head_timeout() {
        let (address, _stop) = start().await;
        let mut slow = TcpStream::connect(address).await.unwrap();
        let started = Instant::now();
        let mut closed = false;
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
            .iter()
            .cycle()
            .take(200)
        {
            if slow.write_all(&[*byte]).await.is_err() {
                closed = true;
                break;
            }
            let mut probe = [0u8; 256];
            match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                Ok(Ok(_)) => {
                    // hyper answers a timed-out head (408) before it closes.
                    closed = true;
                    break;
                }
                Err(_) => {}
            }
        }
        let waited = started.elapsed();
        assert!(closed, "the dripping client was never cut off");
        assert!(
            waited >= LIMITS.request_head_timeout,
            "cut off after {waited:?}, before the head timeout"
        );
        assert!(
            waited < LIMITS.request_head_timeout + Duration::from_secs(2),
            "{waited:?}"
        );
    }
}
