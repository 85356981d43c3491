//! # ivcrush-mockvendor — a local Tradier + Alpha Vantage mock backed by the simulated market
//!
//! [`MockVendor::start`] binds `127.0.0.1:0` and serves, until dropped (or
//! [`MockVendor::shutdown`]), the wire formats of `spec/vendors.md` with data taken from
//! [`SimMarket::new(seed, as_of)`](ivcrush_market::sim::SimMarket::new), so that a test can fetch
//! through the real vendor clients and compare with the simulator directly.
//!
//! Tradier (under `/v1/`, JSON, the list-collapse quirk and null wrappers included):
//! - `GET|POST /v1/markets/quotes` (`symbols`, query or form), unknown symbols in
//!   `unmatched_symbols`;
//! - `GET /v1/markets/options/expirations?symbol=` (plain `date` list, or objects under
//!   `expiration` with `strikes|contractSize|expirationType=true`);
//! - `GET /v1/markets/options/chains?symbol=&expiration=&greeks=`;
//! - `GET /v1/markets/history?symbol=&interval=daily&start=&end=`;
//! - `GET /v1/markets/clock`;
//! - `POST /v1/markets/events/session`: `{"stream": {"url", "sessionid"}}` with a fresh
//!   single-use session id (good for one websocket connection within 5 minutes), recorded
//!   ([`MockVendor::stream_sessions`]); `url` is the HTTP-streaming URL, as Tradier answers,
//!   which the mock does not serve.
//!
//! Tradier streaming, on a second listener ([`MockVendor::ws_url`],
//! `ws://127.0.0.1:PORT/v1/markets/events`, tokio-tungstenite): the client sends the subscribe
//! payload (`symbols`, `sessionid`, `filter`; resent on the same connection to change symbols).
//! An unknown, used or expired session id gets `{"error": …}` and a close. Then, for every
//! symbol, a round of events at once and one every [`MockConfig::stream_interval`] until the
//! client closes: for an underlying a `quote` (numbers, dates as epoch-ms strings) and a `trade`
//! (all strings), for an OCC option symbol a `quote` from the sim chain; an unknown symbol gets
//! `{"error": "<symbol> is not a valid symbol"}` once. Dates start at the as-of and advance one
//! interval per round, so the events are deterministic.
//!
//! Alpha Vantage (`GET /query?function=…&apikey=…`, always HTTP 200):
//! - `EARNINGS_CALENDAR` (CSV with CRLF, `horizon=3month|6month|12month` from the as-of date,
//!   optional `symbol`);
//! - `EARNINGS` (JSON, string values, `quarterlyEarnings` newest first with `reportTime`);
//! - `TIME_SERIES_DAILY` (compact: the latest 100 completed sessions; `outputsize=full` answers
//!   the free-plan premium `Information`); `TIME_SERIES_DAILY_ADJUSTED` answers the premium
//!   `Information`.
//!
//! Options: a fixed latency on every response, a Tradier fixed-window rate limit (429 with the
//! `X-Ratelimit-*` headers), synthetic ticker aliases for large scans, and an expected API key.
//!
//! Hostile options (all off by default): independent seeded [`Faults`] on every attempt (503,
//! 429 with `Retry-After`, hangs), [`QuoteDates`] and [`GreeksMode`] for missing/zero vendor
//! fields, and chain variants for sanity-gate tests (`stale_quotes`, `spot_offset_pct`,
//! `crossed_near_atm`, `one_sided_near_atm`, `wrong_expiration`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ivcrush_mockvendor::{MockConfig, MockVendor};
//! let mock = MockVendor::start(MockConfig::default()).await?;
//! let tradier_base = mock.base_url(); // also the Alpha Vantage base
//! # let _ = tradier_base; Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod alphavantage;
mod stream;
mod tradier;

pub use stream::Subscription;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use chrono::NaiveDate;
use ivcrush_market::sim::universe::{self, TickerParams};
use ivcrush_market::sim::{DEFAULT_SEED, SimMarket};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// Mock settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Seed of the simulated market.
    pub seed: u64,
    /// As-of date of the simulated market (quotes at 15:30 New York that day).
    pub as_of: NaiveDate,
    /// Added to every response (default 0).
    pub latency: Duration,
    /// Tradier fixed window `(limit, window)`: the window starts at the first request and resets
    /// `window` later; beyond `limit` requests answer 429. When set, every Tradier response
    /// carries `X-Ratelimit-Allowed/Used/Available/Expiry` (Expiry = window end, epoch ms).
    /// `None` (default): unlimited, no headers.
    pub rate_limit: Option<(u32, Duration)>,
    /// Size of the served universe: 0 (or ≤ 60) = the 60 sim tickers; N > 60 = the 60 sim
    /// tickers plus `N − 60` synthetic symbols `SIM001`, `SIM002`, … where `SIMi` serves the
    /// data (and calendar dates) of sim ticker `i % 60`. [`MockConfig::symbols`] lists them.
    pub ticker_aliases: usize,
    /// When set, Tradier requests without `Authorization: Bearer <key>` get 401 (Apigee fault
    /// body) and Alpha Vantage requests with another `apikey` get the invalid-key
    /// `Error Message` (or the demo-key `Information` for `apikey=demo`).
    pub expected_api_key: Option<String>,
    /// Independent random faults drawn on every Tradier request (and Alpha Vantage request when
    /// `faults_on_alphavantage`). `None` (default): no faults.
    pub faults: Option<Faults>,
    /// Also inject [`Faults`] on Alpha Vantage `/query` (default `false`).
    pub faults_on_alphavantage: bool,
    /// `trade_date`/`bid_date`/`ask_date` of stock quotes and option contracts (default
    /// [`QuoteDates::Present`]).
    pub quote_dates: QuoteDates,
    /// `greeks` of chain contracts requested with `greeks=true` (default [`GreeksMode::Present`]).
    pub greeks: GreeksMode,
    /// Quote and option timestamps (`trade_date`, `bid_date`, `ask_date`, greeks `updated_at`) set
    /// this much before the sim's as-of. `None` (default): at the as-of.
    pub stale_quotes: Option<Duration>,
    /// Stock quote `last`/`bid`/`ask` multiplied by `1 + x/100` (rounded to the cent; `change`
    /// and `change_percentage` follow) while chains stay priced at the true spot (default 0).
    pub spot_offset_pct: f64,
    /// The [`NEAR_ATM_STRIKES`] strikes nearest the true spot get crossed quotes (bid and ask
    /// swapped, bid > ask) on both calls and puts (default `false`).
    pub crossed_near_atm: bool,
    /// The chains endpoint answers the contracts of another expiration than the one asked: the
    /// next listed one (the previous one when the asked is the last). Only for a listed expiration;
    /// an unlisted one still answers `{"options": null}` (default `false`).
    pub wrong_expiration: bool,
    /// The [`NEAR_ATM_STRIKES`] strikes nearest the true spot get `bid: 0` on both calls and puts
    /// (default `false`).
    pub one_sided_near_atm: bool,
    /// Pause between two rounds of streamed events on a websocket (default 200 ms; the first
    /// round is sent as soon as the subscription arrives).
    pub stream_interval: Duration,
}

/// How many strikes (nearest the true spot) `crossed_near_atm` and `one_sided_near_atm` affect.
pub const NEAR_ATM_STRIKES: usize = 2;

/// Independent faults: each eligible request draws once from a seeded counter-based RNG (the
/// `n`-th eligible request gets the `n`-th draw, so the sequence is deterministic for a seed
/// given the same request order). One uniform draw `u` picks: `u < server_error` → 503;
/// `< server_error + rate_limited` → 429; `< … + hang` → hang; otherwise the normal answer.
/// Probabilities are clamped to `[0, 1]`; when they sum above 1 the later ones are cut.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Seed of the fault draws.
    pub seed: u64,
    /// Probability of an HTTP 503 (`text/plain` body `Service Unavailable`).
    pub server_error: f64,
    /// Probability of an HTTP 429 (`text/plain` body `Rate limit exceeded`) with
    /// `Retry-After: ceil(retry_after seconds)`, `X-Ratelimit-Available: 0` and
    /// `X-Ratelimit-Expiry: now + retry_after` (epoch ms).
    pub rate_limited: f64,
    /// Probability of a hang: the response is held `hang_for`, then the normal answer is sent
    /// (with the default hour the client's timeout must cut it).
    pub hang: f64,
    /// How long a hang lasts (default 1 hour).
    pub hang_for: Duration,
    /// What an injected 429 asks to wait (default 1 s).
    pub retry_after: Duration,
}

impl Faults {
    /// No faults yet (all probabilities 0), `hang_for` 1 hour, `retry_after` 1 s.
    pub fn new(seed: u64) -> Faults {
        Faults {
            seed,
            server_error: 0.0,
            rate_limited: 0.0,
            hang: 0.0,
            hang_for: Duration::from_secs(3600),
            retry_after: Duration::from_secs(1),
        }
    }
}

impl Default for Faults {
    /// [`Faults::new`] with seed 0.
    fn default() -> Self {
        Faults::new(0)
    }
}

/// How quotes and option contracts carry `trade_date`, `bid_date` and `ask_date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuoteDates {
    /// Epoch ms of the as-of (minus `stale_quotes`); an untraded contract's `trade_date` is 0.
    #[default]
    Present,
    /// The three keys are absent.
    Missing,
    /// The three keys are `0` (Tradier's "never").
    Zero,
}

/// How chain contracts carry `greeks` when `greeks=true` is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GreeksMode {
    /// Vendor-style greeks and IVs.
    #[default]
    Present,
    /// `"greeks": null`.
    Null,
    /// Every greek and IV (`delta` … `phi`, `bid_iv`, `mid_iv`, `ask_iv`, `smv_vol`) is `0`;
    /// `updated_at` stays.
    Zero,
}

/// Injected faults served so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultCounts {
    /// Injected 503s.
    pub server_errors: u64,
    /// Injected 429s (not counting the `rate_limit` window's).
    pub rate_limited: u64,
    /// Injected hangs.
    pub hangs: u64,
}

impl FaultCounts {
    /// All injected faults.
    pub fn total(&self) -> u64 {
        self.server_errors + self.rate_limited + self.hangs
    }
}

/// An injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ServerError,
    RateLimited,
    Hang,
}

/// SplitMix64 finaliser.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Faults {
    /// The fault of the `n`-th eligible request.
    fn draw(&self, n: u64) -> Option<Fault> {
        let u = (mix64(mix64(self.seed) ^ n) >> 11) as f64 / (1u64 << 53) as f64;
        let p = |x: f64| {
            if x.is_finite() {
                x.clamp(0.0, 1.0)
            } else {
                0.0
            }
        };
        let a = p(self.server_error);
        let b = a + p(self.rate_limited);
        let c = b + p(self.hang);
        if u < a {
            Some(Fault::ServerError)
        } else if u < b {
            Some(Fault::RateLimited)
        } else if u < c {
            Some(Fault::Hang)
        } else {
            None
        }
    }
}

impl Default for MockConfig {
    /// Seed 42, as of Wed 2026-01-28, no latency, no rate limit, no aliases, any key.
    fn default() -> Self {
        MockConfig::new(
            DEFAULT_SEED,
            NaiveDate::from_ymd_opt(2026, 1, 28).expect("valid date"),
        )
    }
}

impl MockConfig {
    /// Defaults for this seed and as-of date.
    pub fn new(seed: u64, as_of: NaiveDate) -> MockConfig {
        MockConfig {
            seed,
            as_of,
            latency: Duration::ZERO,
            rate_limit: None,
            ticker_aliases: 0,
            expected_api_key: None,
            faults: None,
            faults_on_alphavantage: false,
            quote_dates: QuoteDates::Present,
            greeks: GreeksMode::Present,
            stale_quotes: None,
            spot_offset_pct: 0.0,
            crossed_near_atm: false,
            wrong_expiration: false,
            one_sided_near_atm: false,
            stream_interval: Duration::from_millis(200),
        }
    }

    /// Every symbol served: the 60 sim tickers (most liquid first), then the synthetic aliases.
    pub fn symbols(&self) -> Vec<String> {
        let mut out: Vec<String> = universe::universe()
            .into_iter()
            .map(|p| p.symbol.to_owned())
            .collect();
        out.extend((1..=self.alias_count()).map(alias_name));
        out
    }

    /// The sim ticker behind a served symbol (itself for a sim ticker), `None` when unknown.
    pub fn sim_ticker(&self, symbol: &str) -> Option<&'static str> {
        if let Some(p) = universe::ticker(symbol) {
            return Some(p.symbol);
        }
        let digits = symbol.strip_prefix("SIM")?;
        if digits.len() < 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let i: usize = digits.parse().ok()?;
        if i == 0 || i > self.alias_count() || alias_name(i) != symbol {
            return None;
        }
        let all = universe::universe();
        Some(all[i % all.len()].symbol)
    }

    fn alias_count(&self) -> usize {
        self.ticker_aliases
            .saturating_sub(universe::universe().len())
    }
}

fn alias_name(i: usize) -> String {
    format!("SIM{i:03}")
}

/// The fixed rate-limit window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    start_epoch_ms: u64,
    used: u32,
}

/// State shared by the handlers.
struct Shared {
    config: MockConfig,
    sim: SimMarket,
    universe: Vec<TickerParams>,
    total: AtomicU64,
    rate_limited: AtomicU64,
    by_path: Mutex<BTreeMap<String, u64>>,
    /// The `traceparent` headers received, in order (at most the first 1 000).
    traceparents: Mutex<Vec<String>>,
    by_status: Mutex<BTreeMap<(String, u16), u64>>,
    window: Mutex<Option<Window>>,
    /// Requests counted by every window that has ended, in order.
    ended_windows: Mutex<Vec<u32>>,
    fault_draws: AtomicU64,
    injected_server_errors: AtomicU64,
    injected_rate_limited: AtomicU64,
    injected_hangs: AtomicU64,
    /// The HTTP listener's address (the session POST's `url`).
    http_addr: SocketAddr,
    /// Streaming session ids issued, in order.
    sessions: Mutex<Vec<stream::Issued>>,
    /// Session POSTs answered (the draw index of the next id).
    session_draws: AtomicU64,
    /// Subscribe payloads accepted, in order.
    subscriptions: Mutex<Vec<Subscription>>,
    /// Websocket handshakes completed.
    stream_connections: AtomicU64,
    /// Streamed events sent (error events not counted).
    stream_events: AtomicU64,
}

impl Shared {
    /// The sim parameters behind a served symbol (aliases resolved).
    fn resolve(&self, symbol: &str) -> Option<TickerParams> {
        let real = self.config.sim_ticker(symbol)?;
        self.universe.iter().find(|p| p.symbol == real).cloned()
    }

    /// Counts a Tradier request against the window; returns the headers and whether it is over.
    fn take_quota(&self) -> Option<(HeaderMap, bool)> {
        let (limit, window) = self.config.rate_limit?;
        let mut guard = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let w = match *guard {
            Some(w) if now.duration_since(w.start) < window => w,
            ended => {
                if let Some(ended) = ended {
                    self.ended_windows
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(ended.used);
                }
                Window {
                    start: now,
                    start_epoch_ms: epoch_ms_now(),
                    used: 0,
                }
            }
        };
        let w = Window {
            used: w.used.saturating_add(1),
            ..w
        };
        *guard = Some(w);
        let over = w.used > limit;
        let used = w.used.min(limit);
        let expiry = w.start_epoch_ms + u64::try_from(window.as_millis()).unwrap_or(u64::MAX);
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("x-ratelimit-allowed", u64::from(limit)),
            ("x-ratelimit-used", u64::from(used)),
            ("x-ratelimit-available", u64::from(limit - used)),
            ("x-ratelimit-expiry", expiry),
        ] {
            headers.insert(name, HeaderValue::from(value));
        }
        Some((headers, over))
    }
}

impl Shared {
    fn count_status(&self, path: &str, status: StatusCode) {
        self.count_status_code(path, status.as_u16());
    }

    fn count_status_code(&self, path: &str, status: u16) {
        *self
            .by_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((path.to_owned(), status))
            .or_default() += 1;
    }
}

fn epoch_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A running mock server. Dropping it stops the server.
pub struct MockVendor {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    ws_addr: SocketAddr,
    ws_stop: Option<watch::Sender<bool>>,
    ws_task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockVendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockVendor")
            .field("addr", &self.addr)
            .field("ws_addr", &self.ws_addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl MockVendor {
    /// Binds `127.0.0.1:0` and serves in a task of the current Tokio runtime.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub async fn start(config: MockConfig) -> std::io::Result<MockVendor> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let ws_listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let ws_addr = ws_listener.local_addr()?;
        let shared = Arc::new(Shared {
            sim: SimMarket::new(config.seed, config.as_of),
            universe: universe::universe(),
            config,
            total: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            by_path: Mutex::new(BTreeMap::new()),
            traceparents: Mutex::new(Vec::new()),
            by_status: Mutex::new(BTreeMap::new()),
            window: Mutex::new(None),
            ended_windows: Mutex::new(Vec::new()),
            fault_draws: AtomicU64::new(0),
            injected_server_errors: AtomicU64::new(0),
            injected_rate_limited: AtomicU64::new(0),
            injected_hangs: AtomicU64::new(0),
            http_addr: addr,
            sessions: Mutex::new(Vec::new()),
            session_draws: AtomicU64::new(0),
            subscriptions: Mutex::new(Vec::new()),
            stream_connections: AtomicU64::new(0),
            stream_events: AtomicU64::new(0),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let (ws_stop, ws_stopped) = watch::channel(false);
        let ws_task = tokio::spawn(stream::serve(ws_listener, shared.clone(), ws_stopped));
        Ok(MockVendor {
            addr,
            ws_addr,
            shared,
            stop: Some(stop),
            task: Some(task),
            ws_stop: Some(ws_stop),
            ws_task: Some(ws_task),
        })
    }

    /// `http://127.0.0.1:PORT` (Tradier paths under `/v1/…`, Alpha Vantage under `/query`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Tradier streaming websocket: `ws://127.0.0.1:PORT/v1/markets/events` (another port
    /// than [`MockVendor::base_url`]).
    pub fn ws_url(&self) -> String {
        format!("ws://{}{}", self.ws_addr, stream::WS_PATH)
    }

    /// Streaming session ids issued by `POST /v1/markets/events/session`, in order.
    pub fn stream_sessions(&self) -> Vec<String> {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|s| s.id.clone())
            .collect()
    }

    /// Subscribe payloads accepted on the websocket, in order (refused ones not listed).
    pub fn stream_subscriptions(&self) -> Vec<Subscription> {
        self.shared
            .subscriptions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Websocket connections accepted (handshake completed).
    pub fn stream_connections(&self) -> u64 {
        self.shared.stream_connections.load(Ordering::Relaxed)
    }

    /// Streamed `quote` and `trade` events sent so far.
    pub fn stream_events(&self) -> u64 {
        self.shared.stream_events.load(Ordering::Relaxed)
    }

    /// The configuration served.
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// Every symbol served (see [`MockConfig::symbols`]).
    pub fn symbols(&self) -> Vec<String> {
        self.shared.config.symbols()
    }

    /// Requests received (all paths, errors and 429s included).
    pub fn requests(&self) -> u64 {
        self.shared.total.load(Ordering::Relaxed)
    }

    /// Requests received per URL path (`/v1/markets/quotes`, `/query`, …).
    pub fn requests_by_path(&self) -> BTreeMap<String, u64> {
        self.shared
            .by_path
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests per `(URL path, HTTP status)`, counted when the answer is decided. A hang
    /// counts under status `0` (whatever is sent after `hang_for`).
    pub fn requests_by_path_and_status(&self) -> BTreeMap<(String, u16), u64> {
        self.shared
            .by_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The `traceparent` headers received so far, in order (the first 1 000).
    pub fn traceparents(&self) -> Vec<String> {
        self.shared
            .traceparents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests counted by each Tradier rate-limit window so far, in order (the current one
    /// last), 429s included.
    pub fn window_counts(&self) -> Vec<u32> {
        let mut counts = self
            .shared
            .ended_windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(w) = *self.shared.window.lock().unwrap_or_else(|e| e.into_inner()) {
            counts.push(w.used);
        }
        counts
    }

    /// 429 answers served (the `rate_limit` window's and injected [`Faults`] alike).
    pub fn rate_limited(&self) -> u64 {
        self.shared.rate_limited.load(Ordering::Relaxed)
    }

    /// Faults injected so far (see [`MockConfig::faults`]).
    pub fn faults_injected(&self) -> FaultCounts {
        let s = &self.shared;
        FaultCounts {
            server_errors: s.injected_server_errors.load(Ordering::Relaxed),
            rate_limited: s.injected_rate_limited.load(Ordering::Relaxed),
            hangs: s.injected_hangs.load(Ordering::Relaxed),
        }
    }

    /// Stops accepting, lets open requests finish and closes the websockets (at most 5 s),
    /// then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(stop) = self.ws_stop.take() {
            let _ = stop.send(true);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        for task in [self.task.take(), self.ws_task.take()]
            .into_iter()
            .flatten()
        {
            let mut task = task;
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

impl Drop for MockVendor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(stop) = self.ws_stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.ws_task.take() {
            task.abort(); // its connections go with its JoinSet
        }
    }
}

/// Request parameters: the query string, then form fields of a urlencoded body.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    fn parse(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Params {
        let mut all: Vec<(String, String)> = uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            all.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(all)
    }

    /// The first value of `name` (trimmed, non-empty).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// `true` when `name` is `true` (case-insensitive).
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A response with a body and a content type.
pub(crate) fn reply(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A 200 JSON response.
pub(crate) fn json(value: &serde_json::Value) -> Response {
    reply(StatusCode::OK, "application/json", value.to_string())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.total.fetch_add(1, Ordering::Relaxed);
    if let Some(traceparent) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        let mut seen = shared
            .traceparents
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if seen.len() < 1_000 {
            seen.push(traceparent.to_owned());
        }
    }
    let path = uri.path().to_owned();
    *shared
        .by_path
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(path.clone())
        .or_default() += 1;
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let eligible =
        path.starts_with("/v1/") || (path == "/query" && shared.config.faults_on_alphavantage);
    let fault = match &shared.config.faults {
        Some(f) if eligible => f.draw(shared.fault_draws.fetch_add(1, Ordering::Relaxed)),
        _ => None,
    };
    let params = Params::parse(&uri, &headers, &body);
    match fault {
        Some(Fault::ServerError) => {
            shared
                .injected_server_errors
                .fetch_add(1, Ordering::Relaxed);
            let r = reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                "Service Unavailable".to_owned(),
            );
            shared.count_status(&path, r.status());
            r
        }
        Some(Fault::RateLimited) => {
            shared.injected_rate_limited.fetch_add(1, Ordering::Relaxed);
            shared.rate_limited.fetch_add(1, Ordering::Relaxed);
            let retry_after = shared
                .config
                .faults
                .as_ref()
                .map_or(Duration::ZERO, |f| f.retry_after);
            let r = injected_429(retry_after);
            shared.count_status(&path, r.status());
            r
        }
        Some(Fault::Hang) => {
            shared.injected_hangs.fetch_add(1, Ordering::Relaxed);
            shared.count_status_code(&path, 0);
            let hang_for = shared
                .config
                .faults
                .as_ref()
                .map_or(Duration::ZERO, |f| f.hang_for);
            tokio::time::sleep(hang_for).await;
            route(&shared, &method, &path, &headers, &params).await
        }
        None => {
            let r = route(&shared, &method, &path, &headers, &params).await;
            shared.count_status(&path, r.status());
            r
        }
    }
}

/// The 429 of an injected fault: `Retry-After` (whole seconds, rounded up),
/// `X-Ratelimit-Available: 0` and `X-Ratelimit-Expiry` (epoch ms).
fn injected_429(retry_after: Duration) -> Response {
    let mut r = reply(
        StatusCode::TOO_MANY_REQUESTS,
        "text/plain",
        "Rate limit exceeded".to_owned(),
    );
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX);
    let h = r.headers_mut();
    h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    h.insert("x-ratelimit-available", HeaderValue::from(0u64));
    h.insert(
        "x-ratelimit-expiry",
        HeaderValue::from(epoch_ms_now().saturating_add(ms)),
    );
    r
}

async fn route(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    params: &Params,
) -> Response {
    if path == "/query" {
        return alphavantage::handle(shared, method, params).await;
    }
    if path.starts_with("/v1/") {
        return tradier_entry(shared, method, path, headers, params).await;
    }
    reply(StatusCode::NOT_FOUND, "text/plain", "Not Found".to_owned())
}

async fn tradier_entry(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    params: &Params,
) -> Response {
    if let Some(key) = &shared.config.expected_api_key {
        let expected = format!("Bearer {key}");
        let ok = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == expected);
        if !ok {
            return tradier::unauthorized();
        }
    }
    let quota = shared.take_quota();
    let mut response = match &quota {
        Some((_, true)) => {
            shared.rate_limited.fetch_add(1, Ordering::Relaxed);
            reply(
                StatusCode::TOO_MANY_REQUESTS,
                "text/plain",
                "Rate limit exceeded".to_owned(),
            )
        }
        _ => tradier::handle(shared, method, path, params).await,
    };
    if let Some((h, _)) = quota {
        response.headers_mut().extend(h);
    }
    response
}
