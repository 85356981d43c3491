//! Historical earnings moves: backfill of bars and past report dates, computed moves, stored;
//! idempotent and resumable.
//!
//! Per ticker: past reports → store; bars from the day after the latest stored bar (or the
//! start of the window) → store; moves recomputed from the stored bars → store; then the
//! progress mark. Each step commits on its own, so a run killed anywhere leaves a consistent
//! database, and the progress mark (written last) makes a re-run skip finished tickers.

use crate::context::App;
use crate::error::AppError;
use chrono::{Duration, NaiveDate};
use ivcrush_core::moves::{HistoricalMove, historical_moves, reaction_date};
use ivcrush_store::{EarningsRow, TickerRow};

/// Progress kind recorded for a completed backfill.
pub const MOVES_PROGRESS: &str = "moves";

/// What one ticker's backfill did.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillOutcome {
    /// Ticker.
    pub ticker: String,
    /// Nothing to do: already complete through the last session.
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

impl App {
    /// Backfills one ticker over `years` of history (see the module docs).
    ///
    /// # Errors
    /// [`AppError`] when the provider or the store fails.
    pub async fn backfill_ticker(
        &self,
        ticker: &str,
        years: u32,
    ) -> Result<BackfillOutcome, AppError> {
        let through = self.last_completed_session();
        if let Some(p) = self.store.get_progress(ticker, MOVES_PROGRESS).await?
            && p.completed_through >= through
        {
            let moves = self.store.historical_moves(ticker).await?.len();
            return Ok(BackfillOutcome {
                ticker: ticker.to_string(),
                skipped: true,
                bars_fetched: 0,
                reports: 0,
                moves,
                unusable: Vec::new(),
            });
        }
        let source = self.market.source;
        let past = self
            .market
            .calendar
            .past_reports(ticker)
            .await
            .map_err(|e| AppError::market(format!("past reports of {ticker}"), e))?;
        self.store.upsert_tickers(&[TickerRow::new(ticker)]).await?;
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
        self.store.upsert_earnings_events(&rows).await?;

        let window_start: NaiveDate =
            self.as_of_date() - Duration::days(i64::from(years) * 365 + 10);
        let from = match self.store.latest_bar_date(ticker).await? {
            Some(d) if d >= window_start => d + Duration::days(1),
            _ => window_start,
        };
        let mut bars_fetched = 0;
        if from <= through {
            let bars = self
                .market
                .history
                .daily_bars(ticker, from, through)
                .await
                .map_err(|e| AppError::market(format!("daily bars of {ticker}"), e))?;
            bars_fetched = bars.len();
            self.store.upsert_bars(ticker, &bars, source).await?;
        }
        let bars = self.store.bars(ticker, window_start, through).await?;
        let in_window: Vec<_> = past
            .iter()
            // Only reports whose reaction session has completed have a move to measure.
            .filter(|e| e.date >= window_start && reaction_date(e) <= through)
            .copied()
            .collect();
        let (moves, skipped) = historical_moves(&bars, &in_window);
        self.store.replace_historical_moves(ticker, &moves).await?;
        self.store
            .mark_progress(ticker, MOVES_PROGRESS, through)
            .await?;
        Ok(BackfillOutcome {
            ticker: ticker.to_string(),
            skipped: false,
            bars_fetched,
            reports: past.len(),
            moves: moves.len(),
            unusable: skipped
                .into_iter()
                .map(|(d, e)| format!("{d}: {e}"))
                .collect(),
        })
    }

    /// Stored historical moves of a ticker, backfilling first when they are missing or out of
    /// date.
    ///
    /// # Errors
    /// [`AppError`] when the backfill fails.
    pub async fn ensure_history(&self, ticker: &str) -> Result<Vec<HistoricalMove>, AppError> {
        self.backfill_ticker(ticker, self.config.scan.history_years)
            .await?;
        Ok(self.store.historical_moves(ticker).await?)
    }
}
