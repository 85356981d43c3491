//! The [`Store`] trait and [`open_store`], which picks a backend from a URL.

use crate::admin::{Migration, MigrationStatus, OpenMode, Pruned, TableCount};
use crate::error::StoreError;
use crate::lead::Lead;
use crate::model::{
    AlertRow, AnalysisFilter, Backend, CacheEntry, DeliveryOutcome, EarningsRow, NewAlert,
    NewAnalysis, Progress, ScoreRow, StoredAnalysis, TickerRow,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::Bar;
use ivcrush_core::moves::HistoricalMove;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Persistent storage of ivcrush: calendar, bars, moves, analyses, L2 cache, job progress.
///
/// Object safe: services hold an `Arc<dyn Store>`. Every multi-row write runs in one
/// transaction, so a failing batch leaves what was stored untouched. Upserts are idempotent:
/// writing the same rows twice changes nothing. Prices are in the instrument's currency,
/// percents in percent units (5.12 means 5.12 %), dates are session dates.
///
/// # Errors
/// Every method returns [`StoreError::Query`] (naming the operation and ticker or key) when a
/// statement fails, [`StoreError::Decode`] (naming the table and key) when a stored row cannot
/// be read back, and [`StoreError::InvalidInput`] for values the schema cannot hold.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Which engine this is.
    fn backend(&self) -> Backend;

    /// Takes the lead of `job` (e.g. the scheduled scan) among the processes sharing this
    /// database, unless another holds it (`None`). The lead is held until the [`Lead`] is
    /// dropped or the process dies; check [`Lead::still_held`] before acting on an old one.
    async fn try_lead(&self, job: &str) -> Result<Option<Lead>, StoreError>;

    /// Health probe: `SELECT 1` and whether writes would be accepted, found without writing
    /// (readiness probes run every few seconds and must not write; see the backends).
    /// Cheap; call it with a timeout.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts or updates tickers (name and sector are overwritten when given, kept when
    /// `None`). Returns the number of rows in the batch written.
    async fn upsert_tickers(&self, tickers: &[TickerRow]) -> Result<u64, StoreError>;

    /// All tickers, by symbol.
    async fn tickers(&self) -> Result<Vec<TickerRow>, StoreError>;

    /// Inserts or updates earnings events, unique per `(ticker, report_date)`: a second write
    /// of the same report updates its timing, source and fiscal date. Missing tickers are
    /// created. Returns the number of rows in the batch written.
    async fn upsert_earnings_events(&self, events: &[EarningsRow]) -> Result<u64, StoreError>;

    /// Events with `from <= report_date <= to`, by date then ticker.
    async fn earnings_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<EarningsRow>, StoreError>;

    /// All events of one ticker, oldest first.
    async fn earnings_for(&self, ticker: &str) -> Result<Vec<EarningsRow>, StoreError>;

    /// Inserts or replaces daily bars of one ticker (keyed by date). Returns the batch size.
    async fn upsert_bars(
        &self,
        ticker: &str,
        bars: &[Bar],
        source: &str,
    ) -> Result<u64, StoreError>;

    /// Bars with `from <= date <= to`, oldest first.
    async fn bars(
        &self,
        ticker: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, StoreError>;

    /// Date of the newest stored bar, `None` without bars.
    async fn latest_bar_date(&self, ticker: &str) -> Result<Option<NaiveDate>, StoreError>;

    /// Inserts or updates historical moves of one ticker (keyed by report date). Moves of
    /// other report dates are kept. Returns the batch size.
    async fn upsert_historical_moves(
        &self,
        ticker: &str,
        moves: &[HistoricalMove],
    ) -> Result<u64, StoreError>;

    /// Replaces all historical moves of one ticker with `moves`, atomically.
    async fn replace_historical_moves(
        &self,
        ticker: &str,
        moves: &[HistoricalMove],
    ) -> Result<u64, StoreError>;

    /// Historical moves of one ticker, oldest report first.
    async fn historical_moves(&self, ticker: &str) -> Result<Vec<HistoricalMove>, StoreError>;

    /// Stores one analysis row, replacing the run's row of the same ticker (a job processed
    /// twice stores its ticker once); returns its ID (the first row's when replaced).
    async fn insert_analysis(&self, row: &NewAnalysis) -> Result<i64, StoreError>;

    /// Stores analysis rows in one transaction, each as [`Store::insert_analysis`] does;
    /// returns their IDs in input order.
    async fn insert_analyses(&self, rows: &[NewAnalysis]) -> Result<Vec<i64>, StoreError>;

    /// Scores and tiers of the analyses stored at or after `since` by runs other than
    /// `except_run`, newest first, at most `limit` (key columns only: cheap on a large table).
    async fn latest_scores(
        &self,
        since: DateTime<Utc>,
        except_run: &str,
        limit: u32,
    ) -> Result<Vec<ScoreRow>, StoreError>;

    /// Newest rows first (by `created_at`, then ID) matching the filter.
    async fn latest_analyses(
        &self,
        filter: &AnalysisFilter,
    ) -> Result<Vec<StoredAnalysis>, StoreError>;

    /// The newest `limit` rows of one ticker, newest first.
    async fn analysis_history(
        &self,
        ticker: &str,
        limit: u32,
    ) -> Result<Vec<StoredAnalysis>, StoreError>;

    /// All rows of one run, in insertion order.
    async fn analyses_for_run(&self, run_id: &str) -> Result<Vec<StoredAnalysis>, StoreError>;

    /// How many analyses a run has stored (one per ticker: a ticker stored again replaces its
    /// row), without reading them.
    async fn count_analyses_for_run(&self, run_id: &str) -> Result<u64, StoreError>;

    /// Deletes one stored report (a report the calendar has moved); the rows deleted.
    async fn delete_earnings_event(
        &self,
        ticker: &str,
        report_date: NaiveDate,
    ) -> Result<u64, StoreError>;

    /// Stores `alert` unless one with its key exists; its ID when new.
    async fn insert_alert(&self, alert: &NewAlert) -> Result<Option<i64>, StoreError>;

    /// Alerts raised at or after `since`, newest first, at most `limit`.
    async fn alerts(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<AlertRow>, StoreError>;

    /// Alerts raised at or after `since` that `endpoint` has not been sent, nor claimed since
    /// `stale_before`, oldest first, at most `limit`.
    async fn undelivered_alerts(
        &self,
        endpoint: &str,
        since: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<AlertRow>, StoreError>;

    /// Claims alert `id` for `endpoint`: true for the one caller that may send it, across
    /// processes. A claim older than `stale_before` still `sending` (its process died
    /// mid-delivery) is taken over: the alert is sent again with the same idempotency key.
    async fn claim_delivery(
        &self,
        id: i64,
        endpoint: &str,
        stale_before: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives a claimed delivery back (nothing reached the endpoint; a later round retries it).
    async fn release_delivery(&self, id: i64, endpoint: &str) -> Result<(), StoreError>;

    /// Records how a claimed delivery ended.
    async fn finish_delivery(
        &self,
        id: i64,
        endpoint: &str,
        outcome: DeliveryOutcome,
        attempts: u32,
        error: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The L2 cache entry of `key`, expired or not.
    async fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, StoreError>;

    /// Writes (or overwrites) the L2 cache entry of `key`.
    async fn cache_put(&self, key: &str, entry: &CacheEntry) -> Result<(), StoreError>;

    /// Deletes entries with `expires_at < before`; returns how many. The cache passes
    /// `now - grace` so that expired entries stay available for stale reads for a while.
    async fn cache_purge_expired(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Records that job `kind` for `ticker` is complete through `completed_through`
    /// (inclusive). Progress never moves backwards: an older date is ignored. Moving it forward
    /// clears a recorded coverage start ([`Progress::covered_from`]): the dates in between are
    /// not known to be covered.
    async fn mark_progress(
        &self,
        ticker: &str,
        kind: &str,
        completed_through: NaiveDate,
    ) -> Result<(), StoreError>;

    /// The recorded progress of job `kind` for `ticker`, with its coverage
    /// ([`Progress::coverage`]) when one was recorded.
    async fn get_progress(&self, ticker: &str, kind: &str) -> Result<Option<Progress>, StoreError>;

    /// Records that job `kind` for `ticker` covers exactly `covered_from..=covered_through`
    /// (both inclusive), replacing what was recorded, wider or narrower: the caller computes
    /// the new range from the one it read (e.g. the union with what it just fetched) and
    /// writes it last, after the data it describes.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] when `covered_from > covered_through`.
    async fn set_coverage(
        &self,
        ticker: &str,
        kind: &str,
        covered_from: NaiveDate,
        covered_through: NaiveDate,
    ) -> Result<(), StoreError>;

    /// The schema's migrations compared with those this binary carries, read without
    /// writing (a database without the migrations table has every migration pending).
    async fn migration_status(&self) -> Result<MigrationStatus, StoreError>;

    /// Applies the pending migrations; returns those applied (none when up to date).
    ///
    /// # Errors
    /// [`StoreError::Migrate`] (e.g. the database was migrated by a newer version).
    async fn migrate(&self) -> Result<Vec<Migration>, StoreError>;

    /// Rows of each main table (calendar, bars, moves, analyses, cache, job progress); a table
    /// that does not exist yet counts `None`.
    async fn table_counts(&self) -> Result<Vec<TableCount>, StoreError>;

    /// Deletes, in one transaction, the analyses created before `cutoff` and the cache entries
    /// that expired before it; with `dry_run` the transaction is rolled back and only the
    /// counts are returned. Earnings events, bars, historical moves, tickers and job progress
    /// are history the analysis needs and are never deleted.
    async fn prune(&self, cutoff: DateTime<Utc>, dry_run: bool) -> Result<Pruned, StoreError>;

    /// Writes a consistent copy of the database to the new file `dest` while it stays in use
    /// (SQLite: `VACUUM INTO`).
    ///
    /// # Errors
    /// [`StoreError::Unsupported`] on PostgreSQL (use `pg_dump`); [`StoreError::Query`] when
    /// `dest` exists or cannot be written.
    async fn backup_to(&self, dest: &Path) -> Result<(), StoreError>;
}

/// Opens (creating and migrating as needed) the store named by `url`.
///
/// - `postgres://…` or `postgresql://…` → PostgreSQL;
/// - `sqlite://path`, `sqlite:path`, `sqlite::memory:` or a plain file path → SQLite (the file
///   is created when missing).
///
/// Migrations are applied on open; opening an up-to-date database is a no-op.
///
/// # Errors
/// [`StoreError::InvalidUrl`], [`StoreError::Connect`] or [`StoreError::Migrate`].
pub async fn open_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    open_store_with(url, OpenMode::Migrate).await
}

/// Opens the store named by `url` as `mode` says: [`OpenMode::Migrate`] is [`open_store`];
/// [`OpenMode::Existing`] neither creates nor migrates (a missing SQLite file is
/// [`StoreError::Missing`], and a PostgreSQL server is tried once).
///
/// # Errors
/// [`StoreError::InvalidUrl`], [`StoreError::Missing`], [`StoreError::Connect`] or
/// [`StoreError::Migrate`].
pub async fn open_store_with(url: &str, mode: OpenMode) -> Result<Arc<dyn Store>, StoreError> {
    open_store_pooled(url, mode, DEFAULT_POOL_SIZE).await
}

/// Connections a store's pool holds at most unless configured (`database_pool_size`).
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// [`open_store_with`] with a pool of at most `max_connections` (at least 1).
///
/// # Errors
/// As [`open_store_with`].
pub async fn open_store_pooled(
    url: &str,
    mode: OpenMode,
    max_connections: u32,
) -> Result<Arc<dyn Store>, StoreError> {
    match classify_url(url)? {
        Backend::Sqlite => Ok(Arc::new(
            crate::sqlite::SqliteStore::open_pooled(url, mode, max_connections).await?,
        )),
        Backend::Postgres => Ok(Arc::new(
            crate::postgres::PgStore::open_pooled(url, mode, max_connections).await?,
        )),
    }
}

/// The backend `url` names.
///
/// # Errors
/// [`StoreError::InvalidUrl`].
pub fn backend_of(url: &str) -> Result<Backend, StoreError> {
    classify_url(url)
}

/// The database file of a SQLite `url`; `None` for an in-memory database or another backend.
///
/// # Errors
/// [`StoreError::InvalidUrl`].
pub fn sqlite_file(url: &str) -> Result<Option<PathBuf>, StoreError> {
    match classify_url(url)? {
        Backend::Postgres => Ok(None),
        Backend::Sqlite => crate::sqlite::file_of(url),
    }
}

/// Which backend a URL names.
pub(crate) fn classify_url(url: &str) -> Result<Backend, StoreError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(StoreError::InvalidUrl {
            reason: "empty".to_string(),
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Backend::Postgres);
    }
    if url.starts_with("sqlite:") {
        return Ok(Backend::Sqlite);
    }
    match url.split_once("://") {
        Some((scheme, _)) => Err(StoreError::InvalidUrl {
            reason: format!("unsupported scheme {scheme:?} (expected sqlite or postgres)"),
        }),
        None => Ok(Backend::Sqlite),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            classify_url("sqlite://ivcrush.db").ok(),
            Some(Backend::Sqlite)
        );
        assert_eq!(classify_url("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(classify_url("./data/x.db").ok(), Some(Backend::Sqlite));
        assert_eq!(
            classify_url("postgres://u:p@h/db").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            classify_url("postgresql://h/db").ok(),
            Some(Backend::Postgres)
        );
    }

    #[test]
    fn unknown_scheme_is_rejected_without_echoing_the_url() {
        let err = classify_url("mysql://root:secret@h/db").expect_err("unsupported");
        let msg = err.to_string();
        assert!(msg.contains("mysql"), "{msg}");
        assert!(!msg.contains("secret"), "{msg}");
        assert!(classify_url("  ").is_err());
    }
}
