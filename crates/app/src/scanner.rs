//! The scan: the earnings calendar of a window (or a list of tickers) → every ticker analysed
//! with bounded concurrency → rows, stored with the run's correlation ID.
//!
//! Quotes are fetched in one batched request; one failing ticker never aborts the scan: its
//! row carries the error. Everything analysed is stored; what a surface shows is a
//! [`RowView`] of the rows (ranking, minimum score, limit), decided in one place.

use crate::analyzer::AnalyzeOptions;
use crate::context::App;
use crate::error::AppError;
use crate::record::{FailedRow, RankBy, Row, rank_by};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use ivcrush_core::EarningsEvent;
use ivcrush_market::{EarningsRecord, StockQuote};
use ivcrush_store::{NewAnalysis, StoredAnalysis};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// How far back a ticker's previous analysis counts for threshold alerts.
const STANDING_DAYS: i64 = 30;
/// Most stored scores read for them (key columns only).
const STANDING_ROWS: u32 = 100_000;

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// First report date (default: the as-of date).
    pub from: Option<NaiveDate>,
    /// Last report date (default: `from` + `days`).
    pub to: Option<NaiveDate>,
    /// Window length in days when `to` is not given (default: `scan.days`).
    pub days: Option<u32>,
    /// Only these tickers (normalised).
    pub tickers: Option<Vec<String>>,
    /// Tickers at once (default from configuration).
    pub concurrency: Option<usize>,
}

/// What a surface shows of a run's rows: every row is stored; the view only ranks and filters.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowView {
    /// How analysed rows are ordered (`None`: the order they were listed in, e.g. a batch file).
    pub rank: Option<RankBy>,
    /// Drop analysed rows scoring below this.
    pub min_score: Option<f64>,
    /// Keep at most this many analysed rows.
    pub limit: Option<usize>,
}

impl RowView {
    /// The rows shown at `now`: analysed rows whose report is out by `now` left out (never
    /// shown as upcoming), ranked, those scoring at least `min_score`, at most `limit` of
    /// them; failed rows are always kept (after the analysed ones when ranked).
    pub fn apply(&self, rows: &[Row], now: DateTime<Utc>) -> Vec<Row> {
        let mut shown: Vec<Row> = rows
            .iter()
            .filter(|r| {
                r.analysis().is_none_or(|a| {
                    let event = EarningsEvent {
                        date: a.earnings_date,
                        timing: a.timing,
                    };
                    !crate::clock::report_out(&event, now)
                })
            })
            .cloned()
            .collect();
        if let Some(by) = self.rank {
            rank_by(&mut shown, by);
        }
        let mut kept = 0usize;
        shown.retain(|r| match r.analysis() {
            Some(a) => {
                let ok = self.min_score.is_none_or(|m| a.score >= m)
                    && self.limit.is_none_or(|l| kept < l);
                kept += usize::from(ok);
                ok
            }
            None => true,
        });
        shown
    }
}

/// A finished scan.
#[derive(Debug, Clone)]
pub struct ScanReport {
    /// Correlation ID of the run (stored with every row).
    pub run_id: String,
    /// As-of instant of the data.
    pub as_of: DateTime<Utc>,
    /// Window scanned (a batch: the as-of date for both).
    pub from: NaiveDate,
    /// Window scanned.
    pub to: NaiveDate,
    /// Every row, ranked the default way (a batch: in the list's order).
    pub rows: Vec<Row>,
    /// Reports the calendar lists in the window, before those already out were dropped.
    pub listed: usize,
    /// Of those, reports already out at the as-of (history, not opportunities).
    pub already_out: usize,
}

impl ScanReport {
    /// Rows that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.error().is_some())
    }

    /// The rows `view` shows at the as-of of the scan.
    pub fn view(&self, view: &RowView) -> Vec<Row> {
        view.apply(&self.rows, self.as_of)
    }

    /// Why a scan shows nothing, in words (`None` when it shows rows).
    pub fn empty_reason(&self, shown: &[Row]) -> Option<String> {
        if !shown.is_empty() {
            return None;
        }
        let window = format!("between {} and {}", self.from, self.to);
        Some(if self.listed == 0 {
            format!("no earnings reports {window} (as of {})", self.as_of)
        } else if self.already_out == self.listed {
            format!(
                "the {} earnings report(s) {window} are already out (as of {})",
                self.listed, self.as_of
            )
        } else {
            format!(
                "{} ticker(s) analysed {window}; none passes the filters",
                self.rows.len()
            )
        })
    }
}

/// One line of a list of tickers to analyse (e.g. a batch file): the ticker with optional
/// report date and expiration, or why the line cannot be analysed.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedTicker {
    /// Where it was listed (a file's line number), named in its error.
    pub line: u64,
    /// The ticker (normalised), or the text given when it is not a symbol.
    pub ticker: String,
    /// Report date to analyse (default: the calendar's next one).
    pub earnings_date: Option<NaiveDate>,
    /// Expiration to analyse (default: the first after the reaction).
    pub expiration: Option<NaiveDate>,
    /// Why the line is unusable (bad symbol, bad date): the row fails with it.
    pub problem: Option<String>,
}

/// What a progress bar is told of a run.
pub trait ScanProgress: Send + Sync {
    /// The run will analyse `total` tickers.
    fn started(&self, total: usize);
    /// `ticker` is done.
    fn finished(&self, ticker: &str);
    /// `done` tickers of the run are done (a distributed run counts stored results and does
    /// not see them one by one).
    fn reached(&self, done: usize);
}

/// A run's progress observer.
pub type Progress = Arc<dyn ScanProgress>;

/// A new random correlation ID: 128 bits as 32 hex digits (run and request IDs).
pub fn new_correlation_id() -> String {
    // 128 random bits: no collision across instances and years of runs (32 bits collided
    // within seconds at our request rate).
    format!("{:032x}", rand::random::<u128>())
}

/// One ticker of a distributed run: what a worker needs to analyse it exactly as the local scan
/// does (with the run's as-of, which travels with the job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerTask {
    /// The ticker (normalised).
    pub ticker: String,
    /// Its report in the window (`None`: asked for with `--tickers` but not in the window).
    pub event: Option<EarningsEvent>,
    /// First report date of the run's window.
    pub from: NaiveDate,
    /// Last report date of the run's window.
    pub to: NaiveDate,
}

/// A scan resolved into its tickers before any is analysed: what the coordinator of a
/// distributed run hands out, one [`TickerTask`] per ticker.
#[derive(Debug, Clone)]
pub struct ScanPlan {
    /// As-of instant of the data (every task is analysed as of it).
    pub as_of: DateTime<Utc>,
    /// Window scanned.
    pub from: NaiveDate,
    /// Window scanned.
    pub to: NaiveDate,
    /// Reports the calendar lists in the window, before those already out were dropped.
    pub listed: usize,
    /// Of those, reports already out at the as-of.
    pub already_out: usize,
    /// One task per ticker, in the local scan's order.
    pub tasks: Vec<TickerTask>,
}

/// One ticker of a run: from the calendar, or listed by the user.
enum Job {
    /// In the calendar's window (`None`: asked for with `--tickers` but not in the window).
    Calendar(String, Option<EarningsEvent>),
    /// From a list.
    Listed(ListedTicker),
}

impl Job {
    fn ticker(&self) -> &str {
        match self {
            Job::Calendar(t, _) => t,
            Job::Listed(l) => &l.ticker,
        }
    }
}

/// The calendar of a window, as a scan sees it.
struct Universe {
    from: NaiveDate,
    to: NaiveDate,
    /// Reports not yet out, one per ticker, by date then ticker.
    upcoming: Vec<EarningsRecord>,
    /// Reports listed in the window, before those already out were dropped.
    listed: usize,
}

/// The scan (see the module docs).
#[derive(Clone, Copy)]
pub struct Scanner<'a> {
    app: &'a App,
}

impl App {
    /// The scan.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner { app: self }
    }
}

impl Scanner<'_> {
    /// The calendar of a scan request: its window and the reports not yet out in it.
    async fn universe(self, req: &ScanRequest) -> Result<Universe, AppError> {
        let (from, to) = self
            .app
            .calendar()
            .resolve_window(req.from, req.to, req.days)?;
        let mut cal = self.app.calendar().window(from, to).await?;
        let listed = cal.len();
        // A report already out is history, not an opportunity.
        let as_of = self.app.as_of();
        cal.retain(|r| !crate::clock::report_out(&r.event, as_of));
        cal.sort_by(|a, b| (a.event.date, &a.ticker).cmp(&(b.event.date, &b.ticker)));
        let mut seen = std::collections::HashSet::new();
        cal.retain(|r| seen.insert(r.ticker.clone()));
        Ok(Universe {
            from,
            to,
            upcoming: cal,
            listed,
        })
    }

    /// Runs a scan (see the module docs).
    ///
    /// # Errors
    /// [`AppError`] only for failures of the whole run (calendar unreadable, store down);
    /// per-ticker failures are rows.
    pub async fn run(
        self,
        req: &ScanRequest,
        run_id: &str,
        progress: Option<Progress>,
    ) -> Result<ScanReport, AppError> {
        let plan = self.plan(req).await?;
        let jobs = plan
            .tasks
            .iter()
            .map(|t| Job::Calendar(t.ticker.clone(), t.event))
            .collect();
        let mut rows = self
            .analyze_jobs(
                jobs,
                run_id,
                req.concurrency,
                progress,
                (plan.from, plan.to),
            )
            .await?;
        rank_by(&mut rows, RankBy::default());
        self.app.purge_cache().await;
        Ok(ScanReport {
            run_id: run_id.to_string(),
            as_of: plan.as_of,
            from: plan.from,
            to: plan.to,
            rows,
            listed: plan.listed,
            already_out: plan.already_out,
        })
    }

    /// Resolves a scan request into its tickers (the calendar's window, the reports in it
    /// stored), without analysing any: [`Scanner::run`] analyses them here, a distributed run
    /// hands them to workers ([`Scanner::analyze_task`]).
    ///
    /// # Errors
    /// [`AppError`] when the calendar cannot be read or the store fails.
    pub async fn plan(self, req: &ScanRequest) -> Result<ScanPlan, AppError> {
        let Universe {
            from,
            to,
            upcoming: cal,
            listed,
        } = self.universe(req).await?;
        // The reports scanned are remembered (one batch): history is fetched again only once
        // a known report has passed.
        self.app
            .calendar()
            .store_records(&cal, self.app.source())
            .await?;
        let task = |ticker: &str, event: Option<EarningsEvent>| TickerTask {
            ticker: ticker.to_string(),
            event,
            from,
            to,
        };
        let mut tasks: Vec<TickerTask> = match &req.tickers {
            Some(list) => list
                .iter()
                .map(|t| task(t, cal.iter().find(|r| &r.ticker == t).map(|r| r.event)))
                .collect(),
            None => cal.iter().map(|r| task(&r.ticker, Some(r.event))).collect(),
        };
        tasks.dedup_by(|a, b| a.ticker == b.ticker);
        Ok(ScanPlan {
            as_of: self.app.as_of(),
            from,
            to,
            listed,
            already_out: listed.saturating_sub(cal.len()),
            tasks,
        })
    }

    /// Analyses one ticker of a distributed run exactly as [`Scanner::run`] does (this app's
    /// as-of must be the run's) and stores its row under `run_id`, replacing a row stored
    /// before for the same ticker (a job processed twice stores its ticker once).
    ///
    /// # Errors
    /// [`AppError`] when the quote request or the store fails (the job is then retried); a
    /// ticker that cannot be analysed is a failed row, not an error.
    pub async fn analyze_task(self, task: &TickerTask, run_id: &str) -> Result<Row, AppError> {
        let fetched_at = self.app.as_of();
        let quotes: HashMap<String, StockQuote> = self
            .app
            .market
            .options
            .quotes(std::slice::from_ref(&task.ticker))
            .await
            .map_err(|e| AppError::market(format!("the quote of {}", task.ticker), e))?
            .into_iter()
            .map(|q| (q.symbol.clone(), q))
            .collect();
        let job = Job::Calendar(task.ticker.clone(), task.event);
        let row = self
            .analyze_job(&job, &quotes, fetched_at, (task.from, task.to))
            .await;
        let stored = match &row {
            Row::Analyzed(a) => NewAnalysis::ok(run_id, a.analysis.clone(), Utc::now()),
            Row::Failed(f) => {
                NewAnalysis::failed(run_id, &f.ticker, fetched_at, &f.error, Utc::now())
            }
        };
        self.app.store.insert_analysis(&stored).await?;
        Ok(row)
    }

    /// Stores a failed row for each `(ticker, reason)` of a run the store has no row of (a job
    /// that went to the dead-letter queue): the run then holds each of its tickers once.
    ///
    /// # Errors
    /// [`AppError::Store`] when the store fails.
    pub async fn store_failures(
        self,
        run_id: &str,
        as_of: DateTime<Utc>,
        failures: &[(String, String)],
    ) -> Result<(), AppError> {
        if failures.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let rows: Vec<NewAnalysis> = failures
            .iter()
            .map(|(ticker, reason)| NewAnalysis::failed(run_id, ticker, as_of, reason, now))
            .collect();
        self.app.store.insert_analyses(&rows).await?;
        Ok(())
    }

    /// The report of a distributed run from the rows its workers stored, in the local scan's
    /// order and ranking: an analysed row is its stored record (with the provenance the
    /// analysis carries), a failed one its stored error; a task without a stored row fails
    /// with "no result stored".
    ///
    /// # Errors
    /// [`AppError::Store`] when the store cannot be read.
    pub async fn stored_report(
        self,
        plan: &ScanPlan,
        run_id: &str,
    ) -> Result<ScanReport, AppError> {
        let mut stored: HashMap<String, StoredAnalysis> = self
            .stored_run(run_id)
            .await?
            .into_iter()
            .map(|s| (s.ticker.clone(), s))
            .collect();
        let source = self.app.source();
        let mut rows: Vec<Row> = plan
            .tasks
            .iter()
            .map(|t| {
                let fail = |error: String| {
                    failed_row(
                        &t.ticker,
                        t.event.map(|e| e.date),
                        t.event.map(|e| e.timing),
                        error,
                    )
                };
                match stored.remove(&t.ticker) {
                    Some(StoredAnalysis {
                        record: Some(analysis),
                        ..
                    }) => {
                        let stale = analysis
                            .data_quality
                            .iter()
                            .any(|q| q.code == ivcrush_core::quality::QualityCode::CachedStale);
                        let data = crate::record::DataInfo {
                            source: source.to_string(),
                            fetched_at: analysis.as_of,
                            stale,
                        };
                        Row::Analyzed(Box::new(crate::record::AnalysisRecord::new(
                            analysis, data, None,
                        )))
                    }
                    Some(s) => fail(s.error.unwrap_or_else(|| "stored without a record".into())),
                    None => fail(format!("no result stored for run {run_id}")),
                }
            })
            .collect();
        rank_by(&mut rows, RankBy::default());
        Ok(ScanReport {
            run_id: run_id.to_string(),
            as_of: plan.as_of,
            from: plan.from,
            to: plan.to,
            rows,
            listed: plan.listed,
            already_out: plan.already_out,
        })
    }

    /// The analyses a run stored, in the order they were stored.
    ///
    /// # Errors
    /// [`AppError::Store`] when the store cannot be read.
    pub async fn stored_run(self, run_id: &str) -> Result<Vec<StoredAnalysis>, AppError> {
        Ok(self.app.store.analyses_for_run(run_id).await?)
    }

    /// How many tickers a run has stored (each once), without reading the rows.
    ///
    /// # Errors
    /// [`AppError::Store`] when the store cannot be read.
    pub async fn stored_count(self, run_id: &str) -> Result<u64, AppError> {
        Ok(self.app.store.count_analyses_for_run(run_id).await?)
    }

    /// Analyses a list of tickers (a batch file), each with its own report date and
    /// expiration; rows come back in the list's order and are stored like a scan's.
    ///
    /// # Errors
    /// [`AppError`] only when the store fails; per-ticker failures are rows.
    pub async fn run_list(
        self,
        list: Vec<ListedTicker>,
        run_id: &str,
        progress: Option<Progress>,
    ) -> Result<ScanReport, AppError> {
        let as_of = self.app.as_of();
        let today = self.app.as_of_date();
        let n = list.len();
        let jobs = list.into_iter().map(Job::Listed).collect();
        let rows = self
            .analyze_jobs(jobs, run_id, None, progress, (today, today))
            .await?;
        self.app.purge_cache().await;
        Ok(ScanReport {
            run_id: run_id.to_string(),
            as_of,
            from: today,
            to: today,
            rows,
            listed: n,
            already_out: 0,
        })
    }

    /// Analyses `jobs` with bounded concurrency, quotes batched, rows in the jobs' order,
    /// every row stored under `run_id`.
    async fn analyze_jobs(
        self,
        jobs: Vec<Job>,
        run_id: &str,
        concurrency: Option<usize>,
        progress: Option<Progress>,
        window: (NaiveDate, NaiveDate),
    ) -> Result<Vec<Row>, AppError> {
        let symbols: Vec<String> = jobs
            .iter()
            .filter(|j| !matches!(j, Job::Listed(l) if l.problem.is_some()))
            .map(|j| j.ticker().to_string())
            .collect();
        // The as-of of every row: when its data was fetched (the batched quote), our clock.
        let fetched_at = self.app.as_of();
        let quotes: HashMap<String, StockQuote> = if symbols.is_empty() {
            HashMap::new()
        } else {
            self.app
                .market
                .options
                .quotes(&symbols)
                .await
                .map_err(|e| AppError::market("batched quotes", e))?
                .into_iter()
                .map(|q| (q.symbol.clone(), q))
                .collect()
        };
        if let Some(p) = &progress {
            p.started(jobs.len());
        }
        let concurrency = concurrency
            .unwrap_or(self.app.config.scan.concurrency)
            .max(1);
        let quotes = &quotes;
        let rows: Vec<Row> = futures::stream::iter(jobs)
            .map(|job| {
                let progress = progress.clone();
                async move {
                    let row = self.analyze_job(&job, quotes, fetched_at, window).await;
                    if let Some(p) = &progress {
                        p.finished(job.ticker());
                    }
                    row
                }
            })
            .buffered(concurrency)
            .collect()
            .await;
        let now = Utc::now();
        let stored: Vec<NewAnalysis> = rows
            .iter()
            .map(|r| match r {
                Row::Analyzed(a) => NewAnalysis::ok(run_id, a.analysis.clone(), now),
                Row::Failed(f) => NewAnalysis::failed(run_id, &f.ticker, fetched_at, &f.error, now),
            })
            .collect();
        let previous = self.previous_standings(run_id).await;
        self.app.store.insert_analyses(&stored).await?;
        let crossings = crate::alerts::scan_crossings(
            &previous,
            &rows,
            self.app.config.alerts.score_threshold,
            run_id,
            now,
        );
        self.app.alerts().record_quietly(&crossings).await;
        Ok(rows)
    }

    /// Each ticker's scores and tiers in its stored analyses of the last [`STANDING_DAYS`]
    /// from other runs, newest first: what a crossing is measured against. Empty (and
    /// logged) when the store cannot say: alerting never fails a scan.
    async fn previous_standings(
        self,
        run_id: &str,
    ) -> HashMap<String, Vec<crate::alerts::Standing>> {
        let since = Utc::now() - chrono::Duration::days(STANDING_DAYS);
        let latest = match self
            .app
            .store
            .latest_scores(since, run_id, STANDING_ROWS)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "previous analyses unreadable: no threshold alerts this run"
                );
                return HashMap::new();
            }
        };
        let mut out = HashMap::new();
        // Newest first: the first row of a ticker is its latest. A replay (an analysis of a
        // past market, e.g. `GET /api/v1/analyze?as_of=`) is no standing of today.
        for a in latest
            .into_iter()
            .filter(|a| (a.created_at - a.as_of).num_hours().abs() <= 24)
        {
            out.entry(a.ticker)
                .or_insert_with(Vec::new)
                .push(crate::alerts::Standing {
                    score: a.score,
                    tier: a.vrp_tier,
                    earnings_date: a.earnings_date,
                    expiration: a.expiration,
                });
        }
        out
    }

    async fn analyze_job(
        self,
        job: &Job,
        quotes: &HashMap<String, StockQuote>,
        fetched_at: DateTime<Utc>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Row {
        let ticker = job.ticker();
        let (event, earnings_date, expiration) = match job {
            Job::Listed(l) => {
                if let Some(problem) = &l.problem {
                    return failed_row(ticker, l.earnings_date, None, problem.clone());
                }
                (None, l.earnings_date, l.expiration)
            }
            Job::Calendar(_, Some(event)) => (Some(*event), None, None),
            Job::Calendar(_, None) => {
                if !quotes.contains_key(ticker) {
                    return failed_row(ticker, None, None, unknown_ticker(ticker));
                }
                return self.not_in_window(ticker, from, to).await;
            }
        };
        // A listed ticker's errors name its line, as the list's own problems do.
        let line = match job {
            Job::Listed(l) => format!("line {}: ", l.line),
            Job::Calendar(..) => String::new(),
        };
        let fail = |error: String| {
            failed_row(
                ticker,
                event.map(|e| e.date).or(earnings_date),
                event.map(|e| e.timing),
                format!("{line}{error}"),
            )
        };
        let Some(quote) = quotes.get(ticker) else {
            return fail(unknown_ticker(ticker));
        };
        let opts = AnalyzeOptions {
            event,
            earnings_date,
            expiration,
            quote: Some(quote.clone()),
            as_of: Some(fetched_at),
            // A scan on a live vendor fetches fewer chains: the quota is its limit.
            max_chains: self
                .app
                .is_live()
                .then_some(self.app.config.scan.live_chains),
            ..AnalyzeOptions::default()
        };
        match self.app.analyzer().analyze(ticker, &opts).await {
            Ok(r) => Row::Analyzed(Box::new(r)),
            Err(e) => {
                tracing::warn!(
                    ticker,
                    error = &e as &dyn std::error::Error,
                    "ticker failed"
                );
                fail(e.to_string())
            }
        }
    }

    /// The row of a ticker asked for but without a report in the window: a report already
    /// out is said as such, never analysed as upcoming.
    async fn not_in_window(self, ticker: &str, from: NaiveDate, to: NaiveDate) -> Row {
        let status = self
            .app
            .calendar()
            .report_status(ticker, Some(to))
            .await
            .ok();
        let error = match &status {
            Some(st) => match st.reported_text() {
                Some(text) => format!("{ticker} {text}"),
                None => format!(
                    "no earnings report between {from} and {to}; {}",
                    st.next_text()
                ),
            },
            None => format!("no earnings report between {from} and {to}"),
        };
        let reported = status.and_then(|s| s.reported);
        failed_row(
            ticker,
            reported.map(|e| e.date),
            reported.map(|e| e.timing),
            error,
        )
    }
}

fn unknown_ticker(ticker: &str) -> String {
    AppError::UnknownTicker {
        ticker: ticker.to_string(),
        reason: "no quote".into(),
    }
    .to_string()
}

fn failed_row(
    ticker: &str,
    earnings_date: Option<NaiveDate>,
    timing: Option<ivcrush_core::Timing>,
    error: String,
) -> Row {
    Row::Failed(FailedRow {
        ticker: ticker.to_string(),
        earnings_date,
        timing,
        error,
    })
}
