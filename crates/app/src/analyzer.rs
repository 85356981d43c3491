//! One ticker, end to end: event, quote, expirations, chains, history → the analysis record.
//!
//! Requests per ticker on a cold cache: one expirations call and two chains (the event expiry
//! and the next one); the quote comes batched from the scan (or one call alone); past reports
//! and bars for the backfill. Warm: the two chains only (expirations are kept until a listed
//! expiry passes, history until a report passes).

use crate::calendar::{EVENT_HORIZON_DAYS, ReportStatus};
use crate::clock::report_out;
use crate::context::{App, Fetched};
use crate::error::AppError;
use crate::record::{AnalysisRecord, DataInfo};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use ivcrush_core::implied_move::{event_expiry, expirations_to_fetch};
use ivcrush_core::moves::reaction_date;
use ivcrush_core::quality::{session_note, staleness_note, usable_timestamp};
use ivcrush_core::{
    AnalysisInput, DataQuality, EarningsEvent, OptionChain, QualityCode, Timing, analyze,
};
use ivcrush_market::notes::VendorNoteKind;
use ivcrush_market::{EarningsRecord, MarketError, StockQuote};
use ivcrush_store::NewAnalysis;

/// Calendar days of bars read for the realized volatility: 61 sessions (60 returns) with
/// weekends and holidays to spare.
const RECENT_BARS_DAYS: i64 = 100;

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
    /// At most this many chains (the analysed expiry and the ones after it); default: every
    /// expiry the term-structure fit wants (the last pre-event expiry, the event expiry and
    /// those within the fit window, typically 6–7). Scans on a live vendor set
    /// `scan.live_chains` (2): the quota is the limit of a live scan.
    pub max_chains: Option<usize>,
}

/// The event of an analysis and the chains fetched for it.
struct EventChains {
    event: EarningsEvent,
    /// What the calendar said around the event (see [`ResolvedEvent`]).
    status: Option<ReportStatus>,
    chains: Vec<OptionChain>,
    /// Inputs served from cache after the vendor failed.
    stale: Vec<String>,
}

/// The event of an analysis and what the calendar said around it.
struct ResolvedEvent {
    event: EarningsEvent,
    /// `None` when the event was given (a scan's calendar) or the calendar could not be read.
    status: Option<ReportStatus>,
}

/// Analysis of one ticker (see the module docs).
#[derive(Clone, Copy)]
pub struct Analyzer<'a> {
    app: &'a App,
}

impl App {
    /// Analysis of one ticker.
    pub fn analyzer(&self) -> Analyzer<'_> {
        Analyzer { app: self }
    }
}

impl Analyzer<'_> {
    async fn resolve_event(
        self,
        ticker: &str,
        opts: &AnalyzeOptions,
    ) -> Result<ResolvedEvent, AppError> {
        if let Some(e) = opts.event {
            return Ok(ResolvedEvent {
                event: e,
                status: None,
            });
        }
        let as_of = self.app.as_of();
        if let Some(date) = opts.earnings_date {
            // The calendar is optional here (the user gave the date): it gives the timing and
            // what to compare the date with.
            let status = self
                .app
                .calendar()
                .report_status(ticker, Some(date + Duration::days(45)))
                .await
                .ok();
            let timing = status
                .as_ref()
                .and_then(|s| {
                    s.reported
                        .iter()
                        .chain(&s.upcoming)
                        .find(|e| e.date == date)
                        .map(|e| e.timing)
                })
                .unwrap_or(Timing::Unknown);
            let event = EarningsEvent { date, timing };
            if report_out(&event, as_of) {
                let next = status.as_ref().map_or_else(
                    || "next report unknown".to_string(),
                    ReportStatus::next_text,
                );
                let when = crate::clock::new_york_text(as_of);
                let message = if timing == Timing::Unknown {
                    // Not a report the calendar knows: a date in the past.
                    format!("earnings date {date} is in the past (as of {when}); {next}")
                } else {
                    format!(
                        "{ticker} reported {date} ({}): the report is out (as of {when}); {next}",
                        timing.as_str()
                    )
                };
                return Err(AppError::ReportOut {
                    ticker: ticker.to_string(),
                    date,
                    message,
                });
            }
            return Ok(ResolvedEvent { event, status });
        }
        let status = self.app.calendar().report_status(ticker, None).await?;
        match status.upcoming.first() {
            Some(e) => Ok(ResolvedEvent {
                event: *e,
                status: Some(status),
            }),
            None => Err(AppError::NoUpcomingReport {
                ticker: ticker.to_string(),
                reported: status.reported,
                horizon_days: EVENT_HORIZON_DAYS,
            }),
        }
    }

    async fn quote(self, ticker: &str) -> Result<StockQuote, AppError> {
        let quotes = self
            .app
            .market
            .options
            .quotes(&[ticker.to_string()])
            .await
            .map_err(|e| AppError::market(format!("quote of {ticker}"), e))?;
        quotes
            .into_iter()
            .find(|q| q.symbol == ticker)
            .ok_or_else(|| AppError::UnknownTicker {
                ticker: ticker.to_string(),
                reason: "no quote".into(),
            })
    }

    async fn chain(
        self,
        ticker: &str,
        expiration: NaiveDate,
    ) -> Result<Fetched<OptionChain>, AppError> {
        let options = self.app.market.options.clone();
        let sym = ticker.to_string();
        self.app
            .cached(
                &format!("chain:{ticker}:{expiration}"),
                self.app.config.cache.chains_secs,
                &format!("chain of {ticker} {expiration}"),
                move || async move { options.chain(&sym, expiration).await },
            )
            .await
    }

    /// The listed expirations, cached until one of them passes: the list only changes when an
    /// expiry rolls off (new ones are listed weeks ahead), so a day-long TTL would refetch it
    /// daily for nothing. `refresh` forces a fetch (an expected chain came back empty).
    async fn expirations(
        self,
        ticker: &str,
        refresh: bool,
    ) -> Result<Fetched<Vec<NaiveDate>>, AppError> {
        let key = format!("expirations:{ticker}");
        let today = self.app.as_of_date();
        if refresh {
            self.app.invalidate::<Vec<NaiveDate>>(&key).await;
        }
        let listed = self.fetch_expirations(ticker, &key).await?;
        if !refresh && !listed.stale && listed.value.first().is_some_and(|d| *d < today) {
            // A listed expiry has passed: the list is out of date.
            self.app.invalidate::<Vec<NaiveDate>>(&key).await;
            return self.fetch_expirations(ticker, &key).await;
        }
        Ok(listed)
    }

    async fn fetch_expirations(
        self,
        ticker: &str,
        key: &str,
    ) -> Result<Fetched<Vec<NaiveDate>>, AppError> {
        let options = self.app.market.options.clone();
        let sym = ticker.to_string();
        self.app
            .cached(
                key,
                self.app.config.cache.expirations_secs,
                &format!("expirations of {ticker}"),
                move || async move { options.expirations(&sym).await },
            )
            .await
    }

    /// Analyses one ticker ([`Analyzer::analyze`]) and stores the record under `run_id`. The
    /// number is what matters: a store failure is logged and the record still returned.
    ///
    /// # Errors
    /// As [`Analyzer::analyze`].
    pub async fn analyze_and_store(
        self,
        ticker: &str,
        opts: &AnalyzeOptions,
        run_id: &str,
    ) -> Result<AnalysisRecord, AppError> {
        let rec = self.analyze(ticker, opts).await?;
        let row = NewAnalysis::ok(run_id, rec.analysis.clone(), Utc::now());
        if let Err(e) = self.app.store.insert_analysis(&row).await {
            tracing::warn!(
                ticker,
                error = &e as &dyn std::error::Error,
                "analysis not stored"
            );
        }
        Ok(rec)
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
    // A span per analysis: every line logged while analysing (vendor calls, cache, storage)
    // names the ticker, under the run's or the request's span.
    #[tracing::instrument(name = "analyze", skip_all, fields(ticker = %ticker))]
    pub async fn analyze(
        self,
        ticker: &str,
        opts: &AnalyzeOptions,
    ) -> Result<AnalysisRecord, AppError> {
        let as_of = opts.as_of.unwrap_or_else(|| self.app.as_of());
        let quote = async {
            match &opts.quote {
                Some(q) => Ok(q.clone()),
                None => self.quote(ticker).await,
            }
        };
        // Two round trips on a cold cache: the quote, the history (reports and bars), and the
        // event with the expirations go out together; the chains follow the expirations.
        // The notes the vendor calls leave (429s waited out, premium fallbacks) are collected
        // for this analysis alone.
        let (fetched, vendor_notes) = ivcrush_market::notes::collect(async {
            futures::try_join!(
                quote,
                self.event_chains(ticker, opts, as_of),
                self.app.history().ensure(ticker),
            )
        })
        .await;
        let (
            quote,
            EventChains {
                event,
                status,
                chains,
                stale,
            },
            history,
        ) = fetched?;
        let mut quality = self.fetch_quality(ticker, &quote, as_of);
        for note in vendor_notes {
            let code = match note.kind {
                VendorNoteKind::RateLimited => QualityCode::RateLimited,
                VendorNoteKind::PremiumGated => QualityCode::PremiumGated,
            };
            quality.push(DataQuality::new(
                code,
                format!("{}: {}", note.vendor, note.detail),
            ));
        }
        for what in &stale {
            quality.push(DataQuality::new(
                QualityCode::CachedStale,
                format!("{what} served from cache: the vendor failed"),
            ));
        }
        let bars = self.recent_bars(ticker, as_of).await;
        let input = AnalysisInput {
            ticker,
            as_of,
            spot: quote.price(),
            rate: self.app.config.risk_free_rate,
            div: self.app.config.dividend_yield,
            event,
            chains: &chains,
            history: &history,
            bars: &bars,
            expiration: opts.expiration,
            quality: &quality,
        };
        let mut analysis =
            analyze(&input, &self.app.config.analytics).map_err(AppError::Analysis)?;
        if let Some(status) = &status {
            let mut notes = Vec::new();
            if opts.earnings_date.is_some() {
                notes.extend(calendar_contradiction(
                    ticker,
                    &event,
                    analysis.expiration,
                    status,
                ));
            } else if let Some(text) = status.reported_text() {
                notes.push(format!("{ticker} {text}: the next report is analysed"));
            }
            analysis.warnings.splice(0..0, notes);
        }
        consistent_inversion(&mut analysis);
        tracing::debug!(
            tradeable = analysis.tradeable,
            chains = chains.len(),
            stale = !stale.is_empty(),
            "analysed"
        );
        let historical_moves = opts.include_history.then(|| {
            let n = history
                .len()
                .saturating_sub(self.app.config.analytics.moves.lookback);
            history[n..].to_vec()
        });
        Ok(AnalysisRecord::new(
            analysis,
            DataInfo {
                source: self.app.market.source.to_string(),
                fetched_at: as_of,
                stale: !stale.is_empty(),
            },
            historical_moves,
        ))
    }

    /// The stored daily bars of the last [`RECENT_BARS_DAYS`] calendar days through the last
    /// completed session: the realized volatility of the record (the backfill stores them; no
    /// vendor call here). A store failure only costs the realized-vol block, so it is logged.
    async fn recent_bars(self, ticker: &str, as_of: DateTime<Utc>) -> Vec<ivcrush_core::Bar> {
        let through = ivcrush_core::calendar::previous_trading_day(
            ivcrush_core::calendar::new_york_date(as_of),
        );
        let from = through - Duration::days(RECENT_BARS_DAYS);
        match self.app.store.bars(ticker, from, through).await {
            Ok(bars) => bars,
            Err(e) => {
                tracing::warn!(
                    ticker,
                    error = &e as &dyn std::error::Error,
                    "stored bars unreadable: no realized volatility"
                );
                Vec::new()
            }
        }
    }

    /// The event, and the chains of its expiry and the next one; what came from cache after a
    /// vendor failure is listed in `stale`.
    async fn event_chains(
        self,
        ticker: &str,
        opts: &AnalyzeOptions,
        as_of: DateTime<Utc>,
    ) -> Result<EventChains, AppError> {
        let (ResolvedEvent { event, status }, listed) = futures::try_join!(
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
            self.app
                .calendar()
                .store_records(std::slice::from_ref(&record), self.app.market.source)
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
            let wanted = self.chains_to_fetch(exps, &event, first, as_of, opts);
            let fetched = futures::future::try_join_all(
                wanted
                    .iter()
                    .map(|&e| async move { self.chain(ticker, e).await.map(|c| (e, c)) }),
            )
            .await?;
            let front_empty = fetched
                .iter()
                .any(|(e, c)| *e == first && c.value.quotes.is_empty() && !c.stale);
            if front_empty && !refreshed {
                // A listed expiry without contracts: the list may be out of date.
                listed = self.expirations(ticker, true).await?;
                refreshed = true;
                continue;
            }
            let mut chains = Vec::with_capacity(fetched.len());
            for (e, c) in fetched {
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
                status,
                chains,
                stale,
            });
        }
    }

    /// The chains to fetch, ascending: what the term-structure fit wants (with the analysed
    /// expiry `first`), or, with `max_chains`, `first` and the expiries right after it.
    fn chains_to_fetch(
        self,
        listed: &[NaiveDate],
        event: &EarningsEvent,
        first: NaiveDate,
        as_of: DateTime<Utc>,
        opts: &AnalyzeOptions,
    ) -> Vec<NaiveDate> {
        match opts.max_chains {
            Some(n) => listed
                .iter()
                .copied()
                .filter(|e| *e >= first)
                .take(n.max(1))
                .collect(),
            None => {
                let mut wanted = expirations_to_fetch(
                    listed,
                    event,
                    opts.expiration,
                    as_of,
                    &self.app.config.analytics.term,
                );
                if !wanted.contains(&first) {
                    wanted.push(first);
                    wanted.sort_unstable();
                }
                wanted
            }
        }
    }

    /// The expiration to analyse: the one asked for (it must be listed), else the first that
    /// settles after the market reacts to the report.
    fn pick_expiry(
        self,
        ticker: &str,
        exps: &[NaiveDate],
        event: &EarningsEvent,
        opts: &AnalyzeOptions,
    ) -> Result<NaiveDate, AppError> {
        let reaction = reaction_date(event);
        let unusable = |expiration, message| AppError::ExpirationUnusable {
            ticker: ticker.to_string(),
            expiration,
            message,
        };
        match opts.expiration {
            Some(e) if e < reaction => Err(unusable(
                Some(e),
                format!(
                    "expiration {e} ends before the market reacts to {ticker}'s {} {} report \
                 (reaction session {reaction}){}",
                    event.date,
                    event.timing.as_str(),
                    event_expiry(exps, event)
                        .map(|f| format!("; the first expiry after it is {f}"))
                        .unwrap_or_default()
                ),
            )),
            Some(e) if exps.contains(&e) => Ok(e),
            Some(e) => Err(unusable(
                Some(e),
                format!(
                    "expiration {e} has no options for {ticker} (listed: {})",
                    exps.iter()
                        .take(8)
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            None => event_expiry(exps, event).ok_or_else(|| {
                unusable(
                    None,
                    format!(
                        "no listed expiration of {ticker} after its {} report",
                        event.date
                    ),
                )
            }),
        }
    }

    /// Data-quality notes about the fetch itself: the stock quote's vendor timestamp (live
    /// vendors only: the simulated market and files are dated by the as-of) and the session
    /// (every provider: an as-of on a weekend or holiday, before the open or after the close
    /// is flagged).
    fn fetch_quality(
        self,
        ticker: &str,
        quote: &StockQuote,
        as_of: DateTime<Utc>,
    ) -> Vec<DataQuality> {
        let mut notes = Vec::new();
        if self.app.is_live() {
            let gates = &self.app.config.analytics.gates;
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
        }
        if let Some(note) = session_note(as_of) {
            notes.push(note);
        }
        notes
    }
}

/// The warning of an `--earnings-date` the calendar contradicts: the calendar lists no report
/// of the ticker on that date but another one, named with whether it falls inside the analysed
/// expiry (its move then is in the straddle too).
fn calendar_contradiction(
    ticker: &str,
    event: &EarningsEvent,
    expiration: NaiveDate,
    status: &ReportStatus,
) -> Option<String> {
    if status.upcoming.iter().any(|e| e.date == event.date) {
        return None;
    }
    let cal = status
        .upcoming
        .iter()
        .min_by_key(|e| (e.date - event.date).num_days().abs())?;
    let reaction = reaction_date(cal);
    let place = if reaction <= expiration {
        format!("inside the analysed expiry {expiration}: the straddle also prices that report")
    } else {
        format!("after the analysed expiry {expiration}")
    };
    Some(format!(
        "earnings date {} contradicts the calendar: it lists {ticker}'s report on {} ({}), \
         {place}",
        event.date,
        cal.date,
        cal.timing.as_str()
    ))
}

/// The record never says "inverted" and "not inverted" at once: a negative event variance
/// on a term structure whose front ATM vol is above the back one (`term_structure.inverted`,
/// the vol ratio) is said as what it is, a variance in trading-day time.
fn consistent_inversion(a: &mut ivcrush_core::Analysis) {
    if !a.term_structure.inverted {
        return;
    }
    let ratio = a
        .term_structure
        .front_back_ratio
        .map_or_else(String::new, |r| format!(" (front/back ATM vol {r:.3})"));
    for w in &mut a.warnings {
        if w.contains("not inverted") {
            *w = format!(
                "event variance negative in trading-day time although the front vol is above \
                 the back{ratio}: event move set to 0"
            );
        }
    }
}
