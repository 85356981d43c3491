//! Process-wide runtime pieces of the binary: the shutdown signal and the global metrics
//! recorder, installed once here rather than by the libraries.
// TODO(lead): `ivcrush serve` still uses `ivcrush_server::{shutdown_signal,
// install_metrics_recorder}`; move it onto these two.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Completes on SIGINT (Ctrl-C) or SIGTERM; returns which one. A signal that cannot be
/// listened for is logged and never fires (the other still does).
pub async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
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
                tracing::warn!(error = %e, "cannot listen for SIGTERM; SIGINT only");
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

/// Installs the global Prometheus recorder with `seconds_buckets` as the explicit buckets of
/// every `*_seconds` histogram (Prometheus histograms, not summaries). `None`, with a warning,
/// when the buckets are refused or a recorder is already installed (metrics then go
/// elsewhere and `/metrics` answers 503).
pub fn install_metrics_recorder(seconds_buckets: &[f64]) -> Option<PrometheusHandle> {
    let builder = match PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), seconds_buckets)
    {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "prometheus buckets refused; /metrics disabled");
            return None;
        }
    };
    match builder.install_recorder() {
        Ok(handle) => Some(handle),
        Err(e) => {
            tracing::warn!(error = %e, "a metrics recorder is already installed; /metrics disabled");
            None
        }
    }
}
