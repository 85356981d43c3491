//! Historical earnings moves: backfill of bars and past report dates, computed moves, stored;
//! idempotent, resumable, and independent of the order of runs.
//!
//! # Coverage
//! Per ticker the store records the range of sessions whose bars a backfill has stored, the
//! coverage `[from, through]` (a [`MOVES_PROGRESS`] progress row, see
//! [`Store::set_coverage`](ivcrush_store::Store::set_coverage)). A request for
//! `[window start, last completed session]` fetches only what the coverage lacks, at either
//! end (an earlier start fetches `[window start, from − 1]`, a later end
//! `[through + 1, last session]`), and the new coverage is the smallest range holding both
//! (a gap between them is fetched too, so the coverage stays contiguous). The moves are then
//! recomputed over the whole coverage from the stored bars and the stored reports. So what
//! the store ends up holding depends only on the ranges requested, never on their order nor
//! on runs that were killed and run again.
//!
//! # Steps
//! Past reports → store; each missing range of bars → store; moves recomputed over the
//! coverage → store (replacing the ticker's moves); then the coverage, written last. Each step
//! commits on its own, so a run killed anywhere leaves a consistent database (the old coverage
//! and moves that match stored bars), and a re-run fetches the same ranges again and completes.
//!
//! # The implicit backfill
//! [`App::ensure_history`] (run per ticker by `analyze` and `scan`) calls the vendor only when
//! the stored moves may be incomplete: the coverage starts after the configured window, or a
//! stored report of the ticker has its reaction session after the coverage and no later than
//! the last completed session. Otherwise it reads the store only.

use crate::context::App;
use crate::error::AppError;
use chrono::{Duration, NaiveDate};
use ivcrush_core::EarningsEvent;
use ivcrush_core::moves::{HistoricalMove, historical_moves, reaction_date};
use ivcrush_store::{EarningsRow, StoredAnalysis, TickerRow};

/// What is stored of a ticker: its analyses (newest first) and its historical moves.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TickerHistory {
    /// The ticker.
    pub ticker: String,
    /// Historical earnings moves, oldest first.
    pub moves: Vec<HistoricalMove>,
    /// Stored analyses, newest first.
    pub analyses: Vec<StoredAnalysis>,
}

/// Days after a ticker's last known report from which its next one may have happened unseen:
/// quarterly reports are about 91 days apart, so half of that leaves a wide margin.
const NEXT_REPORT_DUE_DAYS: i64 = 45;

/// Progress kind of the backfill of moves; its row records the coverage.
pub const MOVES_PROGRESS: &str = "moves";

/// What one ticker's backfill did.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillOutcome {
    /// Ticker.
    pub ticker: String,
    /// Nothing to do: the stored coverage already holds the requested range.
    pub skipped: bool,
    /// Bars fetched from the provider (0 when up to date).
    pub bars_fetched: usize,
    /// Past reports known.
    pub reports: usize,
    /// Moves stored.
    pub moves: usize,
    /// Reports without usable bars, with why.
    pub unusable: Vec<String>,
}

/// A backfill's outcome with the moves it left stored.
struct Filled {
    outcome: BackfillOutcome,
    moves: Vec<HistoricalMove>,
}

/// The event of a stored report.
fn event_of(row: &EarningsRow) -> EarningsEvent {
    EarningsEvent {
        date: row.report_date,
        timing: row.timing,
    }
}

/// Ranges of sessions to fetch so that `covered` (when any) grows to hold `want`, and the
/// resulting coverage. Both ranges inclusive; a gap between them is fetched too.
fn plan(
    covered: Option<(NaiveDate, NaiveDate)>,
    want: (NaiveDate, NaiveDate),
) -> (Vec<(NaiveDate, NaiveDate)>, (NaiveDate, NaiveDate)) {
    let Some((from, through)) = covered else {
        return (vec![want], want);
    };
    let mut fetch = Vec::new();
    if want.0 < from {
        fetch.push((want.0, from - Duration::days(1)));
    }
    if want.1 > through {
        fetch.push((through + Duration::days(1), want.1));
    }
    (fetch, (want.0.min(from), want.1.max(through)))
}

/// Historical earnings moves: backfill, the implicit backfill of an analysis, what is stored.
#[derive(Clone, Copy)]
pub struct HistoryService<'a> {
    app: &'a App,
}

impl App {
    /// Historical earnings moves.
    pub fn history(&self) -> HistoryService<'_> {
        HistoryService { app: self }
    }
}

impl HistoryService<'_> {
    /// First date of a backfill window of `years` (a few days of slack for the first report).
    fn history_window_start(self, years: u32) -> NaiveDate {
        self.app.as_of_date() - Duration::days(i64::from(years) * 365 + 10)
    }

    /// The recorded coverage of `ticker`, `None` when nothing (or only an end) is recorded.
    async fn coverage(self, ticker: &str) -> Result<Option<(NaiveDate, NaiveDate)>, AppError> {
        Ok(self
            .app
            .store
            .get_progress(ticker, MOVES_PROGRESS)
            .await?
            .and_then(|p| p.coverage()))
    }

    /// Backfills one ticker over `years` of history through the last completed session (see
    /// the module docs): fetches what the stored coverage lacks, recomputes the moves over the
    /// whole coverage, then records it.
    ///
    /// # Errors
    /// [`AppError`] when the provider or the store fails; what was committed before stays
    /// consistent and a re-run completes it.
    pub async fn backfill(self, ticker: &str, years: u32) -> Result<BackfillOutcome, AppError> {
        let covered = self.coverage(ticker).await?;
        let filled = self.fill(ticker, years, covered).await?;
        self.app.purge_cache().await;
        Ok(filled.outcome)
    }

    /// The backfill of one ticker whose stored coverage was read already; the moves come
    /// back when they were recomputed, so that a caller needs no second read.
    async fn fill(
        self,
        ticker: &str,
        years: u32,
        covered: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Filled, AppError> {
        let through = self.app.last_completed_session();
        let window_start = self.history_window_start(years);
        let (missing, (cover_from, cover_through)) = plan(covered, (window_start, through));
        if missing.is_empty() {
            let moves = self.app.store.historical_moves(ticker).await?;
            return Ok(Filled {
                outcome: BackfillOutcome {
                    ticker: ticker.to_string(),
                    skipped: true,
                    bars_fetched: 0,
                    reports: 0,
                    moves: moves.len(),
                    unusable: Vec::new(),
                },
                moves,
            });
        }

        let source = self.app.market.source;
        // The reports and the missing bars are independent: one round trip, not two.
        let reports = async {
            self.app
                .market
                .calendar
                .past_reports(ticker)
                .await
                .map_err(|e| AppError::market(format!("past reports of {ticker}"), e))
        };
        let bars = futures::future::try_join_all(missing.iter().map(|&(from, to)| async move {
            self.app
                .market
                .history
                .daily_bars(ticker, from, to)
                .await
                .map_err(|e| AppError::market(format!("daily bars of {ticker}"), e))
        }));
        let (past, fetched) = futures::try_join!(reports, bars)?;
        self.app
            .store
            .upsert_tickers(&[TickerRow::new(ticker)])
            .await?;
        let rows: Vec<EarningsRow> = past
            .iter()
            .map(|e| EarningsRow {
                ticker: ticker.to_string(),
                report_date: e.date,
                timing: e.timing,
                source: source.to_string(),
                fiscal_date_ending: None,
            })
            .collect();
        self.app.store.upsert_earnings_events(&rows).await?;
        let mut bars_fetched = 0;
        for bars in &fetched {
            bars_fetched += bars.len();
            self.app.store.upsert_bars(ticker, bars, source).await?;
        }

        // The moves of the whole coverage, from what is stored: the same whatever ran before.
        let bars = self
            .app
            .store
            .bars(ticker, cover_from, cover_through)
            .await?;
        let reports: Vec<EarningsEvent> = self
            .app
            .store
            .earnings_for(ticker)
            .await?
            .iter()
            .map(event_of)
            // Only reports whose reaction session has completed have a move to measure.
            .filter(|e| e.date >= cover_from && reaction_date(e) <= cover_through)
            .collect();
        let (moves, unusable) = historical_moves(&bars, &reports);
        self.app
            .store
            .replace_historical_moves(ticker, &moves)
            .await?;
        self.app
            .store
            .set_coverage(ticker, MOVES_PROGRESS, cover_from, cover_through)
            .await?;
        Ok(Filled {
            outcome: BackfillOutcome {
                ticker: ticker.to_string(),
                skipped: false,
                bars_fetched,
                reports: past.len(),
                moves: moves.len(),
                unusable: unusable
                    .into_iter()
                    .map(|(d, e)| format!("{d}: {e}"))
                    .collect(),
            },
            moves,
        })
    }

    /// Whether the stored moves of `ticker` are complete for a window of `years`, so that the
    /// vendor need not be asked: the coverage starts at or before the window start, and no
    /// stored report of the ticker reacted after the coverage, through the last completed
    /// session.
    ///
    /// # Errors
    /// [`AppError::Store`].
    async fn history_is_complete(
        self,
        ticker: &str,
        years: u32,
        covered: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<bool, AppError> {
        let Some((from, through)) = covered else {
            return Ok(false);
        };
        if from > self.history_window_start(years) {
            return Ok(false);
        }
        let last = self.app.last_completed_session();
        if through >= last {
            return Ok(true);
        }
        let events = self.app.store.earnings_for(ticker).await?;
        let pending = events.iter().any(|r| {
            let reaction = reaction_date(&event_of(r));
            reaction > through && reaction <= last
        });
        if pending {
            return Ok(false);
        }
        // A report the store never heard of may have come and gone since the coverage (the
        // vendor lists only past reports, so one upcoming at the last backfill is unknown).
        // When no later report is known (a scan stores the calendar's upcoming ones) and the
        // last known one is old enough for the next to be due, ask again.
        let knows_next = events.iter().any(|r| reaction_date(&event_of(r)) > last);
        let due = events
            .iter()
            .map(|r| r.report_date)
            .max()
            .is_none_or(|d| (last - d).num_days() >= NEXT_REPORT_DUE_DAYS);
        Ok(knows_next || !due)
    }

    /// What is stored of `ticker`: at most `limit` analyses (newest first) and its moves;
    /// with `backfill`, moves are backfilled first when none are stored.
    ///
    /// # Errors
    /// [`AppError`] when the store (or the backfill) fails.
    pub async fn stored(
        self,
        ticker: &str,
        limit: u32,
        backfill: bool,
    ) -> Result<TickerHistory, AppError> {
        let mut moves = self.app.store.historical_moves(ticker).await?;
        if moves.is_empty() && backfill {
            moves = self.ensure(ticker).await?;
        }
        let analyses = self.app.store.analysis_history(ticker, limit).await?;
        Ok(TickerHistory {
            ticker: ticker.to_string(),
            moves,
            analyses,
        })
    }

    /// Stored historical moves of a ticker whose reaction session has completed as of the
    /// app's date, backfilling first (over the configured years) when they may be incomplete;
    /// when they are complete no vendor is called (see the module docs).
    ///
    /// # Errors
    /// [`AppError`] when the backfill or the store fails.
    pub async fn ensure(self, ticker: &str) -> Result<Vec<HistoricalMove>, AppError> {
        let years = self.app.config.scan.history_years;
        // Each stored row is read once: the coverage, then the moves (recomputed by the
        // backfill, or read when complete).
        let covered = self.coverage(ticker).await?;
        // A backtest's replay reads the history as stored and never backfills: what it may
        // see is decided by the backtest, and a replay must not write.
        let mut moves =
            if self.app.uncached || self.history_is_complete(ticker, years, covered).await? {
                self.app.store.historical_moves(ticker).await?
            } else {
                self.fill(ticker, years, covered).await?.moves
            };
        let last = self.app.last_completed_session();
        // A store shared with runs of a later as-of date may know moves this date cannot.
        moves.retain(|m| m.reaction_date <= last);
        Ok(moves)
    }
}

#[cfg(test)]
mod tests {
    use super::plan;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn nothing_covered_fetches_the_whole_window() {
        let want = (d("2023-11-13"), d("2026-11-25"));
        assert_eq!(plan(None, want), (vec![want], want));
    }

    #[test]
    fn a_wider_request_fetches_only_the_missing_ends() {
        let covered = Some((d("2023-11-13"), d("2026-11-25")));
        assert_eq!(
            plan(covered, (d("2020-11-11"), d("2026-11-27"))),
            (
                vec![
                    (d("2020-11-11"), d("2023-11-12")),
                    (d("2026-11-26"), d("2026-11-27"))
                ],
                (d("2020-11-11"), d("2026-11-27"))
            )
        );
        assert_eq!(
            plan(covered, (d("2024-01-02"), d("2026-11-25"))),
            (Vec::new(), (d("2023-11-13"), d("2026-11-25"))),
            "inside the coverage: nothing to fetch"
        );
    }

    #[test]
    fn a_disjoint_request_fills_the_gap_so_the_coverage_stays_contiguous() {
        let covered = Some((d("2025-01-02"), d("2025-12-31")));
        assert_eq!(
            plan(covered, (d("2023-01-03"), d("2023-12-29"))),
            (
                vec![(d("2023-01-03"), d("2025-01-01"))],
                (d("2023-01-03"), d("2025-12-31"))
            )
        );
        assert_eq!(
            plan(covered, (d("2026-06-01"), d("2026-11-25"))),
            (
                vec![(d("2026-01-01"), d("2026-11-25"))],
                (d("2025-01-02"), d("2026-11-25"))
            )
        );
    }
}
