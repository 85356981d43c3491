//! The latest snapshot per instrument: bounded, LRU-evicted, lock-free for readers.
//!
//! # Why papaya + an LRU owned by the writers
//! Readers (HTTP handlers, the Tradier feed merging a trade into the last quote, tests) must
//! never block and never see a half-written snapshot. Each value is an immutable
//! `Arc<Snapshot>`; an update inserts a new `Arc`, which papaya publishes with one atomic
//! pointer swap, and reads only pin an epoch (no lock, no reference-count traffic on the map).
//! - `ArcSwap<HashMap>` would copy the whole map (5,000 entries) per update: at 50,000
//!   updates/s that is hundreds of MB/s of copying.
//! - `dashmap` takes a shard read lock on every read, which a writer holding the shard can stall.
//! - one `ArcSwap` per instrument still needs a concurrent map to find it, so papaya alone is
//!   the smaller design.
//!
//! Recency order and the size bound live in an `lru::LruCache` behind a mutex that only writers
//! take (in practice one feed task, so it is uncontended); writers change the map and the order
//! under that mutex so the two never disagree, and the map never holds more than
//! `max_instruments` entries.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::NaiveDate;
use lru::LruCache;

use crate::snapshot::Snapshot;

type Map = papaya::HashMap<Arc<str>, Arc<Snapshot>>;

/// The state map. Share it as `Arc<StateStore>`.
pub struct StateStore {
    map: Map,
    order: Mutex<LruCache<Arc<str>, ()>>,
    max_instruments: usize,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore")
            .field("len", &self.len())
            .field("max_instruments", &self.max_instruments)
            .finish()
    }
}

impl StateStore {
    /// An empty store holding at most `max_instruments` instruments.
    ///
    /// # Panics
    /// When `max_instruments` is 0 (a programmer error: settings are validated before).
    pub fn new(max_instruments: usize) -> StateStore {
        let cap = NonZeroUsize::new(max_instruments).expect("max_instruments is validated > 0");
        StateStore {
            map: Map::with_capacity(max_instruments.min(65_536)),
            order: Mutex::new(LruCache::new(cap)),
            max_instruments,
        }
    }

    /// The bound on the number of instruments.
    pub fn max_instruments(&self) -> usize {
        self.max_instruments
    }

    /// The latest snapshot of `symbol`, without locking.
    pub fn get(&self, symbol: &str) -> Option<Arc<Snapshot>> {
        self.map.pin().get(symbol).cloned()
    }

    /// The number of instruments held (never above `max_instruments`).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no instrument is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every held snapshot, in no particular order (a consistent view of each value).
    pub fn snapshots(&self) -> Vec<Arc<Snapshot>> {
        self.map.pin().values().cloned().collect()
    }

    fn order(&self) -> MutexGuard<'_, LruCache<Arc<str>, ()>> {
        // A panic while holding the lock cannot leave the LRU inconsistent with the map in a
        // way that matters (at worst one entry too few), so poisoning is ignored.
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `snapshot` as the latest of its symbol and marks it most recently used; evicts
    /// the least recently used instrument when the bound is reached. Returns the evicted
    /// symbol, if any.
    pub fn apply(&self, snapshot: Arc<Snapshot>) -> Option<Arc<str>> {
        let key = Arc::clone(&snapshot.symbol);
        let mut order = self.order();
        let evicted = match order.push(Arc::clone(&key), ()) {
            Some((old, ())) if old != key => Some(old),
            _ => None,
        };
        let map = self.map.pin();
        if let Some(old) = &evicted {
            map.remove(old);
        }
        map.insert(key, snapshot);
        drop(map);
        drop(order);
        if evicted.is_some() {
            metrics::counter!("ivcrush_ticker_evicted_total", "reason" => "lru").increment(1);
        }
        evicted
    }

    /// Removes every option whose expiration is before `today` (New York date); returns how
    /// many were removed.
    pub fn sweep_expired(&self, today: NaiveDate) -> usize {
        let mut order = self.order();
        let map = self.map.pin();
        let expired: Vec<Arc<str>> = map
            .iter()
            .filter(|(_, s)| s.expiration.is_some_and(|e| e < today))
            .map(|(k, _)| Arc::clone(k))
            .collect();
        for k in &expired {
            map.remove(k);
            order.pop(k);
        }
        drop(map);
        drop(order);
        metrics::counter!("ivcrush_ticker_evicted_total", "reason" => "expired")
            .increment(expired.len() as u64);
        metrics::gauge!("ivcrush_ticker_instruments").set(self.len() as f64);
        expired.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(symbol: &str) -> Arc<Snapshot> {
        Arc::new(Snapshot::empty(symbol))
    }

    #[test]
    fn the_least_recently_used_instrument_is_evicted() {
        let s = StateStore::new(2);
        assert_eq!(s.apply(snap("A")), None);
        assert_eq!(s.apply(snap("B")), None);
        assert_eq!(s.apply(snap("A")), None); // A is now the most recent
        assert_eq!(s.apply(snap("C")).as_deref(), Some("B"));
        assert!(s.get("B").is_none());
        assert!(s.get("A").is_some() && s.get("C").is_some());
        assert_eq!(s.len(), 2);
    }
}
