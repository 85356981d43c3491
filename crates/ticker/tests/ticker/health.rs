//! `/metrics` and `/health/live|ready` over real HTTP.

use std::time::Duration;

use ivcrush_ticker::{SymbolSource, TickerConfig, TickerService};

use crate::common::wait_until;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_when_redis_is_down_and_metrics_use_explicit_buckets() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let prometheus = crate::common::install_prometheus();
    // Nothing listens on port 1: Redis is down from the start.
    let mut config = TickerConfig::sim("redis://127.0.0.1:1", 1_000);
    config.symbols = SymbolSource::List(vec!["KVLT".to_owned()]);
    config.metrics_bind = Some("127.0.0.1:0".parse().expect("address"));
    let service = TickerService::start(config, prometheus.clone())
        .await
        .expect("the service starts although Redis is down");
    let stats = std::sync::Arc::clone(service.stats());
    let dropping = wait_until(Duration::from_secs(3), || stats.dropped_total() > 100).await;
    assert!(
        dropping,
        "ingested {} dropped {} feed restarts {}",
        stats.ingested(),
        stats.dropped_total(),
        stats.restarts("feed")
    );
    let base = format!("http://{}", service.http_addr().expect("bound"));
    let http = reqwest::Client::new();

    let live = http
        .get(format!("{base}/health/live"))
        .send()
        .await
        .expect("live");
    assert_eq!(live.status().as_u16(), 200);

    let ready = http
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status().as_u16(), 503);
    let report: serde_json::Value = ready.json().await.expect("JSON report");
    assert_eq!(report["status"], "DOWN", "{report}");
    let deps = report["dependencies"].as_array().expect("dependencies");
    let redis = deps
        .iter()
        .find(|d| d["name"] == "redis")
        .expect("redis listed");
    assert_eq!(redis["status"], "DOWN", "{report}");
    let feed = deps
        .iter()
        .find(|d| d["name"] == "feed")
        .expect("feed listed");
    assert_eq!(feed["status"], "UP", "{report}");

    if prometheus.is_some() {
        metrics::histogram!("ivcrush_ticker_publish_latency_seconds").record(0.0007);
        let text = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("body");
        assert!(
            text.contains("ivcrush_ticker_dropped_total{reason="),
            "{text}"
        );
        assert!(
            text.contains("ivcrush_ticker_publish_latency_seconds_bucket{le=\"0.001\"}"),
            "{text}"
        );
        assert!(!text.contains("quantile="), "histograms, not summaries");
    }
    service.shutdown().await;
}
