//! Running the service: bind, serve with client addresses, stop gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use ivcrush_app::App;
use ivcrush_app::config::server::{API_KEYS_ENV, MIN_API_KEY_LEN};
use ivcrush_app::config::{DEFAULT_CONFIG_FILE, ServerSettings};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::routes::router;
use crate::state::AppState;

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The `[server]` settings are invalid (one line per problem, naming the key).
    #[error("invalid [server] configuration:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The listen address cannot be bound (taken, not local, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving HTTP")]
    Io(#[source] std::io::Error),
}

/// Serves `state` on `listener` until `shutdown` completes, then finishes in-flight requests.
///
/// # Errors
/// The listener's I/O error.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested: no new connections, finishing in-flight requests");
}

/// The service bound to its address, ready to [`run`](Server::run): what `ivcrush serve` uses.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

impl Server {
    /// Checks `settings`, installs the metrics recorder globally (call
    /// [`install_metrics_recorder`](crate::install_metrics_recorder) before `App::open` too, so
    /// the vendor pipelines' breaker/retry/limiter metrics bind to it) and binds
    /// `settings.bind`.
    ///
    /// # Errors
    /// [`ServeError::Config`] for invalid settings, [`ServeError::Bind`] for a taken address.
    pub async fn bind(app: App, settings: ServerSettings) -> Result<Server, ServeError> {
        if !crate::metrics::install_metrics_recorder() {
            tracing::warn!(
                "another metrics recorder is installed: /metrics shows only the server's own"
            );
        }
        let addr = settings.bind;
        let state = AppState::new(app, settings)?;
        if state.has_keys() {
            tracing::info!(keys = state.config().api_keys.len(), "API keys configured");
        } else {
            tracing::warn!(
                "no API key configured: every /api/* request answers 401. Add one with \
                 {API_KEYS_ENV}=<key of {MIN_API_KEY_LEN}+ characters> (comma-separated for \
                 several) or `api_keys = [\"...\"]` in the [server] section of \
                 {DEFAULT_CONFIG_FILE}; generate one with `openssl rand -hex 24`"
            );
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Server { listener, state })
    }

    /// The bound address (the actual port when `bind` asked for port 0).
    ///
    /// # Errors
    /// The socket's I/O error.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::Io)
    }

    /// The shared state (app, settings, metrics, latest scan).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Starts the scheduler and housekeeping, serves until `shutdown` completes, then stops
    /// the scheduler and waits for in-flight requests.
    ///
    /// # Errors
    /// [`ServeError::Io`] when serving fails.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let Server { listener, state } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let scheduler = state
            .config()
            .scheduler
            .then(|| tokio::spawn(crate::scheduler::run(state.clone(), stop_rx.clone())));
        let keeper = {
            let state = state.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(30));
                loop {
                    tokio::select! {
                        _ = tick.tick() => state.housekeeping(),
                        _ = stop.changed() => return,
                    }
                }
            })
        };
        let result = serve(listener, state, shutdown).await;
        let _ = stop_tx.send(true);
        if let Some(s) = scheduler {
            // A scan in progress is left to finish its write only briefly.
            let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
        }
        let _ = keeper.await;
        tracing::info!("server stopped");
        result.map_err(ServeError::Io)
    }
}
