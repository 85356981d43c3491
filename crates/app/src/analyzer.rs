//! One ticker, end to end: event, quote, expirations, chains, history → the analysis record.
//!
//! Requests per ticker on a cold cache: one expirations call and two chains (the event expiry
//! and the next one); the quote comes batched from the scan (or one call alone); past reports
//! and bars once per ticker for the backfill, then never again for the same day.

use crate::context::App;
use crate::error::AppError;
use crate::record::{AnalysisRecord, DataInfo};
use chrono::{Duration, NaiveDate};
use ivcrush_core::implied_move::event_expiry;
use ivcrush_core::{AnalysisInput, EarningsEvent, OptionChain, Timing, analyze};
use ivcrush_market::{EarningsRecord, MarketError, StockQuote};

/// Options of one analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// Use this report date instead of the calendar's next one.
    pub earnings_date: Option<NaiveDate>,
    /// Use this expiration instead of the event expiry.
    pub expiration: Option<NaiveDate>,
    /// Known event (from a scan's calendar).
    pub event: Option<EarningsEvent>,
    /// Known quote (from a scan's batched request).
    pub quote: Option<StockQuote>,
    /// Attach the last historical moves to the record (the detailed view).
    pub include_history: bool,
}

/// Days ahead searched for a ticker's next report.
const EVENT_HORIZON_DAYS: i64 = 120;

impl App {
    /// The upcoming calendar of the provider, `from..=to` (cached).
    ///
    /// # Errors
    /// [`AppError::Market`] when the calendar cannot be read.
    pub async fn calendar_window(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRecord>, AppError> {
        let cal = self.market.calendar.clone();
        Ok(self
            .cached(
                &format!("calendar:{from}:{to}"),
                self.config.cache.calendar_secs,
                "earnings calendar",
                move || async move { cal.calendar(from, to).await },
            )
            .await?
            .value)
    }

    async fn resolve_event(
        &self,
        ticker: &str,
        opts: &AnalyzeOptions,
    ) -> Result<EarningsEvent, AppError> {
        if let Some(e) = opts.event {
            return Ok(e);
        }
        let today = self.as_of_date();
        if let Some(date) = opts.earnings_date {
            if date < today {
                return Err(AppError::Input(format!(
                    "earnings date {date} is in the past (as of {today})"
                )));
            }
            let cal = self.calendar_window(date, date).await.unwrap_or_default();
            let timing = cal
                .iter()
                .find(|r| r.ticker == ticker)
                .map_or(Timing::Unknown, |r| r.event.timing);
            return Ok(EarningsEvent { date, timing });
        }
        let cal = self
            .calendar_window(today, today + Duration::days(EVENT_HORIZON_DAYS))
            .await?;
        cal.iter()
            .filter(|r| r.ticker == ticker && r.event.date >= today)
            .map(|r| r.event)
            .min_by_key(|e| e.date)
            .ok_or_else(|| {
                AppError::Input(format!(
                    "no earnings report for {ticker} in the next {EVENT_HORIZON_DAYS} days \
                     (pass --earnings-date)"
                ))
            })
    }

    async fn quote(&self, ticker: &str) -> Result<StockQuote, AppError> {
        let quotes = self
            .market
            .options
            .quotes(&[ticker.to_string()])
            .await
            .map_err(|e| AppError::market(format!("quote of {ticker}"), e))?;
        quotes
            .into_iter()
            .find(|q| q.symbol == ticker)
            .ok_or_else(|| AppError::Input(format!("unknown ticker {ticker}: no quote")))
    }

    async fn chain(
        &self,
        ticker: &str,
        expiration: NaiveDate,
    ) -> Result<(OptionChain, bool), AppError> {
        let options = self.market.options.clone();
        let sym = ticker.to_string();
        let f = self
            .cached(
                &format!("chain:{ticker}:{expiration}"),
                self.config.cache.chains_secs,
                &format!("chain of {ticker} {expiration}"),
                move || async move { options.chain(&sym, expiration).await },
            )
            .await?;
        Ok((f.value, f.stale))
    }

    /// Analyses one ticker (already normalised).
    ///
    /// # Errors
    /// [`AppError`] with a message naming what is missing (unknown ticker, no report, no
    /// options for the expiration, too little history …).
    pub async fn analyze_ticker(
        &self,
        ticker: &str,
        opts: &AnalyzeOptions,
    ) -> Result<AnalysisRecord, AppError> {
        let quote = match &opts.quote {
            Some(q) => q.clone(),
            None => self.quote(ticker).await?,
        };
        let event = self.resolve_event(ticker, opts).await?;
        let options = self.market.options.clone();
        let sym = ticker.to_string();
        let exps = self
            .cached(
                &format!("expirations:{ticker}"),
                self.config.cache.expirations_secs,
                &format!("expirations of {ticker}"),
                move || async move { options.expirations(&sym).await },
            )
            .await?;
        let mut stale = exps.stale;
        let exps = exps.value;
        if exps.is_empty() {
            return Err(AppError::market(
                format!("expirations of {ticker}"),
                MarketError::NoOptions {
                    symbol: ticker.to_string(),
                    expiration: "-".into(),
                },
            ));
        }
        let first = match opts.expiration {
            Some(e) if exps.contains(&e) => e,
            Some(e) => {
                return Err(AppError::Input(format!(
                    "expiration {e} has no options for {ticker} (listed: {})",
                    exps.iter()
                        .take(8)
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            None => event_expiry(&exps, &event).ok_or_else(|| {
                AppError::Input(format!(
                    "no listed expiration of {ticker} after its {} report",
                    event.date
                ))
            })?,
        };
        let next = exps.iter().copied().filter(|e| *e > first).min();
        let mut chains = Vec::with_capacity(2);
        for e in std::iter::once(first).chain(next) {
            let (c, s) = self.chain(ticker, e).await?;
            stale |= s;
            if c.quotes.is_empty() && e == first {
                return Err(AppError::market(
                    format!("chain of {ticker} {e}"),
                    MarketError::NoOptions {
                        symbol: ticker.to_string(),
                        expiration: e.to_string(),
                    },
                ));
            }
            chains.push(c);
        }
        let history = self.ensure_history(ticker).await?;
        let input = AnalysisInput {
            ticker,
            as_of: quote.as_of,
            spot: quote.price(),
            rate: self.config.risk_free_rate,
            div: self.config.dividend_yield,
            event,
            chains: &chains,
            history: &history,
            expiration: opts.expiration,
        };
        let analysis = analyze(&input, &self.config.analytics)?;
        let historical_moves = opts.include_history.then(|| {
            let n = history
                .len()
                .saturating_sub(self.config.analytics.moves.lookback);
            history[n..].to_vec()
        });
        Ok(AnalysisRecord {
            analysis,
            data: DataInfo {
                source: self.market.source.to_string(),
                fetched_at: quote.as_of,
                stale,
            },
            historical_moves,
        })
    }
}
