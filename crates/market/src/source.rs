//! The traits the app uses, and the records they return.

use crate::error::MarketError;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::{Bar, EarningsEvent, OptionChain, Timing};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A stock quote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockQuote {
    /// Symbol.
    pub symbol: String,
    /// Last trade.
    pub last: f64,
    /// Best bid.
    pub bid: Option<f64>,
    /// Best ask.
    pub ask: Option<f64>,
    /// Previous close.
    pub prev_close: Option<f64>,
    /// Shares traded today.
    pub volume: u64,
    /// The vendor's own timestamp of the quote (latest of its trade/bid/ask dates), `None` when
    /// it sent none (missing or 0). It decides staleness only: the as-of of an analysis is our
    /// clock at the fetch, never this.
    pub quoted_at: Option<DateTime<Utc>>,
}

impl StockQuote {
    /// Mid when both sides exist and are sane, else the last trade.
    pub fn price(&self) -> f64 {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) if b > 0.0 && a >= b => 0.5 * (a + b),
            _ => self.last,
        }
    }
}

/// One calendar entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarningsRecord {
    /// Ticker.
    pub ticker: String,
    /// Company name, if known.
    pub name: Option<String>,
    /// Report date and timing.
    pub event: EarningsEvent,
}

impl EarningsRecord {
    /// Report date.
    pub fn date(&self) -> NaiveDate {
        self.event.date
    }
    /// Report timing.
    pub fn timing(&self) -> Timing {
        self.event.timing
    }
}

/// Option expirations, chains and batched quotes.
#[async_trait]
pub trait OptionsData: Send + Sync {
    /// Listed expirations, ascending. An unknown symbol is [`MarketError::UnknownSymbol`]; a known
    /// symbol without options is an empty list.
    async fn expirations(&self, symbol: &str) -> Result<Vec<NaiveDate>, MarketError>;
    /// All calls and puts of one expiration (empty quotes when none are listed).
    async fn chain(&self, symbol: &str, expiration: NaiveDate) -> Result<OptionChain, MarketError>;
    /// Quotes for many symbols in one request; unknown symbols are left out of the answer.
    async fn quotes(&self, symbols: &[String]) -> Result<Vec<StockQuote>, MarketError>;
}

/// Daily bars.
#[async_trait]
pub trait PriceHistory: Send + Sync {
    /// Bars with `from <= date <= to`, oldest first.
    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError>;
}

/// Upcoming and past earnings reports.
#[async_trait]
pub trait EarningsCalendar: Send + Sync {
    /// Reports dated `from..=to` for every covered ticker.
    async fn calendar(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRecord>, MarketError>;
    /// Past reports of one ticker (dates before today), oldest first.
    async fn past_reports(&self, symbol: &str) -> Result<Vec<EarningsEvent>, MarketError>;
}

/// One market-data source: its name and its capabilities.
#[derive(Clone)]
pub struct MarketData {
    /// Source name (`sim`, `tradier`, `files`, …) recorded with every result.
    pub source: &'static str,
    /// Expirations, chains, quotes.
    pub options: Arc<dyn OptionsData>,
    /// Daily bars.
    pub history: Arc<dyn PriceHistory>,
    /// Earnings calendar.
    pub calendar: Arc<dyn EarningsCalendar>,
}

impl std::fmt::Debug for MarketData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketData")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
