//! The ivcrush streaming ticker service (`ivcrush ticker`): a feed (the simulated market or
//! Tradier streaming) → immutable per-instrument snapshots → Redis pub/sub, a capped stream and
//! a latest-value hash per instrument, with every background task supervised.
//!
//! # Architecture
//! ```text
//!  feed task ──push──► Ingest ──► StateStore (papaya map of Arc<Snapshot>, LRU-bounded)
//!  (sim | tradier)       │
//!                        └─try_send─► bounded mpsc ──recv_many──► Publisher ──► Redis
//!                          (full → drop + count)      (batches)   (breaker, pipeline,
//!                                                                  own reconnect loop)
//!  reloader (watchlist file / Redis key) ──watch──► feed resubscribes
//!  sweeper (expired options, every 5 min)   http (/metrics, /health/live, /health/ready)
//!  each of them under supervise(): error/panic → log + count + restart with backoff
//! ```
//! - The feed **never blocks**: [`Ingest::push`] stores the snapshot and `try_send`s it; a full
//!   channel drops the update from publishing
//!   (`ivcrush_ticker_dropped_total{reason="channel_full"}`). The one exception is the simulated
//!   feed flat out (rate 0): a synthetic source, it waits while about one batch is queued ([`Ingest::queued_at_most`])
//!   instead of generating updates only to drop them (that took the CPU Redis needed).
//!   Memory is bounded by the channel capacity and `max_instruments`.
//! - **State** ([`StateStore`]): readers never lock and never see torn values (immutable
//!   `Arc<Snapshot>` published by an atomic swap in a papaya map; see `state.rs` for why not
//!   `ArcSwap<HashMap>` or dashmap). At most `max_instruments` (default 5,000, LRU eviction);
//!   options past their expiration are removed every 5 minutes.
//! - **Publisher** ([`Publisher`]): batches of up to 2,048 updates, one pipeline each, up to 4
//!   batches on the wire at once on one multiplexed connection (Redis runs them in order),
//!   each through the `redis` [`CircuitBreaker`](ivcrush_resilience::CircuitBreaker) (3
//!   consecutive failures → open for 1 s). Encoding overlaps the writes (two stages joined in
//!   one task, one encoded batch in between). While Redis is down,
//!   batches are dropped and counted (`breaker_open`, `redis_down`, `redis_error`); a reconnect
//!   is tried at most ~1 s apart (100 ms · 2^n, capped at 1 s; 500 ms connect timeout, 1 s
//!   response timeout), so publishing resumes within about 2 s of Redis coming back (the outage
//!   test measured ≈ 0.3 s).
//! - **Reloads** ([`Reloader`]): debounced 1 s, coalesced, one in flight, ≥ 5 s apart; a failed
//!   reload keeps the old subscriptions.
//! - **Supervision** ([`supervise`]): errors and panics are logged with the task name, counted in
//!   `ivcrush_ticker_task_restarts_total{task}` and the task restarted (100 ms · 2^n up to 5 s).
//! - **Shutdown**: SIGTERM/SIGINT (or `--duration`) stops the feeds first, then the publisher
//!   drains and writes what is queued (bounded by 3 s).
//!
//! # Redis keys (prefix configurable, default `ivcrush:`)
//! - `PUBLISH {prefix}quotes:{underlying}` — the JSON message below, one per update.
//! - `XADD {prefix}stream:quotes MAXLEN ~ N * field value …` — one entry per update with the
//!   fields of the message as strings (absent values as empty strings); `N` is
//!   `--stream-maxlen` (default 100,000).
//! - `HSET {prefix}last:{symbol} field value …` — the latest snapshot of each instrument, same
//!   fields (written once per batch per instrument, with its latest value).
//! - `GET {prefix}watchlist` — optional symbol list watched with `--watch-redis-key`.
//! - `PUBLISH {prefix}implied:{underlying}` and `HSET {prefix}implied:last:{underlying}` — the
//!   live implied move of each underlying with a known report ([`implied`]), recomputed from
//!   its latest snapshots at most every 250 ms when they changed.
//!
//! # Message (JSON, version 1)
//! ```json
//! {"symbol":"KVLT260220C00105000","underlying":"KVLT","type":"call","strike":105.0,
//!  "expiration":"2026-02-20","bid":4.1,"ask":4.25,"last":null,"bid_size":12,"ask_size":40,
//!  "last_size":null,"iv":0.4312,"delta":0.5321,"timestamp_us":1769630400012345,"seq":18231}
//! ```
//! `type` is `stock`, `call` or `put`; `strike`, `expiration`, `iv` and `delta` are null for a
//! stock. Prices in dollars; `iv` a fraction (0.43 = 43 %), our own solve (never the vendor's);
//! `timestamp_us` the feed time in Unix epoch microseconds; `seq` a per-process sequence number,
//! strictly increasing in feed order (a gap means updates were dropped before Redis).
//!
//! # Metrics
//! `ivcrush_ticker_published_total`, `ivcrush_ticker_batches_total`,
//! `ivcrush_ticker_dropped_total{reason}` (`channel_full`, `breaker_open`, `redis_down`,
//! `redis_error`, `shutdown`),
//! `ivcrush_ticker_task_restarts_total{task}`, `ivcrush_ticker_reloads_total{outcome}`,
//! `ivcrush_ticker_evicted_total{reason=lru|expired}`, `ivcrush_ticker_instruments`,
//! `ivcrush_ticker_redis_connected`, `ivcrush_ticker_feed_connected`,
//! `ivcrush_ticker_feed_reconnects_total{feed}`, `ivcrush_ticker_parse_errors_total{feed}`,
//! histograms `ivcrush_ticker_publish_latency_seconds` (feed → Redis ack) and
//! `ivcrush_ticker_batch_seconds` with explicit buckets ([`http::LATENCY_BUCKETS`]), plus the
//! breaker's `ivcrush_circuit_breaker_*{name="redis"}`.
//!
//! # Running
//! `ivcrush ticker --feed sim --rate 5000 --metrics-bind 127.0.0.1:9187` (the flags, the
//! shutdown signals and the global metrics recorder belong to the binary, which hands this
//! crate a plain [`TickerConfig`]; standalone: `cargo run -p ivcrush-ticker --example ticker`).
//! With `--feed sim` and no
//! symbols it streams the first 10 tickers of the simulated universe: each underlying plus
//! calls and puts on its 2 nearest expiries × 5 strikes each side of the money (≈ 400
//! instruments). `--feed tradier` needs `TRADIER_API_KEY` and `--symbols`/`--watchlist`; each
//! underlying is expanded to its near chain through the Tradier REST API, by one
//! [`TradierClient`](ivcrush_market::TradierClient) (one quota limiter and breaker) that also
//! opens every streaming session; options are priced at `--risk-free-rate`.
//!
//! # Performance
//! `benches/publish.rs` (`REDIS_URL=… cargo bench -p ivcrush-ticker --bench publish`), 2-core
//! machine, Redis on loopback, 2026-11-26: flat out, 276,000–295,000 updates/s published (Redis
//! then ≈ 95 % of a core, this process about one core); p99 feed → ack 1.5–1.7 ms at 50,000
//! updates/s, 2.4–2.8 ms at 100,000/s. The bench measures the ceilings in the same run with
//! `redis-benchmark -P 16`: a bare `PUBLISH ch hello` 1.37–1.77 M/s; of our layout (a `PUBLISH`
//! of the JSON and a 15-field `XADD` per update, a 15-field `HSET` per instrument per batch)
//! Redis itself takes 183,000–338,000 updates/s, so we publish at that ceiling, ≈ 20 % of the
//! bare `PUBLISH` rate. The `XADD` alone tops out at 26–30 % of a bare `PUBLISH`.
//! Flat out, latency is the queue (p99 ≈ 40 ms with about one batch queued).

//! # Decisions
//! - Our own reconnect loop over a `MultiplexedConnection` rather than `ConnectionManager`:
//!   the outage timing (drop at once, retry ≤ 1 s apart, resume ≤ 5 s) is explicit and tested.
//! - One `HSET` per instrument per batch, not per update: the hash only holds the latest value,
//!   and this cuts the Redis work by a third at high rates.
//! - The simulated feed keeps each option's vol fixed (sticky strike) and reprices with
//!   Black–Scholes; deterministic from the seed.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
pub mod feed;
pub mod http;
pub mod implied;
mod ingest;
mod publisher;
mod reload;
mod service;
mod snapshot;
mod state;
mod stats;
mod supervisor;

pub use crate::error::TickerError;
pub use crate::ingest::{Ingest, now_us};
pub use crate::publisher::{Keys, Publisher, PublisherConfig};
pub use crate::reload::{
    ReloadPolicy, ReloadTrigger, Reloader, SymbolSet, normalize, parse_symbol_list,
};
pub use crate::service::{
    DropAlarm, FeedConfig, MAX_SIM_RATE, RunSummary, SymbolSource, TickerConfig, TickerService,
};
pub use crate::snapshot::{InstrumentKind, OccSymbol, Snapshot, format_occ, parse_occ};
pub use crate::state::StateStore;
pub use crate::stats::{DropReason, LatencyHistogram, Stats};
pub use crate::supervisor::{RestartPolicy, supervise};
