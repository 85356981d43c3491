//! Earnings calendar: sync from the provider into the store, list from the store.

use crate::context::App;
use crate::error::AppError;
use chrono::NaiveDate;
use ivcrush_market::EarningsRecord;
use ivcrush_store::{EarningsRow, TickerRow};

impl App {
    /// Fetches the provider's calendar for `from..=to` and upserts it (tickers and events).
    /// Returns the number of events written.
    ///
    /// # Errors
    /// [`AppError`] when the provider or the store fails.
    pub async fn sync_calendar(&self, from: NaiveDate, to: NaiveDate) -> Result<u64, AppError> {
        let cal = self
            .market
            .calendar
            .calendar(from, to)
            .await
            .map_err(|e| AppError::market("earnings calendar", e))?;
        self.store_calendar(&cal, self.market.source).await
    }

    /// Upserts calendar records (their tickers first, names kept) tagged with `source`; returns
    /// the number of events written.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub(crate) async fn store_calendar(
        &self,
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
        self.store.upsert_tickers(&tickers).await?;
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
        Ok(self.store.upsert_earnings_events(&rows).await?)
    }

    /// Stored events in `from..=to`.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn list_calendar(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRow>, AppError> {
        Ok(self.store.earnings_between(from, to).await?)
    }
}
