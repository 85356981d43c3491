//! SQLite backend: the default, one file (`./ivcrush.db`) in WAL mode.

use crate::error::StoreError as OpenError;
use crate::model::Backend as B;
use log::LevelFilter;
use sqlx::ConnectOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for the database lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A statement slower than this is logged (at debug level).
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// A [`Store`](crate::Store) on SQLite.
///
/// Connections run with `journal_mode=WAL` (readers never block the writer),
/// `synchronous=NORMAL` (durable at checkpoints, never corrupt), `foreign_keys=ON` and a
/// 5 s busy timeout; the file is created when missing.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The database file (`None` in memory), checked for writability by `ping`.
    file: Option<std::path::PathBuf>,
}

impl SqliteStore {
    /// Opens `url` (`sqlite://path`, `sqlite:path`, `sqlite::memory:` or a plain path) and
    /// applies the migrations.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`](crate::StoreError::InvalidUrl), `Connect` or `Migrate`.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let url = url.trim();
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).map_err(|e| OpenError::InvalidUrl {
                reason: format!("bad SQLite URL: {e}"),
            })?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        Self::connect_with(options, in_memory).await
    }

    /// Opens a database with explicit options (the pragmas above are applied on top).
    ///
    /// An in-memory database lives in one connection, so `in_memory` caps the pool at one
    /// connection that is never recycled.
    ///
    /// # Errors
    /// `Connect` or `Migrate`.
    pub async fn connect_with(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<Self, OpenError> {
        let file = (!in_memory).then(|| options.get_filename().to_path_buf());
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Statements (with their full SQL) are a trace-level matter, a slow one a debug
            // one: a default run's stderr stays free of SQL.
            .log_statements(LevelFilter::Trace)
            .log_slow_statements(LevelFilter::Debug, SLOW_STATEMENT);
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(8)
        }
        .connect_with(options)
        .await
        .map_err(|source| OpenError::Connect {
            backend: B::Sqlite,
            at: file
                .as_ref()
                .map_or_else(|| "memory".to_string(), |f| f.display().to_string()),
            source,
        })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| OpenError::Migrate {
                backend: B::Sqlite,
                source,
            })?;
        Ok(SqliteStore { pool, file })
    }

    /// The connection pool (for tools and tests; prefer the [`Store`](crate::Store) methods).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish (checkpoints the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Why writes would be refused, found without writing: SQLite opens a file it may not
    /// write read-only and fails only at the first write, so the file is opened for writing
    /// (which changes nothing) to ask the operating system.
    async fn read_only_reason(&self) -> Result<Option<String>, StoreError> {
        let Some(file) = &self.file else {
            return Ok(None);
        };
        Ok(std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .err()
            .map(|e| format!("{}: {e}", file.display())))
    }
}

crate::sql::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    Backend::Sqlite
);
