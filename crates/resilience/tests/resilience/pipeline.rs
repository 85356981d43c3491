//! PL-1, PL-2 and configuration.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivcrush_resilience::{
    BulkheadConfig, CallOptions, HttpClassifier, Idempotency, Jitter, Pipeline, PipelineConfig,
    PolicyKind, ResilienceError, TripMode, WindowConfig,
};
use tokio::time::Instant;

use crate::support::{Calls, VendorError, consecutive, pipeline_config};

#[tokio::test(start_paused = true)]
async fn pl_1_every_retry_attempt_takes_a_limiter_token_and_is_seen_by_the_breaker() {
    let mut config = pipeline_config();
    config.retry.max_attempts = 3;
    config.retry.jitter = Jitter::None;
    config.breaker = consecutive(1_000);
    config.rate_limits = vec![WindowConfig::new(1, Duration::from_secs(10))];
    let pipeline = Pipeline::new("tradier", &config, HttpClassifier).expect("valid");
    let start = Instant::now();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let error = pipeline
        .call(|| {
            starts.lock().expect("not poisoned").push(start.elapsed());
            std::future::ready(Err::<(), _>(VendorError::status(503)))
        })
        .await
        .expect_err("always 503");
    assert_eq!(
        *starts.lock().expect("not poisoned"),
        [0, 10, 20].map(Duration::from_secs),
        "each attempt waited for its own token"
    );
    assert_eq!(pipeline.breaker().snapshot().totals.failure, 3);
    assert_eq!(error.refused_by(), None, "the inner error, not a policy");
    assert_eq!(error.attempts(), 3);
}

#[tokio::test(start_paused = true)]
async fn pl_1_the_error_names_the_policy_that_refused() {
    let mut config = pipeline_config();
    config.deadline_ms = 5_000;
    config.rate_limits = vec![WindowConfig::new(1, Duration::from_secs(60))];
    let pipeline = Pipeline::new("tradier", &config, HttpClassifier).expect("valid");
    let ok = || async { Ok::<_, VendorError>(()) };
    pipeline.call(ok).await.expect("first");
    let limited = pipeline.call(ok).await.expect_err("limited");
    assert_eq!(limited.refused_by(), Some(PolicyKind::RateLimiter));
    assert!(limited.to_string().contains("tradier"), "{limited}");

    pipeline.breaker().force_open();
    let open = pipeline.call(ok).await.expect_err("open");
    assert_eq!(open.refused_by(), Some(PolicyKind::CircuitBreaker));
    assert!(
        open.to_string()
            .contains("circuit breaker `tradier` is open"),
        "{open}"
    );
}

#[tokio::test(start_paused = true)]
async fn pl_2_the_order_is_deadline_retry_breaker_limiter_bulkhead_timeout() {
    let mut config = pipeline_config();
    config.deadline_ms = 5_000;
    config.rate_limits = vec![WindowConfig::new(1, Duration::from_secs(60))];
    config.bulkhead = BulkheadConfig {
        max_concurrent: 1,
        max_queued: 0,
    };
    let pipeline = Arc::new(Pipeline::new("tradier", &config, HttpClassifier).expect("valid"));
    assert_eq!(
        pipeline.descriptor().order(),
        vec![
            PolicyKind::Deadline,
            PolicyKind::Retry,
            PolicyKind::CircuitBreaker,
            PolicyKind::RateLimiter,
            PolicyKind::Bulkhead,
            PolicyKind::AttemptTimeout,
        ]
    );

    // Take the only token and the only slot with a hanging call.
    let hanging = pipeline.clone();
    let holder = tokio::spawn(async move {
        hanging
            .call(std::future::pending::<Result<(), VendorError>>)
            .await
    });
    tokio::task::yield_now().await;
    assert_eq!(pipeline.bulkhead().available(), 0);
    // Limiter before bulkhead: the empty limiter answers, not the full bulkhead.
    let ok = || async { Ok::<_, VendorError>(()) };
    let error = pipeline.call(ok).await.expect_err("refused");
    assert_eq!(error.refused_by(), Some(PolicyKind::RateLimiter));
    // Breaker before limiter.
    pipeline.breaker().force_open();
    let error = pipeline.call(ok).await.expect_err("refused");
    assert_eq!(error.refused_by(), Some(PolicyKind::CircuitBreaker));
    // The deadline bounds the hanging call (our own refusal: not counted by the breaker).
    pipeline.breaker().reset();
    let held = holder.await.expect("no panic").expect_err("deadline");
    assert!(
        matches!(held, ResilienceError::DeadlineExceeded { attempts: 1, .. }),
        "{held:?}"
    );
    assert_eq!(pipeline.breaker().snapshot().totals.failure, 0);
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_calls_are_never_retried() {
    let pipeline = Pipeline::new("tradier", &pipeline_config(), HttpClassifier).expect("valid");
    let calls = Calls::default();
    let options = CallOptions {
        idempotency: Idempotency::NonIdempotent,
        ..CallOptions::default()
    };
    let _ = pipeline
        .call_with(options, || {
            calls.hit();
            async { Err::<(), _>(VendorError::connect()) }
        })
        .await;
    assert_eq!(calls.count(), 1);
}

#[test]
fn config_reads_from_json_with_spec_defaults_for_missing_fields() {
    let defaults: PipelineConfig = serde_json::from_str("{}").expect("empty is valid");
    assert_eq!(defaults, PipelineConfig::default());
    assert_eq!(defaults.deadline_ms, 60_000);
    assert_eq!(defaults.attempt_timeout_ms, 10_000);
    assert_eq!(defaults.breaker.consecutive_failures, 5);
    assert_eq!(defaults.breaker.half_open_permits, 3);
    assert_eq!(defaults.retry.max_attempts, 3);
    assert_eq!(defaults.bulkhead.max_concurrent, 8);

    let config: PipelineConfig = serde_json::from_str(
        r#"{
            "breaker": { "mode": "time_window", "window_ms": 60000, "min_calls": 20 },
            "retry": { "jitter": "decorrelated", "max_attempts": 4 },
            "rate_limits": [ { "limit": 120, "window_ms": 60000 }, { "limit": 2, "window_ms": 1000 } ]
        }"#,
    )
    .expect("valid");
    assert_eq!(config.breaker.mode, TripMode::TimeWindow);
    assert_eq!(config.retry.jitter, Jitter::Decorrelated);
    assert_eq!(config.rate_limits[0].burst, 1);
    assert!(Pipeline::new("tradier", &config, HttpClassifier).is_ok());

    let mut until_deadline = PipelineConfig::default();
    until_deadline.retry.max_attempts = 0;
    assert!(
        Pipeline::new("tradier", &until_deadline, HttpClassifier).is_ok(),
        "0 = no attempt cap"
    );

    let mut bad = PipelineConfig::default();
    bad.retry.factor = 0.5;
    bad.breaker.half_open_permits = 0;
    bad.rate_limits = vec![WindowConfig::new(0, Duration::from_secs(1))];
    let error = Pipeline::new("tradier", &bad, HttpClassifier).expect_err("invalid");
    assert_eq!(error.problems.len(), 3, "every problem at once: {error}");
}

#[tokio::test(start_paused = true)]
async fn metrics_use_the_spec_names_and_count_every_attempt() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut config = pipeline_config();
    config.breaker = consecutive(1_000);
    config.rate_limits = vec![WindowConfig::new(100, Duration::from_secs(1))];
    let pipeline = metrics::with_local_recorder(&recorder, || {
        Pipeline::new("tradier", &config, HttpClassifier).expect("valid")
    });
    let _ = pipeline
        .call(|| async { Err::<(), _>(VendorError::status(503)) })
        .await;
    let mut values = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let outcome = key
            .labels()
            .find(|l| l.key() == "outcome")
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        let value = match value {
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(v) => v.into_inner(),
            DebugValue::Histogram(v) => v.len() as f64,
        };
        *values
            .entry((key.name().to_owned(), outcome))
            .or_insert(0.0) += value;
    }
    let get =
        |name: &str, outcome: &str| values.get(&(name.to_owned(), outcome.to_owned())).copied();
    assert_eq!(get("ivcrush_retry_attempts_total", "retry"), Some(2.0));
    assert_eq!(get("ivcrush_retry_attempts_total", "failure"), Some(1.0));
    assert_eq!(get("ivcrush_retry_attempts_total", "success"), Some(0.0));
    assert_eq!(
        get("ivcrush_circuit_breaker_calls_total", "failure"),
        Some(3.0)
    );
    assert_eq!(
        get("ivcrush_circuit_breaker_state", ""),
        Some(1.0),
        "a state set: the five series sum to one"
    );
    assert_eq!(
        get("ivcrush_circuit_breaker_transitions_total", ""),
        Some(0.0)
    );
    assert!(get("ivcrush_rate_limiter_wait_seconds", "").is_some());
    assert!(get("ivcrush_rate_limiter_rejected_total", "").is_some());
    assert!(get("ivcrush_bulkhead_rejected_total", "").is_some());
}

#[tokio::test(start_paused = true)]
async fn a_call_may_queue_for_the_next_window_when_quota_wait_allows() {
    let mut config = pipeline_config();
    config.deadline_ms = 5_000;
    config.rate_limits = vec![WindowConfig::fixed(
        2,
        Duration::from_secs(60),
        Duration::from_secs(1),
    )];
    let ok = || std::future::ready(Ok::<_, VendorError>(()));

    // Without quota_wait the deadline covers the wait: the third call is refused at once.
    let strict = Pipeline::new("strict", &config, HttpClassifier).expect("valid");
    strict.call(ok).await.expect("1");
    strict.call(ok).await.expect("2");
    let refused = strict.call(ok).await.expect_err("window spent");
    assert_eq!(refused.refused_by(), Some(PolicyKind::RateLimiter));

    // With it, the call waits for the next window (61 s), then has its whole deadline.
    config.quota_wait_ms = 120_000;
    let patient = Pipeline::new("patient", &config, HttpClassifier).expect("valid");
    patient.call(ok).await.expect("1");
    patient.call(ok).await.expect("2");
    let start = Instant::now();
    let calls = Arc::new(Mutex::new(0u32));
    patient
        .call(|| {
            let mut n = calls.lock().expect("not poisoned");
            *n += 1;
            // The first attempt fails: the retry still fits the deadline started at the grant.
            std::future::ready(if *n == 1 {
                Err(VendorError::status(503))
            } else {
                Ok(())
            })
        })
        .await
        .expect("granted in the next window");
    assert!(
        start.elapsed() >= Duration::from_secs(61),
        "{:?}",
        start.elapsed()
    );
    // A wait beyond quota_wait is still refused.
    config.quota_wait_ms = 10_000;
    let short = Pipeline::new("short", &config, HttpClassifier).expect("valid");
    short.call(ok).await.expect("1");
    short.call(ok).await.expect("2");
    assert_eq!(
        short.call(ok).await.expect_err("61 s > 10 s").refused_by(),
        Some(PolicyKind::RateLimiter)
    );
}
