//! Row types read from and written to the store.

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::{Analysis, Timing};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Which database engine backs a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// SQLite file (or in-memory) database; the default.
    Sqlite,
    /// PostgreSQL server; the shared store when scaling out.
    Postgres,
}

impl Backend {
    /// `"sqlite"` or `"postgres"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ticker of the universe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TickerRow {
    /// Symbol, e.g. `AAPL` (primary key).
    pub symbol: String,
    /// Company name, when known.
    pub name: Option<String>,
    /// Sector, when known.
    pub sector: Option<String>,
}

impl TickerRow {
    /// A ticker with only its symbol.
    pub fn new(symbol: impl Into<String>) -> Self {
        TickerRow {
            symbol: symbol.into(),
            name: None,
            sector: None,
        }
    }
}

/// One earnings report of one ticker (unique per `(ticker, report_date)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningsRow {
    /// Ticker symbol.
    pub ticker: String,
    /// Announcement date.
    pub report_date: NaiveDate,
    /// BMO / AMC / UNKNOWN.
    pub timing: Timing,
    /// Where the row came from (`tradier`, `alphavantage`, `sim`, `file` …).
    pub source: String,
    /// Fiscal period end the report covers, when the vendor says.
    pub fiscal_date_ending: Option<NaiveDate>,
}

/// One analysis to store: a result or the error that prevented one.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnalysis {
    /// Run / correlation ID shared by the rows of one scan.
    pub run_id: String,
    /// Ticker symbol.
    pub ticker: String,
    /// As-of instant of the analysis.
    pub as_of: DateTime<Utc>,
    /// When the row is written (the caller's clock, so runs are reproducible).
    pub created_at: DateTime<Utc>,
    /// The full record, or the failure message of this ticker.
    pub result: Result<Analysis, String>,
}

impl NewAnalysis {
    /// A successful analysis; `ticker` and `as_of` are taken from the record.
    pub fn ok(run_id: impl Into<String>, analysis: Analysis, created_at: DateTime<Utc>) -> Self {
        NewAnalysis {
            run_id: run_id.into(),
            ticker: analysis.ticker.clone(),
            as_of: analysis.as_of,
            created_at,
            result: Ok(analysis),
        }
    }

    /// A failed analysis that stores only its error message.
    pub fn failed(
        run_id: impl Into<String>,
        ticker: impl Into<String>,
        as_of: DateTime<Utc>,
        error: impl Into<String>,
        created_at: DateTime<Utc>,
    ) -> Self {
        NewAnalysis {
            run_id: run_id.into(),
            ticker: ticker.into(),
            as_of,
            created_at,
            result: Err(error.into()),
        }
    }
}

/// A stored analysis row: the key columns and the full JSON record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAnalysis {
    /// Row ID (increasing with insertion order).
    pub id: i64,
    /// Run / correlation ID.
    pub run_id: String,
    /// Ticker symbol.
    pub ticker: String,
    /// As-of instant.
    pub as_of: DateTime<Utc>,
    /// Report date (absent for failed rows).
    pub earnings_date: Option<NaiveDate>,
    /// Expiration analysed (absent for failed rows).
    pub expiration: Option<NaiveDate>,
    /// Composite score 0–100.
    pub score: Option<f64>,
    /// VRP ratio (implied / historical, a plain ratio, not percent).
    pub vrp_ratio: Option<f64>,
    /// VRP tier name (`SKIP`, `MARGINAL`, `GOOD`, `EXCELLENT`).
    pub vrp_tier: Option<String>,
    /// Liquidity tier name (`REJECT`, `WARNING`, `GOOD`, `EXCELLENT`).
    pub liquidity_tier: Option<String>,
    /// The trade decision (false for failed rows).
    pub tradeable: bool,
    /// Failure message of a failed row.
    pub error: Option<String>,
    /// The full record of a successful row.
    pub record: Option<Analysis>,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
}

/// Filters for [`Store::latest_analyses`](crate::Store::latest_analyses).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisFilter {
    /// Maximum rows returned (default 100).
    pub limit: u32,
    /// Only rows with `score >= min_score` (failed rows have no score and are then excluded).
    pub min_score: Option<f64>,
    /// Only tradeable rows (default false).
    pub tradeable_only: bool,
    /// Only rows created at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Include failed rows (default true).
    pub include_failed: bool,
}

impl Default for AnalysisFilter {
    fn default() -> Self {
        AnalysisFilter {
            limit: 100,
            min_score: None,
            tradeable_only: false,
            since: None,
            include_failed: true,
        }
    }
}

/// A ticker's score and VRP tier in one stored analysis (the record is not read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    /// Ticker.
    pub ticker: String,
    /// The run that stored it.
    pub run_id: String,
    /// Composite score.
    pub score: f64,
    /// VRP tier (`EXCELLENT` … `SKIP`).
    pub vrp_tier: String,
    /// The market instant analysed.
    pub as_of: DateTime<Utc>,
    /// The report analysed.
    pub earnings_date: Option<NaiveDate>,
    /// The expiry analysed.
    pub expiration: Option<NaiveDate>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
}

/// An alert to store: `key` identifies the change it reports (the same change seen again is
/// not a new alert).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// Idempotency key (`calendar_moved:AAPL:2026-01-29:2026-02-05`, …).
    pub key: String,
    /// `calendar_moved`, `calendar_timing`, `score_crossed`, `tier_changed`, `breaker_open`,
    /// `health`.
    pub kind: String,
    /// The ticker it is about, if any.
    pub ticker: Option<String>,
    /// One line for a person.
    pub message: String,
    /// The details as a JSON object (text).
    pub detail: String,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    /// Row ID (increasing with insertion order).
    pub id: i64,
    /// The alert.
    #[serde(flatten)]
    pub alert: NewAlert,
    /// Webhook endpoints it was delivered to.
    pub delivered: u32,
}

/// How a webhook delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The endpoint answered 2xx.
    Delivered,
    /// Refused or never answered within the attempts: not retried.
    Failed,
}

impl DeliveryOutcome {
    /// The stored status.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Failed => "failed",
        }
    }
}

/// One L2 cache entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The serialized value (JSON bytes for [`HybridCache`](crate::HybridCache)).
    pub value: Vec<u8>,
    /// When the value was fetched from its origin.
    pub fetched_at: DateTime<Utc>,
    /// When it stops being fresh (it may still be served stale after that).
    pub expires_at: DateTime<Utc>,
}

/// How far a resumable job (e.g. a bar backfill) has got for one ticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Ticker symbol.
    pub ticker: String,
    /// Job kind, e.g. `bars` or `moves`.
    pub kind: String,
    /// Last date fully done (inclusive).
    pub completed_through: NaiveDate,
    /// First date of the contiguous range done, `covered_from..=completed_through`, when the
    /// job records one ([`Store::set_coverage`](crate::Store::set_coverage)); `None` when only
    /// the end is known ([`Store::mark_progress`](crate::Store::mark_progress)).
    pub covered_from: Option<NaiveDate>,
    /// When the progress was recorded.
    pub updated_at: DateTime<Utc>,
}

impl Progress {
    /// The covered range `(from, through)`, both inclusive, when its start is known.
    pub fn coverage(&self) -> Option<(NaiveDate, NaiveDate)> {
        self.covered_from
            .filter(|from| *from <= self.completed_through)
            .map(|from| (from, self.completed_through))
    }
}
