//! Import of files into the store: earnings calendars and daily bars.
//!
//! Bad rows are reported (file, line, reason) and skipped; the good rows are written in one
//! transaction per table, so a failing write changes nothing, and rows already stored that the
//! file does not mention are left alone.

use crate::context::App;
use crate::error::AppError;
use ivcrush_market::RowError;
use ivcrush_market::files::{load_bars_csv, load_calendar_csv};
use ivcrush_store::TickerRow;
use std::collections::BTreeMap;
use std::path::Path;

/// What an import did.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOutcome {
    /// Rows written.
    pub stored: u64,
    /// Rows rejected, with file, line and reason.
    pub rejected: Vec<RowError>,
}

/// Import of files into the store.
#[derive(Clone, Copy)]
pub struct Importer<'a> {
    app: &'a App,
}

impl App {
    /// Import of files.
    pub fn importer(&self) -> Importer<'_> {
        Importer { app: self }
    }
}

impl Importer<'_> {
    /// Imports an earnings calendar CSV (`ticker,date,timing[,name]`).
    ///
    /// # Errors
    /// [`AppError`] when the file cannot be read or the store fails (nothing is written then).
    pub async fn calendar(self, path: &Path) -> Result<ImportOutcome, AppError> {
        let loaded = load_calendar_csv(path)
            .map_err(|e| AppError::market(format!("import {}", path.display()), e))?;
        let stored = self
            .app
            .calendar()
            .store_records(&loaded.rows, "files")
            .await?;
        Ok(ImportOutcome {
            stored,
            rejected: loaded.errors,
        })
    }

    /// Imports daily bars CSV (`ticker,date,open,high,low,close,volume`).
    ///
    /// # Errors
    /// [`AppError`] when the file cannot be read or the store fails.
    pub async fn bars(self, path: &Path) -> Result<ImportOutcome, AppError> {
        let loaded = load_bars_csv(path)
            .map_err(|e| AppError::market(format!("import {}", path.display()), e))?;
        let mut by_ticker: BTreeMap<&str, Vec<ivcrush_core::Bar>> = BTreeMap::new();
        for r in &loaded.rows {
            by_ticker.entry(&r.ticker).or_default().push(r.bar);
        }
        let tickers: Vec<TickerRow> = by_ticker.keys().map(|t| TickerRow::new(*t)).collect();
        self.app.store.upsert_tickers(&tickers).await?;
        let mut stored = 0;
        for (t, bars) in &by_ticker {
            stored += self.app.store.upsert_bars(t, bars, "files").await?;
        }
        Ok(ImportOutcome {
            stored,
            rejected: loaded.errors,
        })
    }
}
