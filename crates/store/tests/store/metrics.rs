//! The cache reports `ivcrush_cache_requests_total{layer, outcome}` through `metrics`.

use crate::common::{TestClock, TestDb};
use ivcrush_store::HybridCache;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("vendor down")]
struct VendorDown;

// current_thread: the local recorder is per thread.
#[tokio::test(flavor = "current_thread")]
async fn cache_requests_are_counted_by_layer_and_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);

    let db = TestDb::sqlite();
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let c = HybridCache::builder(db.open().await)
        .clock(clock.as_fn())
        .build();
    let ttl = Duration::from_secs(60);
    let ok = || async { Ok::<_, VendorDown>(1_u32) };
    c.get_or_fetch("k", ttl, ok).await.expect("miss");
    c.get_or_fetch("k", ttl, ok).await.expect("hit");
    clock.advance(Duration::from_secs(120));
    c.get_or_fetch("k", ttl, || async { Err::<u32, _>(VendorDown) })
        .await
        .expect("stale");

    let mut seen: Vec<(String, String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == "ivcrush_cache_requests_total")
        .map(|(k, _, _, v)| {
            let label = |n: &str| {
                k.key()
                    .labels()
                    .find(|l| l.key() == n)
                    .map(|l| l.value().to_string())
                    .unwrap_or_default()
            };
            let DebugValue::Counter(n) = v else {
                panic!("not a counter")
            };
            (label("layer"), label("outcome"), n)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("memory".into(), "hit".into(), 1),
            ("origin".into(), "miss".into(), 1),
            ("store".into(), "stale".into(), 1),
        ]
    );
    let s = c.stats();
    assert!((s.hit_rate() - 1.0 / 3.0).abs() < 1e-12, "{s:?}");
}
