//! The Redis publisher: batches from the bounded channel, one pipelined round trip per batch,
//! behind a circuit breaker, with its own reconnect loop.
//!
//! # Why our own reconnect loop (not `ConnectionManager`)
//! The outage behaviour must be exact: while Redis is down, batches are dropped at once and
//! counted, and the first attempt after Redis returns must come within a bounded time. A
//! multiplexed connection plus a few lines of state does that visibly: a connect attempt is
//! bounded by `connect_timeout` (default 500 ms), every command by `response_timeout`
//! (default 1 s, so a silently dead connection is found fast), and a failed connect is retried
//! after 100 ms · 2^n capped at `reconnect_max` (default 1 s). With the breaker's 1-s open wait
//! the publisher tries Redis at least every ~1 s, so publishing resumes within about 2 s of
//! Redis returning.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use ivcrush_resilience::{
    Backoff, BreakerConfig, BreakerPermit, CircuitBreaker, Outcome, TripMode,
};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::error::TickerError;
use crate::snapshot::Snapshot;
use crate::stats::{DropReason, Stats};

/// Redis key and channel names under one prefix (default `ivcrush:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Names under `prefix` (include the separator: `ivcrush:`).
    pub fn new(prefix: impl Into<String>) -> Keys {
        Keys {
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Pub/sub channel of one underlying: `{prefix}quotes:{underlying}`.
    pub fn channel(&self, underlying: &str) -> String {
        format!("{}quotes:{underlying}", self.prefix)
    }

    /// The stream of every update: `{prefix}stream:quotes`.
    pub fn stream(&self) -> String {
        format!("{}stream:quotes", self.prefix)
    }

    /// Hash with the latest snapshot of one instrument: `{prefix}last:{symbol}`.
    pub fn last(&self, symbol: &str) -> String {
        format!("{}last:{symbol}", self.prefix)
    }

    /// Pub/sub channel of one underlying's live implied move: `{prefix}implied:{underlying}`.
    pub fn implied(&self, underlying: &str) -> String {
        format!("{}implied:{underlying}", self.prefix)
    }

    /// Hash with one underlying's latest implied move: `{prefix}implied:last:{underlying}`.
    pub fn implied_last(&self, underlying: &str) -> String {
        format!("{}implied:last:{underlying}", self.prefix)
    }

    /// String key holding the subscribed symbols (comma/space/newline separated), watched for
    /// reloads: `{prefix}watchlist`.
    pub fn watchlist(&self) -> String {
        format!("{}watchlist", self.prefix)
    }
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new("ivcrush:")
    }
}

/// Publisher settings.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// Redis URL (`redis://host:port/db`). Never logged (it may hold a password).
    pub redis_url: String,
    /// Key names.
    pub keys: Keys,
    /// Approximate stream length bound (`XADD … MAXLEN ~ N`). Default 100,000.
    pub stream_maxlen: usize,
    /// Updates per pipelined round trip, at most. Default 2,048.
    pub batch_size: usize,
    /// Batches written at once on the connection. Default 4.
    pub max_in_flight: usize,
    /// Bound on one connect attempt. Default 500 ms.
    pub connect_timeout: Duration,
    /// Bound on one pipelined batch. Default 1 s.
    pub response_timeout: Duration,
    /// Cap of the reconnect backoff (100 ms · 2^n). Default 1 s.
    pub reconnect_max: Duration,
    /// Time allowed to flush pending writes at shutdown. Default 3 s.
    pub flush_timeout: Duration,
    /// Breaker around every batch. Default: 3 consecutive failures, 1-s open wait, 1 trial.
    pub breaker: BreakerConfig,
}

impl PublisherConfig {
    /// Defaults for `redis_url`.
    pub fn new(redis_url: impl Into<String>) -> PublisherConfig {
        PublisherConfig {
            redis_url: redis_url.into(),
            keys: Keys::default(),
            stream_maxlen: 100_000,
            batch_size: 2_048,
            max_in_flight: 4,
            connect_timeout: Duration::from_millis(500),
            response_timeout: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(1),
            flush_timeout: Duration::from_secs(3),
            breaker: BreakerConfig {
                mode: TripMode::Consecutive,
                consecutive_failures: 3,
                open_wait_ms: 1_000,
                half_open_permits: 1,
                slow_call_ms: 1_000,
                ..BreakerConfig::default()
            },
        }
    }
}

/// The publishing side shared across restarts of the publisher task: the breaker, the
/// channel receiver and the counters.
#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: PublisherConfig,
    client: Client,
    breaker: CircuitBreaker,
    rx: Mutex<mpsc::Receiver<Arc<Snapshot>>>,
    stats: Arc<Stats>,
}

impl Publisher {
    /// A publisher draining `rx`.
    ///
    /// # Errors
    /// [`TickerError::Config`] for an unparsable Redis URL or breaker settings.
    pub fn new(
        config: PublisherConfig,
        rx: mpsc::Receiver<Arc<Snapshot>>,
        stats: Arc<Stats>,
    ) -> Result<Publisher, TickerError> {
        let client = Client::open(config.redis_url.as_str())
            .map_err(|e| TickerError::Config(vec![format!("redis url: {}", e.category())]))?;
        let breaker = CircuitBreaker::new("redis", config.breaker.clone())
            .map_err(|e| TickerError::Config(vec![format!("redis breaker: {e}")]))?;
        Ok(Publisher {
            inner: Arc::new(Shared {
                config,
                client,
                breaker,
                rx: Mutex::new(rx),
                stats,
            }),
        })
    }

    /// The Redis breaker (for health).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// The Redis client (for health checks and reload sources).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Runs until `cancel` fires, then flushes what is queued (bounded by `flush_timeout`). A
    /// closed, drained channel just waits for `cancel`. Redis trouble never ends it: batches
    /// are dropped and counted.
    ///
    /// # Errors
    /// None today; the signature lets the supervisor treat it like every task.
    pub async fn run(&self, cancel: CancellationToken) -> Result<(), TickerError> {
        let shared = &self.inner;
        let rx = shared.rx.lock().await;
        // Two stages in one task: while one batch is on the wire (Redis works on the other
        // core), the next one is encoded. The hand-off holds one encoded batch, so memory
        // stays bounded and a slow Redis backs up into the bounded feed channel.
        let (built_tx, mut built_rx) = mpsc::channel::<Built>(1);
        let encode = encode_batches(shared, rx, built_tx, &cancel);
        let write = async {
            // Several batches on the wire at once on the one multiplexed connection (Redis
            // runs them in order): with one at a time Redis idled while we read its replies
            // and we idled while it worked (measured: both ≈ 60 % busy, 164k updates/s).
            let max_in_flight = shared.config.max_in_flight.max(1);
            let mut link = Link::new(shared);
            let mut in_flight = FuturesUnordered::new();
            let mut open = true;
            while open || !in_flight.is_empty() {
                tokio::select! {
                    // Finished writes first, and every new write polled (queued on the
                    // connection) before the next is taken: batches reach Redis in feed order.
                    biased;
                    Some(done) = in_flight.next(), if !in_flight.is_empty() => link.finish(done),
                    built = built_rx.recv(), if open && in_flight.len() < max_in_flight => {
                        match built {
                            Some(built) => {
                                if let Some(sent) = link.send(built).await {
                                    in_flight.push(sent);
                                }
                            }
                            None => open = false,
                        }
                    }
                }
            }
        };
        let ((), ()) = tokio::join!(encode, write);
        Ok(())
    }
}

/// One encoded batch on its way to Redis.
struct Built {
    pipe: redis::Pipeline,
    items: Vec<Arc<Snapshot>>,
}

/// Takes batches from the feed channel and encodes them until `cancel`; then drains and
/// encodes what is queued within the flush deadline (the rest is dropped as `shutdown`).
async fn encode_batches(
    shared: &Shared,
    mut rx: tokio::sync::MutexGuard<'_, mpsc::Receiver<Arc<Snapshot>>>,
    built: mpsc::Sender<Built>,
    cancel: &CancellationToken,
) {
    let batch_size = shared.config.batch_size.max(1);
    let mut batch = Vec::with_capacity(batch_size);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            n = rx.recv_many(&mut batch, batch_size) => {
                if n == 0 {
                    // Every sender is gone (the feeds stopped) and the queue is empty:
                    // nothing left to write; wait for the shutdown signal.
                    cancel.cancelled().await;
                    break;
                }
                let items = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                let pipe = build_pipeline(&shared.config, &items);
                if built.send(Built { pipe, items }).await.is_err() {
                    return;
                }
            }
        }
    }
    // Flush: stop accepting, drain what is queued, write it within the flush deadline.
    rx.close();
    let deadline = Instant::now() + shared.config.flush_timeout;
    let mut flushed = 0usize;
    loop {
        let mut items = Vec::with_capacity(batch_size);
        while items.len() < batch_size {
            match rx.try_recv() {
                Ok(s) => items.push(s),
                Err(_) => break,
            }
        }
        if items.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            shared
                .stats
                .add_dropped(DropReason::Shutdown, items.len() as u64);
            continue;
        }
        flushed += items.len();
        let pipe = build_pipeline(&shared.config, &items);
        if built.send(Built { pipe, items }).await.is_err() {
            return;
        }
    }
    tracing::info!(flushed, "publisher flushed pending writes and stopped");
}

/// The connection state of one running publisher task.
struct Link<'a> {
    shared: &'a Shared,
    conn: Option<MultiplexedConnection>,
    /// Counts connections made, so that late failures of writes on an old connection do not
    /// tear down its replacement.
    generation: u64,
    next_connect: Instant,
    failures: u32,
    last_error_log: Option<Instant>,
}

enum Connect {
    Ready(MultiplexedConnection),
    /// In backoff: no attempt made.
    Waiting,
    /// An attempt was made and failed.
    Failed(TickerError),
}

impl<'a> Link<'a> {
    fn new(shared: &'a Shared) -> Link<'a> {
        Link {
            shared,
            conn: None,
            generation: 0,
            next_connect: Instant::now(),
            failures: 0,
            last_error_log: None,
        }
    }

    async fn connect(&mut self) -> Connect {
        if let Some(c) = &self.conn {
            return Connect::Ready(c.clone());
        }
        if Instant::now() < self.next_connect {
            return Connect::Waiting;
        }
        let cfg = &self.shared.config;
        let options = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(cfg.connect_timeout))
            .set_response_timeout(Some(cfg.response_timeout));
        let attempt = self
            .shared
            .client
            .get_multiplexed_async_connection_with_config(&options);
        let result = match tokio::time::timeout(cfg.connect_timeout, attempt).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(TickerError::from(e)),
            Err(_) => Err(TickerError::RedisTimeout(cfg.connect_timeout)),
        };
        match result {
            Ok(c) => {
                if self.failures > 0 {
                    tracing::info!(after_failures = self.failures, "redis reconnected");
                }
                self.failures = 0;
                self.generation += 1;
                self.conn = Some(c.clone());
                self.shared.stats.set_redis_connected(true);
                Connect::Ready(c)
            }
            Err(e) => {
                self.mark_down();
                Connect::Failed(e)
            }
        }
    }

    fn mark_down(&mut self) {
        self.conn = None;
        let backoff =
            Backoff::doubling(Duration::from_millis(100), self.shared.config.reconnect_max);
        self.next_connect = Instant::now() + backoff.ceiling(self.failures);
        self.failures = self.failures.saturating_add(1);
        self.shared.stats.set_redis_connected(false);
    }

    fn log_error(&mut self, what: &str, e: &TickerError, dropped: usize) {
        // At most one line per second during an outage; the counters carry the rest.
        let now = Instant::now();
        if self
            .last_error_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last_error_log = Some(now);
            tracing::warn!(
                error = e as &(dyn std::error::Error + 'static),
                dropped,
                "redis {what} failed; dropping updates"
            );
        }
    }

    /// Starts writing one batch: takes a breaker permit and the connection, and returns the
    /// write in flight; `None` when the batch was dropped (breaker open, Redis down).
    async fn send(&mut self, built: Built) -> Option<InFlight<'a>> {
        let stats = &self.shared.stats;
        let n = built.items.len() as u64;
        let Ok(permit) = self.shared.breaker.try_acquire() else {
            stats.add_dropped(DropReason::BreakerOpen, n);
            return None;
        };
        let started = Instant::now();
        let mut conn = match self.connect().await {
            Connect::Ready(c) => c,
            Connect::Waiting => {
                drop(permit); // no call made: nothing to record
                stats.add_dropped(DropReason::RedisDown, n);
                return None;
            }
            Connect::Failed(e) => {
                permit.record(Outcome::Failure, started.elapsed());
                stats.add_dropped(DropReason::RedisDown, n);
                self.log_error("connect", &e, built.items.len());
                return None;
            }
        };
        let timeout = self.shared.config.response_timeout;
        let generation = self.generation;
        Some(Box::pin(async move {
            let result = match tokio::time::timeout(
                timeout,
                built.pipe.query_async::<()>(&mut conn),
            )
            .await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(TickerError::from(e)),
                Err(_) => Err(TickerError::RedisTimeout(timeout)),
            };
            Written {
                permit,
                started,
                generation,
                items: built.items,
                result,
            }
        }))
    }

    /// Accounts for one finished write: breaker outcome, latency, counters, reconnects.
    fn finish(&mut self, done: Written<'a>) {
        let stats = &self.shared.stats;
        let Written {
            permit,
            started,
            generation,
            items,
            result,
        } = done;
        let n = items.len() as u64;
        let elapsed = started.elapsed();
        match result {
            Ok(()) => {
                permit.record(Outcome::Success, elapsed);
                let acked = Instant::now();
                let latency = stats.latency();
                let histogram = metrics::histogram!("ivcrush_ticker_publish_latency_seconds");
                for s in &items {
                    if let Some(fed) = s.fed_at {
                        let d = acked.saturating_duration_since(fed);
                        latency.record(d);
                        histogram.record(d.as_secs_f64());
                    }
                }
                metrics::histogram!("ivcrush_ticker_batch_seconds").record(elapsed.as_secs_f64());
                stats.add_published(n);
            }
            Err(e) => {
                permit.record(Outcome::Failure, elapsed);
                stats.add_dropped(DropReason::RedisError, n);
                let connection_lost = match &e {
                    TickerError::Redis(r) => {
                        r.is_io_error() || r.is_connection_dropped() || r.is_timeout()
                    }
                    _ => true,
                };
                // Several writes may fail together on one lost connection: reconnect once.
                if connection_lost && self.conn.is_some() && generation == self.generation {
                    self.mark_down();
                    // The first reconnect attempt is immediate: the server may just have
                    // restarted.
                    self.next_connect = Instant::now();
                }
                self.log_error("write", &e, items.len());
            }
        }
    }
}

/// A batch being written.
type InFlight<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Written<'a>> + Send + 'a>>;

/// A finished write, to be accounted for.
struct Written<'a> {
    permit: BreakerPermit<'a>,
    started: Instant,
    generation: u64,
    items: Vec<Arc<Snapshot>>,
    result: Result<(), TickerError>,
}

/// One pipeline for a batch: `PUBLISH` and `XADD` per update, one `HSET` per distinct
/// instrument (its latest snapshot in the batch), all replies ignored.
///
/// Allocation matters here (a profile of the first version showed ~40 % of the publisher in
/// malloc/free): commands are sized up front, numbers are written straight into the command
/// buffer, and the JSON and channel-name buffers are reused across the batch.
fn build_pipeline(config: &PublisherConfig, batch: &[Arc<Snapshot>]) -> redis::Pipeline {
    let keys = &config.keys;
    let stream = keys.stream();
    let mut pipe = redis::Pipeline::with_capacity(batch.len() * 2 + 16);
    let mut latest: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut json = Vec::with_capacity(512);
    let mut name = String::with_capacity(64);
    let mut scratch = String::with_capacity(16);
    for (i, s) in batch.iter().enumerate() {
        json.clear();
        if serde_json::to_writer(&mut json, &**s).is_err() {
            json.clear(); // cannot happen for this type; publish an empty payload rather than panic
        }
        name.clear();
        name.push_str(keys.prefix());
        name.push_str("quotes:");
        name.push_str(&s.underlying);
        let mut publish = redis::Cmd::with_capacity(3, 16 + name.len() + json.len());
        publish.arg("PUBLISH").arg(name.as_str()).arg(&json[..]);
        pipe.add_command(publish).ignore();
        let mut xadd = redis::Cmd::with_capacity(6 + 2 * FIELDS, 64 + stream.len() + 256);
        xadd.arg("XADD")
            .arg(&stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(config.stream_maxlen)
            .arg("*");
        write_fields(&mut xadd, s, &mut scratch);
        pipe.add_command(xadd).ignore();
        latest.insert(&s.symbol, i);
    }
    let mut last: Vec<usize> = latest.into_values().collect();
    last.sort_unstable();
    for i in last {
        let s = &batch[i];
        name.clear();
        name.push_str(keys.prefix());
        name.push_str("last:");
        name.push_str(&s.symbol);
        let mut hset = redis::Cmd::with_capacity(2 + 2 * FIELDS, 64 + name.len() + 256);
        hset.arg("HSET").arg(name.as_str());
        write_fields(&mut hset, s, &mut scratch);
        pipe.add_command(hset).ignore();
    }
    pipe
}

/// Field/value pairs written by [`write_fields`] (the JSON fields).
const FIELDS: usize = Snapshot::FIELDS.len();

/// The snapshot's fields as `XADD`/`HSET` pairs: every field always present, numbers in
/// shortest round-trip form, absent values as empty strings. Same names as the JSON.
fn write_fields(cmd: &mut redis::Cmd, s: &Snapshot, scratch: &mut String) {
    use std::fmt::Write as _;
    fn float(cmd: &mut redis::Cmd, name: &str, v: Option<f64>) {
        cmd.arg(name);
        match v {
            Some(x) => cmd.arg(x),
            None => cmd.arg(""),
        };
    }
    fn whole(cmd: &mut redis::Cmd, name: &str, v: Option<u64>) {
        cmd.arg(name);
        match v {
            Some(x) => cmd.arg(x),
            None => cmd.arg(""),
        };
    }
    scratch.clear();
    if let Some(d) = s.expiration {
        let _ = write!(scratch, "{d}");
    }
    cmd.arg("symbol")
        .arg(&*s.symbol)
        .arg("underlying")
        .arg(&*s.underlying)
        .arg("type")
        .arg(s.kind.as_str());
    float(cmd, "strike", s.strike);
    cmd.arg("expiration").arg(scratch.as_str());
    float(cmd, "bid", s.bid);
    float(cmd, "ask", s.ask);
    float(cmd, "last", s.last);
    whole(cmd, "bid_size", s.bid_size);
    whole(cmd, "ask_size", s.ask_size);
    whole(cmd, "last_size", s.last_size);
    float(cmd, "iv", s.iv);
    float(cmd, "delta", s.delta);
    cmd.arg("timestamp_us")
        .arg(s.timestamp_us)
        .arg("seq")
        .arg(s.seq);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_match_the_documented_snapshot_fields() {
        let mut s = Snapshot::empty("AAPL260130C00250000");
        s.bid = Some(6.05);
        s.seq = 7;
        let mut cmd = redis::cmd("HSET");
        write_fields(&mut cmd, &s, &mut String::new());
        let args: Vec<String> = cmd
            .args_iter()
            .filter_map(|a| match a {
                redis::Arg::Simple(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(args.len(), 1 + 2 * FIELDS);
        let written: Vec<&str> = args[1..].iter().step_by(2).map(String::as_str).collect();
        assert_eq!(written, Snapshot::FIELDS);
        let value = |n: &str| {
            args[1..]
                .chunks(2)
                .find(|c| c[0] == n)
                .map(|c| c[1].clone())
        };
        assert_eq!(value("bid").as_deref(), Some("6.05"));
        assert_eq!(value("ask").as_deref(), Some(""));
        assert_eq!(value("expiration").as_deref(), Some("2026-01-30"));
        assert_eq!(value("type").as_deref(), Some("call"));
        assert_eq!(value("seq").as_deref(), Some("7"));
    }
}
