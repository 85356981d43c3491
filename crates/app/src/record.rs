//! The rows every surface prints, stores and serves: the analysis record of
//! the design's JSON record plus where its data came from, or the reason a ticker failed.

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::calendar::new_york_date;
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::strategy::{Strategy, StrategyKind};
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
    /// Calendar days from the as-of (its New York date) to the report date.
    #[serde(default)]
    pub days_to_event: i64,
    /// The strategy every surface shows as the best (see [`best_strategy`]), if any.
    #[serde(default)]
    pub best_strategy: Option<BestStrategy>,
    /// The last historical moves with dates and direction (the `analyze` view only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub historical_moves: Option<Vec<HistoricalMove>>,
}

/// The best strategy of a record, as the scan table, CSV and dashboard show it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BestStrategy {
    /// Which strategy.
    pub kind: StrategyKind,
    /// Credit per share at mid.
    pub credit: f64,
    /// Probability of profit (lognormal, fraction 0–1).
    pub pop: f64,
    /// Expected P&L per share under the past moves.
    pub expected_pnl: Option<f64>,
}

impl BestStrategy {
    /// `short_straddle`, `iron_condor`, …
    pub fn kind_name(&self) -> String {
        serde_json::to_value(self.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

/// The best strategy of an analysis: the core's ranking ([`ivcrush_core::strategy::best`]),
/// i.e. the eligible strategy with the best expected P&L per unit of risk (max loss, or margin
/// when unbounded) weighted by liquidity — expected to earn after costs, at least one contract
/// within the risk budget, no REJECT leg, undefined risk only with enough liquidity. None when
/// no strategy qualifies. (Records stored before the ranking: the highest positive expected
/// P&L.)
pub fn best_strategy(a: &Analysis) -> Option<&Strategy> {
    ivcrush_core::strategy::best(&a.strategies)
}

/// Calendar days from the as-of's New York date to the report date.
pub fn days_to_event(a: &Analysis) -> i64 {
    (a.earnings_date - new_york_date(a.as_of)).num_days()
}

impl AnalysisRecord {
    /// The record of `analysis`, with the derived fields filled in.
    pub fn new(
        analysis: Analysis,
        data: DataInfo,
        historical_moves: Option<Vec<HistoricalMove>>,
    ) -> AnalysisRecord {
        let best = best_strategy(&analysis).map(|s| BestStrategy {
            kind: s.kind,
            credit: s.credit,
            pop: s.pop,
            expected_pnl: s.expected_pnl,
        });
        AnalysisRecord {
            days_to_event: days_to_event(&analysis),
            best_strategy: best,
            analysis,
            data,
            historical_moves,
        }
    }
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

/// How analysed rows are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RankBy {
    /// Tradeable rows first, each group by score (the default): an untradeable row never
    /// ranks above a tradeable one.
    #[default]
    Tradeable,
    /// By score alone, tradeable or not.
    Score,
}

impl std::str::FromStr for RankBy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tradeable" => Ok(RankBy::Tradeable),
            "score" => Ok(RankBy::Score),
            other => Err(format!(
                "unknown ranking {other:?}: expected tradeable or score"
            )),
        }
    }
}

impl RankBy {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RankBy::Tradeable => "tradeable",
            RankBy::Score => "score",
        }
    }
}

/// Ranks rows the default way ([`RankBy::Tradeable`]).
pub fn rank(rows: &mut [Row]) {
    rank_by(rows, RankBy::Tradeable);
}

/// Ranks rows: analysed first (tradeable ones before the others unless `by` is
/// [`RankBy::Score`]), by composite score (descending), ties by edge score, then ticker;
/// failed rows last in ticker order.
pub fn rank_by(rows: &mut [Row], by: RankBy) {
    rows.sort_by(|a, b| match (a.analysis(), b.analysis()) {
        (Some(x), Some(y)) => {
            let tradeable = match by {
                RankBy::Tradeable => y.tradeable.cmp(&x.tradeable),
                RankBy::Score => std::cmp::Ordering::Equal,
            };
            tradeable
                .then(y.score.total_cmp(&x.score))
                .then(y.vrp.edge_score.total_cmp(&x.vrp.edge_score))
                .then(x.ticker.cmp(&y.ticker))
        }
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.ticker().cmp(b.ticker()),
    });
}
