//! SQLite backend: the default, one file (`./ivcrush.db`) in WAL mode.

use crate::admin::{MigrationStatus, OpenMode};
use crate::error::StoreError as OpenError;
use crate::model::Backend as B;
use log::LevelFilter;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteLockingMode, SqlitePool,
    SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
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
    /// Held while migrating: processes starting together on a new file would each apply the
    /// first migration (sqlx's SQLite migrator takes no lock, unlike PostgreSQL's advisory
    /// lock), so they go one at a time and the later ones find the schema current.
    pub(crate) async fn migration_guard(&self) -> Result<Option<std::fs::File>, OpenError> {
        crate::lead::lock_beside(self.file.as_deref(), "migrate").await
    }

    /// [`Store::try_lead`](crate::Store::try_lead): an exclusive lock on a file beside the
    /// database (`<file>.<job>.lead`); an in-memory database always leads.
    #[allow(
        clippy::unused_async,
        reason = "the Store macro awaits every backend alike"
    )]
    pub(crate) async fn try_lead_here(&self, job: &str) -> Result<Option<crate::Lead>, OpenError> {
        crate::lead::try_lead_file(job, self.file.as_deref())
    }

    /// Opens `url` (`sqlite://path`, `sqlite:path`, `sqlite::memory:` or a plain path) and
    /// applies the migrations.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`](crate::StoreError::InvalidUrl), `Connect` or `Migrate`.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        Self::open_with(url, OpenMode::Migrate).await
    }

    /// Opens `url` as `mode` says (see [`OpenMode`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`](crate::StoreError::InvalidUrl), `Missing`, `Connect` or
    /// `Migrate`.
    pub async fn open_with(url: &str, mode: OpenMode) -> Result<Self, OpenError> {
        Self::open_pooled(url, mode, crate::DEFAULT_POOL_SIZE).await
    }

    /// [`SqliteStore::open_with`] with a pool of at most `max_connections` (SQLite writes one
    /// at a time whatever the pool; more connections serve more concurrent reads).
    ///
    /// # Errors
    /// As [`SqliteStore::open_with`].
    pub async fn open_pooled(
        url: &str,
        mode: OpenMode,
        max_connections: u32,
    ) -> Result<Self, OpenError> {
        let (options, in_memory) = options_of(url)?;
        Self::connect_pooled(options, in_memory, mode, max_connections).await
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
        Self::connect_with_mode(options, in_memory, OpenMode::Migrate).await
    }

    /// [`SqliteStore::connect_with`] as `mode` says.
    ///
    /// # Errors
    /// `Missing` (with [`OpenMode::Existing`]), `Connect` or `Migrate`.
    pub async fn connect_with_mode(
        options: SqliteConnectOptions,
        in_memory: bool,
        mode: OpenMode,
    ) -> Result<Self, OpenError> {
        Self::connect_pooled(options, in_memory, mode, crate::DEFAULT_POOL_SIZE).await
    }

    async fn connect_pooled(
        options: SqliteConnectOptions,
        in_memory: bool,
        mode: OpenMode,
        max_connections: u32,
    ) -> Result<Self, OpenError> {
        let file = (!in_memory).then(|| options.get_filename().to_path_buf());
        if let (Some(f), false) = (&file, mode.creates()) {
            // Checked here rather than left to SQLite, whose "unable to open database file"
            // does not say that the file is missing.
            if !f.is_file() {
                return Err(OpenError::Missing {
                    backend: B::Sqlite,
                    at: f.display().to_string(),
                });
            }
        }
        let options = options
            .create_if_missing(mode.creates())
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            // Statements (with their full SQL) are a trace-level matter, a slow one a debug
            // one: a default run's stderr stays free of SQL.
            .log_statements(LevelFilter::Trace)
            .log_slow_statements(LevelFilter::Debug, SLOW_STATEMENT);
        // Opening an existing database for a look must not change it: WAL is a persistent
        // setting that an ordinary open already made.
        let options = if mode == OpenMode::Existing {
            options
        } else {
            options.journal_mode(SqliteJournalMode::Wal)
        };
        let pool_options = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(max_connections.max(1))
        };
        // A process opening the file while another is switching it to WAL (two processes
        // starting together on a new database) can get SQLITE_BUSY from the first connection's
        // setup, where SQLite's busy handler does not always apply: retried for up to the busy
        // timeout, then reported.
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(20);
        let pool = loop {
            match pool_options.clone().connect_with(options.clone()).await {
                Ok(pool) => break pool,
                Err(source) if is_busy(&source) && started.elapsed() < BUSY_TIMEOUT => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_millis(500));
                }
                Err(source) => {
                    return Err(OpenError::Connect {
                        backend: B::Sqlite,
                        at: file
                            .as_ref()
                            .map_or_else(|| "memory".to_string(), |f| f.display().to_string()),
                        source,
                    });
                }
            }
        };
        let store = SqliteStore { pool, file };
        if mode.migrates() {
            store.migrate_if_behind().await?;
        }
        Ok(store)
    }

    /// Checks that `file` is an ivcrush database (without changing it): `PRAGMA
    /// integrity_check` answers `ok` and the migrations table is there. Returns its
    /// migrations compared with this binary's.
    ///
    /// # Errors
    /// [`StoreError::Missing`](crate::StoreError::Missing),
    /// [`StoreError::NotIvcrush`](crate::StoreError::NotIvcrush) naming what is wrong.
    pub async fn inspect_file(file: &Path) -> Result<MigrationStatus, OpenError> {
        let at = file.display().to_string();
        if !file.is_file() {
            return Err(OpenError::Missing {
                backend: B::Sqlite,
                at,
            });
        }
        let not_ivcrush = |reason: String| OpenError::NotIvcrush {
            at: at.clone(),
            reason,
        };
        let options = SqliteConnectOptions::new()
            .filename(file)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| not_ivcrush(e.to_string()))?;
        let store = SqliteStore {
            pool,
            file: Some(file.to_path_buf()),
        };
        let checked: Result<MigrationStatus, OpenError> = async {
            let answers: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&store.pool)
                .await
                .map_err(|e| not_ivcrush(format!("integrity check failed: {e}")))?;
            if answers != ["ok"] {
                return Err(not_ivcrush(format!(
                    "integrity check: {}",
                    answers.join("; ")
                )));
            }
            if !store.table_exists(crate::sql::MIGRATIONS_TABLE).await? {
                return Err(not_ivcrush("it has no migrations table".to_string()));
            }
            crate::Store::migration_status(&store).await
        }
        .await;
        store.close().await;
        checked
    }

    /// Makes sure no other connection has `file` open and folds its write-ahead log into the
    /// file, so that the file alone is the whole database (before it is copied or replaced).
    /// In WAL mode every open connection holds a shared lock on the file, even when idle: an
    /// exclusive lock taken without waiting fails while another process has it open.
    ///
    /// # Errors
    /// [`StoreError::InUse`](crate::StoreError::InUse) when another connection has it open;
    /// `Missing`, `Connect` or `Query` otherwise.
    pub async fn quiesce(file: &Path) -> Result<(), OpenError> {
        let at = file.display().to_string();
        if !file.is_file() {
            return Err(OpenError::Missing {
                backend: B::Sqlite,
                at,
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(false)
            .busy_timeout(Duration::ZERO)
            .locking_mode(SqliteLockingMode::Exclusive);
        let mut conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(|source| in_use_or(source, &at))?;
        let outcome = async {
            sqlx::query("BEGIN EXCLUSIVE")
                .execute(&mut conn)
                .await
                .map_err(|source| in_use_or(source, &at))?;
            sqlx::query("COMMIT")
                .execute(&mut conn)
                .await
                .map_err(StoreError::query("quiesce", "commit"))?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await
                .map_err(StoreError::query("quiesce", "wal_checkpoint"))?;
            Ok(())
        }
        .await;
        conn.close().await.ok();
        outcome
    }
    /// Puts `file` in WAL mode, as an ordinary open does, changing nothing else (a copy made
    /// by `VACUUM INTO` is in rollback-journal mode). In WAL mode every open connection holds
    /// a lock, even when idle, which is what [`SqliteStore::quiesce`] detects.
    ///
    /// # Errors
    /// `Connect` when the file cannot be opened.
    pub async fn use_wal(file: &Path) -> Result<(), OpenError> {
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal);
        let conn = SqliteConnection::connect_with(&options)
            .await
            .map_err(|source| OpenError::Connect {
                backend: B::Sqlite,
                at: file.display().to_string(),
                source,
            })?;
        conn.close().await.ok();
        Ok(())
    }

    /// The connection pool (for tools and tests; prefer the [`Store`](crate::Store) methods).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish (checkpoints the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether `table` exists.
    async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(table)
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::query("table_exists", table.to_string()))?;
        Ok(found.is_some())
    }

    /// `VACUUM INTO dest`: a consistent, compact copy taken in one read transaction, so writers
    /// carry on meanwhile. SQLite refuses a `dest` that exists.
    async fn backup_file(&self, dest: &Path) -> Result<(), StoreError> {
        let dest_text = dest.to_str().ok_or_else(|| StoreError::InvalidInput {
            what: "backup file",
            reason: format!("{} is not valid UTF-8", dest.display()),
        })?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest_text)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(
                "backup",
                format!("into {}", dest.display()),
            ))?;
        Ok(())
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

/// The options and whether the database is in memory, for `url`.
fn options_of(url: &str) -> Result<(SqliteConnectOptions, bool), OpenError> {
    let url = url.trim();
    let options = if url.starts_with("sqlite:") {
        SqliteConnectOptions::from_str(url).map_err(|e| OpenError::InvalidUrl {
            reason: format!("bad SQLite URL: {e}"),
        })?
    } else {
        SqliteConnectOptions::new().filename(url)
    };
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    Ok((options, in_memory))
}

/// The database file of `url`, `None` in memory.
pub(crate) fn file_of(url: &str) -> Result<Option<PathBuf>, OpenError> {
    let (options, in_memory) = options_of(url)?;
    Ok((!in_memory).then(|| options.get_filename().to_path_buf()))
}

/// Whether `source` is SQLite's "database is locked" (`SQLITE_BUSY` or `SQLITE_LOCKED`).
fn is_busy(source: &sqlx::Error) -> bool {
    source
        .as_database_error()
        .and_then(|e| e.code())
        .and_then(|code| code.parse::<i32>().ok())
        // The primary code is the low byte of an extended one: SQLITE_BUSY 5, SQLITE_LOCKED 6.
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

/// `InUse` for SQLite's "database is locked" (`SQLITE_BUSY`), else `Connect`.
fn in_use_or(source: sqlx::Error, at: &str) -> OpenError {
    if is_busy(&source) {
        OpenError::InUse {
            backend: B::Sqlite,
            at: at.to_string(),
        }
    } else {
        OpenError::Connect {
            backend: B::Sqlite,
            at: at.to_string(),
            source,
        }
    }
}

crate::sql::impl_store!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    Backend::Sqlite
);
