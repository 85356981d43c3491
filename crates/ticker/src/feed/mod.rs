//! Feeds: where updates come from. Both push into an [`Ingest`](crate::Ingest) and never block.

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::OptionKind;
use ivcrush_core::calendar::calendar_years;
use ivcrush_market::OptionsData;

use crate::error::TickerError;

pub mod sim;
pub mod tradier;

/// How much of each option chain to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSelection {
    /// The nearest expirations (not yet expired) per underlying. Default 2.
    pub expiries: usize,
    /// Strikes below and above the spot per expiration (each with a call and a put). Default 5.
    pub strikes_per_side: usize,
}

impl Default for ChainSelection {
    fn default() -> Self {
        ChainSelection {
            expiries: 2,
            strikes_per_side: 5,
        }
    }
}

/// One listed option chosen for subscription, with its quote at discovery time.
#[derive(Debug, Clone, PartialEq)]
pub struct Contract {
    /// Call or put.
    pub kind: OptionKind,
    /// Strike in dollars.
    pub strike: f64,
    /// Expiration day.
    pub expiration: NaiveDate,
    /// Bid at discovery.
    pub bid: f64,
    /// Ask at discovery.
    pub ask: f64,
}

/// An underlying and the options chosen around its money.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The underlying.
    pub symbol: String,
    /// Its price at discovery (mid, else last).
    pub spot: f64,
    /// The chosen options.
    pub contracts: Vec<Contract>,
}

/// Finds the near expirations and the strikes around the money of `symbol`.
///
/// # Errors
/// [`TickerError::Discovery`] when the source fails or knows no price for `symbol`.
pub async fn discover(
    data: &dyn OptionsData,
    symbol: &str,
    as_of: DateTime<Utc>,
    selection: ChainSelection,
) -> Result<Discovered, TickerError> {
    let fail = |message: String| TickerError::Discovery {
        symbol: symbol.to_owned(),
        message,
    };
    let quotes = data
        .quotes(&[symbol.to_owned()])
        .await
        .map_err(|e| fail(e.to_string()))?;
    let spot = quotes
        .first()
        .map(|q| q.price())
        .filter(|p| p.is_finite() && *p > 0.0)
        .ok_or_else(|| fail("no quote".to_owned()))?;
    let expirations = data
        .expirations(symbol)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let mut contracts = Vec::new();
    for expiration in expirations
        .into_iter()
        .filter(|e| calendar_years(as_of, *e) > 0.0)
        .take(selection.expiries)
    {
        let chain = data
            .chain(symbol, expiration)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let strikes = chain.strikes();
        let above = strikes.partition_point(|k| *k < spot);
        let lo = above.saturating_sub(selection.strikes_per_side);
        let hi = (above + selection.strikes_per_side).min(strikes.len());
        for strike in &strikes[lo..hi] {
            for kind in [OptionKind::Call, OptionKind::Put] {
                if let Some(q) = chain.quote(kind, *strike) {
                    contracts.push(Contract {
                        kind,
                        strike: *strike,
                        expiration,
                        bid: q.bid,
                        ask: q.ask,
                    });
                }
            }
        }
    }
    Ok(Discovered {
        symbol: symbol.to_owned(),
        spot,
        contracts,
    })
}
