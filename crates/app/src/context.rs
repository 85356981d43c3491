//! The application context shared by every service: configuration, the market-data provider,
//! the store and the read-through cache.

use crate::clock::{AsOf, now_or_last_close, sim_instant};
use crate::config::{AppConfig, CalendarProviderKind, ProviderKind};
use crate::error::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::calendar::{new_york_date, previous_trading_day};
use ivcrush_market::ExposeSecret;
use ivcrush_market::sim::SimMarket;
use ivcrush_market::{
    AlphaVantageClient, EarningsCalendar, FileMarket, MarketData, MarketError, TradierClient,
};
use ivcrush_resilience::BreakerRegistry;
use ivcrush_store::{CacheError, CacheStats, HybridCache, OpenMode, Store, open_store_with};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A value read through the cache, with whether it was stale.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    /// The value.
    pub value: T,
    /// When the value was fetched from the vendor.
    pub fetched_at: DateTime<Utc>,
    /// Served from cache after the vendor failed.
    pub stale: bool,
}

/// The wall clock of live providers (injected in tests, so that a mock vendor's data and the
/// as-of agree).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Configuration, provider, store and cache of one process: the context every use case runs
/// in. Its parts are private; the use cases are reached through it ([`App::analyzer`],
/// [`App::scanner`], [`App::calendar`], [`App::history`], [`App::importer`], [`App::health`]).
#[derive(Clone)]
pub struct App {
    pub(crate) config: Arc<AppConfig>,
    pub(crate) market: MarketData,
    pub(crate) store: Arc<dyn Store>,
    /// Read-through cache for vendor reads (memory over the store's cache table).
    pub(crate) cache: Arc<HybridCache>,
    /// Circuit breakers of the vendor pipelines (listed, reset and forced open by operators).
    pub(crate) breakers: Arc<BreakerRegistry>,
    /// Health pings of the vendors (e.g. Tradier's clock).
    pub(crate) vendor_pings: Vec<VendorPing>,
    /// The last answer of each vendor ping (refreshed in the background by servers).
    pub(crate) vendor_status: Arc<crate::vendor_status::VendorStatus>,
    as_of: DateTime<Utc>,
    clock: Clock,
    cache_scope: String,
    any_stale: Arc<AtomicBool>,
    /// Membership of a fleet sharing the vendor quota and breakers (`[fleet] redis`).
    pub(crate) fleet: Option<ivcrush_fleet::Fleet>,
    /// Vendor reads bypass the cache (a backtest's replays: each as-of is read once, and
    /// caching thousands of past chains would only fill the store).
    pub(crate) uncached: bool,
    /// The webhooks alerts go to (`alerts.webhooks`); `None` without endpoints.
    pub(crate) notifier: Option<Arc<ivcrush_notify::Notifier>>,
    /// Woken when alerts are recorded (the background delivery waits on it).
    pub(crate) alert_wakeup: Arc<tokio::sync::Notify>,
    /// Set once this process recorded an alert (a command then delivers before it exits).
    pub(crate) alerts_raised: Arc<AtomicBool>,
}

/// An async health ping returning a message or an error text.
pub type PingFn = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<String, String>> + Send>>
        + Send
        + Sync,
>;

/// A named vendor health ping.
#[derive(Clone)]
pub struct VendorPing {
    /// Dependency name in the health graph.
    pub name: &'static str,
    /// The ping.
    pub ping: PingFn,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("provider", &self.market.source)
            .field("as_of", &self.as_of)
            .finish_non_exhaustive()
    }
}

/// The files provider's data (bad rows logged with file, line and reason), dated `today`.
fn load_files(config: &AppConfig, today: NaiveDate) -> Result<FileMarket, AppError> {
    let (files, errors) = FileMarket::load(&config.files.dir)
        .map_err(|e| AppError::market(format!("files in {}", config.files.dir.display()), e))?;
    for e in &errors {
        tracing::warn!("{e}");
    }
    Ok(files.with_today(today))
}

/// The as-of instant of the simulated market or files for the configured as-of at `now`
/// (see [`crate::clock`]): a date stands for `date_instant(date)`, an instant for itself,
/// nothing for now (the last close when the market is shut).
pub fn resolve_as_of(
    as_of: Option<AsOf>,
    now: DateTime<Utc>,
    date_instant: impl Fn(NaiveDate) -> DateTime<Utc>,
) -> DateTime<Utc> {
    match as_of {
        Some(AsOf::Date(d)) => date_instant(d),
        Some(AsOf::At(t)) => t,
        None => now_or_last_close(now),
    }
}

/// Today's New York date.
pub fn today_new_york() -> NaiveDate {
    new_york_date(Utc::now())
}

/// The market of a provider that can replay a past as-of (the simulated market and files) at
/// `as_of`, with its as-of instant and cache scope.
fn replay_market(
    config: &AppConfig,
    as_of: Option<AsOf>,
) -> Result<(MarketData, DateTime<Utc>, String), AppError> {
    match config.provider {
        ProviderKind::Sim => {
            let seed = config.sim.seed;
            let (sim, scope) = match as_of {
                // A date: 15:30 New York (the market's own convention for a date).
                Some(AsOf::Date(date)) => {
                    (SimMarket::new(seed, date), format!("sim:{seed}:{date}"))
                }
                other => {
                    let at = resolve_as_of(other, Utc::now(), sim_instant);
                    (
                        SimMarket::at(seed, at),
                        format!("sim:{seed}:{}", AsOf::At(at)),
                    )
                }
            };
            // A universe of another size lists other tickers: its cached calendar is its own.
            let scope = if config.sim.universe_size == ivcrush_market::sim::universe::DEFAULT_SIZE {
                scope
            } else {
                format!("{scope}:n{}", config.sim.universe_size)
            };
            let at = sim.as_of();
            Ok((sim.into_market_data(), at, scope))
        }
        ProviderKind::Files => {
            let at = resolve_as_of(as_of, Utc::now(), ivcrush_core::calendar::close_of);
            let files = load_files(config, new_york_date(at))?;
            // An explicit as-of replays what was known then; none serves the latest files.
            let files = if as_of.is_some() {
                files.with_as_of(at)
            } else {
                files
            };
            let scope = match as_of {
                Some(AsOf::Date(d)) => format!("files:{d}"),
                _ => format!("files:{}", AsOf::At(at)),
            };
            Ok((files.market_data(), at, scope))
        }
        ProviderKind::Tradier => Err(AppError::AsOfNotReplayable {
            as_of: as_of.map_or_else(|| "now".to_string(), |a| a.to_string()),
            provider: "tradier",
        }),
    }
}

impl App {
    /// The same app (store, cache, breakers) over the market as it was at `as_of`: the
    /// simulated market or the files replayed at that date or instant.
    ///
    /// # Errors
    /// [`AppError::AsOfNotReplayable`] for a live vendor; [`AppError`] when the files cannot
    /// be read.
    pub fn at(&self, as_of: AsOf) -> Result<App, AppError> {
        let (market, at, scope) = replay_market(&self.config, Some(as_of))?;
        Ok(App {
            market,
            as_of: at,
            cache_scope: scope,
            any_stale: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        })
    }

    /// [`App::at`] for a backtest: the replay reads its provider directly, without the cache.
    ///
    /// # Errors
    /// As [`App::at`].
    pub fn replay(&self, as_of: AsOf) -> Result<App, AppError> {
        let mut app = self.at(as_of)?;
        app.uncached = true;
        Ok(app)
    }

    /// The same app analysing with other analytics settings (a backtest's profile).
    pub fn with_analytics(&self, analytics: ivcrush_core::config::AnalyticsConfig) -> App {
        let mut config = (*self.config).clone();
        config.analytics = analytics;
        App {
            config: Arc::new(config),
            ..self.clone()
        }
    }

    /// Opens the store and builds the configured provider.
    ///
    /// # Errors
    /// [`AppError`] when the store cannot be opened or the provider is not configured.
    pub async fn open(config: AppConfig) -> Result<App, AppError> {
        let store = ivcrush_store::open_store_pooled(
            &config.database_creating_dir()?,
            OpenMode::Migrate,
            config.database_pool_size,
        )
        .await?;
        App::with_store(config, store)
    }

    /// [`App::open`] on a database that must exist already and is not migrated (health checks
    /// and status reports must not create a database nor change its schema).
    ///
    /// # Errors
    /// [`AppError`] when the store cannot be opened (a missing SQLite file included) or the
    /// provider is not configured.
    pub async fn open_existing(config: AppConfig) -> Result<App, AppError> {
        let store = open_store_with(&config.database(), OpenMode::Existing).await?;
        App::with_store(config, store)
    }

    /// Builds the configured provider over an opened `store`.
    ///
    /// # Errors
    /// [`AppError`] when the provider is not configured.
    pub fn with_store(config: AppConfig, store: Arc<dyn Store>) -> Result<App, AppError> {
        let breakers = BreakerRegistry::new();
        let mut pings = Vec::new();
        let mut fleet = None;
        let (market, as_of, scope) = match config.provider {
            ProviderKind::Sim | ProviderKind::Files => replay_market(&config, config.as_of)?,
            ProviderKind::Tradier => {
                fleet = ivcrush_fleet::Fleet::join(&config.fleet).map_err(AppError::fleet)?;
                // Each vendor's pipeline, with the key it spends, to share with the fleet.
                let mut shared = Vec::new();
                let tradier = TradierClient::new(config.tradier.clone())
                    .map_err(|e| AppError::market("Tradier client", e))?;
                breakers.register(tradier.pipeline().breaker().clone());
                shared.push((
                    "tradier",
                    tradier.pipeline().clone(),
                    config.tradier.api_key.expose_secret(),
                ));
                let calendar: Arc<dyn EarningsCalendar> = match config.calendar_vendor() {
                    Some(CalendarProviderKind::Files) => {
                        Arc::new(load_files(&config, today_new_york())?)
                    }
                    _ => {
                        let av = AlphaVantageClient::new(config.alphavantage.clone())
                            .map_err(|e| AppError::market("Alpha Vantage client", e))?;
                        breakers.register(av.pipeline().breaker().clone());
                        shared.push((
                            "alpha_vantage",
                            av.pipeline().clone(),
                            config.alphavantage.api_key.expose_secret(),
                        ));
                        Arc::new(av)
                    }
                };
                if let Some(fleet) = &fleet {
                    let mut synced = Vec::new();
                    for (vendor, pipeline, key) in &shared {
                        fleet
                            .share_quota(pipeline.limiter(), vendor, key)
                            .map_err(AppError::fleet)?;
                        synced.push((pipeline.breaker().clone(), (*key).to_owned()));
                    }
                    fleet.sync_breakers(synced);
                }
                let tradier = Arc::new(tradier);
                let ping = tradier.clone();
                pings.push(VendorPing {
                    name: "tradier",
                    ping: Arc::new(move || {
                        let c = ping.clone();
                        Box::pin(async move {
                            c.ping()
                                .await
                                .map(|k| format!("market {}", k.state))
                                .map_err(|e| e.to_string())
                        })
                    }),
                });
                let market = tradier.market_data(calendar);
                (market, Utc::now(), "tradier".to_string())
            }
        };
        let mut app = App::with_parts(config, market, store, as_of, scope);
        app.breakers = Arc::new(breakers);
        app.vendor_pings = pings;
        if let Some(fleet) = &fleet {
            let shared: Arc<dyn ivcrush_store::SharedCacheTier> = fleet.cache();
            app.cache = Arc::new(
                HybridCache::builder(app.store.clone())
                    .policy(&app.config.cache)
                    .shared(Some(shared))
                    .build(),
            );
        }
        app.fleet = fleet;
        app.alert_on_breaker_open();
        Ok(app)
    }

    /// Assembles an app from parts (tests, servers).
    pub fn with_parts(
        config: AppConfig,
        market: MarketData,
        store: Arc<dyn Store>,
        as_of: DateTime<Utc>,
        cache_scope: String,
    ) -> App {
        let cache = HybridCache::builder(store.clone())
            .policy(&config.cache)
            .build();
        let notifier = if config.alerts.webhooks.endpoints.is_empty() {
            None
        } else {
            match ivcrush_notify::Notifier::new(&config.alerts.webhooks) {
                Ok(n) => Some(Arc::new(n)),
                Err(e) => {
                    tracing::error!(
                        error = &e as &dyn std::error::Error,
                        "alert webhooks unusable: alerts are stored, not delivered"
                    );
                    None
                }
            }
        };
        App {
            config: Arc::new(config),
            market,
            store,
            cache: Arc::new(cache),
            breakers: Arc::new(BreakerRegistry::new()),
            vendor_pings: Vec::new(),
            vendor_status: Arc::default(),
            as_of,
            clock: Arc::new(Utc::now),
            cache_scope,
            any_stale: Arc::new(AtomicBool::new(false)),
            fleet: None,
            uncached: false,
            notifier,
            alert_wakeup: Arc::default(),
            alerts_raised: Arc::default(),
        }
    }

    /// The background delivery of alerts to the webhooks; `None` without endpoints.
    pub fn alert_dispatcher(&self) -> Option<crate::alerts::AlertDispatcher> {
        let notifier = self.notifier.clone()?;
        let endpoints = self
            .config
            .alerts
            .webhooks
            .endpoints
            .iter()
            .map(|e| e.name.clone())
            .collect();
        Some(crate::alerts::AlertDispatcher::new(
            self.store.clone(),
            notifier,
            endpoints,
            Duration::from_millis(self.config.alerts.webhooks.deadline_ms),
        ))
    }

    /// What wakes the background delivery ([`crate::alerts::AlertDispatcher::run`]).
    pub fn alert_wakeup(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.alert_wakeup)
    }

    /// Raises an alert whenever one of this app's breakers opens (stored in the background;
    /// the breaker's caller never waits).
    fn alert_on_breaker_open(&self) {
        for snapshot in self.breakers.list() {
            let Some(breaker) = self.breakers.get(&snapshot.name) else {
                continue;
            };
            let store = self.store.clone();
            let wake = Arc::clone(&self.alert_wakeup);
            breaker.add_listener(move |e| {
                if e.to != ivcrush_resilience::BreakerState::Open {
                    return;
                }
                let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                    return;
                };
                let alert = crate::alerts::breaker_opened(&e.name, Utc::now());
                let (store, wake) = (store.clone(), Arc::clone(&wake));
                runtime.spawn(async move {
                    match store.insert_alert(&alert).await {
                        Ok(Some(_)) => {
                            metrics::counter!("ivcrush_alerts_total", "kind" => "breaker_open")
                                .increment(1);
                            tracing::warn!(kind = "breaker_open", "alert: {}", alert.message);
                            wake.notify_one();
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "breaker alert not stored"
                        ),
                    }
                });
            });
        }
    }

    /// The same app reading `clock` instead of the system clock when the provider is live
    /// (tests against a mock vendor serving a fixed day).
    /// The cache reads the same clock, so that its TTLs follow the pinned time too.
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> App {
        let clock: Clock = Arc::new(clock);
        let cache_clock = clock.clone();
        let shared = self.fleet.as_ref().map(|fleet| {
            let tier: Arc<dyn ivcrush_store::SharedCacheTier> = fleet.cache();
            tier
        });
        self.cache = Arc::new(
            HybridCache::builder(self.store.clone())
                .policy(&self.config.cache)
                .shared(shared)
                .clock(move || cache_clock())
                .build(),
        );
        self.clock = clock;
        self
    }

    /// The validated configuration.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// Name of the market-data provider (`sim`, `tradier`, `files`).
    pub fn source(&self) -> &'static str {
        self.market.source
    }

    /// Counters of the read-through cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Takes the lead of `job` among the processes sharing this database (see
    /// [`Store::try_lead`]): `None` while another process holds it.
    ///
    /// # Errors
    /// [`AppError::Store`] when the database cannot be asked.
    pub async fn try_lead(&self, job: &str) -> Result<Option<ivcrush_store::Lead>, AppError> {
        Ok(self.store.try_lead(job).await?)
    }

    /// Circuit breakers of the vendor pipelines (listed, reset and forced open by operators).
    pub fn breakers(&self) -> &BreakerRegistry {
        &self.breakers
    }

    /// `true` for a live vendor (data as of now), `false` for the simulated market and files
    /// (data as of the configured date).
    pub fn is_live(&self) -> bool {
        self.market.source == "tradier"
    }

    /// The as-of instant of the market data: our clock now for live vendors, the configured
    /// instant for the simulated market and files. Never a vendor timestamp.
    pub fn as_of(&self) -> DateTime<Utc> {
        if self.is_live() {
            (self.clock)()
        } else {
            self.as_of
        }
    }

    /// The as-of date in New York.
    pub fn as_of_date(&self) -> NaiveDate {
        new_york_date(self.as_of())
    }

    /// The last completed session whose moves an analysis may use: the trading day before the
    /// as-of date. The as-of day's own session is left out at any hour (open, not yet open, or
    /// closed with its bar not final everywhere), so every as-of of a day sees the same history.
    pub fn last_completed_session(&self) -> NaiveDate {
        previous_trading_day(self.as_of_date())
    }

    /// Reads `key` through the cache (scoped to the provider and as-of), fetching with `fetch`
    /// on a miss; a stale fallback is flagged.
    ///
    /// # Errors
    /// The fetch's [`MarketError`] (wrapped with `context`) when there is nothing to fall back on.
    pub async fn cached<T, F, Fut>(
        &self,
        key: &str,
        ttl_secs: u64,
        context: &str,
        fetch: F,
    ) -> Result<Fetched<T>, AppError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T, MarketError>> + Send,
    {
        if self.uncached {
            let value = fetch()
                .await
                .map_err(|source| AppError::market(context, source))?;
            return Ok(Fetched {
                value,
                fetched_at: self.as_of,
                stale: false,
            });
        }
        let full = format!("{}:{key}", self.cache_scope);
        match self
            .cache
            .get_or_fetch(&full, Duration::from_secs(ttl_secs), fetch)
            .await
        {
            Ok(c) => {
                if c.stale {
                    self.any_stale.store(true, Ordering::Relaxed);
                }
                Ok(Fetched {
                    value: c.value,
                    fetched_at: c.fetched_at,
                    stale: c.stale,
                })
            }
            Err(CacheError::Origin { source, .. }) => {
                Err(AppError::market(context, (*source).clone()))
            }
            Err(other) => Err(AppError::Cache {
                context: context.to_string(),
                detail: other.to_string(),
            }),
        }
    }

    /// Deletes the cache entries expired beyond the grace period, so that the cache table
    /// stays bounded; returns how many. Runs after every scan and backfill and on the
    /// server's schedule. A failure is logged: the next purge catches up.
    pub async fn purge_cache(&self) -> u64 {
        match self.cache.purge_expired().await {
            Ok(n) => {
                if n > 0 {
                    tracing::debug!(deleted = n, "expired cache entries purged");
                }
                n
            }
            Err(e) => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "purging expired cache entries failed"
                );
                0
            }
        }
    }

    /// Deletes the stored analyses older than `days` (and cache entries expired that long),
    /// as `ivcrush db prune` does; history is never deleted. A failure is logged: the next
    /// day's run catches up.
    pub async fn prune_older_than(&self, days: u32) {
        let cutoff = (self.clock)() - chrono::TimeDelta::days(i64::from(days));
        match self.store.prune(cutoff, false).await {
            Ok(pruned) => tracing::info!(
                days,
                analyses = pruned.analyses,
                cache_entries = pruned.cache_entries,
                "retention: old rows deleted"
            ),
            Err(e) => tracing::warn!(
                error = &e as &dyn std::error::Error,
                "retention: deleting old rows failed"
            ),
        }
    }

    /// Marks the cached `key` out of date (see [`HybridCache::invalidate`]); a store failure
    /// is logged, since the next read then simply finds the old entry.
    pub(crate) async fn invalidate<T: 'static>(&self, key: &str) {
        let full = format!("{}:{key}", self.cache_scope);
        if let Err(e) = self.cache.invalidate::<T>(&full).await {
            tracing::warn!(key = %full, error = &e as &dyn std::error::Error, "cache invalidation failed");
        }
    }
}
