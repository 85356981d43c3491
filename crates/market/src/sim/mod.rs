//! The deterministic simulated market: the embedded default source.
//!
//! Deterministic from `(seed, as-of date)`: the same pair gives byte-identical bars, calendars,
//! quotes and chains. A fixed universe of 60 made-up tickers ([`universe::universe`]), from very
//! liquid (class 0) to illiquid (class 4, which the liquidity rules reject), each with a realised
//! diffusion vol, an earnings jump size, an event premium the options charge over it, a put skew
//! and a quarterly BMO or AMC report schedule. History starts on 2019-01-02, so every as-of date
//! from 2022 on has more than three years of it.
//!
//! The as-of instant is any instant ([`SimMarket::at`]; [`SimMarket::new`] takes 15:30 New York
//! of a date: markets open, quotes live). Spot is the close of the latest session that has opened
//! by then (the last session's close before the open, on a weekend or holiday); daily bars run
//! through the latest completed session; chains are priced in the analytics' clock, the time left
//! of the current session plus the sessions after it. Because the truth is known, tests check that the analytics recover it:
//! [`SimMarket::truth`] gives each ticker's parameters and its reports with the moves that
//! happened.
//!
//! Parameters (per ticker, derived from a stable hash of its name): initial price $20–$500,
//! realised diffusion vol 18–63 %, jump σ 2.5–10 %, event premium 0.85–2.2× (implied jump σ =
//! jump σ × premium), implied diffusion vol = 1.08 × realised, smile slope −0.10…−0.40 and
//! curvature 0.4–1.8 per unit log-moneyness, report 10–85 days after each quarter's end
//! (so that some report falls in almost any week of the year).

mod chain;
mod hash;
mod path;
pub mod universe;

pub use chain::{RATE, strike_step};
pub use path::{SimReport, TickerPath};
pub use universe::TickerParams;

use crate::error::MarketError;
use crate::source::{
    EarningsCalendar, EarningsRecord, MarketData, OptionsData, PriceHistory, StockQuote,
};
use async_trait::async_trait;
use chrono::TimeZone;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::America::New_York;
use ivcrush_core::calendar::{is_trading_day, new_york_date, previous_trading_day, session_hours};
use ivcrush_core::{Bar, EarningsEvent, OptionChain};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Default seed.
pub const DEFAULT_SEED: u64 = 42;

/// The simulated market as of one date.
#[derive(Debug)]
pub struct SimMarket {
    seed: u64,
    as_of_date: NaiveDate,
    as_of: DateTime<Utc>,
    /// The latest session that has opened by the as-of: its close is the spot.
    session: NaiveDate,
    /// The latest session that has closed by the as-of: the bars end there.
    completed: NaiveDate,
    paths: Mutex<HashMap<&'static str, Arc<TickerPath>>>,
}

/// A ticker's ground truth as of the market's date.
#[derive(Debug, Clone, PartialEq)]
pub struct TickerTruth {
    /// The parameters behind its data.
    pub params: TickerParams,
    /// Past reports whose reaction session has completed, with the moves that happened,
    /// oldest first.
    pub past_reports: Vec<SimReport>,
    /// The next report (date and timing).
    pub next_report: Option<EarningsEvent>,
}

impl SimMarket {
    /// The market of `seed` as of 15:30 New York on `as_of_date`.
    pub fn new(seed: u64, as_of_date: NaiveDate) -> Self {
        let local = as_of_date
            .and_hms_opt(15, 30, 0)
            .expect("15:30 is a valid time");
        let as_of = New_York
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&local));
        Self::at(seed, as_of)
    }

    /// The market of `seed` at the instant `as_of`: before the open the last session's close is
    /// the spot and that event-free night's quotes are priced with the whole session ahead;
    /// after the close the day's bar is complete.
    pub fn at(seed: u64, as_of: DateTime<Utc>) -> Self {
        let as_of_date = new_york_date(as_of);
        let hours = session_hours(as_of_date);
        let session = match hours {
            Some((open, _)) if open <= as_of => as_of_date,
            _ => previous_trading_day(as_of_date),
        };
        let completed = match hours {
            Some((_, close)) if close <= as_of => as_of_date,
            _ => previous_trading_day(as_of_date),
        };
        SimMarket {
            seed,
            as_of_date,
            as_of,
            session,
            completed,
            paths: Mutex::new(HashMap::new()),
        }
    }

    /// The market wrapped as a [`MarketData`] source named `sim`.
    pub fn into_market_data(self) -> MarketData {
        let me = Arc::new(self);
        MarketData {
            source: "sim",
            options: me.clone(),
            history: me.clone(),
            calendar: me,
        }
    }

    /// The quote instant.
    pub fn as_of(&self) -> DateTime<Utc> {
        self.as_of
    }

    /// The as-of date.
    pub fn as_of_date(&self) -> NaiveDate {
        self.as_of_date
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn params(&self, symbol: &str) -> Result<TickerParams, MarketError> {
        universe::ticker(symbol).ok_or_else(|| MarketError::UnknownSymbol(symbol.to_string()))
    }

    /// The path of a ticker through the current session (cached).
    pub fn path(&self, symbol: &str) -> Result<Arc<TickerPath>, MarketError> {
        let p = self.params(symbol)?;
        let mut cache = self
            .paths
            .lock()
            .map_err(|_| MarketError::Refused("simulated market cache poisoned".into()))?;
        Ok(cache
            .entry(p.symbol)
            .or_insert_with(|| Arc::new(path::generate(&p, self.seed, self.session)))
            .clone())
    }

    /// Ground truth of one ticker.
    ///
    /// # Errors
    /// [`MarketError::UnknownSymbol`] outside the universe.
    pub fn truth(&self, symbol: &str) -> Result<TickerTruth, MarketError> {
        let params = self.params(symbol)?;
        let path = self.path(symbol)?;
        let past_reports = path
            .reports
            .iter()
            // Reactions in completed sessions only (the bars end there).
            .filter(|r| r.reaction_date <= self.completed)
            .copied()
            .collect();
        let next_report = path::report_schedule(&params, self.as_of_date + Duration::days(200))
            .into_iter()
            .find(|e| e.date >= self.as_of_date);
        Ok(TickerTruth {
            params,
            past_reports,
            next_report,
        })
    }

    fn spot(&self, path: &TickerPath) -> Result<f64, MarketError> {
        path.bars
            .last()
            .map(|b| b.close)
            .ok_or_else(|| MarketError::Input("simulated path is empty".into()))
    }

    /// Reaction days after the session, within the next ~7 months.
    fn upcoming_reactions(&self, p: &TickerParams) -> Vec<NaiveDate> {
        path::report_schedule(p, self.as_of_date + Duration::days(220))
            .iter()
            .map(ivcrush_core::moves::reaction_date)
            .filter(|d| *d > self.session)
            .collect()
    }

    /// Listed expirations: every weekly Friday for eight weeks and the monthly (third-Friday)
    /// expirations for six months; a Friday holiday moves the expiry to Thursday.
    pub fn listed_expirations(&self) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut d = self.as_of_date;
        while d.weekday() != Weekday::Fri {
            d += Duration::days(1);
        }
        for w in 0..8 {
            out.push(d + Duration::weeks(w));
        }
        let (mut y, mut m) = (self.as_of_date.year(), self.as_of_date.month());
        for _ in 0..7 {
            if let Some(third) = NaiveDate::from_weekday_of_month_opt(y, m, Weekday::Fri, 3) {
                out.push(third);
            }
            (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        }
        let mut out: Vec<NaiveDate> = out
            .into_iter()
            .map(|e| {
                if is_trading_day(e) {
                    e
                } else {
                    previous_trading_day(e)
                }
            })
            .filter(|e| *e >= self.as_of_date)
            .filter(|e| *e <= self.as_of_date + Duration::days(200))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[async_trait]
impl OptionsData for SimMarket {
    async fn expirations(&self, symbol: &str) -> Result<Vec<NaiveDate>, MarketError> {
        self.params(symbol)?;
        Ok(self.listed_expirations())
    }

    async fn chain(&self, symbol: &str, expiration: NaiveDate) -> Result<OptionChain, MarketError> {
        let p = self.params(symbol)?;
        if !self.listed_expirations().contains(&expiration) {
            return Ok(OptionChain {
                expiration,
                quotes: Vec::new(),
                vendor: None,
            });
        }
        let path = self.path(symbol)?;
        let reactions = self.upcoming_reactions(&p);
        let inputs = chain::SurfaceInputs {
            params: &p,
            spot: self.spot(&path)?,
            as_of: self.as_of,
            session: self.session,
            upcoming_reactions: &reactions,
            seed: self.seed,
        };
        Ok(chain::chain(&inputs, expiration))
    }

    async fn quotes(&self, symbols: &[String]) -> Result<Vec<StockQuote>, MarketError> {
        let mut out = Vec::with_capacity(symbols.len());
        for s in symbols {
            let Ok(path) = self.path(s) else { continue };
            let n = path.bars.len();
            let last = self.spot(&path)?;
            let tick = 0.01;
            out.push(StockQuote {
                symbol: s.clone(),
                last,
                bid: Some(((last - tick) * 100.0).round() / 100.0),
                ask: Some(((last + tick) * 100.0).round() / 100.0),
                prev_close: n.checked_sub(2).map(|i| path.bars[i].close),
                volume: path.bars.last().map_or(0, |b| b.volume),
                quoted_at: Some(self.as_of),
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl PriceHistory for SimMarket {
    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let path = self.path(symbol)?;
        // Completed sessions only: during a session today's bar is still forming.
        let last = to.min(self.completed);
        Ok(path
            .bars
            .iter()
            .filter(|b| b.date >= from && b.date <= last)
            .copied()
            .collect())
    }
}

#[async_trait]
impl EarningsCalendar for SimMarket {
    async fn calendar(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRecord>, MarketError> {
        let mut out = Vec::new();
        for p in universe::universe() {
            for e in path::report_schedule(&p, to) {
                if e.date >= from {
                    out.push(EarningsRecord {
                        ticker: p.symbol.to_string(),
                        name: Some(format!("{} Corp ({})", p.symbol, p.sector)),
                        event: e,
                    });
                }
            }
        }
        out.sort_by(|a, b| (a.event.date, &a.ticker).cmp(&(b.event.date, &b.ticker)));
        Ok(out)
    }

    async fn past_reports(&self, symbol: &str) -> Result<Vec<EarningsEvent>, MarketError> {
        let p = self.params(symbol)?;
        Ok(path::report_schedule(&p, self.as_of_date)
            .into_iter()
            .filter(|e| e.date < self.as_of_date)
            .collect())
    }
}
