//! `/metrics` and `/health/live|ready` on `--metrics-bind`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ivcrush_resilience::HealthRegistry;
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Latency buckets in seconds (explicit: Prometheus histograms, not summaries) of every
/// `*_seconds` histogram of [`new_recorder`].
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The ticker's recorder, [`LATENCY_BUCKETS`] on every `*_seconds` histogram: what the binary
/// installs globally and hands (its handle) to the service.
pub fn new_recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY_BUCKETS)
        .expect("the bucket list is not empty")
        .build_recorder()
}

/// What the handlers need.
#[derive(Clone)]
pub struct HttpState {
    /// Renders `/metrics` (`None`: answer 503).
    pub prometheus: Option<PrometheusHandle>,
    /// The dependency graph behind `/health/ready`.
    pub health: Arc<HealthRegistry>,
    /// The process families appended to every scrape.
    pub process: ivcrush_telemetry::ProcessMetrics,
    /// Sets the gauges read at scrape time (queue depth, feed age) before rendering: cheaper
    /// than updating them on every quote.
    pub refresh: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// The router: `GET /metrics`, `GET /health/live`, `GET /health/ready`.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(state)
}

async fn metrics_handler(State(state): State<HttpState>) -> Response {
    match &state.prometheus {
        Some(h) => {
            if let Some(refresh) = &state.refresh {
                refresh();
            }
            let mut text = h.render();
            state.process.append_to(&mut text);
            ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not installed\n",
        )
            .into_response(),
    }
}

async fn live() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "UP"}))
}

async fn ready(State(state): State<HttpState>) -> Response {
    let report = state.health.check().await;
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(report)).into_response()
}
