//! Backtests over the simulated market: byte-identical reruns, entries that see nothing dated
//! after them, and implied moves that match the market's own event premiums.

use chrono::NaiveDate;
use ivcrush_app::backtest::{BacktestReport, BacktestRequest, ExitChoice, Profile, StrategyChoice};
use ivcrush_app::{App, AppConfig, ProviderKind};
use ivcrush_core::backtest::TradeCosts;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

async fn sim_app(dir: &tempfile::TempDir, as_of: &str) -> App {
    App::open(AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(d(as_of).into()),
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    })
    .await
    .expect("app opens")
}

fn request(app: &App, from: &str, to: &str, exit: ExitChoice) -> BacktestRequest {
    BacktestRequest {
        from: d(from),
        to: d(to),
        tickers: None,
        strategy: StrategyChoice::Best,
        exit,
        costs: TradeCosts::default(),
        profiles: vec![Profile {
            name: "default".into(),
            analytics: app.config().analytics.clone(),
        }],
        walk_forward: None,
        extend_history: true,
    }
}

async fn run(app: &App, req: &BacktestRequest) -> BacktestReport {
    app.backtester().run(req).await.expect("backtest runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_inputs_give_byte_identical_json_on_any_store() {
    let first_dir = tempfile::tempdir().expect("temp dir");
    let app = sim_app(&first_dir, "2026-02-02").await;
    let req = request(&app, "2025-10-01", "2025-11-30", ExitChoice::Reaction);
    let a = serde_json::to_string(&run(&app, &req).await).expect("json");
    let b = serde_json::to_string(&run(&app, &req).await).expect("json");
    assert_eq!(a, b, "a rerun on the same store");
    let other_dir = tempfile::tempdir().expect("temp dir");
    let fresh = sim_app(&other_dir, "2026-02-02").await;
    let c = serde_json::to_string(&run(&fresh, &req).await).expect("json");
    assert_eq!(a, c, "a run on a fresh store");
    let report: serde_json::Value = serde_json::from_str(&a).expect("parses");
    assert!(
        report["summary"]["trades"].as_u64().is_some_and(|n| n >= 5),
        "the window trades: {}",
        report["summary"]
    );
    for key in [
        "ticker",
        "report_date",
        "entry_date",
        "exit_date",
        "strategy",
        "credit",
        "pnl",
        "pnl_pct",
        "implied_move_pct",
        "realised_move_pct",
        "inside",
    ] {
        assert!(report["trades"][0].get(key).is_some(), "trades[].{key}");
    }
    for key in [
        "trades",
        "win_rate",
        "mean_pnl",
        "median_pnl",
        "total_pnl",
        "sharpe",
        "max_drawdown",
        "by_tier",
        "calibration",
    ] {
        assert!(report["summary"].get(key).is_some(), "summary.{key}");
    }
}

/// No look-ahead: a store that a later run filled with a year more of bars, moves and
/// analyses, and an as-of a year later, leave every entry analysis (legs, credit, implied move,
/// tier, score, POP) as it is when the backtest runs just after the window on a fresh store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_see_nothing_dated_after_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let early = sim_app(&dir, "2025-12-15").await;
    let req = request(&early, "2025-10-01", "2025-11-30", ExitChoice::Reaction);
    let just_after = run(&early, &req).await;

    let shared = tempfile::tempdir().expect("temp dir");
    let late = sim_app(&shared, "2026-11-30").await;
    // The later deployment has scanned and stored a year more first.
    late.scanner()
        .run(&ivcrush_app::ScanRequest::default(), "later-run", None)
        .await
        .expect("a later scan");
    let _ = run(&late, &req).await;
    let replayed = run(&late, &req).await;

    assert!(!just_after.trades.is_empty());
    assert_eq!(just_after.trades, replayed.trades);
    assert_eq!(just_after.skipped, replayed.skipped);
}

/// The simulated market prices each report's move at `event_premium` times its true jump
/// size, and a reaction is that jump plus a day of diffusion. Pooled over the universe, the
/// implied moves the backtest records at entry divided by the realised absolute moves must then
/// match Σ premium·jump / Σ √(jump² + σ²/252) over the same events (expected absolute values
/// of normal moves: the √(2/π) factors cancel). One year of reports, every ticker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implied_against_realised_matches_the_simulated_event_premiums() {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = sim_app(&dir, "2026-02-02").await;
    let req = request(&app, "2025-01-01", "2025-12-31", ExitChoice::Reaction);
    let report = run(&app, &req).await;
    assert!(report.per_event.len() >= 150, "{}", report.per_event.len());
    let (mut implied, mut realised, mut truth_implied, mut truth_realised) = (0.0, 0.0, 0.0, 0.0);
    for e in &report.per_event {
        let p = ivcrush_market::sim::universe::ticker(&e.ticker).expect("a sim ticker");
        implied += e.implied_move_pct;
        realised += e.realised_move_pct.abs();
        truth_implied += p.implied_jump_std();
        truth_realised += (p.jump_std.powi(2) + p.diffusion_vol.powi(2) / 252.0).sqrt();
    }
    let measured = implied / realised;
    let truth = truth_implied / truth_realised;
    eprintln!(
        "events {}: implied/realised measured {measured:.3}, simulated {truth:.3}",
        report.per_event.len()
    );
    assert!(
        (measured / truth - 1.0).abs() < 0.15,
        "measured {measured:.3} against the simulation's {truth:.3}"
    );
}
