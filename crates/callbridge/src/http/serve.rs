//! The accept loop: hyper-util's server with the limits `axum::serve` lacks, so that clients
//! that open connections and never finish a request cannot use up the server.
//!
//! - a request's headers must arrive within `header_read_timeout` of the connection opening or
//!   of the previous answer (hyper's own timer);
//! - a connection with no request in progress for `keep_alive_timeout` is closed (an answer
//!   still streaming, like a live call stream, is let finish first);
//! - at most `max_connections` are open at once; further clients wait in the listen queue until
//!   one closes.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
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
    let mut builder = Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let (stop, stopped) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        tokio::spawn(serve_connection(ConnectionTask {
            stream,
            peer,
            app: app.clone(),
            builder: Arc::clone(&builder),
            keep_alive_timeout: limits.keep_alive_timeout,
            stopped: stopped.clone(),
            _slot: slot,
        }));
    }
    drop(listener);
    // Every connection holds a slot until it ends; all slots back means all connections done.
    let _ = stop.send(());
    let _ = slots.acquire_many(u32::try_from(max).unwrap_or(u32::MAX)).await;
}

/// The next connection, once a slot is free; `None` when accepting failed.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    let slot = Arc::clone(slots).acquire_owned().await.ok()?;
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
    keep_alive_timeout: Duration,
    stopped: watch::Receiver<()>,
    _slot: OwnedSemaphorePermit,
}

async fn serve_connection(task: ConnectionTask) {
    let ConnectionTask {
        stream,
        peer,
        app,
        builder,
        keep_alive_timeout,
        mut stopped,
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
    let connection =
        builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
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
            () = activity.idle_for(keep_alive_timeout), if !closing => {
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

/// Requests in progress on one connection.
#[derive(Debug, Default)]
struct Activity {
    in_flight: AtomicUsize,
    changed: Notify,
}

/// One request in progress, until dropped.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Activity {
    fn begin(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        Busy(Arc::clone(self))
    }

    /// Resolves once no request has been in progress for `timeout`.
    async fn idle_for(&self, timeout: Duration) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the count is read, so a change in between is not missed.
            changed.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                tokio::select! {
                    () = tokio::time::sleep(timeout) => return,
                    () = changed => {}
                }
            } else {
                changed.await;
            }
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}
