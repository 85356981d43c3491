//! Test databases: a fresh SQLite file or PostgreSQL schema per test.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use ivcrush_core::Analysis;
use ivcrush_store::{
    OpenMode, PgStore, SqliteStore, Store, StoreError, open_store, open_store_with,
};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Runs each named case against SQLite and PostgreSQL.
///
/// The case runs in a spawned task so that a failing PostgreSQL case still drops its schema.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::common::TestDb::sqlite();
                    crate::common::run(db, super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = crate::common::TestDb::postgres(stringify!($name)).await else {
                        return;
                    };
                    crate::common::run(db, super::$name).await;
                }
            )*
        }
    };
}
pub(crate) use suite;

/// Runs `case` on `db`, cleans up, then re-raises a panic of the case.
pub async fn run<F, Fut>(db: TestDb, case: F)
where
    F: FnOnce(Arc<TestDb>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let db = Arc::new(db);
    let outcome = tokio::spawn(case(Arc::clone(&db))).await;
    db.cleanup().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A fresh, empty database for one test.
pub enum TestDb {
    /// A file in a temporary directory (deleted on drop).
    Sqlite {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    },
    /// A schema in the `DATABASE_URL` database.
    Postgres {
        options: Box<PgConnectOptions>,
        schema: String,
    },
}

static SEQ: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("ivcrush-test.db");
        TestDb::Sqlite { _dir: dir, path }
    }

    /// `None` (with a message) when `DATABASE_URL` is unset.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            eprintln!(
                "skipping postgres::{test}: DATABASE_URL is not set \
                 (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        let base = PgConnectOptions::from_str(&url).expect("DATABASE_URL is a postgres URL");
        let nanos = Utc::now().timestamp_subsec_nanos();
        let schema = format!(
            "ivcrush_test_{}_{}_{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::connect_with(&base)
            .await
            .expect("connect to DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .expect("create test schema");
        conn.close().await.ok();
        let options = base.options([("search_path", schema.as_str())]);
        Some(TestDb::Postgres {
            options: Box::new(options),
            schema,
        })
    }

    /// A name no other test's database has (the file name or the schema).
    pub fn name(&self) -> String {
        match self {
            TestDb::Sqlite { path, .. } => path.display().to_string().replace(['/', '.'], "_"),
            TestDb::Postgres { schema, .. } => schema.clone(),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, TestDb::Sqlite { .. })
    }

    /// Opens (and migrates) the store, as the application would.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            TestDb::Sqlite { path, .. } => open_store(&format!("sqlite://{}", path.display()))
                .await
                .expect("open sqlite store"),
            TestDb::Postgres { options, .. } => Arc::new(
                PgStore::connect_with((**options).clone())
                    .await
                    .expect("open postgres store"),
            ),
        }
    }

    /// Opens the store as `mode` says.
    pub async fn open_with(&self, mode: OpenMode) -> Result<Arc<dyn Store>, StoreError> {
        match self {
            TestDb::Sqlite { path, .. } => {
                open_store_with(&format!("sqlite://{}", path.display()), mode).await
            }
            TestDb::Postgres { options, .. } => {
                let store = PgStore::connect_with_mode((**options).clone(), mode).await?;
                Ok(Arc::new(store))
            }
        }
    }

    /// Runs raw statements in one transaction and commits (to plant rows the API refuses).
    pub async fn execute(&self, statements: &[&'static str]) {
        self.with_tx(statements, true).await;
    }

    /// Starts a transaction, runs the statements, and drops it without committing: what a
    /// writer killed mid-batch leaves behind.
    pub async fn abandon(&self, statements: &[&'static str]) {
        self.with_tx(statements, false).await;
    }

    async fn with_tx(&self, statements: &[&'static str], commit: bool) {
        match self {
            TestDb::Sqlite { path, .. } => {
                let store = SqliteStore::open(&path.display().to_string())
                    .await
                    .expect("open sqlite");
                let mut tx = store.pool().begin().await.expect("begin");
                for s in statements {
                    sqlx::query(*s).execute(&mut *tx).await.expect("statement");
                }
                if commit {
                    tx.commit().await.expect("commit");
                } else {
                    drop(tx);
                }
                store.close().await;
            }
            TestDb::Postgres { options, .. } => {
                let store = PgStore::connect_with((**options).clone())
                    .await
                    .expect("open postgres");
                let mut tx = store.pool().begin().await.expect("begin");
                for s in statements {
                    sqlx::query(*s).execute(&mut *tx).await.expect("statement");
                }
                if commit {
                    tx.commit().await.expect("commit");
                } else {
                    drop(tx);
                }
                store.close().await;
            }
        }
    }

    async fn cleanup(&self) {
        if let TestDb::Postgres { options, schema } = self {
            // search_path is irrelevant for DROP SCHEMA; reuse the options.
            if let Ok(mut conn) = PgConnection::connect_with(options).await {
                let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                {
                    eprintln!("could not drop test schema {schema}: {e}");
                }
                conn.close().await.ok();
            }
        }
    }
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

pub fn instant(s: &str) -> DateTime<Utc> {
    s.parse().expect("test instant")
}

/// The full analysis of the vendor-fixture AAPL market (generated by ivcrush-core).
pub fn fixture_analysis() -> Analysis {
    serde_json::from_str(include_str!("data/analysis_aapl.json")).expect("fixture analysis")
}

/// A settable clock for the cache.
#[derive(Clone)]
pub struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    pub fn at(s: &str) -> TestClock {
        TestClock(Arc::new(Mutex::new(instant(s))))
    }
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
    pub fn advance(&self, by: std::time::Duration) {
        let mut t = self.0.lock().expect("clock lock");
        *t += TimeDelta::from_std(by).expect("small duration");
    }
    pub fn as_fn(&self) -> impl Fn() -> DateTime<Utc> + Send + Sync + 'static {
        let c = self.clone();
        move || c.now()
    }
}
