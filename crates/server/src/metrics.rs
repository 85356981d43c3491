//! Prometheus metrics: one recorder per [`AppState`](crate::AppState), the process's global
//! one when the binary installed it (so vendor, breaker, retry, limiter and cache metrics of
//! the other crates land in it too), used as a local recorder by the server's own instrumentation (so several
//! servers in one test binary each see their own numbers).
//!
//! Server metrics: `ivcrush_http_requests_total{method,route,status}`,
//! `ivcrush_http_request_duration_seconds{method,route}` (histogram, explicit buckets),
//! `ivcrush_scan_runs_total{trigger,outcome}`, `ivcrush_scan_duration_seconds`,
//! `ivcrush_scan_rows{status}`, `ivcrush_scan_last_success_timestamp_seconds`, and the process
//! gauges `process_resident_memory_bytes`, `process_open_fds`, `process_cpu_seconds_total`,
//! `process_start_time_seconds`, `ivcrush_process_uptime_seconds`.

use std::sync::Arc;

use ivcrush_telemetry::ProcessMetrics;

use metrics::Unit;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Histogram buckets in seconds (every histogram: HTTP latency, scan duration, vendor waits);
/// up to 20 minutes, since a scan through a rate-limited vendor takes 200–400 s.
pub(crate) const BUCKETS: [f64; 20] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0, 1200.0,
];

/// A recorder with the server's buckets on every histogram: what a binary installs globally
/// (see [`AppState::with_recorder`](crate::AppState::with_recorder)) and what a state without
/// one keeps to itself.
pub fn new_recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .expect("the bucket list is not empty")
        .build_recorder()
}

/// The recorder of one server and its render handle.
pub(crate) struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    process: ProcessMetrics,
}

impl Metrics {
    /// Metrics over `recorder` (the process's global one), else over a private one.
    pub(crate) fn new(recorder: Option<Arc<PrometheusRecorder>>) -> Metrics {
        let recorder = recorder.unwrap_or_else(|| Arc::new(new_recorder()));
        let handle = recorder.handle();
        let m = Metrics {
            recorder,
            handle,
            process: ProcessMetrics::new(),
        };
        m.scoped(describe);
        m
    }

    /// Runs `f` with this server's recorder as the thread's local recorder.
    pub(crate) fn scoped<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&*self.recorder, f)
    }

    pub(crate) fn handle(&self) -> &PrometheusHandle {
        &self.handle
    }

    /// The text exposition, with the process metrics after the recorder's (written here: a
    /// `metrics` counter holds whole numbers only, and CPU time is fractional).
    pub(crate) fn render(&self) -> String {
        let mut text = self.handle.render();
        self.process.append_to(&mut text);
        text
    }

    pub(crate) fn record_request(&self, method: &str, route: &str, status: u16, secs: f64) {
        self.scoped(|| {
            metrics::counter!(
                "ivcrush_http_requests_total",
                "method" => method.to_string(),
                "route" => route.to_string(),
                "status" => status.to_string()
            )
            .increment(1);
            metrics::histogram!(
                "ivcrush_http_request_duration_seconds",
                "method" => method.to_string(),
                "route" => route.to_string()
            )
            .record(secs);
        });
    }

    pub(crate) fn record_scan(
        &self,
        trigger: &'static str,
        result: Result<(usize, usize), ()>,
        secs: f64,
    ) {
        self.scoped(|| {
            let outcome = if result.is_ok() { "success" } else { "failure" };
            metrics::counter!("ivcrush_scan_runs_total", "trigger" => trigger, "outcome" => outcome)
                .increment(1);
            metrics::histogram!("ivcrush_scan_duration_seconds").record(secs);
            if let Ok((ok, failed)) = result {
                metrics::gauge!("ivcrush_scan_rows", "status" => "analyzed").set(ok as f64);
                metrics::gauge!("ivcrush_scan_rows", "status" => "failed").set(failed as f64);
                metrics::gauge!("ivcrush_scan_last_success_timestamp_seconds")
                    .set(chrono::Utc::now().timestamp() as f64);
            }
        });
    }
}

fn describe() {
    ivcrush_app::describe_metrics();
    metrics::describe_counter!(
        "ivcrush_http_requests_total",
        "HTTP requests by route template, method and status"
    );
    metrics::describe_histogram!(
        "ivcrush_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency"
    );
    metrics::describe_counter!(
        "ivcrush_scan_runs_total",
        "Scans run by trigger and outcome"
    );
    metrics::describe_histogram!(
        "ivcrush_scan_duration_seconds",
        Unit::Seconds,
        "Scan duration"
    );
    metrics::describe_gauge!("ivcrush_scan_rows", "Rows of the latest scan by status");
    metrics::describe_gauge!(
        "ivcrush_http_live_streams",
        "Live implied-move streams (server-sent events) open"
    );
    metrics::describe_gauge!(
        "ivcrush_scan_last_success_timestamp_seconds",
        "Unix time of the last successful scan"
    );
    // The scan's series exist from the start at 0, so that rates and "no successful scan yet"
    // alerts see the first run (a series born with its first event hides that event from
    // `increase()`).
    for trigger in ["startup", "scheduled", "on_demand"] {
        for outcome in ["success", "failure"] {
            metrics::counter!("ivcrush_scan_runs_total", "trigger" => trigger, "outcome" => outcome)
                .increment(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_metrics_render_as_a_histogram_with_buckets() {
        let m = Metrics::new(None);
        m.record_request("GET", "/health/live", 200, 0.002);
        let text = m.render();
        assert!(text.contains("ivcrush_http_request_duration_seconds_bucket{"));
        assert!(text.contains("le=\"0.0025\""));
        assert!(text.contains("process_start_time_seconds"));
    }
}
