//! Vendor requests are counted by vendor, endpoint and a bounded status label, with the
//! vendor's own quota report; a request cut by its timeout counts as `cancelled`.

use std::collections::BTreeMap;
use std::time::Duration;

use ivcrush_market::tradier::TradierClient;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::tradier::{TOKEN, fast_pipeline};

const CLOCK: &str = r#"{"clock":{"date":"2026-02-02","description":"Market is open","state":"open","timestamp":1770040800,"next_change":"16:00","next_state":"postmarket"}}"#;

/// Runs `f` on a current-thread runtime with `recorder` as this thread's recorder (the
/// handles are resolved per request, on this thread).
fn with_recorder<T>(recorder: &DebuggingRecorder, f: impl std::future::Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    metrics::with_local_recorder(recorder, || runtime.block_on(f))
}

#[test]
fn requests_are_counted_by_endpoint_and_status_and_the_quota_is_read() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    with_recorder(&recorder, async {
        let server = MockServer::start().await;
        // One 503, one odd 418 (no series of its own), then a success with the quota headers.
        Mock::given(method("GET"))
            .and(path("/v1/markets/clock"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/markets/clock"))
            .respond_with(ResponseTemplate::new(418))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/markets/clock"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(CLOCK, "application/json")
                    .insert_header("x-ratelimit-allowed", "120")
                    .insert_header("x-ratelimit-used", "7")
                    .insert_header("x-ratelimit-available", "113"),
            )
            .mount(&server)
            .await;
        let mut config = ivcrush_market::tradier::TradierConfig::new(TOKEN);
        config.base_url = server.uri();
        config.resilience = fast_pipeline();
        let client = TradierClient::new(config).expect("client");
        let _ = client.clock().await;
        let _ = client.clock().await;
        client.clock().await.expect("the third answer is a clock");
    });
    let mut requests = BTreeMap::new();
    let mut gauges = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
                .unwrap_or_default()
        };
        match (key.name(), value) {
            ("ivcrush_vendor_requests_total", DebugValue::Counter(n)) => {
                requests.insert((label("vendor"), label("endpoint"), label("status")), n);
            }
            (name, DebugValue::Gauge(v)) if name.starts_with("ivcrush_vendor_") => {
                gauges.insert(name.to_owned(), v.into_inner());
            }
            _ => {}
        }
    }
    let t = |status: &str| ("tradier".to_owned(), "clock".to_owned(), status.to_owned());
    assert_eq!(requests.get(&t("503")), Some(&1), "{requests:?}");
    assert_eq!(
        requests.get(&t("4xx")),
        Some(&1),
        "418 is filed as 4xx: {requests:?}"
    );
    assert!(
        requests.get(&t("200")).is_some_and(|n| *n >= 1),
        "{requests:?}"
    );
    assert_eq!(gauges.get("ivcrush_vendor_quota_remaining"), Some(&113.0));
    assert_eq!(gauges.get("ivcrush_vendor_quota_used"), Some(&7.0));
    assert_eq!(
        gauges.get("ivcrush_vendor_requests_in_flight"),
        Some(&0.0),
        "nothing left in flight"
    );
}

#[test]
fn a_request_cut_by_its_timeout_counts_as_cancelled() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    with_recorder(&recorder, async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/markets/clock"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(CLOCK, "application/json")
                    .set_delay(Duration::from_secs(30)),
            )
            .mount(&server)
            .await;
        let mut config = ivcrush_market::tradier::TradierConfig::new(TOKEN);
        config.base_url = server.uri();
        config.resilience = fast_pipeline();
        config.resilience.retry.max_attempts = 1;
        let client = TradierClient::new(config).expect("client");
        assert!(client.clock().await.is_err(), "the attempt timeout cuts it");
    });
    let cancelled = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .any(|(key, _, _, value)| {
            key.key().name() == "ivcrush_vendor_requests_total"
                && key
                    .key()
                    .labels()
                    .any(|l| l.key() == "status" && l.value() == "cancelled")
                && matches!(value, DebugValue::Counter(1))
        });
    assert!(cancelled, "the cut request is counted as cancelled");
}
