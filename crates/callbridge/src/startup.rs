//! Building and running the server: `launch` for `serve`, `launch_with_tcp_listener` for tests
//! and anything else that binds its own socket.

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::state::{AppState, Shared};
use crate::store::{SharedStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot build the Twilio client: {0}")]
    Twilio(#[from] twilio::Error),
    #[error("cannot set up Airtable: {0}")]
    Airtable(#[from] crate::airtable::AirtableError),
    #[error("CALLER_ID is not usable: {0}")]
    CallerId(crate::domain::DomainError),
}

/// From the stop signal, how long requests in flight and background work get to finish: a
/// supervisor's own grace period (Kubernetes gives 30 s, systemd 90 s) is longer, so the
/// process always exits on its own.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Binds `BIND` (and `METRICS_BIND`) and serves until SIGINT or SIGTERM.
pub async fn launch(settings: Settings) -> Result<(), StartupError> {
    let listener = bind(settings.bind).await?;
    launch_with_tcp_listener(settings, listener, shutdown_signal()).await
}

/// Opens and migrates the store, then serves on `listener` until `shutdown` resolves, letting
/// requests in flight finish.
pub async fn launch_with_tcp_listener(
    settings: Settings,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    // Both wait on the disk: the store opens on the runtime's threads while this one reads the
    // root certificates the Twilio client trusts.
    let url = settings.database_url.expose_secret().to_owned();
    let opening = tokio::spawn(async move { crate::store::open(&url).await });
    let twilio = crate::state::twilio_client(&settings);
    let store = match opening.await {
        Ok(store) => store?,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => {
            return Err(StartupError::Store(StoreError::Unavailable(
                sqlx::Error::PoolClosed,
            )));
        }
    };
    tracing::info!(backend = store.backend().as_str(), "database ready");
    serve_with(settings, store, twilio?, listener, shutdown).await
}

/// Like [`launch_with_tcp_listener`], with a store the caller already opened.
pub async fn launch_with_store(
    settings: Settings,
    store: SharedStore,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let twilio = crate::state::twilio_client(&settings)?;
    serve_with(settings, store, twilio, listener, shutdown).await
}

async fn serve_with(
    settings: Settings,
    store: SharedStore,
    twilio: twilio::Client,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartupError> {
    let metrics_listener = match settings.metrics_bind {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let caller_id_refused = caller_id_check(settings.caller_id.clone());
    let airtable = settings
        .airtable
        .as_ref()
        .map(|a| crate::airtable::Airtable::new(a, Arc::clone(&store)))
        .transpose()?;
    let state = AppState::new(Shared {
        settings: Arc::new(settings),
        store,
        metrics: crate::metrics::handle(),
        twilio,
        live: crate::calls::live::LiveHub::default(),
        effects: crate::calls::effects::EffectsHandle::default(),
        airtable,
    });
    // Both listeners stop on the same signal.
    let shutdown = shutdown.shared();
    let limits = crate::http::ConnectionLimits {
        header_read_timeout: state.settings.header_read_timeout,
        keep_alive_timeout: state.settings.keep_alive_timeout,
        max_connections: state.settings.max_connections,
    };

    let metrics_server = metrics_listener.map(|metrics_listener| {
        if let Ok(addr) = metrics_listener.local_addr() {
            tracing::info!(%addr, "metrics listening");
        }
        let app = crate::http::metrics_router(state.clone());
        tokio::spawn(crate::http::serve(
            metrics_listener,
            app,
            limits,
            shutdown.clone(),
        ))
    });

    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, public_base_url = %state.settings.public_base_url, "listening");
    }
    // In this task, not spawned: whatever stops the server (a signal, an abort) stops them too.
    let effects = crate::calls::effects::run(state.clone(), shutdown.clone());
    let reconciler = crate::calls::reconcile::run(state.clone(), shutdown.clone());
    let airtable = crate::airtable::run_background(state.clone(), shutdown.clone());
    let relay = crate::calls::run_live_relay(state.clone(), shutdown.clone());
    let live = state.live.clone();
    let closing = shutdown.clone().map(move |()| live.close());
    // Handlers see the peer address (rate limits, the audit log) as `ConnectInfo`.
    let serve = crate::http::serve(
        listener,
        crate::http::router(state),
        limits,
        shutdown.clone(),
    );
    let work = async move {
        tokio::join!(serve, effects, reconciler, airtable, relay, closing);
    };
    let deadline = shutdown
        .clone()
        .then(|()| tokio::time::sleep(SHUTDOWN_GRACE));
    tokio::select! {
        () = work => {}
        refused = caller_id_refused => {
            tracing::error!(error = %refused, "CALLER_ID is not a valid number: stopping");
            return Err(StartupError::CallerId(refused));
        }
        () = deadline => {
            tracing::warn!(
                grace_secs = SHUTDOWN_GRACE.as_secs(),
                "shutdown took too long: requests and background work still running are dropped"
            );
        }
    }
    if let Some(task) = metrics_server {
        // The metrics server saw the same signal; it has what is left of the grace to finish.
        if tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err() {
            tracing::warn!("the metrics server did not stop in time");
        }
    }
    tracing::info!("shut down");
    Ok(())
}

/// Looks `CALLER_ID` up in the numbering plans on a thread of its own, which also loads them for
/// the first number an agent dials. Resolves only if the number is refused: a service whose
/// every call would be refused by Twilio stops a fraction of a second after it starts.
async fn caller_id_check(caller_id: crate::domain::PhoneNumber) -> crate::domain::DomainError {
    match tokio::task::spawn_blocking(move || caller_id.check()).await {
        Ok(Err(refused)) => refused,
        Ok(Ok(())) | Err(_) => std::future::pending().await,
    }
}

async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartupError::Bind { addr, source })
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what container runtimes and systemd send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
