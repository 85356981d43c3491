//! Readiness is local, cached and side-effect free: probes never call a vendor (they read the
//! last background ping), a vendor outage degrades the service instead of taking it out of the
//! load balancer, and `admin_bind` moves the operator endpoints to a private port.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_app::App;
use ivcrush_market::sim::SimMarket;
use ivcrush_mockvendor::{Faults, MockConfig, MockVendor};
use ivcrush_server::{Server, ServerSettings};
use serde_json::Value;

use crate::support::{TestServer, start_app};

const SEED: u64 = 42;

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 2).expect("date")
}

async fn mock(faults: Option<Faults>) -> MockVendor {
    let mut cfg = MockConfig::new(SEED, day());
    cfg.faults = faults;
    MockVendor::start(cfg).await.expect("mock starts")
}

/// Tradier and Alpha Vantage on `mock`, SQLite in `dir`; a ping gives up after two quick
/// attempts so that an outage is seen in milliseconds.
async fn vendor_app(mock: &MockVendor, dir: &tempfile::TempDir) -> App {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut c = crate::support::vendor_config(mock, dir);
    for r in [&mut c.tradier.resilience, &mut c.alphavantage.resilience] {
        r.attempt_timeout_ms = 400;
        r.deadline_ms = 2_000;
        r.retry.base_ms = 5;
        r.retry.cap_ms = 10;
        r.retry.max_attempts = 2;
    }
    let as_of: DateTime<Utc> = SimMarket::new(SEED, day()).as_of();
    App::open(c)
        .await
        .expect("app opens")
        .with_clock(move || as_of)
}

async fn server(mock: &MockVendor) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = vendor_app(mock, &dir).await;
    start_app(app, dir, |_| {}).await
}

/// Twenty probes at once; every answer's status and body.
async fn probes(s: &TestServer) -> Vec<(u16, Value)> {
    let mut probes = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let request = s.client.get(s.url("/health/ready"));
        probes.spawn(async move {
            let r = request.send().await.expect("probe");
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.expect("JSON report"))
        });
    }
    probes.join_all().await
}

fn dependency<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["dependencies"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{name} listed in {report}"))
}

fn capability<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["capabilities"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{name} listed in {report}"))
}

#[tokio::test]
async fn twenty_concurrent_probes_all_answer_200_and_call_no_vendor() {
    let mock = mock(None).await;
    let s = server(&mock).await;
    assert_eq!(mock.requests(), 0, "opening the app calls no vendor");
    // What the server's background task does every `vendor_check_secs`.
    s.state.app().health().refresh_vendors().await;
    let pinged = mock.requests_by_path();
    assert_eq!(
        pinged.get("/v1/markets/clock"),
        Some(&1),
        "one ping: {pinged:?}"
    );

    let answers = probes(&s).await;
    for (status, report) in &answers {
        assert_eq!(*status, 200, "{report}");
        assert_eq!(report["status"], "UP", "{report}");
        let tradier = dependency(report, "tradier");
        assert_eq!(tradier["status"], "UP");
        assert!(
            tradier["message"]
                .as_str()
                .is_some_and(|m| m.contains("pinged")),
            "{tradier}"
        );
        // Alpha Vantage's 25 requests a day are not spent on probes: judged by its breaker.
        let alphavantage = dependency(report, "alphavantage");
        assert!(
            alphavantage["message"]
                .as_str()
                .is_some_and(|m| m.contains("not pinged")),
            "{alphavantage}"
        );
        assert_eq!(dependency(report, "database")["status"], "UP");
    }
    assert_eq!(
        mock.requests(),
        1,
        "the probes made no vendor request: {:?}",
        mock.requests_by_path()
    );
    s.stop().await;
    mock.shutdown().await;
}

#[tokio::test]
async fn a_vendor_outage_degrades_readiness_and_probes_leave_the_breaker_alone() {
    let mock = mock(Some(Faults {
        server_error: 1.0,
        ..Faults::new(SEED)
    }))
    .await;
    let s = server(&mock).await;
    s.state.app().health().refresh_vendors().await;
    let after_ping = mock.requests();
    assert_eq!(after_ping, 1, "one ping, one attempt");

    for (status, report) in probes(&s).await {
        assert_eq!(status, 200, "DEGRADED still serves: {report}");
        assert_eq!(report["status"], "DEGRADED", "{report}");
        let tradier = dependency(&report, "tradier");
        assert_eq!(tradier["status"], "DOWN", "{tradier}");
        assert_eq!(tradier["critical"], false, "not critical to serving");
        assert!(
            tradier["message"]
                .as_str()
                .is_some_and(|m| m.contains("503")),
            "the reason is shown: {tradier}"
        );
        assert_eq!(capability(&report, "scan")["status"], "DOWN");
        assert_eq!(capability(&report, "api")["status"], "UP");
    }
    assert_eq!(mock.requests(), after_ping, "probes made no vendor request");
    let breakers = s.json("/api/v1/breakers").await;
    let tradier = breakers["breakers"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["name"] == "tradier"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(tradier["state"], "CLOSED", "{breakers}");
    assert_eq!(
        tradier["totals"],
        serde_json::json!({"success": 0, "failure": 0, "slow": 0, "ignored": 0, "rejected": 0, "late": 0}),
        "neither the ping nor the probes touched the production breaker: {breakers}"
    );
    s.stop().await;
    mock.shutdown().await;
}

#[tokio::test]
async fn probes_within_the_ttl_share_one_run_of_the_checks() {
    let s = crate::support::start().await;
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = runs.clone();
    s.state.add_health_check(
        "counted",
        ivcrush_resilience::Criticality::Optional,
        move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok("counted".to_string())
            }
        },
    );
    let answers = probes(&s).await;
    assert!(answers.iter().all(|(status, _)| *status == 200));
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "twenty concurrent probes, one run of the checks"
    );
    s.stop().await;
}

#[tokio::test]
async fn admin_bind_serves_probes_and_metrics_on_their_own_port_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = crate::support::test_app(&dir).await;
    let settings = ServerSettings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        admin_bind: Some("127.0.0.1:0".parse().expect("addr")),
        api_keys: vec![crate::support::KEY.into()],
        scheduler: false,
        scan_on_start: false,
        ..ServerSettings::default()
    };
    let server = Server::bind(app, settings, None).await.expect("binds");
    let public = server.local_addr().expect("addr");
    let admin = server
        .admin_addr()
        .expect("addr")
        .expect("admin listener bound");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let status = |addr: std::net::SocketAddr, path: &'static str| async move {
        reqwest::Client::new()
            .get(format!("http://{addr}{path}"))
            .header("x-api-key", crate::support::KEY)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    };
    for path in ["/health/live", "/health/ready", "/metrics"] {
        assert_eq!(status(admin, path).await, 200, "{path} on the admin port");
        assert_eq!(status(public, path).await, 404, "{path} not public");
    }
    assert_eq!(status(public, "/api/v1/breakers").await, 200);
    assert_eq!(status(admin, "/api/v1/breakers").await, 404);
    let _ = stop.send(());
    task.await.expect("task").expect("clean stop");
}

/// A request still running after SIGTERM is cut when the grace period ends: a vendor that
/// hangs for an hour (and a deadline far beyond the grace) cannot hold a deploy. Real time:
/// the one-second grace is what is measured.
#[tokio::test]
async fn a_hung_request_is_cut_when_the_shutdown_grace_period_ends() {
    let (mock, _dir, app) = hanging_vendor_app().await;
    let settings = ServerSettings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        api_keys: vec![crate::support::KEY.into()],
        scheduler: false,
        scan_on_start: false,
        request_timeout_ms: 600_000,
        shutdown_grace_secs: 1,
        ..ServerSettings::default()
    };
    let server = Server::bind(app, settings, None).await.expect("binds");
    let addr = server.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let ticker = mock.symbols().into_iter().next().expect("a symbol");
    let in_flight = tokio::spawn(
        reqwest::Client::new()
            .get(format!("http://{addr}/api/v1/analyze/{ticker}"))
            .header("x-api-key", crate::support::KEY)
            .send(),
    );
    // The request is in flight once the mock holds it.
    while mock.faults_injected().hangs == 0 {
        tokio::task::yield_now().await;
    }
    let signalled = std::time::Instant::now();
    let _ = stop.send(());
    task.await.expect("task").expect("the server stops");
    let waited = signalled.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
        "stopped when the one-second grace ended, not when the hour-long hang did: {waited:?}"
    );
    in_flight.abort();
    mock.shutdown().await;
}

/// A scan running at shutdown gets the same grace as a request, then is abandoned with a log
/// line: here the startup scan waits on a vendor that hangs for an hour.
#[tokio::test]
async fn a_scan_running_at_shutdown_is_abandoned_after_the_grace_and_logged() {
    crate::support::capture_logs();
    let (mock, _dir, app) = hanging_vendor_app().await;
    let settings = ServerSettings {
        bind: "127.0.0.1:0".parse().expect("addr"),
        scheduler: true,
        scan_on_start: true,
        shutdown_grace_secs: 1,
        ..ServerSettings::default()
    };
    let server = Server::bind(app, settings, None).await.expect("binds");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    while mock.faults_injected().hangs == 0 {
        tokio::task::yield_now().await;
    }
    let signalled = std::time::Instant::now();
    let _ = stop.send(());
    task.await.expect("task").expect("the server stops");
    let waited = signalled.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
        "the scan got the one-second grace: {waited:?}"
    );
    assert!(
        crate::support::logs().contains("was still running at shutdown and was abandoned"),
        "the abandonment is logged"
    );
    mock.shutdown().await;
}

/// A mock vendor that holds every answer for an hour, and an app on it whose calls would wait
/// for it (timeouts far beyond any grace): what only a shutdown grace can cut.
async fn hanging_vendor_app() -> (MockVendor, tempfile::TempDir, App) {
    let mock = mock(Some(Faults {
        hang: 1.0,
        hang_for: Duration::from_secs(3600),
        ..Faults::new(SEED)
    }))
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut c = crate::support::vendor_config(&mock, &dir);
    for r in [&mut c.tradier.resilience, &mut c.alphavantage.resilience] {
        r.attempt_timeout_ms = 600_000;
        r.deadline_ms = 600_000;
    }
    c.tradier.timeouts = ivcrush_market::EndpointTimeouts::uniform(600_000);
    let as_of: DateTime<Utc> = SimMarket::new(SEED, day()).as_of();
    let app = App::open(c)
        .await
        .expect("app opens")
        .with_clock(move || as_of);
    (mock, dir, app)
}
