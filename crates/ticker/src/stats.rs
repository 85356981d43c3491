//! In-process counters mirrored to Prometheus metrics.
//!
//! Tests and benches read [`Stats`] directly (no global recorder needed); every increment is
//! also sent to the `metrics` facade under the documented names.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Why an update was not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DropReason {
    /// The bounded feed → publisher channel was full (the publisher is behind or Redis is slow).
    ChannelFull,
    /// The Redis circuit breaker was open.
    BreakerOpen,
    /// No Redis connection (reconnect backoff in progress or the connect failed).
    RedisDown,
    /// The pipelined write failed or timed out.
    RedisError,
    /// The service stopped before the update could be written.
    Shutdown,
}

impl DropReason {
    /// Every reason, in label order.
    pub const ALL: [DropReason; 5] = [
        DropReason::ChannelFull,
        DropReason::BreakerOpen,
        DropReason::RedisDown,
        DropReason::RedisError,
        DropReason::Shutdown,
    ];

    /// The `reason` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::ChannelFull => "channel_full",
            DropReason::BreakerOpen => "breaker_open",
            DropReason::RedisDown => "redis_down",
            DropReason::RedisError => "redis_error",
            DropReason::Shutdown => "shutdown",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of one ticker service instance. Cheap to share (`Arc<Stats>`).
#[derive(Debug, Default)]
pub struct Stats {
    ingested: AtomicU64,
    published: AtomicU64,
    batches: AtomicU64,
    dropped: [AtomicU64; 5],
    restarts: Mutex<BTreeMap<String, u64>>,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    redis_connected: AtomicBool,
    feed_connected: AtomicBool,
    last_feed_update_us: AtomicU64,
    latency: LatencyHistogram,
}

impl Stats {
    /// Fresh zeroed counters.
    pub fn new() -> Stats {
        Stats::default()
    }

    /// Updates accepted from the feed (published or not).
    pub fn ingested(&self) -> u64 {
        self.ingested.load(Ordering::Relaxed)
    }

    /// Updates acknowledged by Redis.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Pipelined batches acknowledged by Redis.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Updates dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()].load(Ordering::Relaxed)
    }

    /// Updates dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        DropReason::ALL.iter().map(|r| self.dropped(*r)).sum()
    }

    /// Restarts of supervised task `task`.
    pub fn restarts(&self, task: &str) -> u64 {
        self.restarts
            .lock()
            .map(|m| m.get(task).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Successful and failed subscription reloads.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads_ok.load(Ordering::Relaxed),
            self.reloads_failed.load(Ordering::Relaxed),
        )
    }

    /// Whether the publisher currently holds a working Redis connection.
    pub fn redis_connected(&self) -> bool {
        self.redis_connected.load(Ordering::Relaxed)
    }

    /// Whether the feed is currently connected (the simulated feed always is while running).
    pub fn feed_connected(&self) -> bool {
        self.feed_connected.load(Ordering::Relaxed)
    }

    /// Unix epoch µs (local clock) when the last update arrived from the feed (0 before the first).
    pub fn last_feed_update_us(&self) -> u64 {
        self.last_feed_update_us.load(Ordering::Relaxed)
    }

    /// Update-to-publish-ack latencies.
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    pub(crate) fn add_ingested(&self, n: u64, now_us: i64) {
        self.ingested.fetch_add(n, Ordering::Relaxed);
        self.last_feed_update_us
            .store(u64::try_from(now_us).unwrap_or(0), Ordering::Relaxed);
    }

    pub(crate) fn add_published(&self, n: u64) {
        self.published.fetch_add(n, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ivcrush_ticker_published_total").increment(n);
        metrics::counter!("ivcrush_ticker_batches_total").increment(1);
    }

    pub(crate) fn add_dropped(&self, reason: DropReason, n: u64) {
        if n == 0 {
            return;
        }
        self.dropped[reason.index()].fetch_add(n, Ordering::Relaxed);
        metrics::counter!("ivcrush_ticker_dropped_total", "reason" => reason.as_str()).increment(n);
    }

    pub(crate) fn add_restart(&self, task: &str) {
        if let Ok(mut m) = self.restarts.lock() {
            *m.entry(task.to_owned()).or_insert(0) += 1;
        }
        metrics::counter!("ivcrush_ticker_task_restarts_total", "task" => task.to_owned())
            .increment(1);
    }

    pub(crate) fn add_reload(&self, ok: bool) {
        let (counter, outcome) = if ok {
            (&self.reloads_ok, "success")
        } else {
            (&self.reloads_failed, "failure")
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ivcrush_ticker_reloads_total", "outcome" => outcome).increment(1);
    }

    pub(crate) fn set_redis_connected(&self, up: bool) {
        self.redis_connected.store(up, Ordering::Relaxed);
        metrics::gauge!("ivcrush_ticker_redis_connected").set(if up { 1.0 } else { 0.0 });
    }

    pub(crate) fn set_feed_connected(&self, up: bool) {
        self.feed_connected.store(up, Ordering::Relaxed);
        metrics::gauge!("ivcrush_ticker_feed_connected").set(if up { 1.0 } else { 0.0 });
    }
}

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 10_000; // 10 µs resolution up to 100 ms, then one overflow bucket

/// A fixed-size latency histogram (10 µs buckets up to 100 ms plus overflow), lock-free.
///
/// Used for the benchmark's p99; Prometheus gets the same samples through
/// `ivcrush_ticker_publish_latency_seconds` with explicit buckets.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Adds one sample.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = usize::try_from(us / BUCKET_US).map_or(BUCKETS, |i| i.min(BUCKETS));
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The `q` quantile (`0.0..=1.0`), as the upper edge of its 10-µs bucket; `None` when empty.
    /// Samples above 100 ms read as 100 ms.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                let edge = ((i as u64 + 1) * BUCKET_US).min(BUCKETS as u64 * BUCKET_US);
                return Some(Duration::from_micros(edge));
            }
        }
        Some(Duration::from_micros(BUCKETS as u64 * BUCKET_US))
    }

    /// Forgets every sample (benchmarks reset after warm-up).
    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
    }
}

/// Registers the HELP text (and unit) of every ticker metric, and of the resilience
/// policies it runs, with the current recorder (see `promtool check metrics`).
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    ivcrush_resilience::describe_metrics();
    describe_counter!(
        "ivcrush_ticker_published_total",
        "Quote updates published to Redis"
    );
    describe_counter!(
        "ivcrush_ticker_batches_total",
        "Pipelined Redis batches published"
    );
    describe_counter!(
        "ivcrush_ticker_dropped_total",
        "Quote updates dropped, by reason"
    );
    // Every reason's series exists from the start (at 0), so rates and alerts see the first drop.
    for reason in DropReason::ALL {
        metrics::counter!("ivcrush_ticker_dropped_total", "reason" => reason.as_str()).increment(0);
    }
    describe_counter!(
        "ivcrush_ticker_implied_total",
        "Live implied moves computed and published, by outcome (ok, error: no figure)"
    );
    describe_counter!(
        "ivcrush_ticker_implied_write_errors_total",
        "Live implied moves Redis did not take (retried the next round)"
    );
    describe_counter!(
        "ivcrush_ticker_task_restarts_total",
        "Supervised background tasks restarted, by task"
    );
    describe_counter!(
        "ivcrush_ticker_reloads_total",
        "Watchlist reloads by outcome"
    );
    describe_gauge!(
        "ivcrush_ticker_redis_connected",
        "1 while Redis accepts writes, else 0"
    );
    describe_gauge!(
        "ivcrush_ticker_feed_connected",
        "1 while the market-data feed is connected, else 0"
    );
    describe_counter!(
        "ivcrush_ticker_evicted_total",
        "Instruments evicted from memory, by reason (lru, expired)"
    );
    describe_gauge!("ivcrush_ticker_instruments", "Instruments held in memory");
    describe_gauge!(
        "ivcrush_ticker_queue_depth",
        "Quote updates waiting for the publisher (read at scrape time)"
    );
    describe_gauge!(
        "ivcrush_ticker_queue_capacity",
        "Quote updates the publisher queue holds before dropping as channel_full"
    );
    describe_gauge!(
        "ivcrush_ticker_feed_last_update_timestamp_seconds",
        "Unix time of the last quote from the feed (staleness: time() minus this); absent until the first quote"
    );
    describe_counter!(
        "ivcrush_ticker_feed_reconnects_total",
        "Reconnections of the streaming feed, by feed"
    );
    describe_counter!(
        "ivcrush_ticker_parse_errors_total",
        "Feed messages that could not be parsed, by feed"
    );
    describe_histogram!(
        "ivcrush_ticker_publish_latency_seconds",
        Unit::Seconds,
        "Time from a quote's arrival from the feed to Redis acknowledging it"
    );
    describe_histogram!(
        "ivcrush_ticker_batch_seconds",
        Unit::Seconds,
        "Time of one pipelined Redis batch"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_read_the_upper_bucket_edge() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.99), None);
        for us in 1..=100 {
            h.record(Duration::from_micros(us * 100));
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Some(Duration::from_micros(5_010)));
        assert_eq!(h.quantile(0.99), Some(Duration::from_micros(9_910)));
        h.record(Duration::from_secs(5));
        assert_eq!(h.quantile(1.0), Some(Duration::from_millis(100)));
    }
}
