//! Flaky vendors through `serve` (issue 12): 100 sequential `GET /api/v1/analyze/IONQ` against a
//! local mock speaking Tradier's and Alpha Vantage's formats, with independent faults on every
//! attempt (30 % 503, 10 % 429 with rate-limit headers, 5 % hangs, fixed seed). At least 99 are
//! answered 200 with the fault-free record, and no 200 ever carries different numbers.
//!
//! The vendor settings are the scaled ones of the in-process test (`crates/app/tests/vendor/
//! chaos.rs`): attempt timeouts of 400 ms, backoff 20–400 ms, retries until a 20-s deadline, a
//! huge fixed-window quota without guard, so the test runs in seconds. Every cache that would
//! answer instead of the vendor is off: the server's analysis cache (`analysis_ttl_secs = 0`)
//! and the app's chains, expirations, calendar and quote TTLs (0), so each of the 100 requests
//! fetches quote, calendar, expirations and two chains through the faults. Only the price
//! history stays in the store after the first request (as it does in production).

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_app::{App, AppConfig};
use ivcrush_market::sim::SimMarket;
use ivcrush_mockvendor::{Faults, MockConfig, MockVendor};
use ivcrush_server::ServerSettings;
use serde_json::Value;

use crate::support::{TestServer, start_app};

/// The default seed of the simulated market.
const SEED: u64 = ivcrush_market::sim::DEFAULT_SEED;

/// IONQ reports 2026-12-03 before the open (a liquid name).
const TICKER: &str = "IONQ";

/// Seed of the fault draws.
const FAULT_SEED: u64 = 7;

/// Wednesday 2026-11-25, the mock's day.
fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
}

/// The mock's quote time: 15:30 New York of `day` (the simulated market's as-of).
fn mock_as_of(day: NaiveDate) -> DateTime<Utc> {
    SimMarket::new(SEED, day).as_of()
}

/// The fault mix, seeded.
fn chaos_faults(seed: u64) -> Faults {
    Faults {
        server_error: 0.30,
        rate_limited: 0.10,
        hang: 0.05,
        hang_for: Duration::from_secs(3600),
        retry_after: Duration::from_millis(200),
        ..Faults::new(seed)
    }
}

async fn mock(faults: Option<Faults>) -> MockVendor {
    let mut cfg = MockConfig::new(SEED, day());
    cfg.faults = faults;
    cfg.faults_on_alphavantage = true;
    MockVendor::start(cfg).await.expect("mock starts")
}

/// Tradier + Alpha Vantage pointed at `mock`, a SQLite file in `dir`, the scaled resilience
/// settings of the in-process chaos test and no cache TTLs.
fn vendor_config(mock: &MockVendor, dir: &tempfile::TempDir) -> AppConfig {
    let mut c = crate::support::vendor_config(mock, dir);
    for r in [&mut c.tradier.resilience, &mut c.alphavantage.resilience] {
        r.attempt_timeout_ms = 400;
        r.deadline_ms = 20_000;
        r.retry.base_ms = 20;
        r.retry.cap_ms = 400;
        r.retry.max_attempts = 0;
    }
    // A quota far above what the test sends, modelled as the vendor's window: retries spend
    // its spare capacity, as they do in production. No guard: a 429 pauses the limiter only
    // for the 200 ms it asks (production adds a second for the vendor's clock).
    c.tradier.resilience.rate_limits = vec![ivcrush_resilience::WindowConfig::fixed(
        100_000,
        Duration::from_secs(60),
        Duration::ZERO,
    )];
    c.alphavantage.resilience.rate_limits = c.tradier.resilience.rate_limits.clone();
    // Every request goes to the vendor: with the default TTLs 99 of the 100 requests would be
    // cache hits. (With the mock's clock pinned, an entry written "now" with TTL 0 expires at
    // once: the cache treats `expires_at > now` as fresh.)
    c.cache.chains_secs = 0;
    c.cache.expirations_secs = 0;
    c.cache.calendar_secs = 0;
    c
}

/// A server over an app against `mock`, its clock pinned to the mock's day.
async fn server(mock: &MockVendor) -> TestServer {
    // The vendor clients are built by `App::open` (reqwest without a default TLS provider).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let as_of = mock_as_of(day());
    let app = App::open(vendor_config(mock, &dir))
        .await
        .expect("app opens")
        .with_clock(move || as_of);
    start_app(app, dir, |c: &mut ServerSettings| {
        // Every request analyses again (the server's own cache would answer 99 of them).
        c.analysis_ttl_secs = 0;
        // The per-client limit (600/min, burst 60) is not under test; keep it out of the way.
        c.rate_limit_per_minute = 100_000;
        c.rate_limit_burst = 100_000;
    })
    .await
}

/// The analysis part of a body of `/api/v1/analyze/{ticker}`: the record minus
/// - `data` (provenance: `source`, `fetched_at`, `stale`): `stale` is what the chaos can
///   change legitimately (an input served from cache after the vendor failed) and is judged
///   on its own (see [`Outcome`]); `source` and `fetched_at` (the pinned clock) are equal
///   anyway;
/// - `data_quality`: notes about the fetch, not the numbers; a blocking one (`cached_stale`)
///   is judged on its own (see [`Outcome`]).
///
/// Everything else stays: the numbers, `tradeable`, `strategies`, `warnings` and the
/// `historical_moves` the server attaches. The body has no request-specific field (the request
/// id is only a header and the stored row's run id).
fn analysis_part(body: &Value) -> Value {
    let mut v = body.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("data");
        o.remove("data_quality");
    }
    v
}

/// Whether an input of the record was served from cache after the vendor failed: `data.stale`
/// or any blocking data-quality note (the chaos can add `cached_stale`).
fn served_stale(body: &Value) -> bool {
    body["data"]["stale"].as_bool() != Some(false)
        || body["data_quality"]
            .as_array()
            .is_some_and(|notes| notes.iter().any(|n| n["blocking"] == Value::Bool(true)))
}

#[derive(Debug)]
enum Outcome {
    /// 200, fresh inputs, the fault-free analysis.
    Right,
    /// 200, fresh inputs, another analysis: never acceptable.
    Wrong(Box<Value>),
    /// 200 with a stale input (flagged, not tradeable): a clear answer, not the right record.
    Stale(Box<Value>),
    /// Not 200: the status and the JSON error.
    Error(u16, String),
}

async fn analyze(s: &TestServer) -> (u16, Value) {
    let r = s.get(&format!("/api/v1/analyze/{TICKER}")).await;
    let status = r.status().as_u16();
    let body = r.json().await.expect("json body");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_sequential_analyze_requests_through_faults_on_every_attempt_are_right() {
    // The fault-free record, through the same path (a server over a mock without faults).
    let clean = mock(None).await;
    let s = server(&clean).await;
    let (status, first) = analyze(&s).await;
    assert_eq!(status, 200, "fault-free analysis: {first}");
    assert!(!served_stale(&first), "fault-free record is fresh: {first}");
    // A second request (history now in the store, as for requests 2..100 below) answers the same.
    let (status, second) = analyze(&s).await;
    assert_eq!(status, 200, "fault-free analysis: {second}");
    let truth = analysis_part(&first);
    assert_eq!(
        analysis_part(&second),
        truth,
        "the fault-free record is stable"
    );
    s.stop().await;

    let flaky = mock(Some(chaos_faults(FAULT_SEED))).await;
    let s = server(&flaky).await;
    let mut outcomes = Vec::with_capacity(100);
    let mut times = Vec::with_capacity(100);
    let run = Instant::now();
    for _ in 0..100 {
        let started = Instant::now();
        let (status, body) = analyze(&s).await;
        times.push(started.elapsed());
        outcomes.push(match status {
            200 if served_stale(&body) => Outcome::Stale(Box::new(body)),
            200 if analysis_part(&body) == truth => Outcome::Right,
            200 => Outcome::Wrong(Box::new(body)),
            _ => Outcome::Error(status, body.to_string()),
        });
    }
    let wall = run.elapsed();
    s.stop().await;

    times.sort();
    let right = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Right))
        .count();
    let wrong: Vec<&Value> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Wrong(v) => Some(&**v),
            _ => None,
        })
        .collect();
    let stale: Vec<&Value> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Stale(v) => Some(&**v),
            _ => None,
        })
        .collect();
    let errors: Vec<(u16, &String)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Error(s, e) => Some((*s, e)),
            _ => None,
        })
        .collect();
    let faults = flaky.faults_injected();
    eprintln!(
        "fault-free record: score {}, tradeable {}, data_quality {}",
        first["score"], first["tradeable"], first["data_quality"]
    );
    eprintln!(
        "chaos via serve: {right}/100 right, {} wrong, {} stale, {} errors; p50 {:?}, p90 {:?}, \
         max {:?}, wall {wall:?}; {} vendor requests ({} without faults), faults {faults:?}; \
         by path and status {:?}",
        wrong.len(),
        stale.len(),
        errors.len(),
        times[50],
        times[90],
        times[99],
        flaky.requests(),
        clean.requests(),
        flaky.requests_by_path_and_status(),
    );
    for (status, e) in &errors {
        eprintln!("  error {status}: {e}");
    }
    for v in &stale {
        eprintln!(
            "  stale: tradeable {}, data {}, data_quality {}",
            v["tradeable"], v["data"], v["data_quality"]
        );
    }
    for v in &wrong {
        eprintln!("  wrong: {v}");
    }
    assert!(
        wrong.is_empty(),
        "a different number is never published: {wrong:?}"
    );
    assert!(
        stale.iter().all(|v| v["tradeable"] == Value::Bool(false)),
        "a record with a stale input is never tradeable"
    );
    assert!(right >= 99, "{right}/100 right; errors: {errors:?}");
    assert!(faults.total() > 100, "faults were injected: {faults:?}");
}
