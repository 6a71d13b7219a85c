//! The accept loop: hyper-util's server with the limits `axum::serve` lacks, so that clients
//! that open connections and never finish a request cannot use up the server.
//!
//! - a request's headers must arrive within `header_read_timeout` of the connection opening or
//!   of the request's first byte, or the connection is dropped;
//! - a connection that sent nothing for `keep_alive_timeout` since its last answer is closed (an
//!   answer still streaming, like a live call stream, is let finish first).
//!
//! Hyper's own header timer is not used: it also runs while a kept-alive connection waits for
//! its next request, which would close every idle connection after the header timeout and race
//! clients that reuse it.
//! - at most `max_connections` are open at once; further clients wait in the listen queue
//!   while idle connections are asked to close to make room.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long to wait before accepting again after `accept` failed (out of file descriptors, most
/// likely), instead of spinning on the error.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// See the module's description; from `HEADER_READ_TIMEOUT`, `KEEP_ALIVE_TIMEOUT` and
/// `MAX_CONNECTIONS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets every open connection finish
/// its request in progress. Handlers see the peer as `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let builder = Arc::new(Builder::new(TokioExecutor::new()).http1_only());
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopped) = watch::channel(());
    let shed = Arc::new(Notify::new());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots, &shed) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        tokio::spawn(serve_connection(ConnectionTask {
            stream,
            peer,
            app: app.clone(),
            builder: Arc::clone(&builder),
            limits,
            stopped: stopped.clone(),
            shed: Arc::clone(&shed),
            _slot: slot,
        }));
    }
    drop(listener);
    // Every connection holds a slot until it ends; all slots back means all connections done.
    let _ = stop.send(());
    let _ = slots
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}

/// The next connection, once a slot is free; `None` when accepting failed. With every slot
/// taken, idle connections are asked to make room: a client waiting to connect matters more
/// than one that may come back.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    shed: &Notify,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = match Arc::clone(slots).try_acquire_owned() {
        Ok(slot) => slot,
        Err(_) => {
            shed.notify_waiters();
            Arc::clone(slots).acquire_owned().await.ok()?
        }
    };
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
        Err(err) => {
            tracing::warn!(%err, "cannot accept a connection");
            tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            None
        }
    }
}

struct ConnectionTask {
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<Builder<TokioExecutor>>,
    limits: ConnectionLimits,
    stopped: watch::Receiver<()>,
    shed: Arc<Notify>,
    _slot: OwnedSemaphorePermit,
}

async fn serve_connection(task: ConnectionTask) {
    let ConnectionTask {
        stream,
        peer,
        app,
        builder,
        limits,
        mut stopped,
        shed,
        _slot,
    } = task;
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = Arc::clone(&activity);
        tower::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let busy = activity.begin();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(busy);
                response
            }
        })
    };
    let io = Watched {
        stream,
        activity: Arc::clone(&activity),
    };
    let connection = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    // Timeouts and clients that leave mid-request end here; nothing to act on.
                    tracing::debug!(%err, %peer, "connection ended");
                }
                return;
            }
            expired = activity.expired(limits), if !closing => match expired {
                // Nothing to answer yet: there is no request to let finish.
                Expired::Headers => {
                    tracing::debug!(%peer, "no request headers in time; connection dropped");
                    return;
                }
                Expired::KeepAlive => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            },
            () = shed.notified(), if !closing && activity.is_idle() => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = stopped.changed(), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Where a connection is, for its two timers.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Opened, or sent a first byte after its last answer: headers are due.
    AwaitingHeaders { since: Instant },
    /// Answered everything and sent nothing since.
    Idle { since: Instant },
}

/// Which timer ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    Headers,
    KeepAlive,
}

/// Requests in progress on one connection, and its phase between them.
#[derive(Debug)]
struct Activity {
    in_flight: AtomicUsize,
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            phase: Mutex::new(Phase::AwaitingHeaders {
                since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }
}

/// One request in progress, until dropped.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Activity {
    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        Busy(Arc::clone(self))
    }

    fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0 && matches!(*self.phase(), Phase::Idle { .. })
    }

    /// Bytes came in. Between requests they start the next one's headers; the clock then runs
    /// from the first byte, so a client sending one byte at a time gains nothing.
    fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut phase = self.phase();
        if let Phase::Idle { .. } = *phase {
            *phase = Phase::AwaitingHeaders {
                since: Instant::now(),
            };
            drop(phase);
            self.changed.notify_waiters();
        }
    }

    /// Resolves when the connection has waited too long for headers, or sat idle too long.
    async fn expired(&self, limits: ConnectionLimits) -> Expired {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the state is read, so a change in between is not missed.
            changed.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) > 0 {
                changed.await;
                continue;
            }
            let (deadline, expired) = match *self.phase() {
                Phase::AwaitingHeaders { since } => {
                    (since + limits.header_read_timeout, Expired::Headers)
                }
                Phase::Idle { since } => (since + limits.keep_alive_timeout, Expired::KeepAlive),
            };
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => return expired,
                () = changed => {}
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            *self.0.phase() = Phase::Idle {
                since: Instant::now(),
            };
        }
        self.0.changed.notify_waiters();
    }
}

/// The connection's stream, telling its [`Activity`] when bytes come in.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
