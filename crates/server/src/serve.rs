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
    let limits = ConnectionLimits::of(state.config());
    let closing = state.clone();
    // Live streams never finish on their own: they end at the signal, so the drain is quick.
    let shutdown = async move {
        shutdown.await;
        closing.close_streams();
    };
    serve_router(listener, router(state), limits, shutdown).await;
    Ok(())
}

/// What one listener allows its clients ([`ServerSettings::max_connections`],
/// [`ServerSettings::header_read_timeout_ms`]).
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    max_connections: usize,
    header_read_timeout: Duration,
}

impl ConnectionLimits {
    fn of(settings: &ServerSettings) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: settings.max_connections.max(1),
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms.max(1)),
        }
    }
}

/// The accept loop: at most `limits.max_connections` connections at once (the next accept
/// waits for a slot, so the kernel's backlog holds the rest), each with a header read
/// timeout; on `shutdown`, stops accepting and drains the open connections.
///
/// Written on hyper-util rather than `axum::serve`, which has neither limit: it sets no
/// timer, so hyper's header read timeout never runs, and it accepts without bound.
async fn serve_router(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    // Connections still waiting for their first byte give up at shutdown (their watchers
    // would hold the drain until their timeout).
    let (stopping, stopping_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // What `into_make_service_with_connect_info` gives handlers: the client's address.
        let service = router.clone().map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(client));
                request.map(axum::body::Body::new)
            },
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let first_byte_within = limits.header_read_timeout;
        let mut stopping = stopping_rx.clone();
        tokio::spawn(async move {
            // hyper's timer starts with the request head; the auto builder first reads the
            // protocol preface with no timer at all, so a client that sends nothing would hold
            // its slot forever.
            let mut first = [0_u8; 1];
            tokio::select! {
                peeked = tokio::time::timeout(first_byte_within, stream.peek(&mut first)) => {
                    if !matches!(peeked, Ok(Ok(n)) if n > 0) {
                        return;
                    }
                }
                _ = stopping.wait_for(|stop| *stop) => return,
            }
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(stream),
                    hyper_util::service::TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::trace!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    graceful.shutdown().await;
}

/// An accept error: a client that went away is nothing; anything else (out of file
/// descriptors) is logged and waited on for a second, as `axum::serve` does, so the loop does
/// not spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Readiness as the last vendor ping left it: a turn to DEGRADED or DOWN is an alert.
#[derive(Default)]
struct HealthWatch {
    last: Option<ivcrush_resilience::HealthStatus>,
}

impl HealthWatch {
    async fn check(&mut self, state: &AppState) {
        use ivcrush_resilience::HealthStatus;
        let report = state.readiness().await;
        let was = self.last.replace(report.status);
        let worse = report.status != HealthStatus::Up && was.is_some_and(|w| w != report.status);
        if worse {
            let failing: Vec<String> = report
                .dependencies
                .iter()
                .filter(|d| d.status != HealthStatus::Up)
                .map(|d| format!("{} ({})", d.name, d.message))
                .collect();
            let name = |s: HealthStatus| format!("{s:?}").to_uppercase();
            let alert = ivcrush_app::alerts::health_changed(
                &name(report.status),
                &was.map(name).unwrap_or_default(),
                &failing,
                chrono::Utc::now(),
            );
            // The alert goes to the database: when that is what failed, the log says it (an
            // insert would only wait for the pool, and hold up the shutdown).
            let database_down = report
                .dependencies
                .iter()
                .any(|d| d.name == "database" && d.status != HealthStatus::Up);
            if database_down {
                tracing::error!(
                    kind = "health",
                    "alert (not stored: the database is down): {}",
                    alert.message
                );
                return;
            }
            if tokio::time::timeout(
                Duration::from_secs(5),
                state.app().alerts().record_quietly(&[alert]),
            )
            .await
            .is_err()
            {
                tracing::warn!("health alert not stored within 5 s");
            }
        }
    }
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
                let mut health = HealthWatch::default();
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
                            health.check(&state).await;
                        }
                        _ = stop.changed() => return,
                    }
                }
            })
        };
        // Alerts go out in the background, woken as they are raised.
        let alerts = state.app().alert_dispatcher().map(|dispatcher| {
            let mut stop = stop_rx.clone();
            tokio::spawn(dispatcher.run(state.app().alert_wakeup(), async move {
                let _ = stop.changed().await;
            }))
        });
        // The operator listener stops after the main one has drained (probes answer meanwhile).
        let admin = admin.map(|listener| {
            let app = admin_router(state.clone());
            let mut stop = stop_rx.clone();
            let limits = ConnectionLimits::of(state.config());
            tokio::spawn(serve_router(listener, app, limits, async move {
                let _ = stop.changed().await;
            }))
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
            && let Err(e) = admin.await
        {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "the operator listener's task failed"
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
        // A delivery in flight gets the grace too; what is left stays pending for the next
        // process.
        if let Some(alerts) = alerts
            && tokio::time::timeout(grace, alerts).await.is_err()
        {
            tracing::warn!("alert delivery still running at shutdown; the rest stays pending");
        }
        tracing::info!("server stopped");
        result.map_err(ServeError::Io)
    }
}
