//! CB-1 … CB-16.

use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use ivcrush_resilience::{
    BreakerConfig, BreakerEvent, BreakerState, CircuitBreaker, Classifier, HttpClassifier, Outcome,
    Pipeline, ResilienceError, TripMode,
};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::advance;

use crate::support::{
    Calls, VendorError, breaker, call, call_taking, consecutive, count_window, pipeline_config,
};

const F: Outcome = Outcome::Failure;
const S: Outcome = Outcome::Success;

#[test]
fn cb_1_consecutive_opens_after_exactly_n_failures_and_a_success_resets_the_count() {
    let b = breaker(consecutive(5));
    for _ in 0..4 {
        call(&b, F);
    }
    assert_eq!(b.state(), BreakerState::Closed, "4 failures are not enough");
    call(&b, F);
    assert_eq!(b.state(), BreakerState::Open, "the 5th failure opens");

    let b = breaker(consecutive(5));
    for outcome in [F, F, S, F, F, F, F] {
        call(&b, outcome);
    }
    assert_eq!(b.state(), BreakerState::Closed, "the success reset the run");
}

#[test]
fn cb_2_window_is_not_judged_before_min_calls_then_opens_at_60_percent() {
    let b = breaker(count_window(5, 5, 50.0));
    for outcome in [F, F, F, S] {
        call(&b, outcome);
    }
    let before = b.snapshot();
    assert_eq!(before.state, BreakerState::Closed, "3/4 is not judged yet");
    assert_eq!(before.buffered_calls, 4);
    call(&b, S);
    let after = b.snapshot();
    assert_eq!(after.state, BreakerState::Open, "3/5 = 60 % opens");
    assert_eq!(
        (
            after.buffered_calls,
            after.failed_calls,
            after.not_permitted_calls
        ),
        (5, 3, 0)
    );
    assert!(b.try_acquire().is_err(), "a 6th call is rejected");
    assert_eq!(b.snapshot().not_permitted_calls, 1);
}

#[test]
fn cb_3_threshold_is_inclusive_at_50_percent_and_49_percent_stays_closed() {
    let b = breaker(count_window(2, 2, 50.0));
    call(&b, F);
    call(&b, S);
    assert_eq!(b.state(), BreakerState::Open, "exactly 50 % opens");

    let b = breaker(count_window(100, 100, 50.0));
    for _ in 0..51 {
        call(&b, S);
    }
    for _ in 0..49 {
        call(&b, F);
    }
    assert_eq!(b.snapshot().buffered_calls, 100);
    assert_eq!(b.state(), BreakerState::Closed, "49 % stays closed");
}

#[test]
fn cb_4_count_window_evicts_the_oldest_outcome() {
    let b = breaker(count_window(4, 4, 75.0));
    for outcome in [S, F, F, S] {
        call(&b, outcome);
    }
    assert_eq!(b.state(), BreakerState::Closed, "S,F,F,S = 50 %");
    call(&b, F);
    let snapshot = b.snapshot();
    assert_eq!(snapshot.state, BreakerState::Open, "F,F,S,F = 75 %");
    assert_eq!((snapshot.buffered_calls, snapshot.failed_calls), (4, 3));
}

fn time_window(secs: u64, min_calls: u32) -> BreakerConfig {
    BreakerConfig {
        mode: TripMode::TimeWindow,
        window_ms: secs * 1_000,
        min_calls,
        failure_rate_pct: 50.0,
        ..BreakerConfig::default()
    }
}

#[tokio::test(start_paused = true)]
async fn cb_5_time_window_judges_recent_calls_and_forgets_old_ones() {
    let b = breaker(time_window(20, 5));
    for outcome in [S, S, S, F, F] {
        call(&b, outcome);
        advance(Duration::from_secs(1)).await;
    }
    assert_eq!(b.state(), BreakerState::Closed, "2/5 = 40 %");
    call(&b, F);
    assert_eq!(b.state(), BreakerState::Open, "3/6 = 50 %");

    let b = breaker(time_window(20, 5));
    for _ in 0..4 {
        call(&b, F);
        advance(Duration::from_secs(1)).await;
    }
    advance(Duration::from_secs(61)).await;
    call(&b, F);
    let snapshot = b.snapshot();
    assert_eq!(
        snapshot.state,
        BreakerState::Closed,
        "old buckets are forgotten"
    );
    assert_eq!(snapshot.buffered_calls, 1);
}

fn slow_config() -> BreakerConfig {
    BreakerConfig {
        slow_call_ms: 4_000,
        slow_rate_pct: 50.0,
        ..count_window(10, 5, 50.0)
    }
}

#[test]
fn cb_6_slow_calls_open_by_the_slow_rule_and_the_threshold_itself_is_not_slow() {
    let b = breaker(slow_config());
    call_taking(&b, S, Duration::from_secs(4));
    assert_eq!(b.snapshot().slow_calls, 0, "exactly 4 s is not slow");
    call_taking(&b, S, Duration::from_secs(4) + Duration::from_nanos(1));
    assert_eq!(b.snapshot().slow_calls, 1, "4 s + 1 ns is slow");

    let b = breaker(slow_config());
    for _ in 0..3 {
        call_taking(&b, S, Duration::from_secs(5));
    }
    call(&b, S);
    call(&b, S);
    let snapshot = b.snapshot();
    assert_eq!(snapshot.state, BreakerState::Open, "3/5 slow ≥ 50 %");
    assert_eq!(snapshot.failed_calls, 0, "failure rate 0 %");

    let b = breaker(slow_config());
    call_taking(&b, F, Duration::from_secs(5));
    let snapshot = b.snapshot();
    assert_eq!((snapshot.failed_calls, snapshot.slow_calls), (1, 1));
    assert_eq!((snapshot.totals.failure, snapshot.totals.slow), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn cb_7_open_rejects_at_once_without_invoking_the_inner_call() {
    let mut config = pipeline_config();
    config.breaker = consecutive(1);
    config.retry.max_attempts = 1;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let calls = Calls::default();
    let fail = || {
        let calls = calls.clone();
        async move {
            calls.hit();
            Err::<(), _>(VendorError::status(503))
        }
    };
    assert!(pipeline.call(fail).await.is_err());
    assert_eq!(pipeline.breaker().state(), BreakerState::Open);
    advance(Duration::from_secs(10)).await;
    let error = pipeline.call(fail).await.expect_err("open");
    assert_eq!(calls.count(), 1, "the inner call is never invoked");
    match error {
        ResilienceError::CircuitOpen { name, retry_in, .. } => {
            assert_eq!(&*name, "vendor");
            assert_eq!(retry_in, Duration::from_secs(50));
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(pipeline.breaker().snapshot().totals.rejected, 1);

    let b = pipeline.breaker();
    advance(Duration::from_millis(49_999)).await;
    let rejected = b.try_acquire().expect_err("wait − 1 ms");
    assert_eq!(rejected.retry_in, Duration::from_millis(1));
    advance(Duration::from_millis(2)).await;
    let trial = b.try_acquire().expect("wait + 1 ms passes");
    assert!(trial.is_trial());
    assert_eq!(b.state(), BreakerState::HalfOpen);
}

fn half_open_config(permits: u32) -> BreakerConfig {
    BreakerConfig {
        half_open_permits: permits,
        open_wait_ms: 60_000,
        ..consecutive(1)
    }
}

#[tokio::test(start_paused = true)]
async fn cb_8_half_open_admits_exactly_n_trials_again_after_each_reopen() {
    let b = breaker(half_open_config(4));
    call(&b, F);
    for round in 0..2 {
        advance(Duration::from_secs(60)).await;
        let trials: Vec<_> = (0..4).map(|_| b.try_acquire().expect("trial")).collect();
        assert!(b.try_acquire().is_err(), "5th fails (round {round})");
        assert!(b.try_acquire().is_err(), "6th fails (round {round})");
        let mut trials = trials.into_iter();
        trials.next().expect("4 trials").record(F, Duration::ZERO);
        assert_eq!(b.state(), BreakerState::Open);
    }
}

#[tokio::test(start_paused = true)]
async fn cb_8_sixty_four_tasks_racing_at_the_end_of_the_wait_admit_exactly_n() {
    let b = breaker(half_open_config(3));
    call(&b, F);
    advance(Duration::from_secs(60)).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(64));
    let admitted = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..64 {
        let (b, barrier, admitted) = (b.clone(), barrier.clone(), admitted.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let permit = b.try_acquire();
            if let Ok(permit) = permit {
                admitted.lock().expect("not poisoned").push(task);
                tokio::time::sleep(Duration::from_millis(10)).await;
                permit.record(S, Duration::ZERO);
            }
        });
    }
    tasks.join_all().await;
    assert_eq!(admitted.lock().expect("not poisoned").len(), 3);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn cb_8_sixty_four_threads_racing_in_parallel_admit_exactly_n() {
    for _ in 0..20 {
        let b = breaker(BreakerConfig {
            open_wait_ms: 0,
            ..half_open_config(3)
        });
        call(&b, F);
        let barrier = Arc::new(Barrier::new(64));
        let admitted: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..64)
                .map(|_| {
                    let (b, barrier) = (&b, barrier.clone());
                    scope.spawn(move || {
                        barrier.wait();
                        let permit = b.try_acquire();
                        barrier.wait();
                        usize::from(permit.is_ok())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("no panic"))
                .sum()
        });
        assert_eq!(admitted, 3);
    }
}

#[tokio::test(start_paused = true)]
async fn cb_9_n_trial_successes_close_with_fresh_counts_and_a_failure_reopens_with_a_full_wait() {
    let b = breaker(BreakerConfig {
        half_open_permits: 2,
        ..count_window(10, 1, 50.0)
    });
    call(&b, F);
    assert_eq!(b.state(), BreakerState::Open);
    advance(Duration::from_secs(60)).await;
    call(&b, S);
    assert_eq!(b.state(), BreakerState::HalfOpen);
    call(&b, S);
    let snapshot = b.snapshot();
    assert_eq!(snapshot.state, BreakerState::Closed);
    assert_eq!((snapshot.buffered_calls, snapshot.failed_calls), (0, 0));

    call(&b, F);
    advance(Duration::from_secs(60)).await;
    let trial = b.try_acquire().expect("trial");
    advance(Duration::from_secs(5)).await;
    trial.record(F, Duration::from_secs(5));
    let snapshot = b.snapshot();
    assert_eq!(snapshot.state, BreakerState::Open);
    assert_eq!(
        snapshot.retry_in_ms,
        Some(60_000),
        "a new full wait from the reopen"
    );
}

#[tokio::test(start_paused = true)]
async fn cb_9_with_growth_the_wait_doubles_up_to_the_cap() {
    let b = breaker(BreakerConfig {
        open_wait_ms: 1_000,
        open_wait_growth: true,
        open_wait_max_ms: 5_000,
        half_open_permits: 1,
        ..consecutive(1)
    });
    call(&b, F);
    let mut waits = Vec::new();
    for _ in 0..5 {
        let wait = b.snapshot().retry_in_ms.expect("open");
        waits.push(wait);
        advance(Duration::from_millis(wait)).await;
        call(&b, F);
    }
    assert_eq!(waits, vec![1_000, 2_000, 4_000, 5_000, 5_000]);
}

#[tokio::test(start_paused = true)]
async fn cb_10_ignored_dropped_and_cancelled_trials_return_their_permits() {
    let b = breaker(half_open_config(1));
    call(&b, F);
    advance(Duration::from_secs(60)).await;
    b.try_acquire()
        .expect("trial")
        .record(Outcome::Ignored, Duration::ZERO);
    drop(
        b.try_acquire()
            .expect("the ignored trial returned its permit"),
    );
    let trial = b
        .try_acquire()
        .expect("the dropped trial returned its permit");
    assert!(b.try_acquire().is_err(), "only one permit");
    drop(trial);

    // A trial future cancelled from outside (caller's timeout) returns its permit too.
    let mut config = pipeline_config();
    config.breaker = half_open_config(1);
    config.retry.max_attempts = 1;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let _ = pipeline
        .call(|| async { Err::<(), _>(VendorError::status(500)) })
        .await;
    advance(Duration::from_secs(60)).await;
    let hanging = pipeline.call(std::future::pending::<Result<(), VendorError>>);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), hanging)
            .await
            .is_err()
    );
    assert_eq!(pipeline.breaker().state(), BreakerState::HalfOpen);
    assert!(
        pipeline.breaker().try_acquire().is_ok(),
        "never HALF_OPEN with no permits and nothing in flight"
    );
}

#[test]
fn cb_11_a_thousand_404s_and_25_503s_keep_the_breaker_closed() {
    let classifier = HttpClassifier;
    let traffic: Vec<VendorError> = (0..1_025)
        .map(|i| VendorError::status(if i % 41 == 0 { 503 } else { 404 }))
        .collect();
    assert_eq!(traffic.iter().filter(|e| e.status == Some(503)).count(), 25);
    let b = breaker(count_window(2_000, 20, 50.0));
    for error in &traffic {
        call(&b, classifier.classify(error));
    }
    let snapshot = b.snapshot();
    assert_eq!(snapshot.state, BreakerState::Closed, "25/1025 = 2.4 %");
    assert_eq!(
        (snapshot.buffered_calls, snapshot.failed_calls),
        (1_025, 25)
    );

    let ignoring_404 = |e: &VendorError| match e.status {
        Some(404) => Outcome::Ignored,
        _ => HttpClassifier.classify(e),
    };
    let b = breaker(count_window(2_000, 20, 50.0));
    for error in &traffic {
        if let Ok(permit) = b.try_acquire() {
            permit.record(ignoring_404(error), Duration::ZERO);
        }
    }
    assert_eq!(
        b.state(),
        BreakerState::Open,
        "25/25 = 100 % if 404 were ignored"
    );
}

#[tokio::test(start_paused = true)]
async fn cb_11_429s_and_our_own_rejections_never_change_the_counts() {
    let b = breaker(count_window(10, 2, 50.0));
    call(&b, S);
    call(&b, HttpClassifier.classify(&VendorError::status(429)));
    let snapshot = b.snapshot();
    assert_eq!((snapshot.buffered_calls, snapshot.totals.ignored), (1, 1));

    let mut config = pipeline_config();
    config.breaker = count_window(10, 1, 50.0);
    config.rate_limits = vec![ivcrush_resilience::WindowConfig::new(
        1,
        Duration::from_secs(60),
    )];
    config.deadline_ms = 1_000;
    config.bulkhead.max_concurrent = 1;
    config.bulkhead.max_queued = 0;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let ok = || async { Ok::<_, VendorError>(()) };
    pipeline.call(ok).await.expect("first call passes");
    let limited = pipeline.call(ok).await.expect_err("limiter refuses");
    assert!(matches!(limited, ResilienceError::RateLimited { .. }));
    let snapshot = pipeline.breaker().snapshot();
    assert_eq!(
        snapshot.buffered_calls, 1,
        "the limiter refusal is not counted"
    );
    assert_eq!(snapshot.state, BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn cb_12_a_late_outcome_from_an_earlier_generation_causes_no_transition() {
    let b = breaker(BreakerConfig {
        half_open_permits: 2,
        ..consecutive(1)
    });
    let early_failure = b.try_acquire().expect("closed");
    let early_success = b.try_acquire().expect("closed");
    call(&b, F);
    advance(Duration::from_secs(60)).await;
    let trial = b.try_acquire().expect("trial");
    assert_eq!(b.state(), BreakerState::HalfOpen);
    early_failure.record(F, Duration::ZERO);
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen,
        "a late failure does not reopen"
    );
    early_success.record(S, Duration::ZERO);
    trial.record(S, Duration::ZERO);
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen,
        "a late success is no trial success"
    );
    let totals = b.snapshot().totals;
    assert_eq!((totals.failure, totals.success, totals.late), (2, 2, 2));
}

#[test]
fn cb_13_manual_states_force_open_disable_and_reset() {
    let b = breaker(consecutive(1));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    b.add_listener(move |e: &BreakerEvent| sink.lock().expect("not poisoned").push((e.from, e.to)));

    b.force_open();
    for _ in 0..3 {
        let rejected = b.try_acquire().expect_err("forced open");
        assert_eq!(rejected.retry_in, Duration::MAX);
    }
    b.force_open();
    b.reset();
    assert_eq!(b.state(), BreakerState::Closed);
    b.disable();
    for _ in 0..10 {
        call(&b, F);
    }
    let snapshot = b.snapshot();
    assert_eq!(snapshot.state, BreakerState::Disabled);
    assert_eq!(snapshot.totals.failure, 0, "disabled records nothing");
    b.reset();
    b.reset();
    let snapshot = b.snapshot();
    assert_eq!(
        (
            snapshot.state,
            snapshot.buffered_calls,
            snapshot.failed_calls
        ),
        (BreakerState::Closed, 0, 0)
    );
    assert_eq!(
        *events.lock().expect("not poisoned"),
        vec![
            (BreakerState::Closed, BreakerState::ForcedOpen),
            (BreakerState::ForcedOpen, BreakerState::Closed),
            (BreakerState::Closed, BreakerState::Disabled),
            (BreakerState::Disabled, BreakerState::Closed),
        ],
        "no event for a transition to the current state"
    );
}

#[test]
fn cb_15_listeners_may_read_and_change_the_breaker_without_deadlock() {
    let b = breaker(consecutive(1));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (sink, handle) = (seen.clone(), b.clone());
    b.add_listener(move |e: &BreakerEvent| {
        sink.lock()
            .expect("not poisoned")
            .push((e.to, handle.snapshot().state));
        if e.to == BreakerState::Open {
            handle.force_open();
        }
    });
    call(&b, F);
    assert_eq!(b.state(), BreakerState::ForcedOpen);
    assert_eq!(
        *seen.lock().expect("not poisoned"),
        vec![
            (BreakerState::Open, BreakerState::Open),
            (BreakerState::ForcedOpen, BreakerState::ForcedOpen),
        ],
        "the nested transition is delivered after the first, in order"
    );
}

#[test]
fn cb_13_registry_lists_resets_and_forces_open_by_name() {
    let registry = ivcrush_resilience::BreakerRegistry::new();
    registry.register(CircuitBreaker::new("tradier", consecutive(1)).expect("valid"));
    registry.register(CircuitBreaker::new("alpha_vantage", consecutive(1)).expect("valid"));
    assert!(registry.force_open("tradier"));
    assert!(!registry.force_open("nobody"));
    let list = registry.list();
    let names: Vec<_> = list.iter().map(|s| (s.name.as_str(), s.state)).collect();
    assert_eq!(
        names,
        vec![
            ("alpha_vantage", BreakerState::Closed),
            ("tradier", BreakerState::ForcedOpen)
        ]
    );
    assert!(registry.reset("tradier"));
    assert_eq!(
        registry.get("tradier").expect("registered").state(),
        BreakerState::Closed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cb_14_sixty_four_tasks_of_ten_thousand_calls_each_keep_exact_totals() {
    const TASKS: usize = 64;
    const CALLS: usize = TASKS * 10_000;
    let mut rng = SmallRng::seed_from_u64(14);
    let table: Arc<Vec<(Outcome, bool)>> = Arc::new(
        (0..CALLS)
            .map(|_| {
                let outcome = match rng.random_range(0..100) {
                    0..60 => S,
                    60..85 => F,
                    _ => Outcome::Ignored,
                };
                (outcome, rng.random_bool(0.1))
            })
            .collect(),
    );
    let b = breaker(BreakerConfig {
        open_wait_ms: 0,
        half_open_permits: 3,
        slow_call_ms: 1_000,
        ..count_window(20, 10, 50.0)
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    b.add_listener(move |e: &BreakerEvent| sink.lock().expect("not poisoned").push((e.from, e.to)));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let (b, table) = (b.clone(), table.clone());
        tasks.spawn(async move {
            // [success, failure, slow, ignored, rejected]
            let mut seen = [0u64; 5];
            for (outcome, slow) in table.iter().skip(task).step_by(TASKS) {
                match b.try_acquire() {
                    Err(_) => seen[4] += 1,
                    Ok(permit) => {
                        let duration = if *slow {
                            Duration::from_secs(2)
                        } else {
                            Duration::ZERO
                        };
                        permit.record(*outcome, duration);
                        match outcome {
                            Outcome::Success => seen[0] += 1,
                            Outcome::Failure => seen[1] += 1,
                            Outcome::Ignored => seen[3] += 1,
                        }
                        if *slow && *outcome != Outcome::Ignored {
                            seen[2] += 1;
                        }
                    }
                }
                tokio::task::yield_now().await;
            }
            seen
        });
    }
    let mut expected = [0u64; 5];
    for seen in tasks.join_all().await {
        for (total, n) in expected.iter_mut().zip(seen) {
            *total += n;
        }
    }
    let totals = b.snapshot().totals;
    assert_eq!(
        [
            totals.success,
            totals.failure,
            totals.slow,
            totals.ignored,
            totals.rejected
        ],
        expected
    );
    assert_eq!(
        expected[0] + expected[1] + expected[3] + expected[4],
        CALLS as u64
    );
    let events = events.lock().expect("not poisoned");
    assert!(!events.is_empty(), "the table makes the breaker trip");
    let mut state = BreakerState::Closed;
    for (from, to) in events.iter() {
        assert_eq!(*from, state, "events form a valid sequence");
        assert!(matches!(
            (from, to),
            (BreakerState::Closed, BreakerState::Open)
                | (BreakerState::Open, BreakerState::HalfOpen)
                | (BreakerState::HalfOpen, BreakerState::Open)
                | (BreakerState::HalfOpen, BreakerState::Closed)
        ));
        state = *to;
    }
    assert_eq!(state, b.state());
}

#[test]
fn cb_15_each_transition_yields_one_event_one_log_line_and_one_metric() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let b = metrics::with_local_recorder(&recorder, || {
        breaker(BreakerConfig {
            open_wait_ms: 0,
            half_open_permits: 1,
            ..consecutive(1)
        })
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    b.add_listener(move |e: &BreakerEvent| {
        sink.lock()
            .expect("not poisoned")
            .push((e.name.to_string(), e.from, e.to))
    });
    let logs = crate::support::capture_logs(|| {
        call(&b, F); // CLOSED → OPEN
        call(&b, S); // OPEN → HALF_OPEN → CLOSED
        b.force_open(); // CLOSED → FORCED_OPEN
        let _ = b.try_acquire(); // rejected
    });
    assert_eq!(events.lock().expect("not poisoned").len(), 4);
    let transition_lines: Vec<_> = logs
        .lines()
        .filter(|l| l.contains("circuit breaker transition"))
        .collect();
    assert_eq!(transition_lines.len(), 4, "{logs}");
    assert!(
        transition_lines
            .iter()
            .all(|l| l.contains("breaker=vendor")),
        "{logs}"
    );

    let mut transitions = Vec::new();
    let mut gauge = None;
    let mut rejected = 0;
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let label = |name: &str| {
            key.labels()
                .find(|l| l.key() == name)
                .map(|l| l.value().to_owned())
                .unwrap_or_default()
        };
        match (key.name(), value) {
            ("ivcrush_circuit_breaker_transitions_total", DebugValue::Counter(n)) if n > 0 => {
                transitions.push((label("from"), label("to"), n));
            }
            ("ivcrush_circuit_breaker_state", DebugValue::Gauge(v)) if v.into_inner() == 1.0 => {
                assert!(gauge.is_none(), "one state at a time");
                gauge = Some(label("state"));
            }
            ("ivcrush_circuit_breaker_calls_total", DebugValue::Counter(n))
                if label("outcome") == "rejected" =>
            {
                rejected = n;
            }
            _ => {}
        }
    }
    transitions.sort();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        transitions,
        vec![
            (s("closed"), s("forced_open"), 1),
            (s("closed"), s("open"), 1),
            (s("half_open"), s("closed"), 1),
            (s("open"), s("half_open"), 1),
        ]
    );
    assert_eq!(
        gauge.as_deref(),
        Some("forced_open"),
        "the state set shows forced_open"
    );
    assert_eq!(rejected, 1);
}

/// A slow reference model: the window is a plain `Vec` recounted at every step.
#[derive(Debug)]
struct Model {
    state: BreakerState,
    calls: Vec<(bool, bool)>,
    size: usize,
    min_calls: usize,
    opened_at_ms: u64,
    wait_ms: u64,
    permits: u32,
    trials_left: u32,
    trial_successes: u32,
    totals: [u64; 5],
}

impl Model {
    fn step(&mut self, now_ms: u64, outcome: Outcome, slow: bool) {
        let admitted_trial = match self.state {
            BreakerState::Closed => false,
            BreakerState::Open if now_ms >= self.opened_at_ms + self.wait_ms => {
                self.state = BreakerState::HalfOpen;
                self.trials_left = self.permits;
                self.trial_successes = 0;
                self.calls.clear();
                true
            }
            BreakerState::HalfOpen => true,
            _ => {
                self.totals[4] += 1;
                return;
            }
        };
        if admitted_trial {
            if self.trials_left == 0 {
                self.totals[4] += 1;
                return;
            }
            self.trials_left -= 1;
        }
        match outcome {
            Outcome::Ignored => {
                self.totals[3] += 1;
                if admitted_trial {
                    self.trials_left += 1;
                }
                return;
            }
            Outcome::Success => self.totals[0] += 1,
            Outcome::Failure => self.totals[1] += 1,
        }
        self.totals[2] += u64::from(slow);
        let failed = outcome == Outcome::Failure;
        if admitted_trial {
            if failed {
                self.state = BreakerState::Open;
                self.opened_at_ms = now_ms;
            } else {
                self.trial_successes += 1;
                if self.trial_successes == self.permits {
                    self.state = BreakerState::Closed;
                    self.calls.clear();
                }
            }
            return;
        }
        self.calls.push((failed, slow));
        if self.calls.len() > self.size {
            self.calls.remove(0);
        }
        let n = self.calls.len();
        let failures = self.calls.iter().filter(|c| c.0).count();
        let slows = self.calls.iter().filter(|c| c.1).count();
        if n >= self.min_calls && (failures * 2 >= n || slows * 2 >= n) {
            self.state = BreakerState::Open;
            self.opened_at_ms = now_ms;
        }
    }
}

fn outcome_strategy() -> impl Strategy<Value = (Outcome, bool, u64)> {
    (
        prop_oneof![Just(S), Just(F), Just(Outcome::Ignored)],
        any::<bool>(),
        prop_oneof![Just(0u64), Just(100), Just(2_000)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn cb_16_breaker_matches_a_slow_reference_model_after_every_step(
        size in 1usize..8,
        min_calls in 1usize..8,
        steps in proptest::collection::vec(outcome_strategy(), 1..120),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let b = breaker(BreakerConfig {
                slow_call_ms: 1_000,
                slow_rate_pct: 50.0,
                open_wait_ms: 1_000,
                half_open_permits: 2,
                ..count_window(size as u32, min_calls as u32, 50.0)
            });
            let mut model = Model {
                state: BreakerState::Closed,
                calls: Vec::new(),
                size,
                min_calls,
                opened_at_ms: 0,
                wait_ms: 1_000,
                permits: 2,
                trials_left: 0,
                trial_successes: 0,
                totals: [0; 5],
            };
            let mut now_ms = 0;
            for (outcome, slow, advance_ms) in steps {
                advance(Duration::from_millis(advance_ms)).await;
                now_ms += advance_ms;
                let duration = if slow { Duration::from_secs(2) } else { Duration::ZERO };
                if let Ok(permit) = b.try_acquire() {
                    permit.record(outcome, duration);
                }
                model.step(now_ms, outcome, slow);
                let snapshot = b.snapshot();
                prop_assert_eq!(snapshot.state, model.state);
                let t = snapshot.totals;
                prop_assert_eq!([t.success, t.failure, t.slow, t.ignored, t.rejected], model.totals);
                if model.state == BreakerState::Closed {
                    let failures = model.calls.iter().filter(|c| c.0).count() as u32;
                    prop_assert_eq!(snapshot.buffered_calls, model.calls.len() as u32);
                    prop_assert_eq!(snapshot.failed_calls, failures);
                }
            }
            Ok(())
        })?;
    }
}
