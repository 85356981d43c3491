//! Running the service: bind, serve with client addresses, stop gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use ivcrush_app::App;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::{API_KEYS_ENV, DEFAULT_SERVER_CONFIG_FILE, MIN_API_KEY_LEN, ServeArgs};
use crate::routes::router;
use crate::state::AppState;

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

/// `ivcrush serve`: loads the server configuration, installs the metrics recorder globally
/// (call [`install_metrics_recorder`](crate::install_metrics_recorder) before `App::open` too,
/// so the vendor pipelines' breaker/retry/limiter metrics bind to it),
/// starts the scheduler and housekeeping, serves until SIGINT/SIGTERM, then stops the
/// scheduler and waits for in-flight requests.
///
/// # Errors
/// Invalid configuration, a taken address, or a serving I/O error.
pub async fn run(app: App, args: ServeArgs) -> anyhow::Result<()> {
    let cfg = args.server_config()?;
    if !crate::metrics::install_metrics_recorder() {
        tracing::warn!(
            "another metrics recorder is installed: /metrics shows only the server's own"
        );
    }
    let state = AppState::new(app, cfg.clone())?;
    if cfg.api_keys.is_empty() {
        tracing::warn!(
            "no API key configured: every /api/* request answers 401. Add one with \
             {API_KEYS_ENV}=<key of {MIN_API_KEY_LEN}+ characters> (comma-separated for \
             several) or `api_keys = [\"...\"]` in {DEFAULT_SERVER_CONFIG_FILE} \
             (--server-config FILE); generate one with `openssl rand -hex 24`"
        );
    } else {
        tracing::info!(keys = cfg.api_keys.len(), "API keys configured");
    }
    let listener = TcpListener::bind(cfg.bind).await?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, dashboard = %format!("http://{local}/"), "listening");

    let (stop_tx, stop_rx) = watch::channel(false);
    let scheduler = cfg
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
    let result = serve(listener, state, shutdown_signal()).await;
    let _ = stop_tx.send(true);
    if let Some(s) = scheduler {
        // A scan in progress is left to finish its write only briefly.
        let _ = tokio::time::timeout(Duration::from_secs(10), s).await;
    }
    let _ = keeper.await;
    tracing::info!("server stopped");
    result?;
    Ok(())
}
