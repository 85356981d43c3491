//! The exposition parses with a real Prometheus text-format parser.

use ivcrush_resilience::{
    BreakerConfig, CircuitBreaker, HttpClassifier, HttpFailure, Pipeline, PipelineConfig,
};
use prometheus_parse::{Scrape, Value};

use crate::support::start;

fn scrape(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid Prometheus text")
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_with_http_scan_breaker_and_process_series() {
    let s = start().await;
    let breaker = s.state.with_metrics(|| {
        CircuitBreaker::new("vendor_m", BreakerConfig::default()).expect("breaker")
    });
    s.state.app().breakers().register(breaker);
    for _ in 0..3 {
        assert_eq!(s.get_anon("/health/live").await.status(), 200);
    }
    assert_eq!(s.get_anon("/nope").await.status(), 404);
    assert_eq!(s.get("/api/v1/scan").await.status(), 200);
    assert_eq!(
        s.post("/api/v1/breakers/vendor_m/force-open")
            .await
            .status(),
        200
    );

    let r = s.get_anon("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = r.text().await.expect("text");
    let m = scrape(&text);

    let live = m
        .samples
        .iter()
        .find(|x| {
            x.metric == "ivcrush_http_requests_total"
                && x.labels.get("route") == Some("/health/live")
                && x.labels.get("method") == Some("GET")
                && x.labels.get("status") == Some("200")
        })
        .expect("request counter of /health/live");
    assert!(
        matches!(live.value, Value::Counter(n) if n >= 3.0),
        "{:?}",
        live.value
    );
    assert!(
        m.samples
            .iter()
            .any(|x| x.metric == "ivcrush_http_requests_total"
                && x.labels.get("route") == Some("unmatched")
                && x.labels.get("status") == Some("404"))
    );

    let hist = m
        .samples
        .iter()
        .find(|x| {
            x.metric == "ivcrush_http_request_duration_seconds"
                && x.labels.get("route") == Some("/health/live")
        })
        .expect("latency histogram");
    match &hist.value {
        Value::Histogram(buckets) => {
            assert!(buckets.len() >= 10, "explicit buckets");
            assert!(buckets.iter().any(|b| b.less_than == 0.01));
        }
        other => panic!("expected a histogram, got {other:?}"),
    }

    let gauge = |name: &str| {
        m.samples
            .iter()
            .find(|x| x.metric == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .value
            .clone()
    };
    let runs: Vec<(&str, &str, f64)> = m
        .samples
        .iter()
        .filter(|x| x.metric == "ivcrush_scan_runs_total")
        .filter_map(|x| match x.value {
            Value::Counter(n) => Some((
                x.labels.get("trigger").unwrap_or_default(),
                x.labels.get("outcome").unwrap_or_default(),
                n,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        runs.len(),
        6,
        "every trigger and outcome from the start: {runs:?}"
    );
    assert!(
        runs.iter().map(|(_, _, n)| n).sum::<f64>() >= 1.0,
        "the scan ran: {runs:?}"
    );
    assert!(matches!(gauge("ivcrush_scan_rows"), Value::Gauge(_)));
    assert!(matches!(gauge("process_resident_memory_bytes"), Value::Gauge(n) if n > 0.0));
    assert!(matches!(gauge("process_start_time_seconds"), Value::Gauge(n) if n > 1.7e9));
    // A state set: one series per state, 1 on the current one.
    let states: Vec<(&str, f64)> = m
        .samples
        .iter()
        .filter(|x| {
            x.metric == "ivcrush_circuit_breaker_state" && x.labels.get("name") == Some("vendor_m")
        })
        .filter_map(|x| match x.value {
            Value::Gauge(n) => Some((x.labels.get("state").unwrap_or_default(), n)),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 5, "{states:?}");
    let on: Vec<&str> = states
        .iter()
        .filter(|(_, n)| *n == 1.0)
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(on, ["forced_open"], "{states:?}");
    s.stop().await;
}

#[tokio::test]
async fn two_servers_in_one_process_keep_separate_metrics() {
    let a = start().await;
    let b = start().await;
    for _ in 0..2 {
        a.get_anon("/health/live").await;
    }
    let text = b.get_anon("/metrics").await.text().await.expect("text");
    let m = scrape(&text);
    assert!(
        !m.samples
            .iter()
            .any(|x| x.metric == "ivcrush_http_requests_total"
                && x.labels.get("route") == Some("/health/live"))
    );
    a.stop().await;
    b.stop().await;
}

#[derive(Debug)]
struct VendorError;

impl HttpFailure for VendorError {
    fn status(&self) -> Option<u16> {
        Some(503)
    }
}

#[tokio::test]
async fn vendor_pipeline_metrics_built_with_the_servers_recorder_are_exposed() {
    let s = start().await;
    let pipeline = s.state.with_metrics(|| {
        Pipeline::new("vendor_p", &PipelineConfig::default(), HttpClassifier).expect("pipeline")
    });
    let quote = pipeline
        .call(|| async { Ok::<_, VendorError>(42.0) })
        .await
        .expect("the call passes");
    assert_eq!(quote, 42.0);
    let m = scrape(&s.get_anon("/metrics").await.text().await.expect("text"));
    let named = |metric: &str| {
        m.samples
            .iter()
            .any(|x| x.metric == metric && x.labels.get("name") == Some("vendor_p"))
    };
    assert!(named("ivcrush_retry_attempts_total"));
    assert!(named("ivcrush_circuit_breaker_calls_total"));
    assert!(named("ivcrush_circuit_breaker_state"));
    s.stop().await;
}

#[tokio::test]
async fn invented_methods_add_no_series_and_cpu_time_keeps_its_fraction() {
    let s = start().await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("ivcrush_http_request"))
            .count()
    };
    // One request with an invented method makes the "other" series exist.
    let invented = |i: usize| {
        reqwest::Method::from_bytes(format!("X{i:04}").as_bytes()).expect("a method token")
    };
    let _ = s
        .client
        .request(invented(0), s.url("/health/live"))
        .send()
        .await
        .expect("sent");
    // A first scrape makes the series of /metrics itself exist.
    let _ = s.get_anon("/metrics").await;
    let before = series(&s.get_anon("/metrics").await.text().await.expect("text"));
    for i in 1..1_000 {
        let _ = s
            .client
            .request(invented(i), s.url("/health/live"))
            .send()
            .await
            .expect("sent");
    }
    let text = s.get_anon("/metrics").await.text().await.expect("text");
    assert_eq!(series(&text), before, "1,000 invented methods added series");
    assert!(text.contains("method=\"other\""), "{text}");
    let m = scrape(&text);
    let cpu = m
        .samples
        .iter()
        .find(|x| x.metric == "process_cpu_seconds_total")
        .expect("process_cpu_seconds_total");
    // 1,000 requests cost CPU; /proc counts it in hundredths of a second, not whole seconds.
    let Value::Counter(secs) = cpu.value else {
        panic!("a counter: {:?}", cpu.value);
    };
    assert!(secs > 0.0, "{secs}");
    assert!(
        text.contains("# TYPE process_cpu_seconds_total counter"),
        "{text}"
    );
    s.stop().await;
}
