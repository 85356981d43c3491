//! Feeds: where updates come from. Both push into an [`Ingest`](crate::Ingest) and never block.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::calendar::calendar_years;
use ivcrush_core::config::TermConfig;
use ivcrush_core::implied_move::expirations_to_fetch;
use ivcrush_core::{EarningsEvent, OptionKind};
use ivcrush_market::{EarningsRecord, OptionsData};

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

/// The upcoming report of each underlying that has one: such an underlying is also subscribed
/// on the expiries its implied move needs (the pre-event expiry, the event expiry and the
/// term-structure window after it, as `analyze` fetches them), so that the live implied move
/// can be computed from the stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpcomingReports {
    /// Report per underlying (upper case).
    pub events: BTreeMap<String, EarningsEvent>,
    /// The fit window the expiries are chosen with.
    pub term: TermConfig,
}

impl UpcomingReports {
    /// Each ticker's first report dated on or after `from`, out of a calendar.
    pub fn from_calendar(records: &[EarningsRecord], from: NaiveDate, term: TermConfig) -> Self {
        let mut events: BTreeMap<String, EarningsEvent> = BTreeMap::new();
        for r in records.iter().filter(|r| r.date() >= from) {
            let first = events
                .entry(r.ticker.to_ascii_uppercase())
                .or_insert(r.event);
            if r.date() < first.date {
                *first = r.event;
            }
        }
        UpcomingReports { events, term }
    }

    /// The report of `underlying`, if one is known.
    pub fn event(&self, underlying: &str) -> Option<&EarningsEvent> {
        self.events.get(underlying)
    }

    /// The expirations to subscribe for `symbol` out of the `listed` live ones: the nearest
    /// `near`, plus those its implied move needs when a report is known.
    pub fn expiries(
        &self,
        symbol: &str,
        listed: &[NaiveDate],
        as_of: DateTime<Utc>,
        near: usize,
    ) -> Vec<NaiveDate> {
        let mut out: Vec<NaiveDate> = listed.iter().copied().take(near).collect();
        if let Some(event) = self.event(symbol) {
            out.extend(expirations_to_fetch(listed, event, None, as_of, &self.term));
        }
        out.sort_unstable();
        out.dedup();
        out
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

/// Finds the near expirations (and those `reports` asks for) and the strikes around the money
/// of `symbol`.
///
/// # Errors
/// [`TickerError::Discovery`] when the source fails or knows no price for `symbol`.
pub async fn discover(
    data: &dyn OptionsData,
    symbol: &str,
    as_of: DateTime<Utc>,
    selection: ChainSelection,
    reports: &UpcomingReports,
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
    let live: Vec<NaiveDate> = expirations
        .into_iter()
        .filter(|e| calendar_years(as_of, *e) > 0.0)
        .collect();
    let mut contracts = Vec::new();
    for expiration in reports.expiries(symbol, &live, as_of, selection.expiries) {
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
