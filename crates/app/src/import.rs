//! Import of files: earnings calendars and daily bars into the store, option-chain snapshots into
//! the files provider's directory (`files.dir/chains/`), where `--provider files` and its
//! backtests read them at their dates.
//!
//! Bad rows are reported (file, line, reason) and skipped; the good rows are written in one
//! transaction per table, so a failing write changes nothing, and rows already stored that the
//! file does not mention are left alone.

use crate::context::App;
use crate::error::AppError;
use ivcrush_market::RowError;
use ivcrush_market::files::{chains_csv_text, load_bars_csv, load_calendar_csv, load_chains_csv};
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

    /// Imports option-chain snapshots (the `chains.csv` format: `as_of,underlying,spot,
    /// expiration,strike,type,bid,ask,…`): the good rows are written to a new file in
    /// `files.dir/chains/` (named after the imported file; never overwriting one), where the
    /// files provider reads every snapshot at its as-of.
    ///
    /// # Errors
    /// [`AppError`] when the file cannot be read or the directory cannot be written.
    pub async fn chains(self, path: &Path) -> Result<ImportOutcome, AppError> {
        let loaded = load_chains_csv(path)
            .map_err(|e| AppError::market(format!("import {}", path.display()), e))?;
        let dir = self.app.config.files.dir.join("chains");
        let io = |what: String, e: std::io::Error| AppError::InvalidFile {
            path: dir.display().to_string(),
            reason: format!("{what}: {e}"),
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create it".into(), e))?;
        let stem = path
            .file_stem()
            .map_or_else(|| "chains".into(), |s| s.to_string_lossy().into_owned());
        let target = (0..)
            .map(|n| {
                dir.join(if n == 0 {
                    format!("{stem}.csv")
                } else {
                    format!("{stem}-{n}.csv")
                })
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| dir.join(format!("{stem}.csv")));
        // A temporary file renamed into place: the provider never reads half a file.
        let tmp = target.with_extension("csv.tmp");
        std::fs::write(&tmp, chains_csv_text(&loaded.rows))
            .map_err(|e| io(format!("cannot write {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &target)
            .map_err(|e| io(format!("cannot create {}", target.display()), e))?;
        Ok(ImportOutcome {
            stored: loaded.rows.len() as u64,
            rejected: loaded.errors,
        })
    }
}
