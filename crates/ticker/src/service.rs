//! Wiring: feed → state → publisher, reloads, sweeper, HTTP; all supervised; ordered shutdown.

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
use crate::feed::sim::{self, SimSettings};
use crate::feed::tradier::{self, TradierSettings};
use crate::http::{HttpState, router};
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

/// The checked configuration of one service, built by
/// [`TickerArgs::to_config`](crate::TickerArgs::to_config) or directly by tests and embedders.
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
}

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

impl TickerService {
    /// Starts every task. `prometheus` renders `/metrics` when given.
    ///
    /// # Errors
    /// Bad initial symbols (unreadable watchlist, unknown to the sim), an invalid Redis URL or a
    /// metrics address that cannot be bound. Redis being down is NOT an error: the service
    /// starts, drops and counts, and publishes once Redis is reachable.
    pub async fn start(
        config: TickerConfig,
        prometheus: Option<PrometheusHandle>,
    ) -> Result<TickerService, TickerError> {
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
        let stats = Arc::new(Stats::new());
        let state = Arc::new(StateStore::new(config.max_instruments.max(1)));
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let ingest = Arc::new(Ingest::new(Arc::clone(&state), tx, Arc::clone(&stats)));
        let publisher = Publisher::new(config.publisher.clone(), rx, Arc::clone(&stats))?;
        let (symbols_tx, symbols_rx) = watch::channel::<SymbolSet>(normalize(initial));
        let feed_cancel = CancellationToken::new();
        let publisher_cancel = CancellationToken::new();
        let restart = config.restart;
        let mut front = Vec::new();

        // Publisher: drains the channel; cancelled only after the feeds stopped, then flushes.
        let publisher_task = {
            let p = publisher.clone();
            let c = publisher_cancel.clone();
            supervise(
                "publisher",
                Arc::clone(&stats),
                restart,
                publisher_cancel.clone(),
                move || {
                    let p = p.clone();
                    let c = c.clone();
                    async move { p.run(c).await }
                },
            )
        };

        // Feed.
        {
            let feed = config.feed.clone();
            let ingest = Arc::clone(&ingest);
            let c = feed_cancel.clone();
            front.push(supervise(
                "feed",
                Arc::clone(&stats),
                restart,
                feed_cancel.clone(),
                move || {
                    let feed = feed.clone();
                    let ingest = Arc::clone(&ingest);
                    let c = c.clone();
                    let symbols = symbols_rx.clone();
                    async move {
                        match feed {
                            FeedConfig::Sim(s) => sim::run(s, symbols, ingest, c).await,
                            FeedConfig::Tradier(t) => tradier::run(t, symbols, ingest, c).await,
                        }
                    }
                },
            ));
        }

        // Sweeper: expired options out every sweep_interval.
        {
            let state = Arc::clone(&state);
            let c = feed_cancel.clone();
            let every = config.sweep_interval;
            front.push(supervise(
                "sweeper",
                Arc::clone(&stats),
                restart,
                feed_cancel.clone(),
                move || sweep_every(Arc::clone(&state), every, c.clone()),
            ));
        }

        // Reloads: watchlist file and/or Redis key.
        let mut reload = None;
        let file = match &config.symbols {
            SymbolSource::File(p) => Some(p.clone()),
            SymbolSource::List(_) => None,
        };
        if file.is_some() || config.watch_redis_key {
            let reloader = Reloader::new(config.reload);
            reload = Some(reloader.trigger());
            let slot = Arc::new(tokio::sync::Mutex::new(Some(reloader)));
            let sources = ReloadSources {
                file,
                redis_key: config
                    .watch_redis_key
                    .then(|| config.publisher.keys.watchlist()),
                client: publisher.client().clone(),
                feed: config.feed.clone(),
                every: config.watch_interval,
            };
            let stats2 = Arc::clone(&stats);
            let c = feed_cancel.clone();
            let policy = config.reload;
            let symbols_tx = symbols_tx.clone();
            front.push(supervise(
                "reloader",
                Arc::clone(&stats),
                restart,
                feed_cancel.clone(),
                move || {
                    let sources = sources.clone();
                    let symbols_tx = symbols_tx.clone();
                    let stats = Arc::clone(&stats2);
                    let c = c.clone();
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
                        sources.run(reloader, symbols_tx, stats, c).await;
                        Ok(())
                    }
                },
            ));
        }

        // Health and HTTP.
        let mut health = HealthRegistry::new();
        {
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
            let stats = Arc::clone(&stats);
            let state = Arc::clone(&state);
            health.add_check("feed", DEFAULT_CHECK_TIMEOUT, move || {
                let stats = Arc::clone(&stats);
                let state = Arc::clone(&state);
                async move {
                    let age_ms = (u64::try_from(now_us()).unwrap_or(0))
                        .saturating_sub(stats.last_feed_update_us())
                        / 1000;
                    if !stats.feed_connected() {
                        Err("feed not connected".to_owned())
                    } else {
                        Ok(format!(
                            "{} instruments, last update {age_ms} ms ago",
                            state.len()
                        ))
                    }
                }
            });
            health.add_capability(
                "ticker",
                &[
                    ("redis", Criticality::Critical),
                    ("feed", Criticality::Critical),
                ],
            );
        }
        let mut http_addr = None;
        if let Some(addr) = config.metrics_bind {
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
            http_addr = listener.local_addr().ok();
            let app = router(HttpState {
                prometheus: prometheus.clone(),
                health: Arc::new(health),
            });
            let listener = Arc::new(listener);
            let c = feed_cancel.clone();
            front.push(supervise(
                "http",
                Arc::clone(&stats),
                restart,
                feed_cancel.clone(),
                move || {
                    let app = app.clone();
                    let listener = Arc::clone(&listener);
                    let c = c.clone();
                    async move {
                        let std = listener.try_clone().map_err(|error| TickerError::Io {
                            context: "cloning the metrics listener".to_owned(),
                            error,
                        })?;
                        let tokio_listener =
                            tokio::net::TcpListener::from_std(std).map_err(|error| {
                                TickerError::Io {
                                    context: "registering the metrics listener".to_owned(),
                                    error,
                                }
                            })?;
                        axum::serve(tokio_listener, app)
                            .with_graceful_shutdown(async move { c.cancelled().await })
                            .await
                            .map_err(|error| TickerError::Io {
                                context: "serving /metrics".to_owned(),
                                error,
                            })
                    }
                },
            ));
        }
        if let Some(handle) = prometheus {
            let c = feed_cancel.clone();
            let state = Arc::clone(&state);
            front.push(supervise(
                "metrics_upkeep",
                Arc::clone(&stats),
                restart,
                feed_cancel.clone(),
                move || {
                    let handle = handle.clone();
                    let c = c.clone();
                    let state = Arc::clone(&state);
                    async move {
                        let mut tick = tokio::time::interval(Duration::from_secs(5));
                        loop {
                            tokio::select! {
                                () = c.cancelled() => return Ok(()),
                                _ = tick.tick() => {
                                    let held = state.len() as f64;
                                    metrics::gauge!("ivcrush_ticker_instruments").set(held);
                                    handle.run_upkeep();
                                }
                            }
                        }
                    }
                },
            ));
        }
        Ok(TickerService {
            stats,
            state,
            http_addr,
            feed_cancel,
            publisher_cancel,
            front,
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
