//! Backfill coverage: the `[covered_from, completed_through]` range of a progress row, read
//! and written on every backend, and the migration that adds it to existing databases.

use crate::common::{TestDb, date, suite};
use ivcrush_core::Bar;
use ivcrush_store::StoreError;
use sqlx::migrate::Migrator;
use std::path::PathBuf;
use std::sync::Arc;

suite!(
    coverage_is_written_exactly_and_read_back,
    an_inverted_coverage_is_rejected_and_nothing_is_written,
    mark_progress_forgets_the_coverage_start_when_it_moves_forward,
    a_v1_database_keeps_its_rows_and_gets_its_coverage_from_its_bars,
);

async fn coverage_is_written_exactly_and_read_back(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .set_coverage("AAPL", "moves", date("2023-11-13"), date("2026-11-25"))
        .await
        .expect("first coverage");
    let p = store
        .get_progress("AAPL", "moves")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!((p.ticker.as_str(), p.kind.as_str()), ("AAPL", "moves"));
    assert_eq!(p.covered_from, Some(date("2023-11-13")));
    assert_eq!(p.completed_through, date("2026-11-25"));
    assert_eq!(p.coverage(), Some((date("2023-11-13"), date("2026-11-25"))));

    // Wider at both ends.
    store
        .set_coverage("AAPL", "moves", date("2020-11-11"), date("2026-11-27"))
        .await
        .expect("wider");
    let p = store
        .get_progress("AAPL", "moves")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(p.coverage(), Some((date("2020-11-11"), date("2026-11-27"))));

    // Exactly what is written, even narrower (the caller owns the union).
    store
        .set_coverage("AAPL", "moves", date("2024-01-02"), date("2025-06-30"))
        .await
        .expect("narrower");
    let p = store
        .get_progress("AAPL", "moves")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(p.coverage(), Some((date("2024-01-02"), date("2025-06-30"))));

    // One day is a valid range; other tickers and kinds are independent.
    store
        .set_coverage("MSFT", "moves", date("2026-01-05"), date("2026-01-05"))
        .await
        .expect("one day");
    assert_eq!(
        store
            .get_progress("MSFT", "moves")
            .await
            .expect("read")
            .and_then(|p| p.coverage()),
        Some((date("2026-01-05"), date("2026-01-05")))
    );
    assert_eq!(
        store.get_progress("MSFT", "bars").await.expect("read"),
        None
    );
    assert_eq!(
        store
            .get_progress("AAPL", "moves")
            .await
            .expect("read")
            .and_then(|p| p.coverage()),
        Some((date("2024-01-02"), date("2025-06-30")))
    );
}

async fn an_inverted_coverage_is_rejected_and_nothing_is_written(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .set_coverage("AAPL", "moves", date("2024-01-02"), date("2026-01-30"))
        .await
        .expect("seed");
    let err = store
        .set_coverage("AAPL", "moves", date("2026-02-02"), date("2026-01-30"))
        .await
        .expect_err("from after through");
    assert!(
        matches!(
            err,
            StoreError::InvalidInput {
                what: "coverage",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("AAPL"), "{err}");
    assert_eq!(
        store
            .get_progress("AAPL", "moves")
            .await
            .expect("read")
            .and_then(|p| p.coverage()),
        Some((date("2024-01-02"), date("2026-01-30")))
    );
}

async fn mark_progress_forgets_the_coverage_start_when_it_moves_forward(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .set_coverage("AAPL", "moves", date("2024-01-02"), date("2026-01-30"))
        .await
        .expect("coverage");
    // An older or equal date changes nothing, coverage included.
    store
        .mark_progress("AAPL", "moves", date("2026-01-30"))
        .await
        .expect("same date");
    store
        .mark_progress("AAPL", "moves", date("2025-01-30"))
        .await
        .expect("older date");
    let p = store
        .get_progress("AAPL", "moves")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(p.coverage(), Some((date("2024-01-02"), date("2026-01-30"))));
    // Moving forward without a range: the dates in between are not known to be covered.
    store
        .mark_progress("AAPL", "moves", date("2026-02-27"))
        .await
        .expect("advance");
    let p = store
        .get_progress("AAPL", "moves")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(p.completed_through, date("2026-02-27"));
    assert_eq!(p.covered_from, None);
    assert_eq!(p.coverage(), None);
    // A fresh mark has no coverage either.
    store
        .mark_progress("MSFT", "bars", date("2026-01-15"))
        .await
        .expect("fresh");
    let p = store
        .get_progress("MSFT", "bars")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!((p.covered_from, p.coverage()), (None, None));
}

/// The first migration only, as a database created before coverage existed has it.
async fn v1_migrator(dialect: &str) -> (tempfile::TempDir, Migrator) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect)
        .join("0001_init.sql");
    std::fs::copy(&src, dir.path().join("0001_init.sql")).expect("copy the v1 migration");
    let migrator = Migrator::new(dir.path().to_path_buf())
        .await
        .expect("v1 migrator");
    (dir, migrator)
}

/// Rows as the v1 backfill left them: AAPL backfilled (bars 2026-01-05..09, marked through the
/// 9th) plus a bar of a later run killed before its mark; MSFT marked but without bars.
const V1_ROWS: &[&str] = &[
    "INSERT INTO tickers (symbol, created_at, updated_at) \
     VALUES ('AAPL', '2026-01-10T00:00:00Z', '2026-01-10T00:00:00Z')",
    "INSERT INTO daily_bars (ticker, date, open, high, low, close, volume, source) VALUES \
     ('AAPL', '2026-01-05', 10, 12, 9, 11, 100, 'sim'), \
     ('AAPL', '2026-01-06', 11, 12, 9, 11, 100, 'sim'), \
     ('AAPL', '2026-01-07', 11, 12, 9, 11, 100, 'sim'), \
     ('AAPL', '2026-01-08', 11, 12, 9, 11, 100, 'sim'), \
     ('AAPL', '2026-01-09', 11, 12, 9, 11, 100, 'sim'), \
     ('AAPL', '2026-01-20', 11, 12, 9, 11, 100, 'sim'), \
     ('MSFT', '2026-01-20', 11, 12, 9, 11, 100, 'sim')",
    "INSERT INTO historical_moves (ticker, report_date, timing, reaction_date, reference_close, \
     close_move_pct, gap_move_pct, intraday_move_pct, signed_close_pct) VALUES \
     ('AAPL', '2026-01-07', 'AMC', '2026-01-08', 11, 1.5, 1.0, 2.0, -1.5)",
    "INSERT INTO backfill_progress (ticker, kind, completed_through, updated_at) VALUES \
     ('AAPL', 'moves', '2026-01-09', '2026-01-10T00:00:00Z'), \
     ('MSFT', 'moves', '2026-01-09', '2026-01-10T00:00:00Z')",
];

async fn a_v1_database_keeps_its_rows_and_gets_its_coverage_from_its_bars(db: Arc<TestDb>) {
    match &*db {
        TestDb::Sqlite { path, .. } => {
            let (_dir, v1) = v1_migrator("sqlite").await;
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options)
                .await
                .expect("connect");
            v1.run(&pool).await.expect("v1 schema");
            for s in V1_ROWS {
                sqlx::query(*s).execute(&pool).await.expect("v1 row");
            }
            pool.close().await;
        }
        TestDb::Postgres { options, .. } => {
            let (_dir, v1) = v1_migrator("postgres").await;
            let pool = sqlx::PgPool::connect_with((**options).clone())
                .await
                .expect("connect");
            v1.run(&pool).await.expect("v1 schema");
            for s in V1_ROWS {
                sqlx::query(*s).execute(&pool).await.expect("v1 row");
            }
            pool.close().await;
        }
    }

    // Opening migrates to the current schema.
    let store = db.open().await;
    let aapl = store
        .get_progress("AAPL", "moves")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(
        aapl.coverage(),
        Some((date("2026-01-05"), date("2026-01-09"))),
        "from the oldest bar through the old mark"
    );
    let msft = store
        .get_progress("MSFT", "moves")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(msft.completed_through, date("2026-01-09"));
    assert_eq!(
        msft.coverage(),
        None,
        "no bar up to its mark: start unknown"
    );

    // Nothing lost.
    let bars: Vec<Bar> = store
        .bars("AAPL", date("2026-01-01"), date("2026-12-31"))
        .await
        .expect("bars");
    assert_eq!(bars.len(), 6);
    assert_eq!(
        store
            .bars("MSFT", date("2026-01-01"), date("2026-12-31"))
            .await
            .expect("bars")
            .len(),
        1
    );
    let moves = store.historical_moves("AAPL").await.expect("moves");
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0].report_date, date("2026-01-07"));
    assert_eq!(store.tickers().await.expect("tickers").len(), 1);

    // The migrated row takes new coverage like any other.
    store
        .set_coverage("MSFT", "moves", date("2023-01-03"), date("2026-01-30"))
        .await
        .expect("write after migration");
    assert_eq!(
        store
            .get_progress("MSFT", "moves")
            .await
            .expect("read")
            .and_then(|p| p.coverage()),
        Some((date("2023-01-03"), date("2026-01-30")))
    );
}
