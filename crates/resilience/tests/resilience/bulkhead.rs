//! BH-1 … BH-3 and TO-1.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ivcrush_resilience::{
    Bulkhead, BulkheadConfig, BulkheadRefusal, HttpClassifier, Pipeline, ResilienceError,
};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::support::{VendorError, consecutive, pipeline_config};

#[tokio::test(start_paused = true)]
async fn bh_1_eight_running_and_four_queued_then_the_13th_is_rejected_at_once() {
    let bulkhead = Arc::new(
        Bulkhead::new(
            "tradier",
            BulkheadConfig {
                max_concurrent: 8,
                max_queued: 4,
            },
        )
        .expect("valid"),
    );
    let release = Arc::new(Notify::new());
    let mut holders = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let (bulkhead, release) = (bulkhead.clone(), release.clone());
        holders.spawn(async move {
            let _slot = bulkhead.acquire(None).await.expect("accepted");
            release.notified().await;
        });
    }
    tokio::task::yield_now().await;
    assert_eq!((bulkhead.available(), bulkhead.queued()), (0, 4));
    let started = Instant::now();
    let refused = bulkhead.acquire(None).await.expect_err("13th");
    assert_eq!(refused, BulkheadRefusal::Full);
    assert_eq!(started.elapsed(), Duration::ZERO);
    holders.abort_all();
}

#[tokio::test(start_paused = true)]
async fn bh_2_a_queued_caller_leaves_when_its_deadline_passes() {
    let bulkhead = Bulkhead::new(
        "tradier",
        BulkheadConfig {
            max_concurrent: 1,
            max_queued: 1,
        },
    )
    .expect("valid");
    let _held = bulkhead.acquire(None).await.expect("free");
    let started = Instant::now();
    let refused = bulkhead
        .acquire(Some(started + Duration::from_secs(5)))
        .await
        .expect_err("deadline");
    assert_eq!(refused, BulkheadRefusal::Deadline);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(bulkhead.queued(), 0, "it left the queue");
}

#[tokio::test(start_paused = true)]
async fn bh_3_a_slot_is_released_on_success_error_panic_and_drop() {
    let mut config = pipeline_config();
    config.bulkhead = BulkheadConfig {
        max_concurrent: 1,
        max_queued: 0,
    };
    config.retry.max_attempts = 1;
    config.breaker = consecutive(1_000);
    let pipeline = Arc::new(Pipeline::new("vendor", &config, HttpClassifier).expect("valid"));

    pipeline
        .call(|| async { Ok::<_, VendorError>(()) })
        .await
        .expect("success");
    assert_eq!(pipeline.bulkhead().available(), 1, "after success");

    let _ = pipeline
        .call(|| async { Err::<(), _>(VendorError::status(500)) })
        .await;
    assert_eq!(pipeline.bulkhead().available(), 1, "after error");

    let panicking = pipeline.clone();
    let joined = tokio::spawn(async move {
        panicking
            .call(|| async {
                panic!("inner call panics");
                #[allow(unreachable_code)]
                Ok::<(), VendorError>(())
            })
            .await
    })
    .await;
    assert!(joined.is_err_and(|e| e.is_panic()));
    assert_eq!(pipeline.bulkhead().available(), 1, "after panic");

    let hanging = pipeline.call(std::future::pending::<Result<(), VendorError>>);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), hanging)
            .await
            .is_err()
    );
    assert_eq!(pipeline.bulkhead().available(), 1, "after drop");
}

struct DropGuard(Arc<AtomicBool>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn to_1_the_attempt_timeout_fires_at_exactly_10_s_and_drops_the_inner_future() {
    let mut config = pipeline_config();
    config.attempt_timeout_ms = 10_000;
    config.retry.max_attempts = 1;
    let pipeline = Pipeline::new("vendor", &config, HttpClassifier).expect("valid");
    let dropped = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let error = pipeline
        .call(|| {
            let guard = DropGuard(dropped.clone());
            async move {
                let _guard = guard;
                std::future::pending::<Result<(), VendorError>>().await
            }
        })
        .await
        .expect_err("times out");
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the inner future's drop guard ran"
    );
    assert!(
        matches!(error, ResilienceError::AttemptTimeout { attempts: 1, timeout, .. } if timeout == Duration::from_secs(10))
    );
    let totals = pipeline.breaker().snapshot().totals;
    assert_eq!(
        (totals.failure, totals.slow),
        (1, 1),
        "one failure that is also slow"
    );
}
