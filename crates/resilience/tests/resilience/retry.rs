//! RT-1 … RT-8.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ivcrush_resilience::{
    Backoff, CallOptions, HttpClassifier, Idempotency, Jitter, Limiter, Pipeline, PipelineConfig,
    RateLimited, ResilienceError, RetryHint, WindowConfig, epoch_reset_delay, parse_retry_after,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, advance};

use crate::support::{Calls, VendorError, consecutive, pipeline_config};

fn retrying(max_attempts: u32) -> PipelineConfig {
    let mut config = pipeline_config();
    config.retry.max_attempts = max_attempts;
    config.breaker = consecutive(1_000);
    config
}

/// An inner call that fails with `error` and notes when each attempt started.
fn failing(
    calls: &Calls,
    starts: &Arc<Mutex<Vec<Instant>>>,
    error: VendorError,
) -> impl FnMut() -> std::future::Ready<Result<(), VendorError>> + use<> {
    let (calls, starts) = (calls.clone(), starts.clone());
    move || {
        calls.hit();
        starts.lock().expect("not poisoned").push(Instant::now());
        std::future::ready(Err(error.clone()))
    }
}

#[tokio::test(start_paused = true)]
async fn rt_1_persistent_503_runs_exactly_max_attempts_and_returns_the_last_error() {
    let pipeline = Pipeline::new("vendor", &retrying(3), HttpClassifier).expect("valid");
    let calls = Calls::default();
    let starts = Arc::default();
    let error = pipeline
        .call(failing(&calls, &starts, VendorError::status(503)))
        .await
        .expect_err("always 503");
    assert_eq!(calls.count(), 3);
    match error {
        ResilienceError::Inner { source, attempts } => {
            assert_eq!(attempts, 3);
            assert_eq!(source.status, Some(503));
        }
        other => panic!("expected Inner, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn rt_2_non_retryable_statuses_are_tried_once() {
    for status in [400, 401, 404] {
        let pipeline = Pipeline::new("vendor", &retrying(3), HttpClassifier).expect("valid");
        let calls = Calls::default();
        let error = pipeline
            .call(failing(
                &calls,
                &Arc::default(),
                VendorError::status(status),
            ))
            .await
            .expect_err("error");
        assert_eq!(calls.count(), 1, "status {status}");
        assert_eq!(error.attempts(), 1);
    }
}

#[test]
fn rt_3_each_jitter_mode_stays_within_its_bounds_and_the_cap() {
    let backoff = |jitter| Backoff {
        base: Duration::from_secs(1),
        factor: 2.0,
        cap: Duration::from_secs(30),
        jitter,
    };
    let mut rng = SmallRng::seed_from_u64(3);
    for i in 0..=8u32 {
        let ceiling = Duration::from_secs(1 << i).min(Duration::from_secs(30));
        let full = backoff(Jitter::Full);
        let draws: Vec<Duration> = (0..10_000)
            .map(|_| full.delay(i, Duration::ZERO, &mut rng))
            .collect();
        assert!(
            draws.iter().all(|d| *d <= ceiling),
            "full ≤ min(cap, b·2^i)"
        );
        let mean = draws.iter().map(Duration::as_secs_f64).sum::<f64>() / 10_000.0;
        let half = ceiling.as_secs_f64() / 2.0;
        assert!(
            (mean - half).abs() < 0.03 * ceiling.as_secs_f64(),
            "mean {mean} ≈ {half}"
        );
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "random");

        let equal = backoff(Jitter::Equal);
        for _ in 0..10_000 {
            let d = equal.delay(i, Duration::ZERO, &mut rng);
            assert!(d >= ceiling / 2 && d <= ceiling, "equal ∈ [t/2, t]");
        }

        let decorrelated = backoff(Jitter::Decorrelated);
        let mut previous = Duration::from_secs(1);
        for _ in 0..10_000 {
            let d = decorrelated.delay(i, previous, &mut rng);
            let high = (previous * 3).min(Duration::from_secs(30));
            assert!(
                d >= Duration::from_secs(1) && d <= high,
                "decorrelated ∈ [b, min(cap, 3·prev)]"
            );
            previous = d;
        }
    }
    for jitter in [
        Jitter::Full,
        Jitter::Equal,
        Jitter::Decorrelated,
        Jitter::None,
    ] {
        let d = backoff(jitter).delay(10_000, Duration::from_secs(30), &mut rng);
        assert!(d <= Duration::from_secs(30), "no overflow at i = 10,000");
    }
}

async fn gap_between_two_attempts(hint: RetryHint) -> Duration {
    let pipeline = Pipeline::new("vendor", &retrying(2), HttpClassifier).expect("valid");
    let calls = Calls::default();
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let _ = pipeline
        .call(failing(
            &calls,
            &starts,
            VendorError::status(503).with_hint(hint),
        ))
        .await;
    let starts = starts.lock().expect("not poisoned");
    assert_eq!(starts.len(), 2);
    starts[1] - starts[0]
}

#[tokio::test(start_paused = true)]
async fn rt_4_server_hints_set_the_next_delay_exactly() {
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let seven = parse_retry_after("7", wall).expect("seconds");
    assert_eq!(
        gap_between_two_attempts(RetryHint::After(seven)).await,
        Duration::from_secs(7)
    );

    let date = httpdate::fmt_http_date(wall + Duration::from_secs(30));
    let thirty = parse_retry_after(&date, wall).expect("http date");
    assert_eq!(
        gap_between_two_attempts(RetryHint::After(thirty)).await,
        Duration::from_secs(30)
    );

    let expiry_ms = 1_700_000_000_000 + 40_000;
    let at = Instant::now() + epoch_reset_delay(expiry_ms, wall);
    assert_eq!(
        gap_between_two_attempts(RetryHint::At(at)).await,
        Duration::from_secs(40)
    );
}

#[tokio::test(start_paused = true)]
async fn rt_4_a_hint_longer_than_the_deadline_fails_at_once_without_sleeping() {
    let mut config = retrying(3);
    config.deadline_ms = 10_000;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let started = Instant::now();
    let error = pipeline
        .call(failing(
            &calls,
            &Arc::default(),
            VendorError::status(503).with_hint(RetryHint::After(Duration::from_secs(30))),
        ))
        .await
        .expect_err("hint past the deadline");
    assert_eq!(started.elapsed(), Duration::ZERO, "no sleep");
    assert_eq!(calls.count(), 1);
    assert!(matches!(error, ResilienceError::Inner { attempts: 1, .. }));
}

#[tokio::test(start_paused = true)]
async fn rt_5_the_deadline_cuts_the_retry_loop() {
    let mut config = retrying(10);
    config.retry.jitter = Jitter::None;
    config.attempt_timeout_ms = 10_000;
    config.deadline_ms = 60_000;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let started = Instant::now();
    let error = pipeline
        .call(|| {
            calls.hit();
            std::future::pending::<Result<(), VendorError>>()
        })
        .await
        .expect_err("hangs");
    // Attempts start at 0, 11, 23, 37 and 55 s (10-s timeouts, backoff 1, 2, 4, 8 s);
    // the fifth is cut by the deadline at 60 s.
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    assert_eq!(calls.count(), 5);
    assert!(
        matches!(error, ResilienceError::DeadlineExceeded { attempts: 5, .. }),
        "{error:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn rt_6_dropping_the_call_during_backoff_means_no_further_attempt() {
    let mut config = retrying(5);
    config.retry.jitter = Jitter::None;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let call = pipeline.call(failing(&calls, &Arc::default(), VendorError::status(503)));
    assert!(
        tokio::time::timeout(Duration::from_millis(500), call)
            .await
            .is_err()
    );
    advance(Duration::from_secs(60)).await;
    assert_eq!(calls.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn rt_7_a_budget_storm_of_1000_callers_adds_at_most_20_percent_plus_the_floor() {
    let mut config = retrying(3);
    config.breaker = consecutive(100_000);
    config.bulkhead.max_concurrent = 1_000;
    let pipeline = Arc::new(Pipeline::new("vendor", &config, HttpClassifier).expect("valid"));
    let calls = Calls::default();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let (pipeline, calls) = (pipeline.clone(), calls.clone());
        tasks.spawn(async move {
            pipeline
                .call(failing(&calls, &Arc::default(), VendorError::status(503)))
                .await
        });
    }
    for result in tasks.join_all().await {
        let error = result.expect_err("total outage");
        assert_eq!(
            error.inner().and_then(|e| e.status),
            Some(503),
            "the original error"
        );
    }
    let floor_times_ttl = 10;
    assert!(
        calls.count() <= 1_200 + floor_times_ttl,
        "attempts {}",
        calls.count()
    );
    assert!(
        calls.count() >= 1_200,
        "the budget is used: {}",
        calls.count()
    );
}

#[tokio::test(start_paused = true)]
async fn rt_8_breaker_rejections_spend_no_attempts_unless_the_wait_fits_the_deadline() {
    let mut config = retrying(5);
    config.breaker = consecutive(2);
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let error = pipeline
        .call(failing(&calls, &Arc::default(), VendorError::status(503)))
        .await
        .expect_err("opens");
    assert_eq!(calls.count(), 2, "the rejection is not an attempt");
    assert!(
        matches!(error, ResilienceError::CircuitOpen { attempts: 2, .. }),
        "{error:?}"
    );

    let mut config = retrying(5);
    config.breaker = consecutive(2);
    config.breaker.open_wait_ms = 5_000;
    config.breaker.half_open_permits = 1;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let started = Instant::now();
    let value = pipeline
        .call(|| {
            let n = calls.hit();
            std::future::ready(if n <= 2 {
                Err(VendorError::status(503))
            } else {
                Ok(n)
            })
        })
        .await
        .expect("the breaker's wait fits the deadline");
    assert_eq!(value, 3);
    assert!(started.elapsed() >= Duration::from_secs(5));
}

/// A limiter that always grants and reports a fixed spare capacity.
struct Spare(Option<u32>);

impl Limiter for Spare {
    fn name(&self) -> &str {
        "spare"
    }

    async fn acquire(&self, _deadline: Option<Instant>) -> Result<(), RateLimited> {
        Ok(())
    }

    fn pause_until(&self, _until: Instant) {}

    fn spare(&self) -> Option<u32> {
        self.0
    }
}

/// No ratio budget and no floor: a retry is paid by spare capacity or a server hint, or not at all.
fn no_budget(mut config: PipelineConfig) -> PipelineConfig {
    config.retry.budget_ratio_pct = 0.0;
    config.retry.budget_floor_per_sec = 0.0;
    config
}

#[tokio::test(start_paused = true)]
async fn rt_9_without_an_attempt_cap_calls_outlast_45_percent_failures_within_the_deadline() {
    let mut config = no_budget(retrying(0));
    config.retry.base_ms = 250;
    config.retry.cap_ms = 4_000;
    config.rate_limits = vec![WindowConfig::fixed(
        120,
        Duration::from_secs(60),
        Duration::from_secs(1),
    )];
    let pipeline = Pipeline::new("tradier", &config, HttpClassifier).expect("valid");
    assert!(
        pipeline.descriptor().layers[1]
            .detail
            .starts_with("attempts until the deadline"),
        "{:?}",
        pipeline.descriptor()
    );
    let flaky = Mutex::new(SmallRng::seed_from_u64(45));
    let mut most = 0;
    let mut total = 0;
    for call in 0..50 {
        let calls = Calls::default();
        let started = Instant::now();
        let value = pipeline
            .call(|| {
                calls.hit();
                let fails = flaky.lock().expect("not poisoned").random_bool(0.45);
                std::future::ready(if fails {
                    Err(VendorError::connect())
                } else {
                    Ok(call)
                })
            })
            .await
            .expect("retried until success");
        assert_eq!(value, call);
        assert!(started.elapsed() < Duration::from_secs(60));
        most = most.max(calls.count());
        total += calls.count();
    }
    assert!(most > 3, "some calls needed more than 3 attempts: {most}");
    assert!(total <= 120, "all within one vendor window: {total}");
}

#[tokio::test(start_paused = true)]
async fn rt_10_a_429_with_a_hint_waits_exactly_the_hint_and_spends_no_budget() {
    let pipeline = Pipeline::new("vendor", &no_budget(retrying(0)), HttpClassifier).expect("valid");
    let calls = Calls::default();
    let starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let value = pipeline
        .call(|| {
            let n = calls.hit();
            starts.lock().expect("not poisoned").push(Instant::now());
            std::future::ready(if n <= 4 {
                Err(VendorError::status(429).with_hint(RetryHint::After(Duration::from_secs(7))))
            } else {
                Ok(n)
            })
        })
        .await
        .expect("the server's instructions are followed");
    assert_eq!(value, 5);
    {
        let starts = starts.lock().expect("not poisoned");
        assert_eq!(starts.len(), 5);
        for gap in starts.windows(2) {
            assert_eq!(gap[1] - gap[0], Duration::from_secs(7));
        }
    }

    // The same hint on a 503 is a failure: with no budget (and no spare capacity), no retry.
    let calls = Calls::default();
    let error = pipeline
        .call(failing(
            &calls,
            &Arc::default(),
            VendorError::status(503).with_hint(RetryHint::After(Duration::from_secs(7))),
        ))
        .await
        .expect_err("budget spent");
    assert_eq!(calls.count(), 1);
    assert!(matches!(error, ResilienceError::Inner { attempts: 1, .. }));
}

#[tokio::test(start_paused = true)]
async fn rt_11_spare_capacity_pays_for_retries_and_without_it_the_budget_stops_a_storm() {
    let pipeline = Pipeline::new("vendor", &no_budget(retrying(0)), HttpClassifier)
        .expect("valid")
        .with_limiter(Spare(Some(5)));
    let calls = Calls::default();
    let value = pipeline
        .call(|| {
            let n = calls.hit();
            std::future::ready(if n <= 3 {
                Err(VendorError::status(503))
            } else {
                Ok(n)
            })
        })
        .await
        .expect("the window's spare capacity pays");
    assert_eq!(value, 4);

    // RT-7 again with no attempt cap, behind a limiter whose window is spent.
    let mut config = retrying(0);
    config.breaker = consecutive(1_000_000);
    config.bulkhead.max_concurrent = 1_000;
    let pipeline = Arc::new(
        Pipeline::new("vendor", &config, HttpClassifier)
            .expect("valid")
            .with_limiter(Spare(Some(0))),
    );
    let calls = Calls::default();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1_000 {
        let (pipeline, calls) = (pipeline.clone(), calls.clone());
        tasks.spawn(async move {
            pipeline
                .call(failing(&calls, &Arc::default(), VendorError::status(503)))
                .await
        });
    }
    for result in tasks.join_all().await {
        let error = result.expect_err("total outage");
        assert_eq!(error.inner().and_then(|e| e.status), Some(503));
    }
    // 20 % of the 1,000 requests, plus the floor (1/s) over the 60-s deadline and one ttl.
    assert!(
        calls.count() <= 1_000 + 200 + 70,
        "attempts {}",
        calls.count()
    );
}

#[tokio::test(start_paused = true)]
async fn rt_12_non_idempotent_calls_are_never_retried_even_without_a_cap_or_budget_limits() {
    let pipeline = Pipeline::new("vendor", &retrying(0), HttpClassifier)
        .expect("valid")
        .with_limiter(Spare(Some(100)));
    let options = CallOptions {
        idempotency: Idempotency::NonIdempotent,
        ..CallOptions::default()
    };
    for error in [
        VendorError::status(503),
        VendorError::connect(),
        VendorError::status(429).with_hint(RetryHint::After(Duration::from_secs(1))),
    ] {
        let calls = Calls::default();
        let result = pipeline
            .call_with(options, failing(&calls, &Arc::default(), error))
            .await;
        assert!(result.is_err());
        assert_eq!(calls.count(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn rt_13_the_attempt_timeout_can_be_sized_per_call() {
    let mut config = retrying(2);
    config.retry.jitter = Jitter::None;
    config.attempt_timeout_ms = 10_000;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let started = Instant::now();
    let options = CallOptions {
        attempt_timeout: Some(Duration::from_secs(2)),
        ..CallOptions::default()
    };
    let error = pipeline
        .call_with(options, || {
            calls.hit();
            std::future::pending::<Result<(), VendorError>>()
        })
        .await
        .expect_err("hangs");
    // Attempts at 0 and 3 s (2-s timeout, 1-s backoff), the second timing out at 5 s.
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(calls.count(), 2);
    match error {
        ResilienceError::AttemptTimeout {
            timeout, attempts, ..
        } => {
            assert_eq!(timeout, Duration::from_secs(2));
            assert_eq!(attempts, 2);
        }
        other => panic!("expected AttemptTimeout, got {other:?}"),
    }

    // None, or zero, keeps the pipeline's 10 s.
    let started = Instant::now();
    let options = CallOptions {
        attempt_timeout: Some(Duration::ZERO),
        idempotency: Idempotency::NonIdempotent,
        ..CallOptions::default()
    };
    let _ = pipeline
        .call_with(options, std::future::pending::<Result<(), VendorError>>)
        .await;
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}
