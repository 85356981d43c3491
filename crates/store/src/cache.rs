//! Hybrid read-through cache for vendor data: memory L1 over the store's `cache_entries` (L2).
//!
//! - **L1**: a [`moka`] future cache bounded by entry count, each entry living for its own TTL.
//! - **Shared tier** (optional, [`HybridCacheBuilder::shared`]): a cache several processes
//!   share (Redis), read after memory and before the table; its failures are misses, so the
//!   table answers while it is down.
//! - **L2**: the [`Store`]'s cache table; survives restarts and, on PostgreSQL, is shared by
//!   workers. A fresh L2 hit is promoted into L1 (and into the shared tier).
//! - **Single flight**: concurrent misses of one key run one loader (L2 read, then the origin);
//!   the others wait for its result.
//! - **Stale reads** (spec/resilience.md, graceful degradation): when the origin fails and an
//!   expired entry is still in L2, it is served with `stale: true` and its age. L2 keeps
//!   expired entries for a *grace period* (default 7 days) before
//!   [`HybridCache::purge_expired`] deletes them: an hour-old option chain beats no answer
//!   while a vendor is down, and the caller sees that it is old.
//!
//! Freshness is judged with an injectable clock ([`HybridCacheBuilder::clock`]) so tests
//! control time; moka's own per-entry expiry (real time) only bounds memory.
//!
//! Values are serialized to JSON for L2. L1 holds the typed value; its key includes the
//! value's [`TypeId`], so one key read as two types never mixes them up.

use crate::error::StoreError;
use crate::model::CacheEntry;
use crate::store::Store;
use chrono::{DateTime, TimeDelta, Utc};
use moka::Expiry;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::any::{Any, TypeId};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A source of "now" (UTC). Production uses [`Utc::now`]; tests inject a controllable clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Where a cached value came from in this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// The memory L1.
    Memory,
    /// The cache shared by several processes ([`SharedCacheTier`]).
    Shared,
    /// The store's L2 table.
    Store,
    /// The origin (vendor) was called.
    Origin,
}

/// A cache that several processes share (e.g. Redis), read between memory and the store's
/// table. Errors are strings: the cache treats them all as misses, and the tier reports its
/// own outages (once) where it knows their cause.
#[async_trait::async_trait]
pub trait SharedCacheTier: Send + Sync + std::fmt::Debug {
    /// The entry of `key`, fresh or expired; `None` when absent.
    async fn get(&self, key: &str) -> Result<Option<CacheEntry>, String>;

    /// Keeps `entry` for `keep_for` (its TTL plus the grace in which it may be served stale).
    async fn put(&self, key: &str, entry: &CacheEntry, keep_for: Duration) -> Result<(), String>;
}

/// A value with its freshness.
#[derive(Debug, Clone, PartialEq)]
pub struct Cached<T> {
    /// The value.
    pub value: T,
    /// When it was fetched from the origin.
    pub fetched_at: DateTime<Utc>,
    /// `now - fetched_at` (zero if the clock went backwards).
    pub age: Duration,
    /// `true` when the value is past its TTL and served because the origin failed.
    pub stale: bool,
    /// Where it came from.
    pub source: Source,
}

/// The cache's table: the memory bound and the TTL of each cached vendor endpoint. It is the
/// `[cache]` section of the application's configuration, handed to
/// [`HybridCacheBuilder::policy`]; callers take an endpoint's TTL from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CachePolicy {
    /// In-memory entries at most (10,000).
    pub max_entries: u64,
    /// Expirations (7 days): also refreshed as soon as a listed expiry has passed or a listed
    /// expiry's chain comes back empty, so the list is never older than the market's.
    pub expirations_secs: u64,
    /// Chains (60 s).
    pub chains_secs: u64,
    /// Earnings calendar (12 h).
    pub calendar_secs: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_entries: 10_000,
            expirations_secs: 7 * 24 * 3600,
            chains_secs: 60,
            calendar_secs: 12 * 3600,
        }
    }
}

impl CachePolicy {
    /// TTL of an expiration list.
    pub fn expirations(&self) -> Duration {
        Duration::from_secs(self.expirations_secs)
    }

    /// TTL of an option chain.
    pub fn chains(&self) -> Duration {
        Duration::from_secs(self.chains_secs)
    }

    /// TTL of the earnings calendar.
    pub fn calendar(&self) -> Duration {
        Duration::from_secs(self.calendar_secs)
    }
}

/// Why [`HybridCache::get_or_fetch`] has no value to return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError<E: std::error::Error + Send + Sync + 'static> {
    /// The origin failed and nothing (fresh or within the grace period) was cached.
    ///
    /// The error is shared by all callers that waited on the same load, hence the `Arc`.
    #[error("fetching {key} failed and nothing is cached")]
    Origin {
        /// The cache key.
        key: String,
        /// The origin's error.
        #[source]
        source: Arc<E>,
    },
}

/// Counters since the cache was built; one request counts once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Served from memory.
    pub hits_memory: u64,
    /// Served from the shared tier (and promoted).
    pub hits_shared: u64,
    /// Served from L2 (and promoted).
    pub hits_store: u64,
    /// Waited on another request's load of the same key.
    pub coalesced: u64,
    /// Missed both layers; the origin was called and succeeded.
    pub misses: u64,
    /// The origin failed; an expired value was served.
    pub stale_served: u64,
    /// The origin failed with nothing to serve.
    pub errors: u64,
}

impl CacheStats {
    /// Share of requests answered without calling the origin (fresh answers only), 0–1.
    pub fn hit_rate(&self) -> f64 {
        let hits = self.hits_memory + self.hits_shared + self.hits_store + self.coalesced;
        let total = hits + self.misses + self.stale_served + self.errors;
        if total == 0 {
            0.0
        } else {
            hits as f64 / total as f64
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    hits_memory: AtomicU64,
    hits_shared: AtomicU64,
    hits_store: AtomicU64,
    coalesced: AtomicU64,
    misses: AtomicU64,
    stale_served: AtomicU64,
    errors: AtomicU64,
}

#[derive(Clone, Copy)]
enum Outcome {
    MemoryHit,
    SharedHit,
    StoreHit,
    Coalesced,
    Miss,
    Stale,
    Error,
}

impl Counters {
    fn record(&self, outcome: Outcome) {
        let (counter, layer, label) = match outcome {
            Outcome::MemoryHit => (&self.hits_memory, "memory", "hit"),
            Outcome::SharedHit => (&self.hits_shared, "shared", "hit"),
            Outcome::StoreHit => (&self.hits_store, "store", "hit"),
            Outcome::Coalesced => (&self.coalesced, "memory", "coalesced"),
            Outcome::Miss => (&self.misses, "origin", "miss"),
            Outcome::Stale => (&self.stale_served, "store", "stale"),
            Outcome::Error => (&self.errors, "origin", "error"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ivcrush_cache_requests_total", "layer" => layer, "outcome" => label)
            .increment(1);
    }

    fn snapshot(&self) -> CacheStats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits_memory: g(&self.hits_memory),
            hits_shared: g(&self.hits_shared),
            hits_store: g(&self.hits_store),
            coalesced: g(&self.coalesced),
            misses: g(&self.misses),
            stale_served: g(&self.stale_served),
            errors: g(&self.errors),
        }
    }
}

type L1Key = (String, TypeId);

#[derive(Clone)]
struct L1Entry {
    value: Arc<dyn Any + Send + Sync>,
    fetched_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// Real-time lifetime in moka (the remaining TTL when inserted).
    l1_ttl: Duration,
    loaded_from: Source,
}

struct PerEntryTtl;

impl Expiry<L1Key, L1Entry> for PerEntryTtl {
    fn expire_after_create(&self, _: &L1Key, v: &L1Entry, _: Instant) -> Option<Duration> {
        Some(v.l1_ttl)
    }
    fn expire_after_update(
        &self,
        _: &L1Key,
        v: &L1Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.l1_ttl)
    }
}

struct StaleValue<T> {
    value: T,
    fetched_at: DateTime<Utc>,
}

struct LoadFailure<T, E> {
    error: Arc<E>,
    stale: Option<StaleValue<T>>,
}

/// Builder of a [`HybridCache`].
pub struct HybridCacheBuilder {
    store: Arc<dyn Store>,
    shared: Option<Arc<dyn SharedCacheTier>>,
    max_entries: u64,
    grace: Duration,
    clock: Clock,
}

impl HybridCacheBuilder {
    /// Maximum L1 entries (default 10 000); least-used entries are evicted beyond it.
    pub fn max_entries(mut self, n: u64) -> Self {
        self.max_entries = n;
        self
    }

    /// Applies the memory bound of `policy` (its TTLs are the callers' to pass per read).
    pub fn policy(self, policy: &CachePolicy) -> Self {
        self.max_entries(policy.max_entries)
    }

    /// How long expired L2 entries stay servable as stale (default 7 days).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The clock that judges freshness (default [`Utc::now`]).
    pub fn clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Reads and writes `tier`, shared with other processes, between memory and the store.
    pub fn shared(mut self, tier: Option<Arc<dyn SharedCacheTier>>) -> Self {
        self.shared = tier;
        self
    }

    /// Builds the cache.
    pub fn build(self) -> HybridCache {
        HybridCache {
            l1: moka::future::Cache::builder()
                .max_capacity(self.max_entries)
                .expire_after(PerEntryTtl)
                .build(),
            store: self.store,
            shared: self.shared,
            grace: to_delta(self.grace),
            clock: self.clock,
            counters: Arc::new(Counters::default()),
        }
    }
}

/// Memory L1 + store L2 read-through cache with single flight and stale reads.
///
/// Cheap to clone (shared state).
#[derive(Clone)]
pub struct HybridCache {
    l1: moka::future::Cache<L1Key, L1Entry>,
    store: Arc<dyn Store>,
    shared: Option<Arc<dyn SharedCacheTier>>,
    grace: TimeDelta,
    clock: Clock,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for HybridCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HybridCache")
            .field("l1_entries", &self.l1.entry_count())
            .field("grace", &self.grace)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn add(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn age(now: DateTime<Utc>, fetched_at: DateTime<Utc>) -> Duration {
    (now - fetched_at).to_std().unwrap_or_default()
}

impl HybridCache {
    /// A builder over `store` with the defaults (10 000 L1 entries, 7-day grace, system clock).
    pub fn builder(store: Arc<dyn Store>) -> HybridCacheBuilder {
        HybridCacheBuilder {
            store,
            shared: None,
            max_entries: 10_000,
            grace: Duration::from_secs(7 * 24 * 3600),
            clock: Arc::new(Utc::now),
        }
    }

    /// Returns the value of `key`: from memory, else from L2, else from `fetch` (whose result
    /// is stored in both layers for `ttl`). Concurrent calls for one key share one load.
    ///
    /// When `fetch` fails, an expired L2 value younger than its expiry plus the grace period
    /// is returned with `stale: true` (nothing is written back).
    ///
    /// L2 failures never fail a read: a failing L2 read is a miss and a failing L2 write is
    /// logged (`tracing::warn!`).
    ///
    /// # Errors
    /// [`CacheError::Origin`] when `fetch` fails and there is no value to fall back on.
    pub async fn get_or_fetch<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        fetch: F,
    ) -> Result<Cached<T>, CacheError<E>>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        E: std::error::Error + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        let now = (self.clock)();
        let l1_key: L1Key = (key.to_string(), TypeId::of::<T>());
        if let Some(e) = self.l1.get(&l1_key).await {
            if e.expires_at > now
                && let Some(v) = e.value.downcast_ref::<T>()
            {
                self.counters.record(Outcome::MemoryHit);
                return Ok(Cached {
                    value: v.clone(),
                    fetched_at: e.fetched_at,
                    age: age(now, e.fetched_at),
                    stale: false,
                    source: Source::Memory,
                });
            }
            self.l1.invalidate(&l1_key).await;
        }

        let leader = AtomicBool::new(false);
        let load = async {
            leader.store(true, Ordering::Relaxed);
            self.load::<T, E, F, Fut>(key, ttl, now, fetch).await
        };
        let result = self.l1.entry(l1_key).or_try_insert_with(load).await;
        let led = leader.load(Ordering::Relaxed);
        match result {
            Ok(entry) => {
                let e = entry.into_value();
                self.counters.record(match (led, e.loaded_from) {
                    (false, _) => Outcome::Coalesced,
                    (true, Source::Store) => Outcome::StoreHit,
                    (true, Source::Shared) => Outcome::SharedHit,
                    (true, _) => Outcome::Miss,
                });
                let value = e
                    .value
                    .downcast_ref::<T>()
                    .expect("L1 entries keyed by TypeId::of::<T>() hold a T")
                    .clone();
                Ok(Cached {
                    value,
                    fetched_at: e.fetched_at,
                    age: age(now, e.fetched_at),
                    stale: false,
                    source: e.loaded_from,
                })
            }
            Err(failure) => match &failure.stale {
                Some(s) => {
                    self.counters.record(Outcome::Stale);
                    tracing::warn!(key, error = %failure.error, age_s = age(now, s.fetched_at).as_secs(),
                        "origin failed; serving a stale cached value");
                    Ok(Cached {
                        value: s.value.clone(),
                        fetched_at: s.fetched_at,
                        age: age(now, s.fetched_at),
                        stale: true,
                        source: Source::Store,
                    })
                }
                None => {
                    self.counters.record(Outcome::Error);
                    Err(CacheError::Origin {
                        key: key.to_string(),
                        source: Arc::clone(&failure.error),
                    })
                }
            },
        }
    }

    /// The single-flight loader: fresh L2 entry, else the origin, else a stale L2 entry.
    async fn load<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        now: DateTime<Utc>,
        fetch: F,
    ) -> Result<L1Entry, LoadFailure<T, E>>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut expired_shared = None;
        if let Some(shared) = &self.shared {
            match shared.get(key).await {
                Ok(Some(e)) => match serde_json::from_slice::<T>(&e.value) {
                    Ok(v) if e.expires_at > now => {
                        let l1_ttl = (e.expires_at - now).to_std().unwrap_or_default();
                        // Kept in the store too, so that it still answers when the shared
                        // tier is gone (the store's table is this process's own on SQLite).
                        if let Err(err) = self.store.cache_put(key, &e).await {
                            tracing::debug!(
                                key,
                                error = &err as &dyn std::error::Error,
                                "L2 cache write failed"
                            );
                        }
                        return Ok(L1Entry {
                            value: Arc::new(v),
                            fetched_at: e.fetched_at,
                            expires_at: e.expires_at,
                            l1_ttl,
                            loaded_from: Source::Shared,
                        });
                    }
                    Ok(v) => expired_shared = Some((v, e)),
                    Err(err) => {
                        tracing::debug!(key, error = %err, "undecodable shared cache entry ignored")
                    }
                },
                Ok(None) => {}
                Err(err) => {
                    tracing::debug!(key, error = %err, "shared cache read failed; treated as a miss")
                }
            }
        }
        let stored = match self.store.cache_get(key).await {
            Ok(entry) => entry.and_then(|e| match serde_json::from_slice::<T>(&e.value) {
                Ok(v) => Some((v, e)),
                Err(err) => {
                    tracing::warn!(
                        key,
                        error = &err as &dyn std::error::Error,
                        "undecodable L2 cache entry ignored"
                    );
                    None
                }
            }),
            Err(err) => {
                tracing::warn!(
                    key,
                    error = &err as &dyn std::error::Error,
                    "L2 cache read failed; treated as a miss"
                );
                None
            }
        };
        if let Some((v, e)) = stored {
            if e.expires_at > now {
                let l1_ttl = (e.expires_at - now).to_std().unwrap_or_default();
                self.write_shared(key, &e, now).await;
                return Ok(L1Entry {
                    value: Arc::new(v),
                    fetched_at: e.fetched_at,
                    expires_at: e.expires_at,
                    l1_ttl,
                    loaded_from: Source::Store,
                });
            }
            // The fresher of the two expired entries backs a stale read.
            let expired = match expired_shared {
                Some(shared) if shared.1.fetched_at > e.fetched_at => shared,
                _ => (v, e),
            };
            return self.fetch_origin(key, ttl, fetch, Some(expired)).await;
        }
        self.fetch_origin(key, ttl, fetch, expired_shared).await
    }

    /// Writes `entry` to the shared tier, kept for its TTL plus the grace of stale reads.
    async fn write_shared(&self, key: &str, entry: &CacheEntry, now: DateTime<Utc>) {
        let Some(shared) = &self.shared else { return };
        let keep_for = (add(entry.expires_at, self.grace) - now)
            .to_std()
            .unwrap_or_default();
        if keep_for.is_zero() {
            return;
        }
        if let Err(err) = shared.put(key, entry, keep_for).await {
            tracing::debug!(key, error = %err, "shared cache write failed");
        }
    }

    async fn fetch_origin<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        fetch: F,
        expired: Option<(T, CacheEntry)>,
    ) -> Result<L1Entry, LoadFailure<T, E>>
    where
        T: Serialize + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        match fetch().await {
            Ok(v) => {
                let fetched_at = (self.clock)();
                let expires_at = add(fetched_at, to_delta(ttl));
                if let Err(err) = self.write_l2(key, &v, fetched_at, expires_at).await {
                    tracing::warn!(
                        key,
                        error = &err as &dyn std::error::Error,
                        "L2 cache write failed; value kept in memory only"
                    );
                }
                Ok(L1Entry {
                    value: Arc::new(v),
                    fetched_at,
                    expires_at,
                    l1_ttl: ttl,
                    loaded_from: Source::Origin,
                })
            }
            Err(error) => {
                let now = (self.clock)();
                let stale = expired
                    .filter(|(_, e)| add(e.expires_at, self.grace) > now)
                    .map(|(value, e)| StaleValue {
                        value,
                        fetched_at: e.fetched_at,
                    });
                Err(LoadFailure {
                    error: Arc::new(error),
                    stale,
                })
            }
        }
    }

    async fn write_l2<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        fetched_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|e| StoreError::InvalidInput {
            what: "cache value",
            reason: e.to_string(),
        })?;
        let entry = CacheEntry {
            value: bytes,
            fetched_at,
            expires_at,
        };
        self.write_shared(key, &entry, fetched_at).await;
        self.store.cache_put(key, &entry).await
    }

    /// Deletes L2 entries expired for longer than the grace period; returns how many.
    ///
    /// # Errors
    /// The store's error.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let before = (self.clock)()
            .checked_sub_signed(self.grace)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.store.cache_purge_expired(before).await
    }

    /// Marks `key` (holding a `T`) expired in both layers, so that the next read fetches
    /// afresh; the old value stays in L2 as a stale fallback should that fetch fail. Used when
    /// the data itself shows the entry is out of date (a listed expiration has passed).
    ///
    /// # Errors
    /// The store's error.
    pub async fn invalidate<T: 'static>(&self, key: &str) -> Result<(), StoreError> {
        self.l1
            .invalidate(&(key.to_string(), TypeId::of::<T>()))
            .await;
        let now = (self.clock)();
        if let Some(mut entry) = self.store.cache_get(key).await?
            && entry.expires_at > now
        {
            entry.expires_at = now;
            self.store.cache_put(key, &entry).await?;
        }
        Ok(())
    }

    /// Drops every L1 entry (L2 is untouched).
    pub fn clear_memory(&self) {
        self.l1.invalidate_all();
    }

    /// Counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        self.counters.snapshot()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_rate_counts_fresh_answers_only() {
        let s = CacheStats {
            hits_memory: 5,
            hits_shared: 1,
            hits_store: 1,
            coalesced: 1,
            misses: 1,
            stale_served: 1,
            errors: 0,
        };
        assert!((s.hit_rate() - 0.8).abs() < 1e-12);
        assert_eq!(CacheStats::default().hit_rate(), 0.0);
    }

    #[test]
    fn default_policy_has_increasing_ttls_for_slower_data() {
        let p = CachePolicy::default();
        assert!(p.chains() < p.calendar());
        assert!(p.calendar() < p.expirations());
    }

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let now = Utc::now();
        assert_eq!(add(now, to_delta(Duration::MAX)), DateTime::<Utc>::MAX_UTC);
    }
}
