//! Process-wide runtime pieces of the binary: the shutdown signal and the global metrics
//! recorder, installed once here rather than by the libraries.

use metrics_exporter_prometheus::PrometheusRecorder;
use std::sync::Arc;

/// Completes on SIGINT (Ctrl-C) or SIGTERM; returns which one. A signal that cannot be
/// listened for is logged and never fires (the other still does).
pub async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot listen for SIGINT"
            );
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "cannot listen for SIGTERM; SIGINT only"
                );
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "SIGINT",
        () = term => "SIGTERM",
    }
}

/// Runs `on_hangup` on every SIGHUP, which would otherwise kill the process (a terminal closed,
/// an operator's `kill -HUP` expecting a reload): services keep running. Never completes;
/// a signal that cannot be listened for is logged.
pub async fn on_hangup(mut on_hangup: impl FnMut()) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::hangup()) {
            Ok(mut hangups) => {
                while hangups.recv().await.is_some() {
                    on_hangup();
                }
            }
            Err(e) => tracing::warn!(
                error = &e as &dyn std::error::Error,
                "cannot listen for SIGHUP"
            ),
        }
    }
    #[cfg(not(unix))]
    let _ = &mut on_hangup;
    std::future::pending::<()>().await;
}

/// Tells systemd (a `Type=notify` unit) that the service is ready, with a status line, and when
/// the unit sets `WatchdogSec`, pings the watchdog at half that period from a task on the
/// runtime: a runtime that stops making progress stops pinging, and systemd restarts the
/// service. Without `NOTIFY_SOCKET` (not under systemd) nothing is sent.
pub fn notify_ready(status: &str) {
    use sd_notify::NotifyState;
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]) {
        tracing::warn!(
            error = &e as &dyn std::error::Error,
            "cannot notify systemd of readiness"
        );
    }
    if let Some(period) = sd_notify::watchdog_enabled() {
        tracing::info!(
            period_ms = period.as_millis() as u64,
            "systemd watchdog enabled"
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            loop {
                tick.tick().await;
                let _ = sd_notify::notify(&[NotifyState::Watchdog]);
            }
        });
    }
}

/// Tells systemd the service is stopping (it then waits for the exit instead of declaring a
/// failure).
pub fn notify_stopping() {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
}

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit this binary was built from (12 hex digits), or `unknown` (see `build.rs`).
pub const GIT_SHA: &str = env!("BUILD_GIT_SHA");

/// Installs `recorder` as the process's global metrics recorder, before anything builds a
/// vendor pipeline (their breaker, retry and limiter handles are resolved at construction).
/// `None`, with a warning, when a recorder is already installed (metrics then go elsewhere).
/// The build is published as `ivcrush_build_info{version, git_sha} 1`.
pub fn install_metrics_recorder(recorder: PrometheusRecorder) -> Option<Arc<PrometheusRecorder>> {
    let recorder = Arc::new(recorder);
    match metrics::set_global_recorder(recorder.clone()) {
        Ok(()) => {
            metrics::describe_gauge!(
                "ivcrush_build_info",
                "Always 1; the labels say which build runs (version, git_sha)"
            );
            metrics::gauge!("ivcrush_build_info", "version" => VERSION, "git_sha" => GIT_SHA)
                .set(1.0);
            Some(recorder)
        }
        Err(e) => {
            tracing::warn!(
                error = &e as &dyn std::error::Error,
                "a metrics recorder is already installed; /metrics shows only this process's own"
            );
            None
        }
    }
}
