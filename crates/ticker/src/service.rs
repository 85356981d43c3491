//! Wiring: feed → state → publisher, reloads, sweeper, HTTP; all supervised; ordered shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ivcrush_resilience::{Criticality, DEFAULT_CHECK_TIMEOUT, HealthRegistry};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::TickerError;
use crate::feed::UpcomingReports;
use crate::feed::sim::{self, SimSettings};
use crate::feed::tradier::{TradierFeed, TradierSettings};
use crate::http::{HttpState, router};
use crate::implied::ImpliedSettings;
use crate::ingest::{Ingest, now_us};
use crate::publisher::{Publisher, PublisherConfig};
use crate::reload::{
    ReloadPolicy, ReloadTrigger, Reloader, SymbolSet, normalize, parse_symbol_list,
};
use crate::state::StateStore;
use crate::stats::Stats;
use crate::supervisor::{RestartPolicy, supervise};

/// The feed and its settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FeedConfig {
    /// The simulated market.
    Sim(SimSettings),
    /// Tradier streaming.
    Tradier(TradierSettings),
}

/// Where the subscribed symbols come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SymbolSource {
    /// A fixed list (empty with the sim feed: the first 10 universe tickers).
    List(Vec<String>),
    /// A watchlist file, reloaded when it changes.
    File(PathBuf),
}

/// The configuration of one service: plain data, built by the `ivcrush ticker` command or
/// directly by tests and embedders, and checked once by [`TickerConfig::validate`] (which
/// [`TickerService::start`] calls).
#[derive(Debug, Clone)]
pub struct TickerConfig {
    /// The feed.
    pub feed: FeedConfig,
    /// Initial symbols.
    pub symbols: SymbolSource,
    /// Also reload from the Redis key `{prefix}watchlist`.
    pub watch_redis_key: bool,
    /// Redis publishing.
    pub publisher: PublisherConfig,
    /// State bound (LRU). Default 5,000.
    pub max_instruments: usize,
    /// Feed → publisher channel capacity. Default 16,384.
    pub channel_capacity: usize,
    /// Where to serve `/metrics` and health (`None`: no HTTP).
    pub metrics_bind: Option<SocketAddr>,
    /// How often expired options are removed. Default 5 min.
    pub sweep_interval: Duration,
    /// How often the watchlist file / Redis key is polled for changes. Default 1 s.
    pub watch_interval: Duration,
    /// Reload timing.
    pub reload: ReloadPolicy,
    /// Restart backoff of supervised tasks.
    pub restart: RestartPolicy,
    /// The live implied move of the underlyings with a known report.
    pub implied: ImpliedSettings,
    /// Called when updates are dropped faster than its rate (an alert).
    pub drop_alarm: Option<DropAlarm>,
}

/// A callback for drop bursts: `notify` gets the rate (updates/s) over the last `window`
/// whenever it is above `per_sec` (at most once per window).
#[derive(Clone)]
pub struct DropAlarm {
    /// Drops per second that sound the alarm.
    pub per_sec: f64,
    /// Measuring window.
    pub window: Duration,
    /// What to do (e.g. store an alert); must not block.
    pub notify: Arc<dyn Fn(f64) + Send + Sync>,
}

impl std::fmt::Debug for DropAlarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropAlarm")
            .field("per_sec", &self.per_sec)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// Most simulated updates per second.
pub const MAX_SIM_RATE: u32 = 1_000_000;

impl TickerConfig {
    /// The simulated feed at `rate` updates/s on the first 10 universe tickers, publishing to
    /// `redis_url` with defaults everywhere else (as-of today in New York, seed 42).
    pub fn sim(redis_url: impl Into<String>, rate: u32) -> TickerConfig {
        TickerConfig {
            feed: FeedConfig::Sim(SimSettings {
                seed: 42,
                as_of: ivcrush_core::calendar::new_york_date(chrono::Utc::now()),
                selection: crate::feed::ChainSelection::default(),
                rate,
            }),
            symbols: SymbolSource::List(Vec::new()),
            watch_redis_key: false,
            publisher: PublisherConfig::new(redis_url),
            max_instruments: 5_000,
            channel_capacity: 16_384,
            metrics_bind: None,
            sweep_interval: Duration::from_secs(300),
            watch_interval: Duration::from_secs(1),
            reload: ReloadPolicy::default(),
            restart: RestartPolicy::default(),
            implied: ImpliedSettings::default(),
            drop_alarm: None,
        }
    }

    /// Every invalid setting, by its name (empty when the configuration is usable).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut at_least_one = |name: &str, value: usize| {
            if value == 0 {
                problems.push(format!("{name} must be at least 1"));
            }
        };
        at_least_one("max_instruments", self.max_instruments);
        at_least_one("stream_maxlen", self.publisher.stream_maxlen);
        at_least_one("channel_capacity", self.channel_capacity);
        at_least_one("batch_size", self.publisher.batch_size);
        if redis::Client::open(self.publisher.redis_url.as_str()).is_err() {
            problems.push("redis_url is not a valid redis:// URL".to_owned());
        }
        match &self.feed {
            FeedConfig::Sim(sim) => {
                if sim.rate > MAX_SIM_RATE {
                    problems.push(format!(
                        "rate must be at most {MAX_SIM_RATE} updates/s (0 = flat out)"
                    ));
                }
                if sim.selection.expiries == 0 {
                    problems.push("expiries must be at least 1".to_owned());
                }
            }
            FeedConfig::Tradier(tradier) => {
                if tradier.token.trim().is_empty() {
                    problems.push(
                        "the tradier feed needs an access token (TRADIER_API_KEY)".to_owned(),
                    );
                }
                if self.symbols == SymbolSource::List(Vec::new()) {
                    problems.push("the tradier feed needs symbols or a watchlist file".to_owned());
                }
                let r = tradier.risk_free_rate;
                if !(r.is_finite() && r.abs() < 1.0) {
                    problems.push(format!(
                        "risk_free_rate must be a finite rate below 100 % (got {r})"
                    ));
                }
            }
        }
        problems
    }

    /// Checks every setting at once.
    ///
    /// # Errors
    /// [`TickerError::Config`] listing every invalid setting.
    pub fn validate(&self) -> Result<(), TickerError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TickerError::Config(problems))
        }
    }
}

/// What a stopped service did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Updates from the feed.
    pub ingested: u64,
    /// Updates acknowledged by Redis.
    pub published: u64,
    /// Updates dropped (any reason).
    pub dropped: u64,
}

/// A running ticker service.
pub struct TickerService {
    stats: Arc<Stats>,
    state: Arc<StateStore>,
    http_addr: Option<SocketAddr>,
    feed_cancel: CancellationToken,
    publisher_cancel: CancellationToken,
    implied_cancel: CancellationToken,
    implied: Option<JoinHandle<()>>,
    front: Vec<JoinHandle<()>>,
    publisher: JoinHandle<()>,
    flush_timeout: Duration,
    reload: Option<ReloadTrigger>,
    /// Kept so feeds never see the symbol channel close while the service runs.
    _symbols: watch::Sender<SymbolSet>,
}

impl std::fmt::Debug for TickerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickerService")
            .field("http_addr", &self.http_addr)
            .field("instruments", &self.state.len())
            .finish()
    }
}

fn read_watchlist(path: &PathBuf) -> Result<Vec<String>, TickerError> {
    let text = std::fs::read_to_string(path).map_err(|error| TickerError::Io {
        context: format!("reading watchlist {}", path.display()),
        error,
    })?;
    parse_symbol_list(&text, &path.display().to_string())
}

fn validate_for(feed: &FeedConfig, symbols: &[String], source: &str) -> Result<(), TickerError> {
    match feed {
        FeedConfig::Sim(_) => sim::validate_symbols(symbols, source),
        FeedConfig::Tradier(_) => Ok(()),
    }
}

/// The symbols subscribed at start: the watchlist file, the list, or (sim only) the first 10
/// universe tickers.
fn initial_symbols(config: &TickerConfig) -> Result<Vec<String>, TickerError> {
    let initial = match &config.symbols {
        SymbolSource::File(path) => read_watchlist(path)?,
        SymbolSource::List(list) if list.is_empty() => match config.feed {
            FeedConfig::Sim(_) => sim::default_symbols(10),
            FeedConfig::Tradier(_) => {
                return Err(TickerError::Config(vec![
                    "the tradier feed needs symbols".to_owned(),
                ]));
            }
        },
        SymbolSource::List(list) => list.clone(),
    };
    validate_for(&config.feed, &initial, "initial symbols")?;
    Ok(initial)
}

/// A feed ready to run: the Tradier feed holds its one REST client for the service's lifetime
/// (every restart of the feed task reuses it).
#[derive(Clone)]
enum Feed {
    Sim(SimSettings, Arc<UpcomingReports>),
    Tradier(Arc<TradierFeed>),
}

impl Feed {
    fn build(config: &FeedConfig, reports: Arc<UpcomingReports>) -> Result<Feed, TickerError> {
        Ok(match config {
            FeedConfig::Sim(s) => Feed::Sim(*s, reports),
            FeedConfig::Tradier(t) => {
                Feed::Tradier(Arc::new(TradierFeed::new(t.clone())?.with_reports(reports)))
            }
        })
    }

    async fn run(
        self,
        symbols: watch::Receiver<SymbolSet>,
        ingest: Arc<Ingest>,
        cancel: CancellationToken,
    ) -> Result<(), TickerError> {
        match self {
            Feed::Sim(s, reports) => sim::run(s, reports, symbols, ingest, cancel).await,
            Feed::Tradier(t) => t.run(symbols, ingest, cancel).await,
        }
    }
}

/// The shared parts every task is built from, and the supervised tasks that stop with the
/// feeds (everything but the publisher).
struct Tasks {
    stats: Arc<Stats>,
    state: Arc<StateStore>,
    restart: RestartPolicy,
    feed_cancel: CancellationToken,
    front: Vec<JoinHandle<()>>,
}

impl Tasks {
    fn new(config: &TickerConfig) -> Tasks {
        Tasks {
            stats: Arc::new(Stats::new()),
            state: Arc::new(StateStore::new(config.max_instruments)),
            restart: config.restart,
            feed_cancel: CancellationToken::new(),
            front: Vec::new(),
        }
    }

    /// The feed's side ([`Ingest`]) and the publisher, joined by the bounded channel.
    fn ingest_and_publisher(
        &self,
        config: &TickerConfig,
    ) -> Result<(Arc<Ingest>, Publisher), TickerError> {
        let (tx, rx) = mpsc::channel(config.channel_capacity);
        let stats = Arc::clone(&self.stats);
        let ingest = Arc::new(Ingest::new(Arc::clone(&self.state), tx, Arc::clone(&stats)));
        let publisher = Publisher::new(config.publisher.clone(), rx, stats)?;
        Ok((ingest, publisher))
    }

    /// Supervises the publisher: it drains the channel and is cancelled (by `cancel`, then it
    /// flushes) only after the feeds stopped, so it is not one of the front tasks.
    fn spawn_publisher(&self, publisher: &Publisher, cancel: &CancellationToken) -> JoinHandle<()> {
        let p = publisher.clone();
        let c = cancel.clone();
        supervise(
            "publisher",
            Arc::clone(&self.stats),
            self.restart,
            cancel.clone(),
            move || {
                let p = p.clone();
                let c = c.clone();
                async move { p.run(c).await }
            },
        )
    }

    /// Supervises task `name`, stopped with the feeds.
    fn spawn<F, Fut>(&mut self, name: &'static str, make: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), TickerError>> + Send + 'static,
    {
        let handle = supervise(
            name,
            Arc::clone(&self.stats),
            self.restart,
            self.feed_cancel.clone(),
            make,
        );
        self.front.push(handle);
    }

    fn spawn_feed(&mut self, feed: Feed, symbols: watch::Receiver<SymbolSet>, ingest: Arc<Ingest>) {
        let cancel = self.feed_cancel.clone();
        self.spawn("feed", move || {
            feed.clone()
                .run(symbols.clone(), Arc::clone(&ingest), cancel.clone())
        });
    }

    /// The live implied move ([`crate::implied::run`]), when enabled and a report is known.
    /// Stopped by `cancel` after the feeds, so that its last round sees their last quotes.
    fn spawn_implied(
        &self,
        config: &TickerConfig,
        redis: &redis::Client,
        cancel: &CancellationToken,
    ) -> Option<JoinHandle<()>> {
        let settings = &config.implied;
        if !settings.enabled || settings.reports.events.is_empty() {
            return None;
        }
        let settings = Arc::new(settings.clone());
        let (state, client) = (Arc::clone(&self.state), redis.clone());
        let keys = config.publisher.keys.clone();
        let task_cancel = cancel.clone();
        let cancel = cancel.clone();
        Some(supervise(
            "implied",
            Arc::clone(&self.stats),
            self.restart,
            task_cancel,
            move || {
                crate::implied::run(
                    Arc::clone(&state),
                    Arc::clone(&settings),
                    client.clone(),
                    keys.clone(),
                    cancel.clone(),
                )
            },
        ))
    }

    /// Sounds `alarm` when updates are dropped faster than its rate.
    fn spawn_drop_alarm(&mut self, alarm: DropAlarm) {
        let stats = Arc::clone(&self.stats);
        let cancel = self.feed_cancel.clone();
        self.spawn("drop_alarm", move || {
            let (stats, cancel, alarm) = (Arc::clone(&stats), cancel.clone(), alarm.clone());
            async move {
                let mut tick = tokio::time::interval(alarm.window.max(Duration::from_secs(1)));
                tick.tick().await;
                let mut last = stats.dropped_total();
                loop {
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        _ = tick.tick() => {
                            let now = stats.dropped_total();
                            let rate = now.saturating_sub(last) as f64 / alarm.window.as_secs_f64();
                            last = now;
                            if rate > alarm.per_sec {
                                (alarm.notify)(rate);
                            }
                        }
                    }
                }
            }
        });
    }

    /// Expired options out every `every`.
    fn spawn_sweeper(&mut self, every: Duration) {
        let state = Arc::clone(&self.state);
        let cancel = self.feed_cancel.clone();
        self.spawn("sweeper", move || {
            sweep_every(Arc::clone(&state), every, cancel.clone())
        });
    }

    /// Reloads from the watchlist file and/or the Redis key, when either is configured; returns
    /// the trigger of the first reloader.
    fn spawn_reloader(
        &mut self,
        config: &TickerConfig,
        redis: &redis::Client,
        symbols_tx: &watch::Sender<SymbolSet>,
    ) -> Option<ReloadTrigger> {
        let file = match &config.symbols {
            SymbolSource::File(p) => Some(p.clone()),
            SymbolSource::List(_) => None,
        };
        if file.is_none() && !config.watch_redis_key {
            return None;
        }
        let reloader = Reloader::new(config.reload);
        let trigger = reloader.trigger();
        let slot = Arc::new(tokio::sync::Mutex::new(Some(reloader)));
        let sources = ReloadSources {
            file,
            redis_key: config
                .watch_redis_key
                .then(|| config.publisher.keys.watchlist()),
            client: redis.clone(),
            feed: config.feed.clone(),
            every: config.watch_interval,
        };
        let stats = Arc::clone(&self.stats);
        let cancel = self.feed_cancel.clone();
        let policy = config.reload;
        let symbols_tx = symbols_tx.clone();
        self.spawn("reloader", move || {
            let sources = sources.clone();
            let symbols_tx = symbols_tx.clone();
            let stats = Arc::clone(&stats);
            let cancel = cancel.clone();
            let slot = Arc::clone(&slot);
            async move {
                // The first run uses the reloader whose trigger was handed out; a restart
                // builds a fresh one (the old trigger then goes nowhere; the watchers that
                // matter are rebuilt with the new one).
                let reloader = slot
                    .lock()
                    .await
                    .take()
                    .unwrap_or_else(|| Reloader::new(policy));
                sources.run(reloader, symbols_tx, stats, cancel).await;
                Ok(())
            }
        });
        Some(trigger)
    }

    /// The dependency graph behind `/health/ready`: Redis (check + breaker), the feed (check,
    /// plus the Tradier client's breaker when streaming from Tradier).
    fn health(&self, publisher: &Publisher, feed: &Feed) -> HealthRegistry {
        let mut health = HealthRegistry::new();
        let client = publisher.client().clone();
        health.add_check("redis", DEFAULT_CHECK_TIMEOUT, move || {
            let client = client.clone();
            async move {
                let mut conn = client
                    .get_multiplexed_async_connection()
                    .await
                    .map_err(|e| format!("connect: {}", e.category()))?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map_err(|e| format!("PING: {}", e.category()))
            }
        });
        health.add_breaker("redis", publisher.breaker().clone());
        let stats = Arc::clone(&self.stats);
        let state = Arc::clone(&self.state);
        health.add_check("feed", DEFAULT_CHECK_TIMEOUT, move || {
            let stats = Arc::clone(&stats);
            let state = Arc::clone(&state);
            async move { feed_health(&stats, &state) }
        });
        if let Feed::Tradier(t) = feed {
            health.add_breaker("feed", t.client().pipeline().breaker().clone());
        }
        health.add_capability(
            "ticker",
            &[
                ("redis", Criticality::Critical),
                ("feed", Criticality::Critical),
            ],
        );
        health
    }

    /// Serves `/metrics` and health on `listener`.
    fn spawn_http(
        &mut self,
        listener: std::net::TcpListener,
        prometheus: Option<PrometheusHandle>,
        health: HealthRegistry,
        ingest: Arc<Ingest>,
    ) {
        let stats = Arc::clone(&self.stats);
        let capacity = ingest.capacity() as f64;
        let refresh = move || {
            metrics::gauge!("ivcrush_ticker_queue_depth").set(ingest.queued() as f64);
            metrics::gauge!("ivcrush_ticker_queue_capacity").set(capacity);
            let last_us = stats.last_feed_update_us();
            if last_us > 0 {
                metrics::gauge!("ivcrush_ticker_feed_last_update_timestamp_seconds")
                    .set(last_us as f64 / 1e6);
            }
        };
        let app = router(HttpState {
            prometheus,
            health: Arc::new(health),
            process: ivcrush_telemetry::ProcessMetrics::new(),
            refresh: Some(Arc::new(refresh)),
        });
        let listener = Arc::new(listener);
        let cancel = self.feed_cancel.clone();
        self.spawn("http", move || {
            serve_http(Arc::clone(&listener), app.clone(), cancel.clone())
        });
    }

    /// Every 5 s: the instruments gauge and the recorder's upkeep.
    fn spawn_metrics_upkeep(&mut self, handle: PrometheusHandle) {
        let cancel = self.feed_cancel.clone();
        let state = Arc::clone(&self.state);
        self.spawn("metrics_upkeep", move || {
            metrics_upkeep(handle.clone(), Arc::clone(&state), cancel.clone())
        });
    }
}

/// Binds the `/metrics` address before any task starts, so a busy port fails the start cleanly.
fn bind_metrics(addr: SocketAddr) -> Result<std::net::TcpListener, TickerError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|error| TickerError::Io {
        context: format!("binding {addr}"),
        error,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|error| TickerError::Io {
            context: "configuring the metrics listener".to_owned(),
            error,
        })?;
    Ok(listener)
}

fn feed_health(stats: &Stats, state: &StateStore) -> Result<String, String> {
    let age_ms =
        (u64::try_from(now_us()).unwrap_or(0)).saturating_sub(stats.last_feed_update_us()) / 1000;
    if !stats.feed_connected() {
        Err("feed not connected".to_owned())
    } else {
        Ok(format!(
            "{} instruments, last update {age_ms} ms ago",
            state.len()
        ))
    }
}

async fn serve_http(
    listener: Arc<std::net::TcpListener>,
    app: axum::Router,
    cancel: CancellationToken,
) -> Result<(), TickerError> {
    let std = listener.try_clone().map_err(|error| TickerError::Io {
        context: "cloning the metrics listener".to_owned(),
        error,
    })?;
    let tokio_listener =
        tokio::net::TcpListener::from_std(std).map_err(|error| TickerError::Io {
            context: "registering the metrics listener".to_owned(),
            error,
        })?;
    axum::serve(tokio_listener, app)
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
        .map_err(|error| TickerError::Io {
            context: "serving /metrics".to_owned(),
            error,
        })
}

async fn metrics_upkeep(
    handle: PrometheusHandle,
    state: Arc<StateStore>,
    cancel: CancellationToken,
) -> Result<(), TickerError> {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {
                metrics::gauge!("ivcrush_ticker_instruments").set(state.len() as f64);
                handle.run_upkeep();
            }
        }
    }
}

impl TickerService {
    /// Checks `config`, then starts every task. `prometheus` renders `/metrics` when given.
    ///
    /// # Errors
    /// Invalid settings ([`TickerConfig::validate`]), bad initial symbols (unreadable
    /// watchlist, unknown to the sim), an unusable Tradier client or a metrics address that
    /// cannot be bound. Redis being down is NOT an error: the service starts, drops and counts,
    /// and publishes once Redis is reachable.
    pub async fn start(
        config: TickerConfig,
        prometheus: Option<PrometheusHandle>,
    ) -> Result<TickerService, TickerError> {
        crate::stats::describe_metrics();
        config.validate()?;
        let initial = initial_symbols(&config)?;
        let reports = Arc::new(config.implied.reports.clone());
        let feed = Feed::build(&config.feed, reports)?;
        let listener = config.metrics_bind.map(bind_metrics).transpose()?;
        let http_addr = listener.as_ref().and_then(|l| l.local_addr().ok());
        let mut tasks = Tasks::new(&config);
        let (ingest, publisher) = tasks.ingest_and_publisher(&config)?;
        let publisher_cancel = CancellationToken::new();
        let publisher_task = tasks.spawn_publisher(&publisher, &publisher_cancel);
        let (symbols_tx, symbols_rx) = watch::channel::<SymbolSet>(normalize(initial));
        tasks.spawn_feed(feed.clone(), symbols_rx, Arc::clone(&ingest));
        tasks.spawn_sweeper(config.sweep_interval);
        if let Some(alarm) = config.drop_alarm.clone() {
            tasks.spawn_drop_alarm(alarm);
        }
        let implied_cancel = CancellationToken::new();
        let implied = tasks.spawn_implied(&config, publisher.client(), &implied_cancel);
        let reload = tasks.spawn_reloader(&config, publisher.client(), &symbols_tx);
        if let Some(listener) = listener {
            let health = tasks.health(&publisher, &feed);
            tasks.spawn_http(listener, prometheus.clone(), health, ingest);
        }
        if let Some(handle) = prometheus {
            tasks.spawn_metrics_upkeep(handle);
        }
        Ok(TickerService {
            stats: tasks.stats,
            state: tasks.state,
            http_addr,
            feed_cancel: tasks.feed_cancel,
            publisher_cancel,
            implied_cancel,
            implied,
            front: tasks.front,
            publisher: publisher_task,
            flush_timeout: config.publisher.flush_timeout,
            reload,
            _symbols: symbols_tx,
        })
    }

    /// The service's counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// The state map.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The bound `/metrics` address (useful with port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Requests a subscription reload now (when a watchlist file or Redis key is configured).
    pub fn request_reload(&self) {
        if let Some(t) = &self.reload {
            t.trigger();
        }
    }

    /// Stops the feeds first, then lets the publisher flush what is queued (bounded by the
    /// publisher's `flush_timeout`), then returns the totals.
    pub async fn shutdown(self) -> RunSummary {
        self.feed_cancel.cancel();
        for handle in self.front {
            if tokio::time::timeout(Duration::from_secs(5), handle)
                .await
                .is_err()
            {
                tracing::warn!("a task did not stop within 5 s");
            }
        }
        self.implied_cancel.cancel();
        if let Some(implied) = self.implied
            && tokio::time::timeout(Duration::from_secs(5), implied)
                .await
                .is_err()
        {
            tracing::warn!("the implied-move task did not stop within 5 s");
        }
        self.publisher_cancel.cancel();
        if tokio::time::timeout(self.flush_timeout + Duration::from_secs(2), self.publisher)
            .await
            .is_err()
        {
            tracing::warn!("the publisher did not finish flushing in time");
        }
        RunSummary {
            ingested: self.stats.ingested(),
            published: self.stats.published(),
            dropped: self.stats.dropped_total(),
        }
    }
}

/// Removes expired options every `every` until `cancel`.
async fn sweep_every(
    state: Arc<StateStore>,
    every: Duration,
    cancel: CancellationToken,
) -> Result<(), TickerError> {
    let mut tick = tokio::time::interval(every);
    tick.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = tick.tick() => {
                let today = ivcrush_core::calendar::new_york_date(chrono::Utc::now());
                let removed = state.sweep_expired(today);
                if removed > 0 {
                    tracing::info!(removed, "expired options removed");
                }
            }
        }
    }
}

/// The reload trigger sources and loader of one reloader run.
#[derive(Clone)]
struct ReloadSources {
    file: Option<PathBuf>,
    redis_key: Option<String>,
    client: redis::Client,
    feed: FeedConfig,
    every: Duration,
}

impl ReloadSources {
    async fn run(
        self,
        reloader: Reloader,
        symbols_tx: watch::Sender<SymbolSet>,
        stats: Arc<Stats>,
        cancel: CancellationToken,
    ) {
        let trigger = reloader.trigger();
        let loader = {
            let s = self.clone();
            move || {
                let s = s.clone();
                async move { s.load().await }
            }
        };
        tokio::join!(
            reloader.run(loader, symbols_tx, stats, cancel.clone()),
            self.watch(trigger, cancel),
        );
    }

    /// Reads the current list: the Redis key when configured and present, else the file.
    async fn load(&self) -> Result<Vec<String>, TickerError> {
        if let Some(key) = &self.redis_key
            && let Some(text) = self.read_key(key).await?
        {
            let list = parse_symbol_list(&text, key)?;
            validate_for(&self.feed, &list, key)?;
            return Ok(list);
        }
        match &self.file {
            Some(path) => {
                let list = read_watchlist(path)?;
                validate_for(&self.feed, &list, &path.display().to_string())?;
                Ok(list)
            }
            None => Err(TickerError::Symbols {
                source_name: self.redis_key.clone().unwrap_or_default(),
                message: "the key does not exist".to_owned(),
            }),
        }
    }

    async fn read_key(&self, key: &str) -> Result<Option<String>, TickerError> {
        let timeout = Duration::from_secs(1);
        let fetch = async {
            let mut conn = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("GET")
                .arg(key)
                .query_async::<Option<String>>(&mut conn)
                .await
        };
        match tokio::time::timeout(timeout, fetch).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(TickerError::RedisTimeout(timeout)),
        }
    }

    /// Polls the file's content and the key's value; a change fires the trigger.
    async fn watch(&self, trigger: ReloadTrigger, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut last_file: Option<Option<String>> = None;
        let mut last_key: Option<Option<String>> = None;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Some(path) = &self.file {
                let now = tokio::fs::read_to_string(path).await.ok();
                if last_file.as_ref().is_some_and(|prev| *prev != now) {
                    trigger.trigger();
                }
                last_file = Some(now);
            }
            if let Some(key) = &self.redis_key {
                // A Redis error reads as "unchanged": an outage must not cause reloads.
                if let Ok(now) = self.read_key(key).await {
                    if last_key.as_ref().is_some_and(|prev| *prev != now)
                        || (last_key.is_none() && now.is_some())
                    {
                        trigger.trigger();
                    }
                    last_key = Some(now);
                }
            }
        }
    }
}
