//! One ticker, end to end: event, quote, expirations, chains, history → the analysis record.
//!
//! Requests per ticker on a cold cache: one expirations call and two chains (the event expiry
//! and the next one); the quote comes batched from the scan (or one call alone); past reports
//! and bars for the backfill. Warm: the two chains only (expirations are kept until a listed
//! expiry passes, history until a report passes).

use crate::context::{App, Fetched};
use crate::error::AppError;
use crate::record::{AnalysisRecord, DataInfo};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use ivcrush_core::implied_move::event_expiry;
use ivcrush_core::quality::{session_note, staleness_note, usable_timestamp};
use ivcrush_core::{
    AnalysisInput, DataQuality, EarningsEvent, OptionChain, QualityCode, Timing, analyze,
};
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
    /// When the data was fetched (a scan's batched quote); default: the app's clock now.
    pub as_of: Option<DateTime<Utc>>,
}

/// The event of an analysis and the chains fetched for it.
struct EventChains {
    event: EarningsEvent,
    chains: Vec<OptionChain>,
    /// Inputs served from cache after the vendor failed.
    stale: Vec<String>,
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
    ) -> Result<Fetched<OptionChain>, AppError> {
        let options = self.market.options.clone();
        let sym = ticker.to_string();
        self.cached(
            &format!("chain:{ticker}:{expiration}"),
            self.config.cache.chains_secs,
            &format!("chain of {ticker} {expiration}"),
            move || async move { options.chain(&sym, expiration).await },
        )
        .await
    }

    /// The listed expirations, cached until one of them passes: the list only changes when an
    /// expiry rolls off (new ones are listed weeks ahead), so a day-long TTL would refetch it
    /// daily for nothing. `refresh` forces a fetch (an expected chain came back empty).
    async fn expirations(
        &self,
        ticker: &str,
        refresh: bool,
    ) -> Result<Fetched<Vec<NaiveDate>>, AppError> {
        let key = format!("expirations:{ticker}");
        let today = self.as_of_date();
        if refresh {
            self.invalidate::<Vec<NaiveDate>>(&key).await;
        }
        let listed = self.fetch_expirations(ticker, &key).await?;
        if !refresh && !listed.stale && listed.value.first().is_some_and(|d| *d < today) {
            // A listed expiry has passed: the list is out of date.
            self.invalidate::<Vec<NaiveDate>>(&key).await;
            return self.fetch_expirations(ticker, &key).await;
        }
        Ok(listed)
    }

    async fn fetch_expirations(
        &self,
        ticker: &str,
        key: &str,
    ) -> Result<Fetched<Vec<NaiveDate>>, AppError> {
        let options = self.market.options.clone();
        let sym = ticker.to_string();
        self.cached(
            key,
            self.config.cache.expirations_secs,
            &format!("expirations of {ticker}"),
            move || async move { options.expirations(&sym).await },
        )
        .await
    }

    /// Analyses one ticker (already normalised).
    ///
    /// The as-of is our clock when the data is fetched (or the configured as-of of the
    /// simulated market and files), never a vendor timestamp. Independent requests go out
    /// together: quote, calendar, expirations and history first, then the chains.
    ///
    /// # Errors
    /// [`AppError`] with a message naming what is missing (unknown ticker, no report, no
    /// options for the expiration, too little history …) or the sanity gate that failed.
    pub async fn analyze_ticker(
        &self,
        ticker: &str,
        opts: &AnalyzeOptions,
    ) -> Result<AnalysisRecord, AppError> {
        let as_of = opts.as_of.unwrap_or_else(|| self.as_of());
        let quote = async {
            match &opts.quote {
                Some(q) => Ok(q.clone()),
                None => self.quote(ticker).await,
            }
        };
        // Two round trips on a cold cache: the quote, the history (reports and bars), and the
        // event with the expirations go out together; the chains follow the expirations.
        let (
            quote,
            EventChains {
                event,
                chains,
                stale,
            },
            history,
        ) = futures::try_join!(
            quote,
            self.event_chains(ticker, opts),
            self.ensure_history(ticker),
        )?;
        let mut quality = self.fetch_quality(ticker, &quote, as_of);
        for what in &stale {
            quality.push(DataQuality::new(
                QualityCode::CachedStale,
                format!("{what} served from cache: the vendor failed"),
            ));
        }
        let input = AnalysisInput {
            ticker,
            as_of,
            spot: quote.price(),
            rate: self.config.risk_free_rate,
            div: self.config.dividend_yield,
            event,
            chains: &chains,
            history: &history,
            expiration: opts.expiration,
            quality: &quality,
        };
        let analysis =
            analyze(&input, &self.config.analytics).map_err(|e| AppError::analysis(ticker, e))?;
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
                fetched_at: as_of,
                stale: !stale.is_empty(),
            },
            historical_moves,
        })
    }

    /// The event, and the chains of its expiry and the next one; what came from cache after a
    /// vendor failure is listed in `stale`.
    async fn event_chains(
        &self,
        ticker: &str,
        opts: &AnalyzeOptions,
    ) -> Result<EventChains, AppError> {
        let (event, listed) = futures::try_join!(
            self.resolve_event(ticker, opts),
            self.expirations(ticker, false)
        )?;
        if opts.event.is_none() && opts.earnings_date.is_none() {
            // Remember the calendar's report: once it has passed, the next analysis knows to
            // fetch the move it made (history is fetched only when a known report has passed).
            let record = EarningsRecord {
                ticker: ticker.to_string(),
                name: None,
                event,
            };
            self.store_calendar(std::slice::from_ref(&record), self.market.source)
                .await?;
        }
        let mut listed = listed;
        let mut refreshed = false;
        loop {
            let mut stale: Vec<String> = Vec::new();
            if listed.stale {
                stale.push(format!("expirations of {ticker}"));
            }
            let exps = &listed.value;
            if exps.is_empty() {
                return Err(AppError::market(
                    format!("expirations of {ticker}"),
                    MarketError::NoOptions {
                        symbol: ticker.to_string(),
                        expiration: "-".into(),
                    },
                ));
            }
            let first = self.pick_expiry(ticker, exps, &event, opts)?;
            let next = exps.iter().copied().filter(|e| *e > first).min();
            let (front, back) = futures::try_join!(self.chain(ticker, first), async {
                match next {
                    Some(e) => self.chain(ticker, e).await.map(Some),
                    None => Ok(None),
                }
            })?;
            if front.value.quotes.is_empty() && !front.stale && !refreshed {
                // A listed expiry without contracts: the list may be out of date.
                listed = self.expirations(ticker, true).await?;
                refreshed = true;
                continue;
            }
            let mut chains = Vec::with_capacity(2);
            for (e, c) in
                std::iter::once((first, front)).chain(back.map(|b| (next.unwrap_or(first), b)))
            {
                if c.stale {
                    stale.push(format!(
                        "chain of {ticker} {e} (fetched {})",
                        c.fetched_at.format("%Y-%m-%d %H:%M UTC")
                    ));
                }
                if c.value.quotes.is_empty() && e == first {
                    return Err(AppError::market(
                        format!("chain of {ticker} {e}"),
                        MarketError::NoOptions {
                            symbol: ticker.to_string(),
                            expiration: e.to_string(),
                        },
                    ));
                }
                chains.push(c.value);
            }
            return Ok(EventChains {
                event,
                chains,
                stale,
            });
        }
    }

    /// The expiration to analyse: the one asked for (it must be listed), else the first that
    /// settles after the market reacts to the report.
    fn pick_expiry(
        &self,
        ticker: &str,
        exps: &[NaiveDate],
        event: &EarningsEvent,
        opts: &AnalyzeOptions,
    ) -> Result<NaiveDate, AppError> {
        match opts.expiration {
            Some(e) if exps.contains(&e) => Ok(e),
            Some(e) => Err(AppError::Input(format!(
                "expiration {e} has no options for {ticker} (listed: {})",
                exps.iter()
                    .take(8)
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => event_expiry(exps, event).ok_or_else(|| {
                AppError::Input(format!(
                    "no listed expiration of {ticker} after its {} report",
                    event.date
                ))
            }),
        }
    }

    /// Data-quality notes about the fetch itself: the stock quote's vendor timestamp (live
    /// vendors only: the simulated market and files are dated by the as-of) and the session.
    fn fetch_quality(
        &self,
        ticker: &str,
        quote: &StockQuote,
        as_of: DateTime<Utc>,
    ) -> Vec<DataQuality> {
        let mut notes = Vec::new();
        if !self.is_live() {
            return notes;
        }
        let gates = &self.config.analytics.gates;
        let stamp = usable_timestamp(quote.quoted_at, as_of, gates);
        if let Some(note) = staleness_note(
            &format!("stock quote of {ticker}"),
            QualityCode::StaleQuote,
            stamp,
            as_of,
            gates,
        ) {
            notes.push(note);
        }
        if let Some(note) = session_note(as_of) {
            notes.push(note);
        }
        notes
    }
}
