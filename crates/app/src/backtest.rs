//! Backtests: would the scan have earned money on the reports of a window?
//!
//! For every report in the window (the provider's calendar, the tickers asked for):
//!
//! 1. **Entry** at the session before the market reacts: the report day for an after-close
//!    report, the day before for a before-open one (a report of unknown timing is skipped: its
//!    entry session cannot be placed). The analysis is rebuilt exactly as a scan would have run
//!    it then, by replaying the provider at that date ([`App::replay`]: the simulated market's
//!    15:30 New York quotes, the files' close): the chains of that day and the history known
//!    then (moves whose reaction session had completed; the rest of the store is filtered out,
//!    see `HistoryService::ensure`). Nothing dated after the entry is read.
//! 2. **Selection**: the scan's rules. The analysis must be tradeable (its tier, liquidity,
//!    score and gates), and the chosen strategy eligible (`--strategy best` takes the one the
//!    scan recommends).
//! 3. **Exit**: at the reaction session (each leg bought back at that day's chain, paying the
//!    slippage again), or held to expiry (settled at the expiry close, no fees). A reaction
//!    session on or after the expiry settles at expiry.
//! 4. **Settlement** and the summary are pure ([`ivcrush_core::backtest`]).
//!
//! A report without the data to do this (no chain that day, no reaction bar, an exit still in
//! the future) is skipped with its reason, never guessed. Several profiles (analytics
//! settings) are run on the same events side by side, and a walk-forward picks one per training
//! window and reports it only on the following test window.
//!
//! Tickers run concurrently on the runtime's worker threads (the work is CPU: chain replays
//! and analyses); results are sorted, so the report is the same byte for byte on every run.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveDate;
use ivcrush_core::backtest::{
    Summary, Trade, TradeCosts, TradeExit, TradeInfo, WalkForward, WalkForwardEvent, WindowSpec,
    exit_quotes, settle, summarize, walk_forward,
};
use ivcrush_core::calendar::previous_trading_day;
use ivcrush_core::config::AnalyticsConfig;
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::strategy::{Strategy, StrategyKind, best};
use ivcrush_core::{EarningsEvent, Timing};
use serde::Serialize;

use crate::analyzer::AnalyzeOptions;
use crate::clock::AsOf;
use crate::context::App;
use crate::error::AppError;

/// Which strategy a backtest trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyChoice {
    /// Short ATM straddle.
    ShortStraddle,
    /// Short strangle.
    ShortStrangle,
    /// Iron condor.
    IronCondor,
    /// The scan's recommendation (rank 1).
    Best,
}

impl FromStr for StrategyChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "short_straddle" => Ok(StrategyChoice::ShortStraddle),
            "short_strangle" => Ok(StrategyChoice::ShortStrangle),
            "iron_condor" => Ok(StrategyChoice::IronCondor),
            "best" => Ok(StrategyChoice::Best),
            other => Err(format!(
                "unknown strategy {other:?}: short_straddle, short_strangle, iron_condor or best"
            )),
        }
    }
}

/// When a backtest closes its trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitChoice {
    /// Bought back at the reaction session's chain.
    Reaction,
    /// Held to expiry, settled at the expiry close.
    Expiry,
}

impl FromStr for ExitChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reaction" => Ok(ExitChoice::Reaction),
            "expiry" => Ok(ExitChoice::Expiry),
            other => Err(format!("unknown exit {other:?}: reaction or expiry")),
        }
    }
}

/// Analytics settings under a name (a `--profile` file, or `default`).
#[derive(Debug, Clone)]
pub struct Profile {
    /// Shown in the report.
    pub name: String,
    /// What the analyses use.
    pub analytics: AnalyticsConfig,
}

impl Profile {
    /// The `[analytics]` section of a configuration file (the `ivcrush.toml` format, checked
    /// as strictly); its unset keys take the defaults, so that a profile file says everything
    /// that differs from them. Named by the file stem. The environment is not read.
    ///
    /// # Errors
    /// Every problem of the file, naming it.
    pub fn load(path: &std::path::Path) -> Result<Profile, AppError> {
        let sources = crate::config::ConfigSources {
            file: Some(path.to_path_buf()),
            legacy_server_file: None,
        };
        let loaded = crate::config::AppConfig::load_from(
            &sources,
            BTreeMap::<String, String>::new(),
            std::iter::empty(),
        )
        .map_err(|mut e| {
            for p in &mut e.problems {
                *p = format!("profile {}: {p}", path.display());
            }
            AppError::Config(e)
        })?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Ok(Profile {
            name,
            analytics: loaded.config.analytics,
        })
    }
}

/// What to backtest.
#[derive(Debug, Clone)]
pub struct BacktestRequest {
    /// First report date.
    pub from: NaiveDate,
    /// Last report date.
    pub to: NaiveDate,
    /// Only these tickers (upper case); `None`: every ticker the calendar lists.
    pub tickers: Option<Vec<String>>,
    /// Which strategy.
    pub strategy: StrategyChoice,
    /// Which exit.
    pub exit: ExitChoice,
    /// Fills and fees.
    pub costs: TradeCosts,
    /// At least one; the first is the one `trades` and `summary` report.
    pub profiles: Vec<Profile>,
    /// Train and test lengths of a walk-forward over the profiles.
    pub walk_forward: Option<WindowSpec>,
    /// Backfill each ticker's history far enough back that the oldest entry has its full
    /// lookback (a backtest); `false` uses the stored history as it is (a ticker's per-event
    /// history, which must not change what `history` shows).
    pub extend_history: bool,
}

impl BacktestRequest {
    /// The scan's own trade over `from..=to` with one profile (`configured`, `analytics`):
    /// the recommended strategy, closed at the reaction, default fills and fees, every ticker;
    /// the history extended back for the oldest entry.
    pub fn new(from: NaiveDate, to: NaiveDate, analytics: AnalyticsConfig) -> BacktestRequest {
        BacktestRequest {
            from,
            to,
            tickers: None,
            strategy: StrategyChoice::Best,
            exit: ExitChoice::Reaction,
            costs: TradeCosts::default(),
            profiles: vec![Profile {
                name: "configured".into(),
                analytics,
            }],
            walk_forward: None,
            extend_history: true,
        }
    }
}

/// A report that gave no trade, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    /// Ticker.
    pub ticker: String,
    /// Report date.
    pub report_date: NaiveDate,
    /// The profile (`*` when no profile could trade it).
    pub profile: String,
    /// Why.
    pub reason: String,
}

/// One past report as the market priced it before and as it turned out (the first profile's
/// analysis at the entry): the per-event history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRecord {
    /// Ticker.
    pub ticker: String,
    /// Report date.
    pub report_date: NaiveDate,
    /// The session the analysis was run at.
    pub entry_date: NaiveDate,
    /// Implied move at the entry, percent (the figure the VRP ratio uses).
    pub implied_move_pct: f64,
    /// The reaction, signed percent.
    pub realised_move_pct: f64,
    /// `|realised| ≤ implied`.
    pub inside: bool,
    /// The ATM straddle sold at the entry mid and valued at intrinsic at the reaction close, as
    /// a percent of the spot at entry (positive: the market overpriced the move).
    pub straddle_pnl_pct: f64,
    /// Whether the first profile traded it.
    pub traded: bool,
}

/// A ticker's hit rate over its past reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickerStats {
    /// Ticker.
    pub ticker: String,
    /// Reports with an analysis at entry.
    pub events: usize,
    /// Share of reactions inside the implied move.
    pub inside_rate: f64,
    /// Mean implied move over mean absolute reaction: above 1, the market overpriced this
    /// ticker's reports on average. (A mean of per-report ratios would be ruled by the
    /// quietest reactions: a 0.3 % reaction makes a ratio of 16.)
    pub implied_over_realised: Option<f64>,
}

/// One profile's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileResult {
    /// Its name.
    pub name: String,
    /// Its summary over the same events as the others.
    pub summary: Summary,
}

/// A backtest's answer (see the README for the JSON fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    /// First report date.
    pub from: NaiveDate,
    /// Last report date.
    pub to: NaiveDate,
    /// The strategy traded.
    pub strategy: StrategyChoice,
    /// The exit.
    pub exit: ExitChoice,
    /// Fills and fees.
    pub costs: TradeCosts,
    /// Reports in the window (of the tickers asked for).
    pub events: usize,
    /// The first profile's trades, by entry date then ticker.
    pub trades: Vec<Trade>,
    /// The first profile's summary.
    pub summary: Summary,
    /// Every profile's summary, side by side (one entry when only the default ran).
    pub profiles: Vec<ProfileResult>,
    /// The walk-forward's out-of-sample results, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub walk_forward: Option<WalkForward>,
    /// Reports that gave no trade, with the reason (the first profile's, and data problems).
    pub skipped: Vec<Skipped>,
    /// Every report with an analysis at entry: implied against realised, by entry date.
    pub per_event: Vec<EventRecord>,
    /// Per ticker: how often the reaction stayed inside the implied move.
    pub by_ticker: Vec<TickerStats>,
}

/// The backtester (see the module docs).
#[derive(Clone, Copy)]
pub struct Backtester<'a> {
    app: &'a App,
}

impl App {
    /// Backtests over this app's provider.
    pub fn backtester(&self) -> Backtester<'_> {
        Backtester { app: self }
    }
}

/// One report's outcome per profile.
struct EventOutcome {
    ticker: String,
    report_date: NaiveDate,
    entry_date: NaiveDate,
    per_profile: Vec<Result<Trade, String>>,
    /// The first profile's view of the event, when its analysis ran.
    record: Option<EventRecord>,
}

impl Backtester<'_> {
    /// Runs `req` (see the module docs).
    ///
    /// # Errors
    /// [`AppError::InvalidWindow`] for a window that ends before it starts or after the last
    /// completed session; [`AppError::Config`] without a profile; provider and store errors
    /// reading the calendar or the history.
    pub async fn run(self, req: &BacktestRequest) -> Result<BacktestReport, AppError> {
        let last = self.app.last_completed_session();
        if req.to < req.from {
            return Err(AppError::InvalidWindow {
                from: req.from,
                to: req.to,
                reason: "it ends before it starts".into(),
            });
        }
        if req.from > last {
            return Err(AppError::InvalidWindow {
                from: req.from,
                to: req.to,
                reason: format!("it starts after the last completed session ({last})"),
            });
        }
        if req.profiles.is_empty() {
            return Err(AppError::Config(crate::config::ConfigError {
                problems: vec!["a backtest needs at least one profile".into()],
            }));
        }
        let events = self.events(req).await?;
        let mut by_ticker: BTreeMap<String, Vec<EarningsEvent>> = BTreeMap::new();
        for (ticker, event) in &events {
            by_ticker.entry(ticker.clone()).or_default().push(*event);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (ticker, events) in by_ticker {
            let app = self.app.clone();
            let req = req.clone();
            tasks.spawn(async move { ticker_outcomes(&app, &req, &ticker, &events).await });
        }
        let mut outcomes = Vec::with_capacity(events.len());
        let mut skipped = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            // A ticker's task only ends early on a panic, which is a bug: re-raise it.
            let (o, s) = match joined {
                Ok(result) => result?,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            outcomes.extend(o);
            skipped.extend(s);
        }
        outcomes.sort_by(|a, b| {
            (a.entry_date, &a.ticker, a.report_date).cmp(&(b.entry_date, &b.ticker, b.report_date))
        });
        Ok(self.report(req, events.len(), outcomes, skipped))
    }

    /// The per-event history of one ticker: for each past report, the implied move before it
    /// and the reaction. Replayable providers (the simulated market, files) rebuild the
    /// analysis at each entry, as a backtest does; a live vendor cannot be replayed, so its
    /// history is the forward-recorded one: the last analysis ivcrush stored before each
    /// reaction. Reports with neither are left out.
    ///
    /// # Errors
    /// Store, provider or analysis errors reading the history.
    pub async fn events_of(
        self,
        ticker: &str,
    ) -> Result<(Vec<EventRecord>, Option<TickerStats>), AppError> {
        let moves = self.app.history().ensure(ticker).await?;
        let (Some(first), Some(last)) = (moves.first(), moves.last()) else {
            return Ok((Vec::new(), None));
        };
        if self.app.replay(AsOf::Date(last.reaction_date)).is_ok() {
            let req = BacktestRequest {
                tickers: Some(vec![ticker.to_string()]),
                extend_history: false,
                ..BacktestRequest::new(
                    first.report_date,
                    last.report_date,
                    self.app.config.analytics.clone(),
                )
            };
            let report = self.run(&req).await?;
            return Ok((report.per_event, report.by_ticker.into_iter().next()));
        }
        let records = self.recorded(ticker, &moves).await?;
        let stats = ticker_stats(&records).into_iter().next();
        Ok((records, stats))
    }

    /// The forward-recorded history: per reaction, the last stored analysis of that report
    /// made before the reaction session.
    async fn recorded(
        self,
        ticker: &str,
        moves: &[HistoricalMove],
    ) -> Result<Vec<EventRecord>, AppError> {
        let stored = self
            .app
            .store
            .analysis_history(ticker, RECORDED_ANALYSES)
            .await?;
        let mut out = Vec::new();
        for m in moves {
            let before = stored
                .iter()
                .filter(|s| s.earnings_date == Some(m.report_date))
                .filter(|s| ivcrush_core::calendar::new_york_date(s.as_of) < m.reaction_date)
                .filter_map(|s| s.record.as_ref().map(|r| (s.as_of, r)))
                .max_by_key(|(at, _)| *at);
            if let Some((at, analysis)) = before {
                out.push(event_record(
                    ticker,
                    m,
                    ivcrush_core::calendar::new_york_date(at),
                    analysis,
                    analysis.tradeable,
                ));
            }
        }
        Ok(out)
    }

    /// The reports in the window, of the tickers asked for, by date then ticker.
    async fn events(self, req: &BacktestRequest) -> Result<Vec<(String, EarningsEvent)>, AppError> {
        let rows = self
            .app
            .market
            .calendar
            .calendar(req.from, req.to)
            .await
            .map_err(|e| AppError::market("earnings calendar", e))?;
        let mut events: Vec<(String, EarningsEvent)> = rows
            .into_iter()
            .filter(|r| req.tickers.as_ref().is_none_or(|t| t.contains(&r.ticker)))
            .map(|r| (r.ticker, r.event))
            .collect();
        events.sort_by(|a, b| (a.1.date, &a.0).cmp(&(b.1.date, &b.0)));
        events.dedup_by(|a, b| a.0 == b.0 && a.1.date == b.1.date);
        Ok(events)
    }

    fn report(
        self,
        req: &BacktestRequest,
        events: usize,
        outcomes: Vec<EventOutcome>,
        mut skipped: Vec<Skipped>,
    ) -> BacktestReport {
        let profiles: Vec<ProfileResult> = req
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let trades: Vec<&Trade> = outcomes
                    .iter()
                    .filter_map(|o| o.per_profile.get(i).and_then(|r| r.as_ref().ok()))
                    .collect();
                ProfileResult {
                    name: p.name.clone(),
                    summary: summarize(&trades),
                }
            })
            .collect();
        let mut trades = Vec::new();
        for o in &outcomes {
            match o.per_profile.first() {
                Some(Ok(t)) => trades.push(t.clone()),
                Some(Err(reason)) => skipped.push(Skipped {
                    ticker: o.ticker.clone(),
                    report_date: o.report_date,
                    profile: req.profiles[0].name.clone(),
                    reason: reason.clone(),
                }),
                None => {}
            }
        }
        skipped.sort_by(|a, b| {
            (a.report_date, &a.ticker, &a.profile).cmp(&(b.report_date, &b.ticker, &b.profile))
        });
        let walk_forward = req.walk_forward.and_then(|spec| {
            let events: Vec<WalkForwardEvent> = outcomes
                .iter()
                .map(|o| WalkForwardEvent {
                    entry_date: o.entry_date,
                    trades: o.per_profile.iter().map(|r| r.clone().ok()).collect(),
                })
                .collect();
            let names: Vec<&str> = req.profiles.iter().map(|p| p.name.as_str()).collect();
            walk_forward(&events, spec.train_months, spec.test_months, &names).ok()
        });
        let summary = summarize(&trades);
        let per_event: Vec<EventRecord> =
            outcomes.iter().filter_map(|o| o.record.clone()).collect();
        let by_ticker = ticker_stats(&per_event);
        BacktestReport {
            from: req.from,
            to: req.to,
            strategy: req.strategy,
            exit: req.exit,
            costs: req.costs,
            events,
            trades,
            summary,
            profiles,
            walk_forward,
            skipped,
            per_event,
            by_ticker,
        }
    }
}

type TickerOutcomes = (Vec<EventOutcome>, Vec<Skipped>);

/// Every report of one ticker. The realised moves come from the history known today (the
/// backtest's own as-of); each entry sees only what was known at its date.
async fn ticker_outcomes(
    app: &App,
    req: &BacktestRequest,
    ticker: &str,
    events: &[EarningsEvent],
) -> Result<TickerOutcomes, AppError> {
    let mut skipped = Vec::new();
    let skip = |event: &EarningsEvent, reason: String| Skipped {
        ticker: ticker.to_string(),
        report_date: event.date,
        profile: "*".into(),
        reason,
    };
    // One backfill over the whole span the entries look back on, so that no replay backfills
    // (and writes) on its own.
    if req.extend_history {
        let oldest = events.iter().map(|e| e.date).min().unwrap_or(req.from);
        let span_days = (app.as_of_date() - oldest).num_days().max(0);
        let years = app.config.scan.history_years + u32::try_from(span_days / 365 + 1).unwrap_or(0);
        app.history().backfill(ticker, years).await?;
    }
    let moves: Vec<HistoricalMove> = app.history().ensure(ticker).await?;
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events {
        let entry_date = match event.timing {
            Timing::Amc => event.date,
            Timing::Bmo => previous_trading_day(event.date),
            Timing::Unknown => {
                skipped.push(skip(
                    event,
                    "report timing unknown: the entry session cannot be placed".into(),
                ));
                continue;
            }
        };
        let Some(realised) = moves.iter().find(|m| m.report_date == event.date) else {
            skipped.push(skip(
                event,
                "no realised move (the reaction session has no bar yet)".into(),
            ));
            continue;
        };
        let entry = match app.replay(AsOf::Date(entry_date)) {
            Ok(entry) => entry,
            Err(e) => {
                skipped.push(skip(event, format!("cannot replay {entry_date}: {e}")));
                continue;
            }
        };
        let mut per_profile = Vec::with_capacity(req.profiles.len());
        let mut record = None;
        for (i, profile) in req.profiles.iter().enumerate() {
            let (seen, outcome) = trade(
                app,
                &entry.with_analytics(profile.analytics.clone()),
                req,
                ticker,
                event,
                entry_date,
                realised,
            )
            .await;
            if i == 0 {
                record = seen.map(|mut r| {
                    r.traded = outcome.is_ok();
                    r
                });
            }
            per_profile.push(outcome);
        }
        outcomes.push(EventOutcome {
            ticker: ticker.to_string(),
            report_date: event.date,
            entry_date,
            per_profile,
            record,
        });
    }
    Ok((outcomes, skipped))
}

/// What one profile saw at the entry of one report, and the trade it makes or why none.
async fn trade(
    app: &App,
    entry: &App,
    req: &BacktestRequest,
    ticker: &str,
    event: &EarningsEvent,
    entry_date: NaiveDate,
    realised: &HistoricalMove,
) -> (Option<EventRecord>, Result<Trade, String>) {
    let opts = AnalyzeOptions {
        earnings_date: Some(event.date),
        event: Some(*event),
        ..AnalyzeOptions::default()
    };
    let analysis = match entry.analyzer().analyze(ticker, &opts).await {
        Ok(record) => record.analysis,
        Err(e) => return (None, Err(format!("analysis at {entry_date}: {e}"))),
    };
    let record = event_record(ticker, realised, entry_date, &analysis, false);
    let implied_move_pct = record.implied_move_pct;
    let result = open_and_settle(
        app,
        req,
        ticker,
        event,
        entry_date,
        realised,
        &analysis,
        implied_move_pct,
    )
    .await;
    (Some(record), result)
}

/// Stored analyses read for the forward-recorded history (newest first): about twenty years
/// of daily scans of one ticker's report weeks.
const RECORDED_ANALYSES: u32 = 5_000;

/// What an analysis at `entry_date` priced for the report of `realised`, and what came.
fn event_record(
    ticker: &str,
    realised: &HistoricalMove,
    entry_date: NaiveDate,
    analysis: &ivcrush_core::Analysis,
    traded: bool,
) -> EventRecord {
    let implied_move_pct = analysis
        .vrp
        .implied_pct
        .unwrap_or(analysis.implied_move.interpolated_pct);
    let realised_move_pct = realised.signed_close_pct.value();
    let exit_spot = realised.reference_close * (1.0 + realised_move_pct / 100.0);
    let straddle = &analysis.implied_move;
    EventRecord {
        ticker: ticker.to_string(),
        report_date: realised.report_date,
        entry_date,
        implied_move_pct,
        realised_move_pct,
        inside: realised_move_pct.abs() <= implied_move_pct,
        straddle_pnl_pct: (straddle.straddle_mid - (exit_spot - straddle.atm_strike).abs())
            / analysis.spot
            * 100.0,
        traded,
    }
}

/// Hit rate and implied/realised ratio per ticker, by ticker.
fn ticker_stats(records: &[EventRecord]) -> Vec<TickerStats> {
    let mut grouped: BTreeMap<&str, Vec<&EventRecord>> = BTreeMap::new();
    for r in records {
        grouped.entry(r.ticker.as_str()).or_default().push(r);
    }
    grouped
        .into_iter()
        .map(|(ticker, records)| {
            let implied: f64 = records.iter().map(|r| r.implied_move_pct).sum();
            let realised: f64 = records.iter().map(|r| r.realised_move_pct.abs()).sum();
            TickerStats {
                ticker: ticker.to_string(),
                events: records.len(),
                inside_rate: records.iter().filter(|r| r.inside).count() as f64
                    / records.len() as f64,
                implied_over_realised: (realised > 0.0).then(|| implied / realised),
            }
        })
        .collect()
}

/// The scan's selection at entry, then the chosen strategy opened and settled at the exit.
#[allow(clippy::too_many_arguments)]
async fn open_and_settle(
    app: &App,
    req: &BacktestRequest,
    ticker: &str,
    event: &EarningsEvent,
    entry_date: NaiveDate,
    realised: &HistoricalMove,
    analysis: &ivcrush_core::Analysis,
    implied_move_pct: f64,
) -> Result<Trade, String> {
    if !analysis.tradeable {
        let why = analysis
            .warnings
            .first()
            .map_or_else(String::new, |w| format!(": {w}"));
        return Err(format!(
            "not tradeable at entry (tier {}, score {:.0}){why}",
            analysis.vrp.tier.as_str(),
            analysis.score
        ));
    }
    let strategy = chosen(&analysis.strategies, req.strategy)?;
    let expiration = analysis.expiration;
    let (exit_date, result) = match req.exit {
        ExitChoice::Reaction if realised.reaction_date < expiration => {
            let exit = app
                .replay(AsOf::Date(realised.reaction_date))
                .map_err(|e| format!("cannot replay the reaction session: {e}"))?;
            let chain = exit
                .market
                .options
                .chain(ticker, expiration)
                .await
                .map_err(|e| format!("no chain of {expiration} at the reaction session: {e}"))?;
            let quotes = exit_quotes(&strategy.legs, &chain);
            let settled = settle(
                &strategy.legs,
                TradeExit::Close(&quotes),
                &req.costs,
                strategy.margin.as_ref().map(|m| m.per_share),
            );
            (realised.reaction_date, settled)
        }
        _ => {
            if expiration > app.last_completed_session() {
                return Err(format!("expiry {expiration} not reached yet"));
            }
            let bars = app
                .market
                .history
                .daily_bars(ticker, expiration, expiration)
                .await
                .map_err(|e| format!("no bar for the expiry {expiration}: {e}"))?;
            let Some(bar) = bars.iter().find(|b| b.date == expiration) else {
                return Err(format!("no bar for the expiry {expiration}"));
            };
            let settled = settle(
                &strategy.legs,
                TradeExit::HoldToExpiry {
                    settlement: bar.close,
                },
                &req.costs,
                strategy.margin.as_ref().map(|m| m.per_share),
            );
            (expiration, settled)
        }
    };
    let result = result.map_err(|e| format!("cannot settle: {e}"))?;
    let info = TradeInfo {
        ticker: ticker.to_string(),
        report_date: event.date,
        entry_date,
        exit_date,
        strategy: strategy.kind,
        implied_move_pct,
        realised_move_pct: realised.signed_close_pct.value(),
        vrp_tier: analysis.vrp.tier,
        liquidity_tier: analysis.liquidity.tier,
        score: analysis.score,
        pop_lognormal: Some(strategy.pop),
        pop_empirical: strategy.pop_empirical,
    };
    Ok(Trade::new(info, strategy.legs.clone(), &result))
}

/// The strategy the request trades, if the analysis offers it eligible.
fn chosen(strategies: &[Strategy], choice: StrategyChoice) -> Result<&Strategy, String> {
    let kind = match choice {
        StrategyChoice::Best => {
            return best(strategies)
                .ok_or_else(|| "no strategy earns after costs at entry".to_string());
        }
        StrategyChoice::ShortStraddle => StrategyKind::ShortStraddle,
        StrategyChoice::ShortStrangle => StrategyKind::ShortStrangle,
        StrategyChoice::IronCondor => StrategyKind::IronCondor,
    };
    let s = strategies
        .iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| format!("no {} could be built at entry", kind.as_str()))?;
    if s.not_eligible.is_empty() {
        Ok(s)
    } else {
        Err(format!(
            "{} not eligible at entry: {}",
            kind.as_str(),
            s.not_eligible.join("; ")
        ))
    }
}
