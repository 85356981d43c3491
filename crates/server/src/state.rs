//! The one `Clone` state of the service: the app, the server configuration, the metrics
//! recorder, the latest scan (lock-free reads), the analysis cache, the per-client limiter and
//! extra health checks.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
// A panicking request must not poison the caches for good: the maps hold whole values, so
// the data behind a poisoned lock is still consistent and is used as is.
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use axum::body::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ivcrush_app::clock::report_out;
use ivcrush_app::{
    AnalyzeOptions, App, AsOf, EarningsRecord, ErrorKind, RankBy, Row, RowView, ScanReport,
    ScanRequest, TickerHistory,
};
use ivcrush_app::{BacktestReport, ExitChoice, StrategyChoice};
use ivcrush_core::EarningsEvent;
use ivcrush_resilience::{CheckResult, Criticality, DEFAULT_CHECK_TIMEOUT, HealthReport};
use ivcrush_ticker::implied::ImpliedFeed;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::serve::ServeError;
use ivcrush_app::config::ServerSettings;
use metrics_exporter_prometheus::PrometheusRecorder;
use secrecy::ExposeSecret;

/// A finished scan as the service keeps it.
#[derive(Debug, Clone)]
pub struct ScanSnapshot {
    /// The report (rows ranked, run id, window).
    pub report: ScanReport,
    /// `scheduled`, `startup` or `on_demand`.
    pub trigger: &'static str,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
}

impl ScanSnapshot {
    /// The rows as `ivcrush scan` shows them at `now` (see [`RowView::apply`]).
    pub fn filtered(
        &self,
        min_score: Option<f64>,
        limit: Option<usize>,
        rank: RankBy,
        now: DateTime<Utc>,
    ) -> Vec<Row> {
        RowView {
            rank: Some(rank),
            min_score,
            limit,
        }
        .apply(&self.report.rows, now)
    }
}

type CheckFn = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = CheckResult> + Send>> + Send + Sync>;

struct ExtraCheck {
    name: String,
    criticality: Criticality,
    check: CheckFn,
}

struct CachedAnalysis {
    body: Bytes,
    at: Instant,
    /// The analysed report: once it is out, the cached record is no longer served.
    event: EarningsEvent,
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Every `GET` (`server.api_keys`).
    Read,
    /// Also operating breakers (`server.admin_keys`).
    Admin,
}

/// Makes room for `ticker` in `analyses` when it holds `cap` others: drops the expired
/// entries, then the oldest.
fn make_room(
    analyses: &mut HashMap<String, Arc<CachedAnalysis>>,
    ticker: &str,
    cap: usize,
    ttl: Duration,
) {
    if analyses.len() < cap || analyses.contains_key(ticker) {
        return;
    }
    analyses.retain(|_, c| c.at.elapsed() < ttl);
    if analyses.len() >= cap
        && let Some(oldest) = analyses
            .iter()
            .min_by_key(|(_, c)| c.at)
            .map(|(t, _)| t.clone())
    {
        analyses.remove(&oldest);
    }
}

/// Analyses kept for `analysis_ttl_secs` by `GET /api/v1/analyze/{ticker}`: beyond it the
/// oldest is forgotten (a client walking the symbol space cannot grow the map without bound).
pub(crate) const MAX_CACHED_ANALYSES: usize = 4096;

struct Inner {
    app: App,
    config: ServerSettings,
    /// Read-only keys, then admin keys.
    keys: Vec<(Vec<u8>, Role)>,
    metrics: Metrics,
    latest: ArcSwapOption<ScanSnapshot>,
    /// At most [`MAX_CACHED_ANALYSES`] entries.
    analyses: RwLock<HashMap<String, Arc<CachedAnalysis>>>,
    limiter: DefaultKeyedRateLimiter<String>,
    checks: RwLock<Vec<ExtraCheck>>,
    scan_lock: tokio::sync::Mutex<()>,
    /// The last readiness report and when it was made: concurrent probes wait for one run of
    /// the checks and share it ([`READINESS_TTL`]).
    readiness: tokio::sync::Mutex<Option<(tokio::time::Instant, HealthReport)>>,
    /// The last backtest and its query: the dashboard asks for the same one on every load,
    /// and a backtest is CPU work (kept `analysis_ttl_secs`; concurrent askers wait for one).
    backtest: tokio::sync::Mutex<Option<(BacktestKey, Instant, Arc<BacktestReport>)>>,
    /// The ticker's live implied moves (`server.live_implied`), and the streams left to open.
    live: Option<(ImpliedFeed, Arc<tokio::sync::Semaphore>)>,
    /// Set at shutdown: the live streams end.
    closing: tokio::sync::watch::Sender<bool>,
}

/// How far after the market's as-of (the server's, or the one asked for) an analysis may
/// look: its as-of, report date and expiration. The market is built up to those dates, so a
/// far one would cost work without bound (and mean nothing).
pub(crate) const MAX_DAYS_AHEAD: i64 = ivcrush_app::MAX_WINDOW_DAYS;

/// 422 for an as-of more than [`MAX_DAYS_AHEAD`] after `server_as_of`, or a report date or an
/// expiration more than that after the as-of.
fn check_analysis_dates(
    as_of: Option<AsOf>,
    earnings_date: Option<NaiveDate>,
    expiration: Option<NaiveDate>,
    server_as_of: DateTime<Utc>,
) -> Result<(), ApiError> {
    let ahead = chrono::Duration::days(MAX_DAYS_AHEAD);
    let server_day = server_as_of.date_naive();
    let market_day = match as_of {
        None => server_day,
        Some(AsOf::Date(d)) => d,
        Some(AsOf::At(t)) => t.date_naive(),
    };
    if market_day > server_day + ahead {
        return Err(ApiError::Unprocessable(format!(
            "as-of {market_day} is more than {MAX_DAYS_AHEAD} days after the server's ({server_day})"
        )));
    }
    for (what, day) in [("earnings_date", earnings_date), ("expiration", expiration)] {
        if let Some(day) = day.filter(|d| *d > market_day + ahead) {
            return Err(ApiError::Unprocessable(format!(
                "{what} {day} is more than {MAX_DAYS_AHEAD} days after the as-of ({market_day})"
            )));
        }
    }
    Ok(())
}

/// What a cached backtest answers.
type BacktestKey = (NaiveDate, NaiveDate, StrategyChoice, ExitChoice);

/// Default window of `/api/v1/backtest`: reports from this many days before its end…
const BACKTEST_DAYS: i64 = 90;
/// …which is this many days before the as-of, so that the reactions and expiries are past.
const BACKTEST_SETTLED_DAYS: i64 = 10;

/// How long one readiness report answers every probe: a probe storm (a load balancer per
/// instance, Kubernetes, a monitor) runs the local checks at most once per interval.
pub const READINESS_TTL: Duration = Duration::from_secs(1);

/// Shared state of the handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("app", &self.inner.app)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over `app` with `config`; metrics go to a recorder of its own (see
    /// [`AppState::with_metrics`]).
    ///
    /// # Errors
    /// [`ServeError::Config`] when `config` is invalid.
    pub fn new(app: App, config: ServerSettings) -> Result<AppState, ServeError> {
        Self::with_recorder(app, config, None)
    }

    /// State over `app` with `config` whose `/metrics` renders `recorder`: the process's
    /// global recorder, installed by the binary before the app was opened, so that the vendor
    /// pipelines' metrics show too. `None`: a recorder of its own.
    ///
    /// # Errors
    /// [`ServeError::Config`] when `config` is invalid.
    pub fn with_recorder(
        app: App,
        config: ServerSettings,
        recorder: Option<Arc<PrometheusRecorder>>,
    ) -> Result<AppState, ServeError> {
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(ServeError::Config(problems));
        }
        let per_minute = config.rate_limit_per_minute;
        let burst = config.rate_limit_burst.min(per_minute);
        // Period T = W / (L − b + 1), so no 60-s window admits more than L (spec: rate limiter).
        let period = Duration::from_secs(60) / (per_minute - burst + 1);
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(burst).expect("validated non-zero"));
        let keys = config
            .api_keys
            .iter()
            .map(|k| (k, Role::Read))
            .chain(config.admin_keys.iter().map(|k| (k, Role::Admin)))
            .map(|(k, role)| (k.expose_secret().as_bytes().to_vec(), role))
            .collect();
        let live = if config.live_implied {
            let t = &app.config().ticker;
            let feed = ImpliedFeed::new(&t.redis, &t.key_prefix)
                .map_err(|e| ServeError::Config(vec![format!("server.live_implied: {e}")]))?;
            Some((
                feed,
                Arc::new(tokio::sync::Semaphore::new(config.live_streams)),
            ))
        } else {
            None
        };
        Ok(AppState {
            inner: Arc::new(Inner {
                live,
                closing: tokio::sync::watch::Sender::new(false),
                app,
                config,
                keys,
                metrics: Metrics::new(recorder),
                latest: ArcSwapOption::empty(),
                analyses: RwLock::new(HashMap::new()),
                limiter: RateLimiter::keyed(quota),
                checks: RwLock::new(Vec::new()),
                scan_lock: tokio::sync::Mutex::new(()),
                readiness: tokio::sync::Mutex::new(None),
                backtest: tokio::sync::Mutex::new(None),
            }),
        })
    }

    /// The live implied moves and a permit to stream them: 404 when `server.live_implied` is
    /// off (this server has no such stream: not an outage), 503 when `server.live_streams`
    /// streams are open.
    pub(crate) fn live_implied(
        &self,
    ) -> Result<(&ImpliedFeed, tokio::sync::OwnedSemaphorePermit), ApiError> {
        let (feed, streams) = self.inner.live.as_ref().ok_or_else(|| {
            ApiError::NotFound(
                "live implied moves are off (set server.live_implied = true and run `ivcrush ticker`)"
                    .into(),
            )
        })?;
        let permit = Arc::clone(streams).try_acquire_owned().map_err(|_| {
            ApiError::Unavailable(format!(
                "{} live streams are open (server.live_streams)",
                self.inner.config.live_streams
            ))
        })?;
        Ok((feed, permit))
    }

    /// Ends the live streams (at shutdown).
    pub(crate) fn close_streams(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Completes once [`AppState::close_streams`] was called.
    pub(crate) fn closed(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut rx = self.inner.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// The application services.
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    /// The server configuration.
    pub fn config(&self) -> &ServerSettings {
        &self.inner.config
    }

    /// Runs `f` with this server's metrics recorder as the local recorder: metrics handles
    /// created inside (e.g. a [`CircuitBreaker`](ivcrush_resilience::CircuitBreaker) built in
    /// a test) report to this server's `/metrics`.
    pub fn with_metrics<T>(&self, f: impl FnOnce() -> T) -> T {
        self.inner.metrics.scoped(f)
    }

    /// Adds a dependency check to `/health/ready` under the `api` capability (`Critical` → the
    /// service is DOWN and answers 503 while the check fails).
    pub fn add_health_check<F, Fut>(&self, name: &str, criticality: Criticality, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        let check: CheckFn = Arc::new(move || Box::pin(check()));
        self.inner
            .checks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ExtraCheck {
                name: name.to_string(),
                criticality,
                check,
            });
        // The next probe runs the new check.
        if let Ok(mut cached) = self.inner.readiness.try_lock() {
            *cached = None;
        }
    }

    /// Whether a scan is running now (scheduled, at startup or on demand).
    pub(crate) fn scan_in_progress(&self) -> bool {
        self.inner.scan_lock.try_lock().is_err()
    }

    /// The latest finished scan of the default window, if any.
    pub fn latest_scan(&self) -> Option<Arc<ScanSnapshot>> {
        self.inner.latest.load_full()
    }

    /// Runs a scan of the default window (scheduler, startup) and keeps it as the latest.
    ///
    /// # Errors
    /// [`ApiError`] when the whole scan failed (calendar unreadable, store down).
    pub async fn run_scan(
        &self,
        trigger: &'static str,
        run_id: &str,
    ) -> Result<Arc<ScanSnapshot>, ApiError> {
        let _one_at_a_time = self.inner.scan_lock.lock().await;
        let snap = self
            .scan_window(&ScanRequest::default(), trigger, run_id)
            .await?;
        self.inner.latest.store(Some(snap.clone()));
        Ok(snap)
    }

    async fn scan_window(
        &self,
        req: &ScanRequest,
        trigger: &'static str,
        run_id: &str,
    ) -> Result<Arc<ScanSnapshot>, ApiError> {
        let started = Instant::now();
        let app = &self.inner.app;
        let result = if app.config().server.distributed_scans {
            // The workers analyse; this instance plans, enqueues and reads back their rows.
            ivcrush_app::distributed::coordinate(app, req, run_id, &app.config().jobs.redis, None)
                .await
        } else {
            app.scanner().run(req, run_id, None).await
        };
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(report) => {
                let failed = report.failed().count();
                let ok = report.rows.len() - failed;
                self.inner
                    .metrics
                    .record_scan(trigger, Ok((ok, failed)), secs);
                tracing::info!(run_id, trigger, analyzed = ok, failed, "scan finished");
                Ok(Arc::new(ScanSnapshot {
                    report,
                    trigger,
                    finished_at: Utc::now(),
                }))
            }
            Err(e) => {
                self.inner.metrics.record_scan(trigger, Err(()), secs);
                tracing::warn!(
                    run_id,
                    trigger,
                    error = &e as &dyn std::error::Error,
                    "scan failed"
                );
                Err(e.into())
            }
        }
    }

    /// The scan for `from..=to`: the latest one when it covers that window (and `refresh` is
    /// false), else a scan run now (kept as the latest when the window is the default one).
    pub(crate) async fn scan(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        refresh: bool,
        run_id: &str,
    ) -> Result<Arc<ScanSnapshot>, ApiError> {
        let covers = |s: &ScanSnapshot| {
            from.is_none_or(|f| f == s.report.from) && to.is_none_or(|t| t == s.report.to)
        };
        if let Some(s) = self.latest_scan().filter(|s| !refresh && covers(s)) {
            return Ok(s);
        }
        // Checked before any work (a window is refused the same way whatever the cache holds).
        self.inner.app.calendar().resolve_window(from, to, None)?;
        if from.is_none() && to.is_none() {
            let _one_at_a_time = self.inner.scan_lock.lock().await;
            // Another request may have run it while this one waited.
            if let Some(s) = self.latest_scan().filter(|_| !refresh) {
                return Ok(s);
            }
            let snap = self
                .scan_window(&ScanRequest::default(), "on_demand", run_id)
                .await?;
            self.inner.latest.store(Some(snap.clone()));
            return Ok(snap);
        }
        let req = ScanRequest {
            from,
            to,
            ..ScanRequest::default()
        };
        self.scan_window(&req, "on_demand", run_id).await
    }

    /// The JSON record of `ticker` (normalised): the cached analysis while fresh, else
    /// computed now (with its historical moves), stored under `run_id` and cached. A request
    /// naming a report date or an expiration is computed (and stored) each time, not cached.
    pub(crate) async fn analysis_json(
        &self,
        ticker: &str,
        earnings_date: Option<NaiveDate>,
        expiration: Option<NaiveDate>,
        as_of: Option<AsOf>,
        run_id: &str,
    ) -> Result<Bytes, ApiError> {
        let ttl = Duration::from_secs(self.inner.config.analysis_ttl_secs);
        let cacheable = earnings_date.is_none() && expiration.is_none() && as_of.is_none();
        if let Some(c) = self
            .inner
            .analyses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(ticker)
            .filter(|c| {
                cacheable && c.at.elapsed() < ttl && !report_out(&c.event, self.inner.app.as_of())
            })
        {
            return Ok(c.body.clone());
        }
        let opts = AnalyzeOptions {
            earnings_date,
            expiration,
            include_history: true,
            ..AnalyzeOptions::default()
        };
        check_analysis_dates(as_of, earnings_date, expiration, self.inner.app.as_of())?;
        let replayed = as_of.map(|a| self.inner.app.at(a)).transpose()?;
        let rec = replayed
            .as_ref()
            .unwrap_or(&self.inner.app)
            .analyzer()
            .analyze_and_store(ticker, &opts, run_id)
            .await
            .map_err(|e| match (as_of, e.kind()) {
                // A replayed market (simulated, files) is local: nothing of it is ever down.
                // What it cannot answer at an as-of is data it does not have there (before the
                // simulation starts, before the first imported snapshot), a request it cannot
                // serve rather than an outage.
                (Some(a), ErrorKind::Unavailable) => {
                    ApiError::Unprocessable(format!("no market data to replay at as-of {a}: {e}"))
                }
                _ => e.into(),
            })?;
        let body =
            Bytes::from(serde_json::to_vec(&rec).map_err(|e| ApiError::Internal(e.to_string()))?);
        if cacheable {
            let mut analyses = self
                .inner
                .analyses
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            make_room(&mut analyses, ticker, MAX_CACHED_ANALYSES, ttl);
            analyses.insert(
                ticker.to_string(),
                Arc::new(CachedAnalysis {
                    body: body.clone(),
                    at: Instant::now(),
                    event: EarningsEvent {
                        date: rec.analysis.earnings_date,
                        timing: rec.analysis.timing,
                    },
                }),
            );
        }
        Ok(body)
    }

    /// Stored analyses (newest first, at most `limit`) and historical moves of `ticker`
    /// (no vendor call: what is stored).
    pub(crate) async fn history(
        &self,
        ticker: &str,
        limit: u32,
    ) -> Result<TickerHistory, ApiError> {
        let history = self
            .inner
            .app
            .history()
            .stored(ticker, limit, false)
            .await?;
        if history.analyses.is_empty() && history.moves.is_empty() {
            return Err(ApiError::NotFound(format!(
                "no stored history for {ticker}"
            )));
        }
        Ok(history)
    }

    /// The provider's earnings calendar for a window (the app's default window).
    pub(crate) async fn calendar(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<(NaiveDate, NaiveDate, Vec<EarningsRecord>), ApiError> {
        let calendar = self.inner.app.calendar();
        let (from, to) = calendar.resolve_window(from, to, None)?;
        let events = calendar.window(from, to).await?;
        Ok((from, to, events))
    }

    /// A backtest of the default strategy over a window (default: the 90 days of reports
    /// ending 10 days before the as-of), cached like an analysis.
    pub(crate) async fn backtest(
        &self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        strategy: StrategyChoice,
        exit: ExitChoice,
    ) -> Result<Arc<BacktestReport>, ApiError> {
        let app = &self.inner.app;
        let to =
            to.unwrap_or_else(|| app.as_of_date() - chrono::Duration::days(BACKTEST_SETTLED_DAYS));
        let from = from.unwrap_or_else(|| to - chrono::Duration::days(BACKTEST_DAYS));
        if (to - from).num_days() > ivcrush_app::MAX_WINDOW_DAYS {
            return Err(ApiError::Unprocessable(format!(
                "the window {from}..{to} is longer than {} days",
                ivcrush_app::MAX_WINDOW_DAYS
            )));
        }
        let key = (from, to, strategy, exit);
        let ttl = Duration::from_secs(self.inner.config.analysis_ttl_secs);
        let mut cached = self.inner.backtest.lock().await;
        if let Some((k, at, report)) = cached.as_ref()
            && *k == key
            && at.elapsed() < ttl
        {
            return Ok(report.clone());
        }
        let req = ivcrush_app::BacktestRequest {
            strategy,
            exit,
            ..ivcrush_app::BacktestRequest::new(from, to, app.config().analytics.clone())
        };
        let report = Arc::new(app.backtester().run(&req).await?);
        *cached = Some((key, Instant::now(), report.clone()));
        Ok(report)
    }

    /// The dependency graph of the app plus the extra checks (capability `api`, the one that
    /// decides DOWN), at most [`READINESS_TTL`] old; concurrent callers share one run.
    pub(crate) async fn readiness(&self) -> HealthReport {
        let mut cached = self.inner.readiness.lock().await;
        if let Some((at, report)) = cached.as_ref()
            && at.elapsed() < READINESS_TTL
        {
            return report.clone();
        }
        let report = self.check_readiness().await;
        *cached = Some((tokio::time::Instant::now(), report.clone()));
        report
    }

    async fn check_readiness(&self) -> HealthReport {
        let mut reg = self.inner.app.health().readiness();
        let mut needs: Vec<(String, Criticality)> =
            vec![("database".to_string(), Criticality::Critical)];
        for c in self
            .inner
            .checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let f = c.check.clone();
            reg.add_check(&c.name, DEFAULT_CHECK_TIMEOUT, move || f());
            needs.push((c.name.clone(), c.criticality));
        }
        let needs: Vec<(&str, Criticality)> = needs.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        reg.add_capability("api", &needs);
        reg.set_primary(&["api"]);
        reg.check().await
    }

    /// Index of the configured key equal to `presented`, compared in constant time (per key
    /// of the same length; every key is compared).
    pub(crate) fn key_index(&self, presented: &[u8]) -> Option<usize> {
        let mut found = None;
        for (i, (k, _)) in self.inner.keys.iter().enumerate() {
            let eq: bool = k.as_slice().ct_eq(presented).into();
            if eq && found.is_none() {
                found = Some(i);
            }
        }
        found
    }

    /// The index of the key whose dashboard session `value` is, while it lasts.
    pub(crate) fn session_key_index(&self, value: &str) -> Option<usize> {
        let keys = self.inner.keys.iter().map(|(k, _)| k.as_slice());
        crate::session::verify(value, keys, Utc::now().timestamp())
    }

    /// A new dashboard session of key `index`.
    pub(crate) fn new_session(&self, index: usize) -> Option<String> {
        let (key, _) = self.inner.keys.get(index)?;
        Some(crate::session::issue(key, Utc::now().timestamp()))
    }

    /// The role of key `index`.
    pub(crate) fn role(&self, index: usize) -> Role {
        self.inner.keys.get(index).map_or(Role::Read, |(_, r)| *r)
    }

    /// Whether any API key is configured.
    pub(crate) fn has_keys(&self) -> bool {
        !self.inner.keys.is_empty()
    }

    /// Takes one token of `client`'s rate limit.
    pub(crate) fn rate_check(&self, client: &str) -> Result<(), ApiError> {
        match self.inner.limiter.check_key(&client.to_string()) {
            Ok(_) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Err(ApiError::RateLimited {
                    retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                })
            }
        }
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Periodic upkeep: forget idle rate-limit keys, drop stale cached analyses, drain
    /// histogram buffers.
    pub(crate) fn housekeeping(&self) {
        self.inner.limiter.retain_recent();
        self.inner.limiter.shrink_to_fit();
        let ttl = Duration::from_secs(self.inner.config.analysis_ttl_secs);
        self.inner
            .analyses
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, c| c.at.elapsed() < ttl);
        self.inner.metrics.handle().run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analysis_cache_forgets_the_oldest_beyond_its_cap() {
        let mut map = HashMap::new();
        let start = Instant::now();
        let entry = |secs: u64| {
            Arc::new(CachedAnalysis {
                body: Bytes::new(),
                at: start + Duration::from_secs(secs),
                event: EarningsEvent {
                    date: NaiveDate::MIN,
                    timing: ivcrush_core::Timing::Unknown,
                },
            })
        };
        let ttl = Duration::from_secs(3600);
        for (i, t) in ["A", "B", "C"].into_iter().enumerate() {
            make_room(&mut map, t, 3, ttl);
            map.insert(t.to_owned(), entry(i as u64));
        }
        // A known ticker replaces itself; a new one evicts the oldest (A).
        make_room(&mut map, "B", 3, ttl);
        assert_eq!(map.len(), 3);
        make_room(&mut map, "D", 3, ttl);
        map.insert("D".to_owned(), entry(9));
        let mut keys: Vec<_> = map.keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["B", "C", "D"]);
    }
}
