//! PostgreSQL backend: the shared store when several workers run (design.md, scale-out).

use crate::admin::OpenMode;
use crate::error::StoreError as OpenError;
use crate::model::Backend as B;
use log::LevelFilter;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A statement slower than this is logged (at debug level).
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// How many times [`PgStore::open`] tries to reach the server.
pub const OPEN_ATTEMPTS: u32 = 5;

/// `host:port/database` of `options`, for messages (never the password).
fn target(options: &PgConnectOptions) -> String {
    format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("(default database)")
    )
}

/// A [`Store`](crate::Store) on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) and applies the migrations.
    ///
    /// # Errors
    /// [`StoreError::InvalidUrl`](crate::StoreError::InvalidUrl) (the URL is not echoed: it
    /// may hold a password), `Connect` or `Migrate`.
    /// A server that is not reachable yet (a service started before its database, a failover
    /// in progress) is tried [`OPEN_ATTEMPTS`] times, waiting 0.5 s, then doubling (7.5 s in
    /// all), with a warning per failed attempt naming the server and the cause.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        Self::open_with(url, OpenMode::Migrate).await
    }

    /// Connects to `url` as `mode` says: [`OpenMode::Existing`] tries the server once (a
    /// health check answers now) and applies no migrations.
    ///
    /// # Errors
    /// As [`PgStore::open`].
    pub async fn open_with(url: &str, mode: OpenMode) -> Result<Self, OpenError> {
        Self::open_pooled(url, mode, crate::DEFAULT_POOL_SIZE).await
    }

    /// [`PgStore::open_with`] with a pool of at most `max_connections`.
    ///
    /// # Errors
    /// As [`PgStore::open`].
    pub async fn open_pooled(
        url: &str,
        mode: OpenMode,
        max_connections: u32,
    ) -> Result<Self, OpenError> {
        let options =
            PgConnectOptions::from_str(url.trim()).map_err(|_| OpenError::InvalidUrl {
                reason: "not a valid postgres:// URL".to_string(),
            })?;
        let attempts = if mode == OpenMode::Existing {
            1
        } else {
            OPEN_ATTEMPTS
        };
        let mut wait = Duration::from_millis(500);
        for attempt in 1..attempts {
            match Self::connect_pooled(options.clone(), mode, max_connections).await {
                Err(OpenError::Connect { at, source, .. }) => {
                    tracing::warn!(
                        database = %at,
                        attempt,
                        of = OPEN_ATTEMPTS,
                        retry_in_ms = wait.as_millis() as u64,
                        error = &source as &dyn std::error::Error,
                        "PostgreSQL not reachable yet"
                    );
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => return other,
            }
        }
        Self::connect_pooled(options, mode, max_connections).await
    }

    /// Connects with explicit options (e.g. a `search_path` via
    /// [`PgConnectOptions::options`]) and applies the migrations in that schema.
    ///
    /// # Errors
    /// `Connect` or `Migrate`.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, OpenError> {
        Self::connect_with_mode(options, OpenMode::Migrate).await
    }

    /// [`PgStore::connect_with`], applying the migrations only when `mode` says so (a server
    /// database is never created here, whatever the mode).
    ///
    /// # Errors
    /// `Connect` or `Migrate`.
    pub async fn connect_with_mode(
        options: PgConnectOptions,
        mode: OpenMode,
    ) -> Result<Self, OpenError> {
        Self::connect_pooled(options, mode, crate::DEFAULT_POOL_SIZE).await
    }

    async fn connect_pooled(
        options: PgConnectOptions,
        mode: OpenMode,
        max_connections: u32,
    ) -> Result<Self, OpenError> {
        // Statements (with their full SQL) are a trace-level matter, a slow one a debug one:
        // a default run's stderr stays free of SQL.
        let at = target(&options);
        // One direct connection first: the pool would only report that it timed out, hiding
        // why (connection refused, no such database, authentication failed).
        sqlx::PgConnection::connect_with(&options)
            .await
            .map_err(|source| OpenError::Connect {
                backend: B::Postgres,
                at: at.clone(),
                source,
            })?
            .close()
            .await
            .ok();
        let options = options
            .log_statements(LevelFilter::Trace)
            .log_slow_statements(LevelFilter::Debug, SLOW_STATEMENT);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| OpenError::Connect {
                backend: B::Postgres,
                at,
                source,
            })?;
        let store = PgStore { pool };
        if mode.migrates() {
            store.migrate_if_behind().await?;
        }
        Ok(store)
    }

    /// A store over `pool`, whose database is already migrated: nothing is checked or applied
    /// (tools and tests, e.g. over a read-only session that could not run the migrator).
    pub fn over_migrated_pool(pool: PgPool) -> PgStore {
        PgStore { pool }
    }

    /// Nothing to hold: sqlx's PostgreSQL migrator takes an advisory lock itself.
    #[allow(
        clippy::unused_async,
        reason = "the Store macro awaits every backend alike"
    )]
    pub(crate) async fn migration_guard(&self) -> Result<Option<std::fs::File>, OpenError> {
        Ok(None)
    }

    /// [`Store::try_lead`](crate::Store::try_lead): an advisory lock on a connection taken
    /// out of the pool (closed, releasing the lock, when the lead is dropped).
    pub(crate) async fn try_lead_here(&self, job: &str) -> Result<Option<crate::Lead>, OpenError> {
        let connection = self
            .pool
            .acquire()
            .await
            .map_err(OpenError::query("try_lead", format!("job {job}")))?
            .detach();
        crate::lead::try_lead_postgres(job, connection).await
    }

    /// The connection pool (for tools and tests; prefer the [`Store`](crate::Store) methods).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether `table` exists in the connection's search path.
    async fn table_exists(&self, table: &str) -> Result<bool, StoreError> {
        sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("table_exists", table.to_string()))
    }

    /// A server database is copied by the server's own tools, which know its roles, sequences
    /// and extensions.
    async fn backup_file(&self, _dest: &std::path::Path) -> Result<(), StoreError> {
        Err(StoreError::Unsupported {
            backend: B::Postgres,
            what: "a backup by ivcrush",
            hint: "use pg_dump (and pg_restore), or the server's continuous archiving",
        })
    }

    /// Why writes would be refused, asked without writing: a hot standby or a session that
    /// defaults to read-only transactions.
    async fn read_only_reason(&self) -> Result<Option<String>, StoreError> {
        let (read_only, in_recovery): (String, bool) =
            sqlx::query_as("SELECT current_setting('transaction_read_only'), pg_is_in_recovery()")
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query("ping", "transaction_read_only"))?;
        Ok(if in_recovery {
            Some("the server is a standby in recovery".to_string())
        } else if read_only == "on" {
            Some("transactions default to read-only (default_transaction_read_only = on)".into())
        } else {
            None
        })
    }
}

crate::sql::impl_store!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    Backend::Postgres
);
