//! The hybrid cache over every backend's L2, with an injected clock (no sleeping).

use crate::common::{TestClock, TestDb, suite};
use ivcrush_store::{CacheError, CachePolicy, HybridCache, Source};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

suite!(
    a_fresh_value_is_served_from_memory_without_calling_the_origin,
    a_store_entry_is_promoted_into_memory,
    an_expired_entry_is_fetched_again,
    a_failing_origin_serves_the_expired_value_as_stale_with_its_age,
    a_failing_origin_without_a_cached_value_surfaces_the_error,
    stale_values_are_kept_for_the_grace_period_then_purged,
    fifty_concurrent_misses_call_the_origin_once,
    cached_values_survive_a_restart,
    a_value_one_process_fetched_is_read_from_the_shared_tier_and_kept_in_the_store,
    a_failing_shared_tier_is_a_miss_and_its_expired_value_backs_a_stale_read,
);

/// A shared tier in memory (the Redis one is tested with real processes in the CLI's
/// fleet tests), which can be made to fail.
#[derive(Debug, Default)]
struct MemoryTier {
    entries: std::sync::Mutex<std::collections::HashMap<String, ivcrush_store::CacheEntry>>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ivcrush_store::SharedCacheTier for MemoryTier {
    async fn get(&self, key: &str) -> Result<Option<ivcrush_store::CacheEntry>, String> {
        if self.down.load(Ordering::SeqCst) {
            return Err("down".into());
        }
        Ok(self.entries.lock().expect("lock").get(key).cloned())
    }

    async fn put(
        &self,
        key: &str,
        entry: &ivcrush_store::CacheEntry,
        _keep_for: Duration,
    ) -> Result<(), String> {
        if self.down.load(Ordering::SeqCst) {
            return Err("down".into());
        }
        self.entries
            .lock()
            .expect("lock")
            .insert(key.to_owned(), entry.clone());
        Ok(())
    }
}

async fn with_tier(db: &TestDb, clock: &TestClock, tier: &Arc<MemoryTier>) -> HybridCache {
    let tier: Arc<dyn ivcrush_store::SharedCacheTier> = tier.clone();
    HybridCache::builder(db.open().await)
        .clock(clock.as_fn())
        .shared(Some(tier))
        .build()
}

async fn a_value_one_process_fetched_is_read_from_the_shared_tier_and_kept_in_the_store(
    db: Arc<TestDb>,
) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let tier = Arc::new(MemoryTier::default());
    let calls = Arc::new(AtomicUsize::new(0));
    // Process A fetches; process B (its own store here: a second database would do the same)
    // finds it in the shared tier.
    let a = with_tier(&db, &clock, &tier).await;
    a.get_or_fetch(KEY, TTL, origin(&calls, 3))
        .await
        .expect("a");
    let other = TestDb::sqlite();
    let b = with_tier(&other, &clock, &tier).await;
    let read = b
        .get_or_fetch(KEY, TTL, origin(&calls, 9))
        .await
        .expect("b");
    assert_eq!((read.value, read.source), (chain(3), Source::Shared));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the origin was called once"
    );
    // B's store kept it: with the tier down and memory cleared, B still answers.
    tier.down.store(true, Ordering::SeqCst);
    b.clear_memory();
    let kept = b
        .get_or_fetch(KEY, TTL, origin(&calls, 9))
        .await
        .expect("b again");
    assert_eq!((kept.value, kept.source), (chain(3), Source::Store));
    assert_eq!(b.stats().hits_shared, 1);
}

async fn a_failing_shared_tier_is_a_miss_and_its_expired_value_backs_a_stale_read(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let tier = Arc::new(MemoryTier::default());
    let calls = Arc::new(AtomicUsize::new(0));
    // Another process fetched it; this one has nothing in its store.
    with_tier(&TestDb::sqlite(), &clock, &tier)
        .await
        .get_or_fetch(KEY, TTL, origin(&calls, 3))
        .await
        .expect("other process");
    let c = with_tier(&db, &clock, &tier).await;
    clock.advance(TTL + Duration::from_secs(60));
    // Expired everywhere and the vendor down: the shared tier's value is served, stale.
    let stale = c
        .get_or_fetch(KEY, TTL, failing(&calls))
        .await
        .expect("stale");
    assert!(stale.stale);
    assert_eq!(stale.value, chain(3));
    // The tier down: a miss, so the origin answers.
    tier.down.store(true, Ordering::SeqCst);
    c.clear_memory();
    let fresh = c
        .get_or_fetch(KEY, TTL, origin(&calls, 5))
        .await
        .expect("fresh");
    assert_eq!((fresh.value, fresh.source), (chain(5), Source::Origin));
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Chain {
    symbol: String,
    strikes: Vec<f64>,
}

fn chain(n: usize) -> Chain {
    Chain {
        symbol: "AAPL".into(),
        strikes: (0..n).map(|i| 200.0 + 2.5 * i as f64).collect(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("vendor down")]
struct VendorDown;

const KEY: &str = "tradier:chain:AAPL:2026-01-30";
const TTL: Duration = Duration::from_secs(300);

async fn cache(db: &TestDb, clock: &TestClock) -> HybridCache {
    HybridCache::builder(db.open().await)
        .clock(clock.as_fn())
        .max_entries(100)
        .build()
}

/// An origin that counts its calls and returns `chain(n)`.
fn origin(
    calls: &Arc<AtomicUsize>,
    n: usize,
) -> impl FnOnce() -> std::future::Ready<Result<Chain, VendorDown>> + Send + use<> {
    let calls = Arc::clone(calls);
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(chain(n)))
    }
}

fn failing(
    calls: &Arc<AtomicUsize>,
) -> impl FnOnce() -> std::future::Ready<Result<Chain, VendorDown>> + Send + use<> {
    let calls = Arc::clone(calls);
    move || {
        calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Err(VendorDown))
    }
}

async fn a_fresh_value_is_served_from_memory_without_calling_the_origin(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let c = cache(&db, &clock).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let first = c
        .get_or_fetch(KEY, TTL, origin(&calls, 3))
        .await
        .expect("first");
    assert_eq!((first.source, first.stale), (Source::Origin, false));
    assert_eq!(first.fetched_at, clock.now());
    clock.advance(Duration::from_secs(299));
    let second = c
        .get_or_fetch(KEY, TTL, origin(&calls, 9))
        .await
        .expect("second");
    assert_eq!(second.source, Source::Memory);
    assert_eq!(second.value, chain(3));
    assert_eq!(second.age, Duration::from_secs(299));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let s = c.stats();
    assert_eq!((s.misses, s.hits_memory), (1, 1));
}

async fn a_store_entry_is_promoted_into_memory(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let calls = Arc::new(AtomicUsize::new(0));
    let writer = cache(&db, &clock).await;
    writer
        .get_or_fetch(KEY, TTL, origin(&calls, 3))
        .await
        .expect("fill");

    let reader = cache(&db, &clock).await; // empty L1, same L2
    clock.advance(Duration::from_secs(60));
    let from_l2 = reader
        .get_or_fetch(KEY, TTL, origin(&calls, 9))
        .await
        .expect("L2");
    assert_eq!(from_l2.source, Source::Store);
    assert_eq!(from_l2.value, chain(3));
    assert_eq!(from_l2.age, Duration::from_secs(60));
    let from_l1 = reader
        .get_or_fetch(KEY, TTL, origin(&calls, 9))
        .await
        .expect("L1");
    assert_eq!(from_l1.source, Source::Memory, "promoted");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(reader.stats().hits_store, 1);
    assert_eq!(reader.stats().hits_memory, 1);
}

async fn an_expired_entry_is_fetched_again(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let c = cache(&db, &clock).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let ttl = CachePolicy::default().chains();
    c.get_or_fetch(KEY, ttl, origin(&calls, 1))
        .await
        .expect("fill");
    clock.advance(ttl);
    let again = c
        .get_or_fetch(KEY, ttl, origin(&calls, 2))
        .await
        .expect("refetch");
    assert_eq!((again.source, again.stale), (Source::Origin, false));
    assert_eq!(again.value, chain(2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The new value replaced the old one in L2 too.
    let fresh = cache(&db, &clock).await;
    let v = fresh
        .get_or_fetch(KEY, ttl, failing(&calls))
        .await
        .expect("L2");
    assert_eq!((v.value, v.source), (chain(2), Source::Store));
}

async fn a_failing_origin_serves_the_expired_value_as_stale_with_its_age(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let c = cache(&db, &clock).await;
    let calls = Arc::new(AtomicUsize::new(0));
    c.get_or_fetch(KEY, TTL, origin(&calls, 4))
        .await
        .expect("fill");
    clock.advance(Duration::from_secs(3600));
    let stale = c
        .get_or_fetch(KEY, TTL, failing(&calls))
        .await
        .expect("stale");
    assert!(stale.stale);
    assert_eq!(stale.value, chain(4));
    assert_eq!(stale.age, Duration::from_secs(3600));
    assert_eq!(stale.source, Source::Store);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the origin was tried");
    assert_eq!(c.stats().stale_served, 1);
    // Once the origin recovers, a fresh value replaces the stale one.
    let fresh = c
        .get_or_fetch(KEY, TTL, origin(&calls, 5))
        .await
        .expect("recovered");
    assert_eq!((fresh.value, fresh.stale), (chain(5), false));
}

async fn a_failing_origin_without_a_cached_value_surfaces_the_error(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let c = cache(&db, &clock).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let err = c
        .get_or_fetch(KEY, TTL, failing(&calls))
        .await
        .expect_err("nothing cached");
    let CacheError::Origin { key, source } = &err else {
        panic!("unexpected {err:?}");
    };
    assert_eq!(key, KEY);
    assert_eq!(source.to_string(), "vendor down");
    assert_eq!(c.stats().errors, 1);
}

async fn stale_values_are_kept_for_the_grace_period_then_purged(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let store = db.open().await;
    let c = HybridCache::builder(Arc::clone(&store))
        .clock(clock.as_fn())
        .grace(Duration::from_secs(24 * 3600))
        .build();
    let calls = Arc::new(AtomicUsize::new(0));
    c.get_or_fetch(KEY, TTL, origin(&calls, 2))
        .await
        .expect("fill");
    clock.advance(TTL + Duration::from_secs(23 * 3600));
    assert_eq!(c.purge_expired().await.expect("purge"), 0, "within grace");
    assert!(
        c.get_or_fetch(KEY, TTL, failing(&calls))
            .await
            .expect("stale")
            .stale
    );
    clock.advance(Duration::from_secs(2 * 3600));
    c.get_or_fetch(KEY, TTL, failing(&calls))
        .await
        .expect_err("past the grace period nothing is served");
    assert_eq!(c.purge_expired().await.expect("purge"), 1);
    assert_eq!(store.cache_get(KEY).await.expect("read"), None);
}

async fn fifty_concurrent_misses_call_the_origin_once(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let c = cache(&db, &clock).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (c, calls, release) = (c.clone(), Arc::clone(&calls), Arc::clone(&release));
        tasks.push(tokio::spawn(async move {
            c.get_or_fetch(KEY, TTL, move || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                // Hold the load until every caller has queued behind it.
                let _permit = release.acquire().await.map_err(|_| VendorDown)?;
                Ok::<_, VendorDown>(chain(7))
            })
            .await
        }));
    }
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
    release.add_permits(1);
    for t in tasks {
        let got = t.await.expect("task").expect("value");
        assert_eq!(got.value, chain(7));
        assert!(!got.stale);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let s = c.stats();
    assert_eq!(s.misses, 1, "{s:?}");
    assert_eq!(s.coalesced, 49, "{s:?}");
}

async fn cached_values_survive_a_restart(db: Arc<TestDb>) {
    let clock = TestClock::at("2026-01-28T15:00:00Z");
    let calls = Arc::new(AtomicUsize::new(0));
    {
        let c = cache(&db, &clock).await;
        c.get_or_fetch(KEY, TTL, origin(&calls, 6))
            .await
            .expect("fill");
    } // cache and store dropped: the process "restarts"
    let c = cache(&db, &clock).await;
    let v = c
        .get_or_fetch(KEY, TTL, failing(&calls))
        .await
        .expect("from L2");
    assert_eq!(
        (v.value, v.source, v.stale),
        (chain(6), Source::Store, false)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
