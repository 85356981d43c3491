//! The rows every surface prints, stores and serves: the analysis record of
//! `../shared/design.md` plus where its data came from, or the reason a ticker failed.

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::{Analysis, Timing};
use serde::{Deserialize, Serialize};

/// Provenance of a row's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// Provider (`sim`, `tradier`, `files`).
    pub source: String,
    /// When the quotes were fetched (the oldest input used).
    pub fetched_at: DateTime<Utc>,
    /// Some input was served from cache after the vendor failed.
    pub stale: bool,
}

/// A successful analysis with provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisRecord {
    /// The analysis (its fields appear at the top level of the JSON object).
    #[serde(flatten)]
    pub analysis: Analysis,
    /// Where the data came from.
    pub data: DataInfo,
    /// The last historical moves with dates and direction (the `analyze` view only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_moves: Option<Vec<HistoricalMove>>,
}

/// A ticker that could not be analysed, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRow {
    /// Ticker (as given, normalised when possible).
    pub ticker: String,
    /// Report date, when known.
    pub earnings_date: Option<NaiveDate>,
    /// Report timing, when known.
    pub timing: Option<Timing>,
    /// Why it failed.
    pub error: String,
}

/// One row of a scan or batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Row {
    /// Analysed.
    Analyzed(Box<AnalysisRecord>),
    /// Failed, with the reason.
    Failed(FailedRow),
}

impl Row {
    /// The row's ticker.
    pub fn ticker(&self) -> &str {
        match self {
            Row::Analyzed(r) => &r.analysis.ticker,
            Row::Failed(f) => &f.ticker,
        }
    }
    /// The analysis, if any.
    pub fn analysis(&self) -> Option<&Analysis> {
        match self {
            Row::Analyzed(r) => Some(&r.analysis),
            Row::Failed(_) => None,
        }
    }
    /// The error, if any.
    pub fn error(&self) -> Option<&str> {
        match self {
            Row::Analyzed(_) => None,
            Row::Failed(f) => Some(&f.error),
        }
    }
}

/// Ranks rows: analysed first by composite score (descending), ties by edge score; failed rows
/// last in ticker order.
pub fn rank(rows: &mut [Row]) {
    rows.sort_by(|a, b| match (a.analysis(), b.analysis()) {
        (Some(x), Some(y)) => y
            .score
            .total_cmp(&x.score)
            .then(y.vrp.edge_score.total_cmp(&x.vrp.edge_score))
            .then(x.ticker.cmp(&y.ticker)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.ticker().cmp(b.ticker()),
    });
}
