//! Earnings calendar: sync from the provider into the store, list from the store.

use crate::clock::report_out;
use crate::context::App;
use crate::error::AppError;
use chrono::{Duration, NaiveDate, Utc};
use ivcrush_core::EarningsEvent;
use ivcrush_market::EarningsRecord;
use ivcrush_store::{EarningsRow, TickerRow};

/// Longest window of a scan or a calendar listing, in days.
pub const MAX_WINDOW_DAYS: i64 = 366;

/// Days ahead searched for a ticker's next report.
pub const EVENT_HORIZON_DAYS: i64 = 120;

/// Days back searched for a report already out, said instead of being analysed as upcoming.
pub const REPORTED_LOOKBACK_DAYS: i64 = 14;

/// A ticker's reports around the as-of, from the calendar.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportStatus {
    /// Its latest report already out (recent ones only).
    pub reported: Option<EarningsEvent>,
    /// Its reports not yet out, soonest first.
    pub upcoming: Vec<EarningsEvent>,
}

impl ReportStatus {
    /// `next report D (T)`, or `no next report known`.
    pub fn next_text(&self) -> String {
        match self.upcoming.first() {
            Some(e) => format!("next report {} ({})", e.date, e.timing.as_str()),
            None => format!("no next report known in the next {EVENT_HORIZON_DAYS} days"),
        }
    }

    /// `reported D (T); next report D′ (T′)` when a report is already out.
    pub fn reported_text(&self) -> Option<String> {
        self.reported.map(|r| {
            format!(
                "reported {} ({}); {}",
                r.date,
                r.timing.as_str(),
                self.next_text()
            )
        })
    }
}

/// The earnings calendar: the provider's (cached), the stored one, and a ticker's reports
/// around the as-of.
#[derive(Clone, Copy)]
pub struct CalendarService<'a> {
    app: &'a App,
}

impl App {
    /// The earnings calendar.
    pub fn calendar(&self) -> CalendarService<'_> {
        CalendarService { app: self }
    }
}

impl CalendarService<'_> {
    /// The window `from..=to` of a request: `from` defaults to the as-of date, `to` to `from`
    /// plus `days` (default `scan.days`); the one default of every surface.
    ///
    /// # Errors
    /// [`AppError::InvalidWindow`] when `to` is before `from` or the window is longer than
    /// [`MAX_WINDOW_DAYS`].
    pub fn resolve_window(
        self,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        days: Option<u32>,
    ) -> Result<(NaiveDate, NaiveDate), AppError> {
        let from = from.unwrap_or_else(|| self.app.as_of_date());
        let days = days.unwrap_or(self.app.config.scan.days);
        let to = to.unwrap_or(from + Duration::days(i64::from(days)));
        let invalid = |reason: String| AppError::InvalidWindow { from, to, reason };
        if to < from {
            return Err(invalid("the last date is before the first".into()));
        }
        if (to - from).num_days() > MAX_WINDOW_DAYS {
            return Err(invalid(format!("longer than {MAX_WINDOW_DAYS} days")));
        }
        Ok((from, to))
    }

    /// The upcoming calendar of the provider, `from..=to` (cached).
    ///
    /// # Errors
    /// [`AppError::Market`] when the calendar cannot be read.
    pub async fn window(
        self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRecord>, AppError> {
        let cal = self.app.market.calendar.clone();
        Ok(self
            .app
            .cached(
                &format!("calendar:{from}:{to}"),
                self.app.config.cache.calendar_secs,
                "earnings calendar",
                move || async move { cal.calendar(from, to).await },
            )
            .await?
            .value)
    }

    /// What the calendar says of `ticker` around the as-of: its latest report already out (see
    /// [`report_out`], within the last [`REPORTED_LOOKBACK_DAYS`]) and its reports not yet
    /// out (within [`EVENT_HORIZON_DAYS`], or up to `until`).
    ///
    /// # Errors
    /// [`AppError::Market`] when the calendar cannot be read.
    pub async fn report_status(
        self,
        ticker: &str,
        until: Option<NaiveDate>,
    ) -> Result<ReportStatus, AppError> {
        let today = self.app.as_of_date();
        let as_of = self.app.as_of();
        let from = today - Duration::days(REPORTED_LOOKBACK_DAYS);
        let to = (today + Duration::days(EVENT_HORIZON_DAYS)).max(until.unwrap_or(today));
        let mut events: Vec<EarningsEvent> = self
            .window(from, to)
            .await?
            .iter()
            .filter(|r| r.ticker == ticker)
            .map(|r| r.event)
            .collect();
        events.sort_by_key(|e| e.date);
        events.dedup_by_key(|e| e.date);
        let (out, ahead): (Vec<EarningsEvent>, Vec<EarningsEvent>) =
            events.iter().partition(|e| report_out(e, as_of));
        Ok(ReportStatus {
            reported: out.last().copied(),
            upcoming: ahead,
        })
    }

    /// Fetches the provider's calendar for `from..=to` and upserts it (tickers and events).
    /// Returns the number of events written.
    ///
    /// # Errors
    /// [`AppError`] when the provider or the store fails.
    pub async fn sync(self, from: NaiveDate, to: NaiveDate) -> Result<u64, AppError> {
        let cal = self
            .app
            .market
            .calendar
            .calendar(from, to)
            .await
            .map_err(|e| AppError::market("earnings calendar", e))?;
        // What changed since the last sync: alerts, and a moved report leaves its old date.
        let stored = self.app.store.earnings_between(from, to).await?;
        let changes = crate::alerts::calendar_changes(&stored, &cal, Utc::now());
        let written = self.store_records(&cal, self.app.market.source).await?;
        for (ticker, old) in &changes.moved_from {
            self.app.store.delete_earnings_event(ticker, *old).await?;
        }
        self.app.alerts().record_quietly(&changes.alerts).await;
        Ok(written)
    }

    /// Upserts calendar records (their tickers first, names kept) tagged with `source`; returns
    /// the number of events written.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub(crate) async fn store_records(
        self,
        records: &[EarningsRecord],
        source: &str,
    ) -> Result<u64, AppError> {
        let mut tickers: Vec<TickerRow> = records
            .iter()
            .map(|r| TickerRow {
                name: r.name.clone(),
                ..TickerRow::new(r.ticker.clone())
            })
            .collect();
        tickers.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        tickers.dedup_by(|a, b| a.symbol == b.symbol);
        self.app.store.upsert_tickers(&tickers).await?;
        let rows: Vec<EarningsRow> = records
            .iter()
            .map(|r| EarningsRow {
                ticker: r.ticker.clone(),
                report_date: r.event.date,
                timing: r.event.timing,
                source: source.to_string(),
                fiscal_date_ending: None,
            })
            .collect();
        Ok(self.app.store.upsert_earnings_events(&rows).await?)
    }

    /// Stored events in `from..=to`.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn stored(
        self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRow>, AppError> {
        Ok(self.app.store.earnings_between(from, to).await?)
    }
}
