//! The scan: the earnings calendar of a window → every ticker analysed with bounded
//! concurrency → ranked rows, stored with the run's correlation ID.
//!
//! Quotes are fetched in one batched request for the whole window; one failing ticker never
//! aborts the scan: its row carries the error.

use crate::analyzer::AnalyzeOptions;
use crate::context::App;
use crate::error::AppError;
use crate::record::{FailedRow, RankBy, Row, rank_by};
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use ivcrush_market::{EarningsRecord, StockQuote};
use ivcrush_store::NewAnalysis;
use std::collections::HashMap;
use std::sync::Arc;

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// First report date (default: the as-of date).
    pub from: Option<NaiveDate>,
    /// Last report date (default: `from` + configured days).
    pub to: Option<NaiveDate>,
    /// Only these tickers (normalised).
    pub tickers: Option<Vec<String>>,
    /// Drop analysed rows scoring below this.
    pub min_score: Option<f64>,
    /// Keep at most this many analysed rows.
    pub limit: Option<usize>,
    /// Tickers at once (default from configuration).
    pub concurrency: Option<usize>,
    /// How analysed rows are ordered (default: tradeable first, then score).
    pub rank: RankBy,
}

/// A finished scan.
#[derive(Debug, Clone)]
pub struct ScanReport {
    /// Correlation ID of the run (stored with every row).
    pub run_id: String,
    /// As-of instant of the data.
    pub as_of: DateTime<Utc>,
    /// Window scanned.
    pub from: NaiveDate,
    /// Window scanned.
    pub to: NaiveDate,
    /// Ranked rows: analysed first, then failed ones.
    pub rows: Vec<Row>,
}

impl ScanReport {
    /// Rows that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.error().is_some())
    }
}

/// Called after each ticker (for progress bars): ticker just finished.
pub type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// A new short random correlation ID (8 hex digits).
pub fn new_correlation_id() -> String {
    format!("{:08x}", rand::random::<u32>())
}

impl App {
    /// The (deduplicated) calendar entries of a scan request.
    ///
    /// # Errors
    /// [`AppError`] when the calendar cannot be read or the window is invalid.
    pub async fn scan_universe(
        &self,
        req: &ScanRequest,
    ) -> Result<(NaiveDate, NaiveDate, Vec<EarningsRecord>), AppError> {
        let from = req.from.unwrap_or_else(|| self.as_of_date());
        let to = req
            .to
            .unwrap_or(from + chrono::Duration::days(i64::from(self.config.scan.days)));
        if to < from {
            return Err(AppError::Input(format!(
                "--to {to} is before --from {from}"
            )));
        }
        let mut cal = self.calendar_window(from, to).await?;
        // A report already out is history, not an opportunity.
        let as_of = self.as_of();
        cal.retain(|r| !crate::clock::report_out(&r.event, as_of));
        cal.sort_by(|a, b| (a.event.date, &a.ticker).cmp(&(b.event.date, &b.ticker)));
        let mut seen = std::collections::HashSet::new();
        cal.retain(|r| seen.insert(r.ticker.clone()));
        Ok((from, to, cal))
    }

    /// Runs a scan (see the module docs).
    ///
    /// # Errors
    /// [`AppError`] only for failures of the whole run (calendar unreadable, store down);
    /// per-ticker failures are rows.
    pub async fn scan(
        &self,
        req: &ScanRequest,
        run_id: &str,
        progress: Option<Progress>,
    ) -> Result<ScanReport, AppError> {
        let (from, to, cal) = self.scan_universe(req).await?;
        // The reports scanned are remembered (one batch): history is fetched again only once
        // a known report has passed.
        self.store_calendar(&cal, self.market.source).await?;
        let mut jobs: Vec<(String, Option<EarningsRecord>)> = match &req.tickers {
            Some(list) => list
                .iter()
                .map(|t| (t.clone(), cal.iter().find(|r| &r.ticker == t).cloned()))
                .collect(),
            None => cal
                .iter()
                .map(|r| (r.ticker.clone(), Some(r.clone())))
                .collect(),
        };
        jobs.dedup_by(|a, b| a.0 == b.0);
        let symbols: Vec<String> = jobs
            .iter()
            .filter(|(_, r)| r.is_some())
            .map(|(t, _)| t.clone())
            .collect();
        // The as-of of every row: when its data was fetched (the batched quote), our clock.
        let fetched_at = self.as_of();
        let quotes: HashMap<String, StockQuote> = if symbols.is_empty() {
            HashMap::new()
        } else {
            self.market
                .options
                .quotes(&symbols)
                .await
                .map_err(|e| AppError::market("batched quotes", e))?
                .into_iter()
                .map(|q| (q.symbol.clone(), q))
                .collect()
        };
        let concurrency = req
            .concurrency
            .unwrap_or(self.config.scan.concurrency)
            .max(1);
        let quotes = &quotes;
        let mut rows: Vec<Row> = futures::stream::iter(jobs)
            .map(|(ticker, rec)| {
                let progress = progress.clone();
                async move {
                    let row = self
                        .scan_one(&ticker, rec.as_ref(), quotes, fetched_at, (from, to))
                        .await;
                    if let Some(p) = &progress {
                        p(&ticker);
                    }
                    row
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        rank_by(&mut rows, req.rank);
        let now = Utc::now();
        let stored: Vec<NewAnalysis> = rows
            .iter()
            .map(|r| match r {
                Row::Analyzed(a) => NewAnalysis::ok(run_id, a.analysis.clone(), now),
                Row::Failed(f) => NewAnalysis::failed(run_id, &f.ticker, fetched_at, &f.error, now),
            })
            .collect();
        self.store.insert_analyses(&stored).await?;
        // Filters apply to what is shown, after everything was stored.
        let mut kept = 0usize;
        rows.retain(|r| match r.analysis() {
            Some(a) => {
                let ok = req.min_score.is_none_or(|m| a.score >= m)
                    && req.limit.is_none_or(|l| kept < l);
                if ok {
                    kept += 1;
                }
                ok
            }
            None => true,
        });
        Ok(ScanReport {
            run_id: run_id.to_string(),
            as_of: fetched_at,
            from,
            to,
            rows,
        })
    }

    async fn scan_one(
        &self,
        ticker: &str,
        rec: Option<&EarningsRecord>,
        quotes: &HashMap<String, StockQuote>,
        fetched_at: DateTime<Utc>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Row {
        let fail = |error: String| {
            Row::Failed(FailedRow {
                ticker: ticker.to_string(),
                earnings_date: rec.map(|r| r.event.date),
                timing: rec.map(|r| r.event.timing),
                error,
            })
        };
        let Some(rec) = rec else {
            // A report already out is said as such, never analysed as upcoming.
            let status = self.report_status(ticker, Some(to)).await.ok();
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
            return Row::Failed(FailedRow {
                ticker: ticker.to_string(),
                earnings_date: reported.map(|e| e.date),
                timing: reported.map(|e| e.timing),
                error,
            });
        };
        let Some(quote) = quotes.get(ticker) else {
            return fail(format!("unknown ticker {ticker}: no quote"));
        };
        let opts = AnalyzeOptions {
            event: Some(rec.event),
            quote: Some(quote.clone()),
            as_of: Some(fetched_at),
            max_chains: self.is_live().then_some(self.config.scan.live_chains),
            ..AnalyzeOptions::default()
        };
        match self.analyze_ticker(ticker, &opts).await {
            Ok(r) => Row::Analyzed(Box::new(r)),
            Err(e) => {
                tracing::warn!(ticker, error = %e, "ticker failed");
                fail(e.to_string())
            }
        }
    }
}
