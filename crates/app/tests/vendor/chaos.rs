//! Flaky vendors: independent faults on *every* attempt (30 % 503, 10 % 429 with rate-limit
//! headers, 5 % hangs), as real networks fail. Retries run until the call's deadline, so the
//! answer is the fault-free one or a clear error, never a different number.
//!
//! Timing is scaled down (hangs are cut at 400 ms instead of the production attempt timeouts,
//! 429s ask for 200 ms) so the test runs in seconds; the production-scale figures (p50, max
//! wall time) come from the `vendor_path` bench.

use crate::{TICKER, analyze_through_mock, day, mock, mock_as_of, numbers, open, vendor_config};
use futures::StreamExt;
use ivcrush_app::{AnalyzeOptions, AppConfig};
use ivcrush_mockvendor::{Faults, MockVendor};
use std::time::{Duration, Instant};

/// The fault mix, seeded.
pub fn chaos_faults(seed: u64) -> Faults {
    Faults {
        server_error: 0.30,
        rate_limited: 0.10,
        hang: 0.05,
        hang_for: Duration::from_secs(3600),
        retry_after: Duration::from_millis(200),
        ..Faults::new(seed)
    }
}

/// Vendor settings scaled for a test: attempt timeouts of 400 ms, short backoff, retries until
/// a 20-s deadline.
pub fn scaled_config(mock: &MockVendor, dir: &tempfile::TempDir) -> AppConfig {
    let mut c = vendor_config(mock, dir);
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
    c
}

/// One analysis: its numbers and whether it noted a 429, or its error; and its wall time.
type Outcome = (Result<(serde_json::Value, bool), String>, Duration);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_analyses_through_faults_on_every_attempt_are_all_right() {
    let truth = numbers(
        &analyze_through_mock(TICKER, |_| {})
            .await
            .expect("fault-free analysis"),
    );
    let mock = mock(day(), |c| {
        c.faults = Some(chaos_faults(7));
        c.faults_on_alphavantage = true;
    })
    .await;
    let results: Vec<Outcome> = futures::stream::iter(0..100)
        .map(|_| {
            let mock = &mock;
            async move {
                // A fresh database and cache each time: every analysis is cold and sends
                // every request (quote, calendar, expirations, reports, bars, two chains).
                let dir = tempfile::tempdir().expect("temp dir");
                let app = open(scaled_config(mock, &dir), mock_as_of(day())).await;
                let started = Instant::now();
                let r = app
                    .analyzer()
                    .analyze(TICKER, &AnalyzeOptions::default())
                    .await
                    .map(|r| {
                        let waited = r.analysis.data_quality.iter().any(|n| {
                            n.code == ivcrush_core::QualityCode::RateLimited && !n.blocking
                        });
                        (numbers(&r), waited)
                    })
                    .map_err(|e| e.to_string());
                (r, started.elapsed())
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut times: Vec<Duration> = results.iter().map(|(_, t)| *t).collect();
    times.sort();
    let right = results
        .iter()
        .filter(|(r, _)| r.as_ref().is_ok_and(|(v, _)| *v == truth))
        .count();
    // The record says when a 429 was waited out on its way (the data is complete).
    let noted_429 = results
        .iter()
        .filter(|(r, _)| r.as_ref().is_ok_and(|(_, waited)| *waited))
        .count();
    let wrong: Vec<&serde_json::Value> = results
        .iter()
        .filter_map(|(r, _)| r.as_ref().ok())
        .map(|(v, _)| v)
        .filter(|v| **v != truth)
        .collect();
    let errors: Vec<&String> = results
        .iter()
        .filter_map(|(r, _)| r.as_ref().err())
        .collect();
    let faults = mock.faults_injected();
    eprintln!(
        "chaos: {right}/100 right, {} errors, {} wrong; p50 {:?}, max {:?}; {} requests, faults \
         {faults:?}; {noted_429} records note a 429; errors: {errors:?}",
        errors.len(),
        wrong.len(),
        times[50],
        times[99],
        mock.requests()
    );
    assert!(wrong.is_empty(), "a different number is never published");
    assert!(right >= 99, "{right}/100 right; errors: {errors:?}");
    assert!(faults.total() > 100, "faults were injected: {faults:?}");
    assert!(noted_429 > 10, "rate_limited notes in {noted_429} records");
}
