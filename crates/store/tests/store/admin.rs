//! Administration of the database: open modes, migrations, row counts, pruning, backups.

use crate::common::{TestDb, date, fixture_analysis, instant, suite};
use chrono::TimeDelta;
use ivcrush_core::{Bar, Timing};
use ivcrush_store::{
    CacheEntry, EarningsRow, NewAnalysis, OpenMode, Pruned, SqliteStore, Store, StoreError,
};
use std::sync::Arc;

suite!(
    opening_an_existing_database_creates_and_migrates_nothing,
    migrate_applies_the_pending_migrations_once_and_lists_them,
    migration_status_names_pending_and_unknown_migrations,
    prune_deletes_old_analyses_and_expired_cache_entries_and_keeps_history,
    a_dry_run_prune_counts_and_deletes_nothing,
    backup_writes_a_consistent_copy_on_sqlite_and_points_postgres_to_pg_dump,
);

const MIGRATIONS: usize = 5;

fn rows(counts: &[ivcrush_store::TableCount], table: &str) -> Option<u64> {
    counts
        .iter()
        .find(|c| c.table == table)
        .unwrap_or_else(|| panic!("{table} counted"))
        .rows
}

async fn opening_an_existing_database_creates_and_migrates_nothing(db: Arc<TestDb>) {
    match &*db {
        TestDb::Sqlite { path, .. } => {
            let e = db
                .open_with(OpenMode::Existing)
                .await
                .expect_err("missing file");
            assert!(
                matches!(e, StoreError::Missing { .. }),
                "{e:?}: expected Missing"
            );
            assert!(e.to_string().contains(&path.display().to_string()), "{e}");
            assert!(!path.exists(), "the file was created");
            // Nor its journal files.
            let dir = path.parent().expect("dir");
            assert_eq!(std::fs::read_dir(dir).expect("dir").count(), 0);
        }
        TestDb::Postgres { .. } => {
            let store = db.open_with(OpenMode::Existing).await.expect("connects");
            let status = store.migration_status().await.expect("status");
            assert!(status.applied.is_empty(), "{status:?}");
            assert_eq!(status.pending.len(), MIGRATIONS);
            let counts = store.table_counts().await.expect("counts");
            assert!(counts.iter().all(|c| c.rows.is_none()), "{counts:?}");
            // Still nothing: the look created no table.
            let again = store.migration_status().await.expect("status");
            assert_eq!(again.pending.len(), MIGRATIONS);
        }
    }
    // Once migrated, the existing database opens and is current.
    drop(db.open().await);
    let store = db.open_with(OpenMode::Existing).await.expect("exists now");
    let status = store.migration_status().await.expect("status");
    assert!(status.is_current(), "{status:?}");
    assert_eq!(status.applied.len(), MIGRATIONS);
    let counts = store.table_counts().await.expect("counts");
    assert_eq!(counts.len(), 9);
    assert!(counts.iter().all(|c| c.rows == Some(0)), "{counts:?}");
}

async fn migrate_applies_the_pending_migrations_once_and_lists_them(db: Arc<TestDb>) {
    let store = db
        .open_with(OpenMode::CreateUnmigrated)
        .await
        .expect("created, not migrated");
    let before = store.migration_status().await.expect("status");
    assert_eq!(before.pending.len(), MIGRATIONS);
    let applied = store.migrate().await.expect("migrate");
    assert_eq!(applied, before.pending);
    assert_eq!(applied[0].version, 1);
    assert_eq!(applied[0].to_string(), "0001 init");
    assert_eq!(store.migrate().await.expect("again"), vec![]);
    let after = store.migration_status().await.expect("status");
    assert!(after.is_current(), "{after:?}");
    assert_eq!(after.applied, before.pending);
}

async fn migration_status_names_pending_and_unknown_migrations(db: Arc<TestDb>) {
    drop(db.open().await);
    // One transaction: opening the store to run it applies what is pending.
    const FORGET_3: &str = "DELETE FROM _sqlx_migrations WHERE version = 3";
    if db.is_sqlite() {
        db.execute(&[
            FORGET_3,
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, X'00', 0)",
        ])
        .await;
    } else {
        db.execute(&[
            FORGET_3,
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, '\\x00'::bytea, 0)",
        ])
        .await;
    }
    let store = db.open_with(OpenMode::Existing).await.expect("opens");
    let status = store.migration_status().await.expect("status");
    assert_eq!(status.applied.len(), MIGRATIONS - 1);
    assert_eq!(
        status
            .pending
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec!["0003 drop health probe"]
    );
    assert_eq!(status.unknown.len(), 1);
    assert_eq!(status.unknown[0].version, 9999);
    assert!(!status.is_current());
}

fn bar(d: &str) -> Bar {
    Bar {
        date: date(d),
        open: 99.0,
        high: 102.0,
        low: 98.0,
        close: 100.0,
        volume: 1_000,
    }
}

/// Two analyses (10 and 1 days before `now`), three cache entries (expired 10 and 1 days
/// before, expiring 1 day after), and history: an event, bars, a move.
async fn plant(store: &dyn Store, now: chrono::DateTime<chrono::Utc>) {
    let a = fixture_analysis();
    store
        .insert_analyses(&[
            NewAnalysis::ok("old", a.clone(), now - TimeDelta::days(10)),
            NewAnalysis::failed("new", "ZZZZ", a.as_of, "no chain", now - TimeDelta::days(1)),
        ])
        .await
        .expect("analyses");
    for (key, expires) in [("old", -10), ("recent", -1), ("fresh", 1)] {
        let entry = CacheEntry {
            value: key.as_bytes().to_vec(),
            fetched_at: now + TimeDelta::days(expires) - TimeDelta::hours(1),
            expires_at: now + TimeDelta::days(expires),
        };
        store.cache_put(key, &entry).await.expect("cache");
    }
    store
        .upsert_earnings_events(&[EarningsRow {
            ticker: "AAPL".into(),
            report_date: date("2020-01-28"),
            timing: Timing::Amc,
            source: "test".into(),
            fiscal_date_ending: None,
        }])
        .await
        .expect("event");
    store
        .upsert_bars("AAPL", &[bar("2020-01-28"), bar("2020-01-29")], "test")
        .await
        .expect("bars");
    store
        .mark_progress("AAPL", "bars", date("2020-01-29"))
        .await
        .expect("progress");
}

async fn prune_deletes_old_analyses_and_expired_cache_entries_and_keeps_history(db: Arc<TestDb>) {
    let store = db.open().await;
    let now = instant("2026-03-01T12:00:00Z");
    plant(&*store, now).await;
    let before = store.table_counts().await.expect("counts");
    let pruned = store
        .prune(now - TimeDelta::days(5), false)
        .await
        .expect("prune");
    assert_eq!(
        pruned,
        Pruned {
            analyses: 1,
            cache_entries: 1
        }
    );
    assert!(
        store
            .analyses_for_run("old")
            .await
            .expect("read")
            .is_empty()
    );
    assert_eq!(store.analyses_for_run("new").await.expect("read").len(), 1);
    assert_eq!(store.cache_get("old").await.expect("read"), None);
    assert!(store.cache_get("recent").await.expect("read").is_some());
    assert!(store.cache_get("fresh").await.expect("read").is_some());
    let after = store.table_counts().await.expect("counts");
    for table in [
        "tickers",
        "earnings_events",
        "daily_bars",
        "historical_moves",
        "backfill_progress",
    ] {
        assert_eq!(rows(&after, table), rows(&before, table), "{table} kept");
    }
    assert_eq!(rows(&after, "earnings_events"), Some(1));
    assert_eq!(rows(&after, "daily_bars"), Some(2));
    assert_eq!(rows(&after, "analyses"), Some(1));
    assert_eq!(rows(&after, "cache_entries"), Some(2));
    // Pruning again finds nothing.
    let again = store
        .prune(now - TimeDelta::days(5), false)
        .await
        .expect("prune");
    assert_eq!(again, Pruned::default());
}

async fn a_dry_run_prune_counts_and_deletes_nothing(db: Arc<TestDb>) {
    let store = db.open().await;
    let now = instant("2026-03-01T12:00:00Z");
    plant(&*store, now).await;
    let before = store.table_counts().await.expect("counts");
    let counted = store.prune(now, true).await.expect("dry run");
    assert_eq!(
        counted,
        Pruned {
            analyses: 2,
            cache_entries: 2
        }
    );
    assert_eq!(store.table_counts().await.expect("counts"), before);
    // The real run deletes exactly what the dry run counted.
    assert_eq!(store.prune(now, false).await.expect("prune"), counted);
}

async fn backup_writes_a_consistent_copy_on_sqlite_and_points_postgres_to_pg_dump(db: Arc<TestDb>) {
    let store = db.open().await;
    plant(&*store, instant("2026-03-01T12:00:00Z")).await;
    match &*db {
        TestDb::Sqlite { path, .. } => {
            let dest = path.with_file_name("backup.db");
            store.backup_to(&dest).await.expect("backup");
            let status = SqliteStore::inspect_file(&dest)
                .await
                .expect("an ivcrush db");
            assert!(status.is_current(), "{status:?}");
            let copy = ivcrush_store::open_store_with(
                &format!("sqlite://{}", dest.display()),
                OpenMode::Existing,
            )
            .await
            .expect("open the copy");
            assert_eq!(
                copy.table_counts().await.expect("counts"),
                store.table_counts().await.expect("counts")
            );
            // VACUUM INTO never overwrites.
            let e = store.backup_to(&dest).await.expect_err("exists");
            assert!(matches!(e, StoreError::Query { .. }), "{e:?}");
        }
        TestDb::Postgres { .. } => {
            let dir = tempfile::tempdir().expect("dir");
            let dest = dir.path().join("backup.db");
            let e = store.backup_to(&dest).await.expect_err("unsupported");
            assert!(matches!(e, StoreError::Unsupported { .. }), "{e:?}");
            assert!(e.to_string().contains("pg_dump"), "{e}");
            assert!(!dest.exists());
        }
    }
}

#[tokio::test]
async fn quiesce_refuses_while_another_connection_has_the_file_open() {
    let db = TestDb::sqlite();
    let TestDb::Sqlite { path, .. } = &db else {
        unreachable!("sqlite")
    };
    let store = SqliteStore::open(&path.display().to_string())
        .await
        .expect("open");
    store
        .tickers()
        .await
        .expect("a read leaves an idle connection");
    let e = SqliteStore::quiesce(path).await.expect_err("in use");
    assert!(matches!(e, StoreError::InUse { .. }), "{e:?}");
    assert!(e.to_string().contains("in use"), "{e}");
    store.close().await;
    SqliteStore::quiesce(path).await.expect("free once closed");
    let wal = path.with_file_name(format!(
        "{}-wal",
        path.file_name().expect("name").to_string_lossy()
    ));
    assert!(!wal.exists(), "the log is folded into the file");
}

#[tokio::test]
async fn inspect_file_rejects_what_is_not_an_ivcrush_database() {
    let dir = tempfile::tempdir().expect("dir");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just text").expect("write");
    let e = SqliteStore::inspect_file(&junk).await.expect_err("junk");
    assert!(matches!(e, StoreError::NotIvcrush { .. }), "{e:?}");
    assert!(e.to_string().contains("junk.db"), "{e}");

    let other = dir.path().join("other.db");
    let store = ivcrush_store::open_store_with(
        &format!("sqlite://{}", other.display()),
        OpenMode::CreateUnmigrated,
    )
    .await
    .expect("an empty SQLite database");
    drop(store);
    let e = SqliteStore::inspect_file(&other)
        .await
        .expect_err("no migrations table");
    assert!(e.to_string().contains("no migrations table"), "{e}");

    let e = SqliteStore::inspect_file(&dir.path().join("none.db"))
        .await
        .expect_err("missing");
    assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
}
