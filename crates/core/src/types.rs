//! Small shared domain types: option kind, earnings timing, percent newtype, quotes and bars.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Call or put.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionKind {
    /// The right to buy.
    Call,
    /// The right to sell.
    Put,
}

impl OptionKind {
    /// `true` for a call.
    pub fn is_call(self) -> bool {
        matches!(self, OptionKind::Call)
    }
    /// `"call"` or `"put"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionKind::Call => "call",
            OptionKind::Put => "put",
        }
    }
}

impl fmt::Display for OptionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unrecognised option kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown option type {0:?}: expected call/put (or c/p)")]
pub struct ParseKindError(pub String);

impl FromStr for OptionKind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "c" | "call" => Ok(OptionKind::Call),
            "p" | "put" => Ok(OptionKind::Put),
            _ => Err(ParseKindError(s.to_string())),
        }
    }
}

/// When an earnings report is published relative to the regular session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Timing {
    /// Before the market opens: the market reacts the same day.
    Bmo,
    /// After the market closes: the market reacts the next trading day.
    Amc,
    /// Not known: treated as AMC, with a warning.
    #[default]
    Unknown,
}

impl Timing {
    /// `"BMO"`, `"AMC"` or `"UNKNOWN"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Timing::Bmo => "BMO",
            Timing::Amc => "AMC",
            Timing::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timing {
    type Err = std::convert::Infallible;
    /// Accepts BMO/AMC and vendor spellings (`pre-market`, `post-market`); anything else is UNKNOWN.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "bmo" | "pre-market" | "premarket" | "before" => Timing::Bmo,
            "amc" | "post-market" | "postmarket" | "after" => Timing::Amc,
            _ => Timing::Unknown,
        })
    }
}

/// A percentage in percent units: 5.12 means 5.12 %.
///
/// Kept apart from fractions (0.0512) so that the two cannot be mixed silently, and always
/// finite: it is built only through the checked [`Pct::new`] and [`Pct::from_fraction`] (and
/// deserialised through the same check), so a `NaN` or an infinity never travels as a
/// percentage. Read it with [`Pct::value`] (or `.0`) in percent, or [`Pct::fraction`].
///
/// ```
/// use ivcrush_core::Pct;
/// let p = Pct::new(5.12).unwrap();
/// assert_eq!(p.value(), 5.12);
/// assert!((p.fraction() - 0.0512).abs() < 1e-15);
/// assert_eq!(p.to_string(), "5.12%");
/// assert_eq!(Pct::from_fraction(0.25).unwrap().value(), 25.0);
/// assert!(Pct::new(f64::NAN).is_err());
/// assert!(Pct::from_fraction(f64::INFINITY).is_err());
/// // The JSON form is the bare number, and a JSON number that is out of range is refused.
/// assert_eq!(serde_json::to_string(&p).unwrap(), "5.12");
/// assert_eq!(serde_json::from_str::<Pct>("5.12").unwrap(), p);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize, Default)]
#[serde(try_from = "f64", into = "f64")]
// Non-exhaustive: other crates read `.0` but cannot build a `Pct` around the checks.
#[non_exhaustive]
pub struct Pct(pub f64);

/// A percentage that is not a finite number.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("a percentage must be a finite number (got {0})")]
pub struct NonFiniteError(pub f64);

impl Pct {
    /// A percentage in percent units (5.12 = 5.12 %).
    ///
    /// # Errors
    /// [`NonFiniteError`] for `NaN` and infinities.
    pub fn new(percent: f64) -> Result<Pct, NonFiniteError> {
        if percent.is_finite() {
            Ok(Pct(percent))
        } else {
            Err(NonFiniteError(percent))
        }
    }
    /// From a decimal fraction: `Pct::from_fraction(0.0512)` is 5.12 %.
    ///
    /// # Errors
    /// [`NonFiniteError`] when the percentage is not finite.
    pub fn from_fraction(x: f64) -> Result<Pct, NonFiniteError> {
        Pct::new(x * 100.0)
    }
    /// As a decimal fraction.
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
    /// The value in percent.
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Pct {
    type Error = NonFiniteError;
    fn try_from(percent: f64) -> Result<Pct, NonFiniteError> {
        Pct::new(percent)
    }
}

impl From<Pct> for f64 {
    fn from(p: Pct) -> f64 {
        p.0
    }
}

impl fmt::Display for Pct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}%", self.0)
    }
}

/// One option quote as the analytics need it (vendor-neutral).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionQuote {
    /// Call or put.
    pub kind: OptionKind,
    /// Strike price.
    pub strike: f64,
    /// Best bid (0 when there is none).
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
    /// Last trade price, if any.
    #[serde(default)]
    pub last: Option<f64>,
    /// Contracts traded today.
    #[serde(default)]
    pub volume: u64,
    /// Open interest (contracts).
    #[serde(default)]
    pub open_interest: u64,
}

impl OptionQuote {
    /// Mid price `(bid + ask) / 2`.
    pub fn mid(&self) -> f64 {
        0.5 * (self.bid + self.ask)
    }
    /// A valid two-sided quote: finite, `bid > 0` and `ask > bid`.
    pub fn is_valid(&self) -> bool {
        self.bid.is_finite() && self.ask.is_finite() && self.bid > 0.0 && self.ask > self.bid
    }
    /// Spread as a percent of mid, `None` without a valid quote.
    ///
    /// # Example
    /// ```
    /// use ivcrush_core::{OptionKind, OptionQuote};
    /// let q = OptionQuote {
    ///     kind: OptionKind::Put, strike: 95.0, bid: 1.90, ask: 2.10,
    ///     last: None, volume: 0, open_interest: 0,
    /// };
    /// assert!((q.mid() - 2.0).abs() < 1e-12);
    /// assert!((q.spread_pct().unwrap().value() - 10.0).abs() < 1e-9);
    /// // No bid: no spread to speak of.
    /// assert_eq!(OptionQuote { bid: 0.0, ..q }.spread_pct(), None);
    /// assert_eq!("P".parse::<OptionKind>().unwrap(), OptionKind::Put);
    /// ```
    pub fn spread_pct(&self) -> Option<Pct> {
        if !self.is_valid() {
            return None;
        }
        Pct::new((self.ask - self.bid) / self.mid() * 100.0).ok()
    }
}

/// All quotes of one expiration of one underlying.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionChain {
    /// Expiration day (options expire at 16:00 America/New_York that day).
    pub expiration: NaiveDate,
    /// Calls and puts, in any order.
    pub quotes: Vec<OptionQuote>,
    /// What a live vendor said about the chain besides its quotes (timestamps, greeks, dropped
    /// contracts); `None` for the simulated market and files, whose clock is the as-of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<ChainProvenance>,
}

/// A live vendor's chain metadata: what decides staleness and data-quality notes, never the
/// as-of (that is our clock).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChainProvenance {
    /// Newest usable vendor timestamp among the contracts' bid/ask/trade dates; `None` when the
    /// vendor sent none (missing or 0).
    pub quoted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Contracts received.
    pub contracts: u32,
    /// Contracts whose vendor greeks were missing, null or all zero.
    pub greeks_missing: u32,
    /// Contracts dropped: another expiration or underlying than asked, no strike or type.
    pub dropped: u32,
}

impl OptionChain {
    /// A chain without vendor metadata (simulated market, files, tests).
    pub fn new(expiration: NaiveDate, quotes: Vec<OptionQuote>) -> OptionChain {
        OptionChain {
            expiration,
            quotes,
            vendor: None,
        }
    }

    /// Sorted, de-duplicated strikes of the chain.
    pub fn strikes(&self) -> Vec<f64> {
        let mut k: Vec<f64> = self
            .quotes
            .iter()
            .map(|q| q.strike)
            .filter(|k| k.is_finite())
            .collect();
        k.sort_by(f64::total_cmp);
        k.dedup();
        k
    }
    /// The quote of the given kind at exactly this strike.
    pub fn quote(&self, kind: OptionKind, strike: f64) -> Option<&OptionQuote> {
        self.quotes
            .iter()
            .find(|q| q.kind == kind && q.strike == strike)
    }
}

/// One daily OHLCV bar.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Session date.
    pub date: NaiveDate,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Shares traded.
    #[serde(default)]
    pub volume: u64,
}

/// One earnings report: date and timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarningsEvent {
    /// The announcement date.
    pub date: NaiveDate,
    /// Before or after the session.
    pub timing: Timing,
}
