//! The Store behaviour, run against every backend.

use crate::common::{TestDb, date, fixture_analysis, instant, suite};
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::{Bar, Pct, Timing};
use ivcrush_store::{
    AnalysisFilter, Backend, CacheEntry, EarningsRow, NewAnalysis, StoreError, TickerRow,
};
use std::sync::Arc;

suite!(
    migrations_apply_to_an_empty_and_an_already_migrated_database,
    ping_answers_on_a_writable_database,
    upserting_tickers_twice_keeps_one_row_and_keeps_known_names,
    upserting_the_same_events_twice_creates_no_duplicates,
    a_second_write_of_a_report_updates_its_timing,
    earnings_between_is_inclusive_and_ordered_by_date,
    bars_round_trip_and_a_rewrite_replaces_values,
    a_large_batch_with_repeated_dates_keeps_the_last_of_each,
    a_failing_bar_batch_rolls_back_wholly,
    a_volume_beyond_i64_is_rejected_and_nothing_is_written,
    historical_moves_come_back_oldest_first_and_replace_is_atomic,
    analyses_round_trip_the_json_record_and_key_columns,
    a_ticker_stored_twice_in_a_run_keeps_one_row_the_last_written,
    a_failing_analysis_batch_rolls_back_wholly,
    latest_analyses_filter_and_order_newest_first,
    an_undecodable_record_is_an_error_naming_table_and_key,
    cache_entries_round_trip_and_purge_by_expiry,
    progress_is_resumable_and_never_moves_backwards,
    a_writer_killed_mid_batch_leaves_nothing_visible,
);

fn bar(d: &str, close: f64) -> Bar {
    Bar {
        date: date(d),
        open: close - 1.0,
        high: close + 2.0,
        low: close - 2.0,
        close,
        volume: 1_000_000,
    }
}

fn event(ticker: &str, d: &str, timing: Timing) -> EarningsRow {
    EarningsRow {
        ticker: ticker.to_string(),
        report_date: date(d),
        timing,
        source: "test".to_string(),
        fiscal_date_ending: None,
    }
}

fn hmove(d: &str, signed: f64) -> HistoricalMove {
    let report = date(d);
    HistoricalMove {
        report_date: report,
        timing: Timing::Amc,
        reaction_date: report.succ_opt().expect("next day"),
        reference_close: 100.0,
        close_move_pct: Pct::new(signed.abs()).expect("finite"),
        gap_move_pct: Pct::new(signed.abs() * 0.8).expect("finite"),
        intraday_move_pct: Pct::new(signed.abs() * 1.2).expect("finite"),
        signed_close_pct: Pct::new(signed).expect("finite"),
    }
}

async fn migrations_apply_to_an_empty_and_an_already_migrated_database(db: Arc<TestDb>) {
    let first = db.open().await;
    first
        .upsert_tickers(&[TickerRow::new("AAPL")])
        .await
        .expect("write after first migration");
    drop(first);
    let second = db.open().await;
    assert_eq!(
        second.tickers().await.expect("tickers"),
        vec![TickerRow::new("AAPL")]
    );
    let expected = if db.is_sqlite() {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_eq!(second.backend(), expected);
}

async fn ping_answers_on_a_writable_database(db: Arc<TestDb>) {
    let store = db.open().await;
    store.ping().await.expect("first ping");
    store.ping().await.expect("second ping");
}

/// Readiness probes run every few seconds: twenty pings leave the database file and its WAL
/// untouched (same length, same modification time).
#[tokio::test]
async fn sqlite_pings_write_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("ping.db");
    let store = ivcrush_store::open_store(&path.display().to_string())
        .await
        .expect("open");
    store.ping().await.expect("first ping");
    let files = |path: &std::path::Path| {
        ["", "-wal", "-shm"]
            .iter()
            .map(|suffix| {
                let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
                std::fs::metadata(&file)
                    .map(|m| (suffix.to_string(), m.len(), m.modified().ok()))
                    .ok()
            })
            .collect::<Vec<_>>()
    };
    let before = files(&path);
    for _ in 0..20 {
        store.ping().await.expect("ping");
    }
    assert_eq!(files(&path), before);
}

/// A standby or a read-only session answers `SELECT 1` but refuses writes: the ping says so,
/// naming the reason, without trying a write.
#[tokio::test]
async fn postgres_ping_reports_a_read_only_database() {
    let Some(db) = TestDb::postgres("postgres_ping_reports_a_read_only_database").await else {
        return;
    };
    crate::common::run(db, |db| async move {
        let TestDb::Postgres { options, .. } = db.as_ref() else {
            unreachable!("a postgres test database");
        };
        db.open().await.ping().await.expect("writable at first");
        let read_only = (**options)
            .clone()
            .options([("default_transaction_read_only", "on")]);
        // The migrator itself cannot run in a read-only session (CREATE TABLE IF NOT EXISTS is
        // refused there): the schema was migrated above.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(read_only)
            .await
            .expect("a read-only session connects");
        let store = ivcrush_store::PgStore::over_migrated_pool(pool);
        let message = ivcrush_store::Store::ping(&store)
            .await
            .expect_err("read-only is refused")
            .to_string();
        assert!(message.contains("read-only"), "{message}");
        store.close().await;
    })
    .await;
}

async fn upserting_tickers_twice_keeps_one_row_and_keeps_known_names(db: Arc<TestDb>) {
    let store = db.open().await;
    let full = TickerRow {
        symbol: "MSFT".into(),
        name: Some("Microsoft".into()),
        sector: Some("Technology".into()),
    };
    assert_eq!(
        store
            .upsert_tickers(std::slice::from_ref(&full))
            .await
            .expect("1"),
        1
    );
    assert_eq!(
        store
            .upsert_tickers(std::slice::from_ref(&full))
            .await
            .expect("2"),
        1
    );
    // A later write without a name keeps the known one.
    store
        .upsert_tickers(&[TickerRow::new("MSFT"), TickerRow::new("AAPL")])
        .await
        .expect("3");
    assert_eq!(
        store.tickers().await.expect("tickers"),
        vec![TickerRow::new("AAPL"), full]
    );
}

async fn upserting_the_same_events_twice_creates_no_duplicates(db: Arc<TestDb>) {
    let store = db.open().await;
    let events = vec![
        event("AAPL", "2026-01-29", Timing::Amc),
        event("MSFT", "2026-01-28", Timing::Amc),
        event("JPM", "2026-01-13", Timing::Bmo),
    ];
    assert_eq!(store.upsert_earnings_events(&events).await.expect("1"), 3);
    assert_eq!(store.upsert_earnings_events(&events).await.expect("2"), 3);
    let all = store
        .earnings_between(date("2026-01-01"), date("2026-12-31"))
        .await
        .expect("read");
    assert_eq!(all.len(), 3);
    // Tickers were created for the foreign key.
    assert_eq!(store.tickers().await.expect("tickers").len(), 3);
    // One call naming a report twice keeps the last, as row-by-row writes did.
    let twice = vec![
        event("AAPL", "2026-01-29", Timing::Amc),
        event("AAPL", "2026-01-29", Timing::Bmo),
    ];
    store.upsert_earnings_events(&twice).await.expect("twice");
    let aapl = store.earnings_for("AAPL").await.expect("read");
    assert_eq!(aapl.len(), 1);
    assert_eq!(aapl[0].timing, Timing::Bmo);
}

async fn a_second_write_of_a_report_updates_its_timing(db: Arc<TestDb>) {
    let store = db.open().await;
    let mut e = event("AAPL", "2026-01-29", Timing::Unknown);
    e.fiscal_date_ending = Some(date("2025-12-31"));
    store
        .upsert_earnings_events(std::slice::from_ref(&e))
        .await
        .expect("1");
    let mut confirmed = event("AAPL", "2026-01-29", Timing::Amc);
    confirmed.source = "tradier".into();
    store.upsert_earnings_events(&[confirmed]).await.expect("2");
    let rows = store.earnings_for("AAPL").await.expect("read");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].timing, Timing::Amc);
    assert_eq!(rows[0].source, "tradier");
    assert_eq!(
        rows[0].fiscal_date_ending,
        Some(date("2025-12-31")),
        "a missing fiscal date keeps the known one"
    );
}

async fn earnings_between_is_inclusive_and_ordered_by_date(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .upsert_earnings_events(&[
            event("B", "2026-02-01", Timing::Bmo),
            event("A", "2026-01-31", Timing::Amc),
            event("C", "2026-02-02", Timing::Amc),
            event("A", "2026-04-30", Timing::Amc),
        ])
        .await
        .expect("write");
    let got: Vec<(String, String)> = store
        .earnings_between(date("2026-01-31"), date("2026-02-01"))
        .await
        .expect("read")
        .into_iter()
        .map(|e| (e.ticker, e.report_date.to_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("A".to_string(), "2026-01-31".to_string()),
            ("B".to_string(), "2026-02-01".to_string())
        ]
    );
    let a: Vec<String> = store
        .earnings_for("A")
        .await
        .expect("read")
        .into_iter()
        .map(|e| e.report_date.to_string())
        .collect();
    assert_eq!(a, vec!["2026-01-31", "2026-04-30"]);
}

async fn bars_round_trip_and_a_rewrite_replaces_values(db: Arc<TestDb>) {
    let store = db.open().await;
    assert_eq!(store.latest_bar_date("AAPL").await.expect("empty"), None);
    let bars = vec![
        bar("2026-01-05", 100.0),
        bar("2026-01-06", 101.5),
        bar("2026-01-07", 99.25),
    ];
    assert_eq!(store.upsert_bars("AAPL", &bars, "sim").await.expect("1"), 3);
    store.upsert_bars("AAPL", &bars, "sim").await.expect("2");
    let mut fixed = bar("2026-01-07", 98.0);
    fixed.volume = 42;
    store
        .upsert_bars("AAPL", &[fixed], "tradier")
        .await
        .expect("3");
    let got = store
        .bars("AAPL", date("2026-01-01"), date("2026-01-31"))
        .await
        .expect("read");
    assert_eq!(got, vec![bars[0], bars[1], fixed]);
    let window = store
        .bars("AAPL", date("2026-01-06"), date("2026-01-06"))
        .await
        .expect("read");
    assert_eq!(window, vec![bars[1]]);
    assert_eq!(
        store.latest_bar_date("AAPL").await.expect("latest"),
        Some(date("2026-01-07"))
    );
    assert!(
        store
            .bars("MSFT", date("2026-01-01"), date("2026-01-31"))
            .await
            .expect("other ticker")
            .is_empty()
    );
}

async fn a_large_batch_with_repeated_dates_keeps_the_last_of_each(db: Arc<TestDb>) {
    let store = db.open().await;
    // More rows than one statement holds, each date twice: the later value wins, as it did
    // row by row, and PostgreSQL does not reject a statement touching a row twice.
    let start = date("2020-01-01");
    let first: Vec<Bar> = (0..1_200)
        .map(|i| {
            let d = start + chrono::Days::new(i);
            bar(&d.to_string(), 100.0)
        })
        .collect();
    let second: Vec<Bar> = first
        .iter()
        .map(|b| bar(&b.date.to_string(), 200.0))
        .collect();
    let batch: Vec<Bar> = first
        .iter()
        .zip(&second)
        .flat_map(|(a, b)| [*a, *b])
        .collect();
    assert_eq!(
        store
            .upsert_bars("AAPL", &batch, "sim")
            .await
            .expect("write"),
        2_400
    );
    let got = store
        .bars("AAPL", start, date("2030-01-01"))
        .await
        .expect("read");
    assert_eq!(got, second);
}

async fn a_failing_bar_batch_rolls_back_wholly(db: Arc<TestDb>) {
    let store = db.open().await;
    let before = vec![bar("2026-01-05", 100.0), bar("2026-01-06", 101.0)];
    store
        .upsert_bars("AAPL", &before, "sim")
        .await
        .expect("seed");
    let mut broken = bar("2026-01-08", 103.0);
    broken.low = broken.high + 1.0; // violates low <= high
    let batch = vec![
        bar("2026-01-05", 555.0), // would overwrite
        bar("2026-01-07", 102.0), // would add
        broken,
    ];
    let err = store
        .upsert_bars("AAPL", &batch, "sim")
        .await
        .expect_err("CHECK violation");
    let msg = err.to_string();
    assert!(msg.contains("upsert_bars") && msg.contains("AAPL"), "{msg}");
    // Rows go in multi-row statements: the error names the range holding the failing row.
    assert!(msg.contains("2026-01-08"), "names the failing range: {msg}");
    let after = store
        .bars("AAPL", date("2026-01-01"), date("2026-01-31"))
        .await
        .expect("read");
    assert_eq!(after, before, "nothing of the failed batch is stored");
}

async fn a_volume_beyond_i64_is_rejected_and_nothing_is_written(db: Arc<TestDb>) {
    let store = db.open().await;
    let mut huge = bar("2026-01-06", 100.0);
    huge.volume = u64::MAX;
    let err = store
        .upsert_bars("AAPL", &[bar("2026-01-05", 100.0), huge], "sim")
        .await
        .expect_err("volume too large");
    assert!(
        matches!(err, StoreError::InvalidInput { what: "volume", .. }),
        "{err:?}"
    );
    assert_eq!(store.latest_bar_date("AAPL").await.expect("read"), None);
}

async fn historical_moves_come_back_oldest_first_and_replace_is_atomic(db: Arc<TestDb>) {
    let store = db.open().await;
    let moves = vec![
        hmove("2025-10-30", -3.5),
        hmove("2025-01-30", 4.25),
        hmove("2025-07-31", 1.5),
    ];
    store
        .upsert_historical_moves("AAPL", &moves)
        .await
        .expect("1");
    store
        .upsert_historical_moves("AAPL", &moves)
        .await
        .expect("idempotent");
    let got = store.historical_moves("AAPL").await.expect("read");
    assert_eq!(got, vec![moves[1], moves[2], moves[0]]);

    let mut bad = hmove("2026-01-29", 2.0);
    bad.reference_close = -1.0;
    store
        .replace_historical_moves("AAPL", &[hmove("2026-01-29", 2.0), bad])
        .await
        .expect_err("bad reference close");
    assert_eq!(
        store.historical_moves("AAPL").await.expect("read"),
        got,
        "a failed replace keeps the old moves"
    );
    let n = store
        .replace_historical_moves("AAPL", &[hmove("2026-01-29", 2.0)])
        .await
        .expect("replace");
    assert_eq!(n, 1);
    assert_eq!(
        store.historical_moves("AAPL").await.expect("read"),
        vec![hmove("2026-01-29", 2.0)]
    );
}

async fn analyses_round_trip_the_json_record_and_key_columns(db: Arc<TestDb>) {
    let store = db.open().await;
    let a = fixture_analysis();
    let created = instant("2026-01-28T20:01:00Z");
    let ok = NewAnalysis::ok("run-1", a.clone(), created);
    let failed = NewAnalysis::failed("run-1", "ZZZZ", a.as_of, "no chain for 2026-01-30", created);
    let id = store.insert_analysis(&ok).await.expect("insert one");
    let ids = store
        .insert_analyses(std::slice::from_ref(&failed))
        .await
        .expect("insert batch");
    assert!(ids[0] > id);

    let rows = store.analyses_for_run("run-1").await.expect("read");
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(r.id, id);
    assert_eq!(r.ticker, "AAPL");
    assert_eq!(r.run_id, "run-1");
    assert_eq!(r.as_of, a.as_of);
    assert_eq!(r.created_at, created);
    assert_eq!(r.earnings_date, Some(a.earnings_date));
    assert_eq!(r.expiration, Some(a.expiration));
    assert_eq!(r.score, Some(a.score));
    assert_eq!(r.vrp_ratio, Some(a.vrp.ratio));
    assert_eq!(r.vrp_tier.as_deref(), Some(a.vrp.tier.as_str()));
    assert_eq!(r.liquidity_tier.as_deref(), Some(a.liquidity.tier.as_str()));
    assert_eq!(r.tradeable, a.tradeable);
    assert_eq!(r.error, None);
    assert_eq!(r.record.as_ref(), Some(&a), "the JSON record round-trips");

    let f = &rows[1];
    assert_eq!(f.ticker, "ZZZZ");
    assert_eq!(f.error.as_deref(), Some("no chain for 2026-01-30"));
    assert!(f.record.is_none() && f.score.is_none() && !f.tradeable);
}

async fn a_ticker_stored_twice_in_a_run_keeps_one_row_the_last_written(db: Arc<TestDb>) {
    let store = db.open().await;
    let a = fixture_analysis();
    let first = instant("2026-01-28T20:01:00Z");
    let second = instant("2026-01-28T20:02:00Z");
    // Two workers process the same job: a failure first, then the analysis.
    let id = store
        .insert_analysis(&NewAnalysis::failed(
            "run-3", "AAPL", a.as_of, "timeout", first,
        ))
        .await
        .expect("first write");
    let again = store
        .insert_analyses(&[NewAnalysis::ok("run-3", a.clone(), second)])
        .await
        .expect("second write");
    assert_eq!(
        again,
        vec![id],
        "the row keeps its ID (and its place in the run)"
    );
    // Another run of the same ticker is its own row.
    store
        .insert_analysis(&NewAnalysis::ok("run-4", a.clone(), second))
        .await
        .expect("other run");
    let rows = store.analyses_for_run("run-3").await.expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].error, None, "the failure was replaced");
    assert_eq!(rows[0].record.as_ref(), Some(&a));
    assert_eq!(rows[0].created_at, second);
    assert_eq!(
        store.count_analyses_for_run("run-3").await.expect("count"),
        1
    );
    assert_eq!(
        store.count_analyses_for_run("run-4").await.expect("count"),
        1
    );
    assert_eq!(
        store.count_analyses_for_run("none").await.expect("count"),
        0
    );
}

async fn a_failing_analysis_batch_rolls_back_wholly(db: Arc<TestDb>) {
    let store = db.open().await;
    let a = fixture_analysis();
    let t = instant("2026-01-28T20:01:00Z");
    let rows = vec![
        NewAnalysis::ok("run-2", a.clone(), t),
        NewAnalysis::failed("run-2", "", a.as_of, "bad", t), // empty ticker: CHECK fails
        NewAnalysis::ok("run-2", a, t),
    ];
    let err = store.insert_analyses(&rows).await.expect_err("bad row");
    assert!(err.to_string().contains("insert_analysis"), "{err}");
    assert!(
        store
            .analyses_for_run("run-2")
            .await
            .expect("read")
            .is_empty()
    );
}

async fn latest_analyses_filter_and_order_newest_first(db: Arc<TestDb>) {
    let store = db.open().await;
    let a = fixture_analysis();
    let mut low = a.clone();
    low.ticker = "LOW".into();
    low.score = 10.0;
    low.tradeable = false;
    let rows = vec![
        NewAnalysis::ok("r1", a.clone(), instant("2026-01-28T20:00:00Z")),
        NewAnalysis::ok("r1", low, instant("2026-01-28T20:00:01Z")),
        NewAnalysis::failed(
            "r2",
            "ERR",
            a.as_of,
            "boom",
            instant("2026-01-28T21:00:00Z"),
        ),
        NewAnalysis::ok("r2", a.clone(), instant("2026-01-28T21:00:00.5Z")),
    ];
    store.insert_analyses(&rows).await.expect("insert");

    let tickers = |v: Vec<ivcrush_store::StoredAnalysis>| -> Vec<String> {
        v.into_iter().map(|r| r.ticker).collect()
    };
    let all = store
        .latest_analyses(&AnalysisFilter::default())
        .await
        .expect("all");
    assert_eq!(tickers(all), vec!["AAPL", "ERR", "LOW", "AAPL"]);

    let good = store
        .latest_analyses(&AnalysisFilter {
            min_score: Some(a.score - 1e-9),
            tradeable_only: a.tradeable,
            ..AnalysisFilter::default()
        })
        .await
        .expect("filtered");
    assert_eq!(tickers(good), vec!["AAPL", "AAPL"]);

    let recent_ok = store
        .latest_analyses(&AnalysisFilter {
            since: Some(instant("2026-01-28T20:00:01Z")),
            include_failed: false,
            limit: 5,
            ..AnalysisFilter::default()
        })
        .await
        .expect("recent");
    assert_eq!(tickers(recent_ok), vec!["AAPL", "LOW"]);

    let limited = store
        .latest_analyses(&AnalysisFilter {
            limit: 1,
            ..AnalysisFilter::default()
        })
        .await
        .expect("limit");
    assert_eq!(limited.len(), 1);

    let hist = store.analysis_history("AAPL", 10).await.expect("history");
    assert_eq!(hist.len(), 2);
    assert!(hist[0].created_at > hist[1].created_at, "newest first");
    assert_eq!(hist[0].run_id, "r2");
    assert_eq!(
        store.analysis_history("AAPL", 1).await.expect("one").len(),
        1
    );
}

async fn an_undecodable_record_is_an_error_naming_table_and_key(db: Arc<TestDb>) {
    let store = db.open().await;
    db.execute(&[
        "INSERT INTO analyses (run_id, ticker, as_of, tradeable, record, created_at) \
         VALUES ('bad-run', 'AAPL', '2026-01-28T20:00:00+00:00', FALSE, '{\"not\": \"an analysis\"}', \
         '2026-01-28T20:00:00+00:00')",
    ])
    .await;
    let err = store
        .analyses_for_run("bad-run")
        .await
        .expect_err("record does not decode");
    match &err {
        StoreError::Decode { table, key, .. } => {
            assert_eq!(*table, "analyses");
            assert!(key.contains("id ") && key.contains("record"), "{key}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

async fn cache_entries_round_trip_and_purge_by_expiry(db: Arc<TestDb>) {
    let store = db.open().await;
    assert_eq!(store.cache_get("k").await.expect("miss"), None);
    let old = CacheEntry {
        value: b"old".to_vec(),
        fetched_at: instant("2026-01-01T00:00:00Z"),
        expires_at: instant("2026-01-01T00:05:00Z"),
    };
    let new = CacheEntry {
        value: vec![0, 159, 146, 150, 255],
        fetched_at: instant("2026-01-02T00:00:00.123456Z"),
        expires_at: instant("2026-01-02T00:05:00Z"),
    };
    store.cache_put("old", &old).await.expect("put");
    store.cache_put("new", &old).await.expect("put");
    store.cache_put("new", &new).await.expect("overwrite");
    assert_eq!(
        store.cache_get("new").await.expect("get"),
        Some(new.clone())
    );
    let purged = store
        .cache_purge_expired(instant("2026-01-01T12:00:00Z"))
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(store.cache_get("old").await.expect("gone"), None);
    assert_eq!(store.cache_get("new").await.expect("kept"), Some(new));
}

async fn progress_is_resumable_and_never_moves_backwards(db: Arc<TestDb>) {
    let store = db.open().await;
    assert_eq!(
        store.get_progress("AAPL", "bars").await.expect("none"),
        None
    );
    store
        .mark_progress("AAPL", "bars", date("2026-01-15"))
        .await
        .expect("mark");
    store
        .mark_progress("AAPL", "bars", date("2026-01-10"))
        .await
        .expect("older is ignored");
    store
        .mark_progress("AAPL", "moves", date("2025-10-30"))
        .await
        .expect("other kind");
    let p = store
        .get_progress("AAPL", "bars")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(p.completed_through, date("2026-01-15"));
    assert_eq!((p.ticker.as_str(), p.kind.as_str()), ("AAPL", "bars"));
    store
        .mark_progress("AAPL", "bars", date("2026-01-20"))
        .await
        .expect("advance");
    let p = store
        .get_progress("AAPL", "bars")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(p.completed_through, date("2026-01-20"));
}

async fn a_writer_killed_mid_batch_leaves_nothing_visible(db: Arc<TestDb>) {
    let store = db.open().await;
    store
        .upsert_bars("KILL", &[bar("2026-01-02", 50.0)], "sim")
        .await
        .expect("seed");
    db.abandon(&[
        "INSERT INTO daily_bars (ticker, date, open, high, low, close, volume, source) \
         VALUES ('KILL', '2026-01-05', 1, 2, 1, 1.5, 10, 'half')",
        "UPDATE daily_bars SET close = 999 WHERE ticker = 'KILL' AND date = '2026-01-02'",
    ])
    .await;
    let reopened = db.open().await;
    assert_eq!(
        reopened
            .bars("KILL", date("2026-01-01"), date("2026-01-31"))
            .await
            .expect("read"),
        vec![bar("2026-01-02", 50.0)]
    );
    store.ping().await.expect("database still writable");
}

#[tokio::test]
async fn open_store_accepts_a_plain_path_and_an_in_memory_database() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("nested-name.db");
    let store = ivcrush_store::open_store(&path.display().to_string())
        .await
        .expect("plain path");
    store.ping().await.expect("ping file");
    assert!(path.exists(), "the file is created when missing");

    let mem = ivcrush_store::open_store("sqlite::memory:")
        .await
        .expect("in memory");
    mem.upsert_tickers(&[TickerRow::new("AAPL")])
        .await
        .expect("write");
    // One connection holds the in-memory database, so the write is visible.
    assert_eq!(mem.tickers().await.expect("read").len(), 1);
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let db = TestDb::sqlite();
    let TestDb::Sqlite { path, .. } = &db else {
        unreachable!("sqlite test db")
    };
    let store = ivcrush_store::SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open");
    let mut conn = store.pool().acquire().await.expect("connection");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .expect("journal mode");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .expect("foreign keys");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .expect("synchronous");
    assert_eq!((mode.as_str(), fk, sync), ("wal", 1, 1));
}

/// A PostgreSQL server that is not up is retried (paused clock: the waits take no time) and the
/// final error names the server and the cause, never the password.
#[tokio::test(start_paused = true)]
async fn an_unreachable_postgres_is_retried_and_named_with_its_cause() {
    let error = ivcrush_store::PgStore::open("postgres://ivcrush:s3cret-pw@127.0.0.1:1/ivcrush_db")
        .await
        .expect_err("nothing listens on port 1");
    let mut report = error.to_string();
    let mut cause = std::error::Error::source(&error);
    while let Some(c) = cause {
        report.push_str(": ");
        report.push_str(&c.to_string());
        cause = c.source();
    }
    assert!(report.contains("127.0.0.1:1/ivcrush_db"), "{report}");
    assert!(report.to_lowercase().contains("refused"), "{report}");
    assert!(!report.contains("s3cret-pw"), "{report}");
}
