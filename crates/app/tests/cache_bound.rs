//! The cache table stays bounded: every scan purges the entries expired beyond the grace
//! period. 1,000 daily scans, each under its own as-of (so each writes new keys, as a
//! deployment does day after day), over one SQLite store.

use chrono::{Days, NaiveDate};
use ivcrush_app::{App, AppConfig, ScanRequest};
use ivcrush_market::sim::SimMarket;
use ivcrush_store::open_store;

const SEED: u64 = 42;
const SCANS: u64 = 1_000;

/// Rows of the cache table: all of them, and those under `scope` (one scan's).
async fn cache_rows(pool: &sqlx::SqlitePool, scope: &str) -> (i64, i64) {
    let (all, scoped): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(SUM(key LIKE $1 || ':%'), 0) FROM cache_entries")
            .bind(scope)
            .fetch_one(pool)
            .await
            .expect("count cache rows");
    (all, scoped)
}

#[tokio::test]
async fn a_thousand_daily_scans_leave_the_cache_table_bounded() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = open_store(&url).await.expect("store");
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).expect("start date");
    // A short window over a few tickers keeps each scan small; each still caches its
    // calendar window (and, on report days, expirations and chains) under its own date.
    let request = ScanRequest {
        days: Some(2),
        tickers: Some(vec!["AAPL".into(), "MSFT".into(), "NVDA".into()]),
        ..ScanRequest::default()
    };
    let pool = sqlx::SqlitePool::connect(&url)
        .await
        .expect("open the test database");
    let (mut written, mut most, mut left) = (0_i64, 0_i64, 0_i64);
    for day in 0..SCANS {
        let date = start + Days::new(day);
        let sim = SimMarket::new(SEED, date);
        let scope = format!("sim:{SEED}:{date}");
        let as_of = sim.as_of();
        let app = App::with_parts(
            AppConfig::default(),
            sim.into_market_data(),
            store.clone(),
            as_of,
            scope.clone(),
        )
        // The cache's clock is the scan's day, so entries age as the days pass.
        .with_clock(move || as_of);
        let run_id = format!("day-{day}");
        app.scanner()
            .run(&request, &run_id, None)
            .await
            .unwrap_or_else(|e| panic!("scan of {date}: {e}"));
        let (rows, this_scan) = cache_rows(&pool, &scope).await;
        // Entries this scan wrote: the growth a table without purging would keep.
        written += this_scan;
        most = most.max(rows);
        left = rows;
    }
    let settings = AppConfig::default().cache;
    // Entries live at most the longest TTL plus the 7-day grace period, then go.
    let longest = settings
        .expirations_secs
        .max(settings.calendar_secs)
        .max(settings.chains_secs);
    let lifetime_days = (longest / 86_400 + 7 + 1) as i64;
    let per_day = written as f64 / SCANS as f64;
    assert!(
        written >= SCANS as i64,
        "each scan caches something ({written} entries in all)"
    );
    let bound = ((lifetime_days as f64 + 1.0) * per_day * 3.0).ceil() as i64;
    assert!(
        most <= bound,
        "the cache table peaked at {most} rows (bound {bound}) after {written} written"
    );
    assert!(left <= bound, "{left} rows left");
    eprintln!(
        "{written} entries written, at most {most} rows at once (bound {bound}), {left} left"
    );
}
