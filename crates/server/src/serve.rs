//! Running the service: bind, serve with client addresses, stop gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ivcrush_app::App;
use ivcrush_app::config::server::{API_KEYS_ENV, MIN_API_KEY_LEN};
use ivcrush_app::config::{DEFAULT_CONFIG_FILE, ServerSettings};
use metrics_exporter_prometheus::PrometheusRecorder;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::routes::{admin_router, router};
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

/// How often `serve` deletes the cache entries expired beyond their grace period.
const CACHE_PURGE_EVERY: Duration = Duration::from_secs(3600);

/// How often `serve` applies `retention_days`.
const RETENTION_EVERY: Duration = Duration::from_secs(24 * 3600);

/// The service bound to its address, ready to [`run`](Server::run): what `ivcrush serve` uses.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    /// The operator endpoints' own listener (`admin_bind`).
    admin: Option<TcpListener>,
    state: AppState,
}

impl Server {
    /// Checks `settings` and binds `settings.bind`; `/metrics` renders `recorder` (the
    /// process's global recorder, installed before `App::open` so that the vendor pipelines'
    /// breaker, retry and limiter metrics land in it), or one of its own.
    ///
    /// # Errors
    /// [`ServeError::Config`] for invalid settings, [`ServeError::Bind`] for a taken address.
    pub async fn bind(
        app: App,
        settings: ServerSettings,
        recorder: Option<Arc<PrometheusRecorder>>,
    ) -> Result<Server, ServeError> {
        let addr = settings.bind;
        let state = AppState::with_recorder(app, settings, recorder)?;
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
        let admin = match state.config().admin_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::Bind { addr, source })?,
            ),
            None => None,
        };
        Ok(Server {
            listener,
            admin,
            state,
        })
    }

    /// The bound address (the actual port when `bind` asked for port 0).
    ///
    /// # Errors
    /// The socket's I/O error.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::Io)
    }

    /// The bound operator address (`admin_bind`), if any.
    ///
    /// # Errors
    /// The socket's I/O error.
    pub fn admin_addr(&self) -> Result<Option<SocketAddr>, ServeError> {
        self.admin
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
            .map_err(ServeError::Io)
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
        let Server {
            listener,
            admin,
            state,
        } = self;
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
                // Scans purge the cache table after they run; this bounds it when only single
                // analyses (which add entries) are asked for.
                let mut purge = tokio::time::interval(CACHE_PURGE_EVERY);
                purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                // Readiness reports the vendors from these pings and never calls them itself.
                let mut vendors =
                    tokio::time::interval(Duration::from_secs(state.config().vendor_check_secs));
                vendors.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let ping_vendors = state.app().health().has_vendor_pings();
                let retention_days = state.config().retention_days;
                let mut last_retention: Option<tokio::time::Instant> = None;
                loop {
                    tokio::select! {
                        _ = tick.tick() => state.housekeeping(),
                        _ = purge.tick() => {
                            state.app().purge_cache().await;
                            // Daily (the first hourly tick runs at start); several instances
                            // pruning the same rows is harmless.
                            let due = last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY);
                            if retention_days > 0 && due {
                                state.app().prune_older_than(retention_days).await;
                                last_retention = Some(tokio::time::Instant::now());
                            }
                        }
                        _ = vendors.tick(), if ping_vendors => {
                            // A hung vendor must not hold the shutdown for the ping's timeout.
                            tokio::select! {
                                () = state.app().health().refresh_vendors() => {}
                                _ = stop.changed() => return,
                            }
                        }
                        _ = stop.changed() => return,
                    }
                }
            })
        };
        // The operator listener stops after the main one has drained (probes answer meanwhile).
        let admin = admin.map(|listener| {
            let app = admin_router(state.clone());
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await
            })
        });
        let grace = Duration::from_secs(state.config().shutdown_grace_secs);
        let state_for_drain = state.clone();
        let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
        let served = serve(listener, state, async move {
            shutdown.await;
            let _ = signalled_tx.send(());
        });
        // In-flight requests get `grace` after the signal; a hung one is cut, not waited for.
        let cut = async move {
            if signalled_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let result = tokio::select! {
            result = served => result,
            () = cut => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "requests still running after the shutdown grace period were cut"
                );
                Ok(())
            }
        };
        let _ = stop_tx.send(true);
        if let Some(admin) = admin
            && let Ok(Err(e)) = admin.await
        {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "the operator listener failed"
            );
        }
        if let Some(s) = scheduler {
            // A scan in progress gets the same grace as a request; what it stored so far stays
            // (rows are stored as they finish), so an abandoned scan loses only its unfinished
            // tickers.
            let scanning = state_for_drain.scan_in_progress();
            match tokio::time::timeout(grace, s).await {
                Ok(_) if scanning => {
                    tracing::info!("the scan in progress at shutdown finished and was stored");
                }
                Ok(_) => {}
                Err(_) => tracing::warn!(
                    waited_secs = grace.as_secs(),
                    "a scheduled scan was still running at shutdown and was abandoned; \
                     its stored rows remain and the next scheduled scan starts afresh"
                ),
            }
        }
        let _ = keeper.await;
        tracing::info!("server stopped");
        result.map_err(ServeError::Io)
    }
}
