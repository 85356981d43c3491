//! The per-event history on a live vendor: the provider cannot be replayed, so each past report
//! is priced by the last analysis ivcrush stored before its reaction (the forward-recorded track
//! record), against the reaction the vendor's bars show.

use chrono::Utc;
use ivcrush_app::{AnalyzeOptions, App, AppConfig, ProviderKind};
use ivcrush_core::calendar::previous_trading_day;
use ivcrush_market::sim::SimMarket;

use crate::{SEED, TICKER, day, mock, mock_as_of, open, vendor_config};

#[tokio::test]
async fn a_live_vendors_history_is_the_analyses_stored_before_each_reaction() {
    let truth = SimMarket::new(SEED, day())
        .truth(TICKER)
        .expect("a sim ticker");
    let report = truth.past_reports.last().expect("a past report").event;
    // A before-open report is priced the session before; an analysis after the reaction must
    // not count.
    let entry = match report.timing {
        ivcrush_core::Timing::Bmo => previous_trading_day(report.date),
        _ => report.date,
    };
    // The analysis a daily scan stored at the entry (made here on the simulated market the mock
    // serves, in a database of its own), written into the live deployment's database.
    let sim_dir = tempfile::tempdir().expect("temp dir");
    let sim = App::open(AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(entry.into()),
        database_url: format!("sqlite://{}/sim.db", sim_dir.path().display()),
        ..AppConfig::default()
    })
    .await
    .expect("sim app");
    let stored_before = sim
        .analyzer()
        .analyze(
            TICKER,
            &AnalyzeOptions {
                earnings_date: Some(report.date),
                ..AnalyzeOptions::default()
            },
        )
        .await
        .expect("the entry's analysis")
        .analysis;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let store = ivcrush_app::store::open_store(&db).await.expect("store");
    store
        .insert_analysis(&ivcrush_app::store::NewAnalysis::ok(
            "daily-scan",
            stored_before.clone(),
            Utc::now(),
        ))
        .await
        .expect("stored");
    // A later row of the same report, made after the reaction, must not price it.
    let mut after = stored_before.clone();
    after.as_of =
        ivcrush_core::calendar::close_of(truth.past_reports.last().expect("").reaction_date);
    after.vrp.implied_pct = Some(99.0);
    store
        .insert_analysis(&ivcrush_app::store::NewAnalysis::ok(
            "later",
            after,
            Utc::now(),
        ))
        .await
        .expect("stored");

    let mock = mock(day(), |_| {}).await;
    let mut config = vendor_config(&mock, &dir);
    config.database_url = db;
    let live = open(config, mock_as_of(day())).await;
    let (events, stats) = live
        .backtester()
        .events_of(TICKER)
        .await
        .expect("the history");
    assert_eq!(
        events.len(),
        1,
        "only the report with a stored analysis: {events:?}"
    );
    let e = &events[0];
    assert_eq!(e.report_date, report.date);
    assert_eq!(
        e.entry_date, entry,
        "priced by the analysis before the reaction"
    );
    assert_eq!(
        Some(e.implied_move_pct),
        stored_before.vrp.implied_pct,
        "the stored analysis's implied move"
    );
    assert_eq!(e.traded, stored_before.tradeable);
    let reaction = truth.past_reports.last().expect("").signed_close_move_pct;
    assert!(
        (e.realised_move_pct - reaction).abs() < 1e-9,
        "the vendor's reaction: {} vs {reaction}",
        e.realised_move_pct
    );
    assert_eq!(stats.map(|s| s.events), Some(1));
}
