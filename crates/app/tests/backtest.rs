//! Backtests over the simulated market: byte-identical reruns, entries that see nothing dated
//! after them, and implied moves that match the market's own event premiums.

use chrono::NaiveDate;
use ivcrush_app::backtest::{BacktestReport, BacktestRequest, ExitChoice, StrategyChoice};
use ivcrush_app::{App, AppConfig, ProviderKind};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

async fn sim_app(dir: &tempfile::TempDir, as_of: &str) -> App {
    App::open(mechanics_only(AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(d(as_of).into()),
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    }))
    .await
    .expect("app opens")
}

/// These tests check the backtest's mechanics (replay, settlement, no look-ahead), not the
/// tier gating: at the default 90 % the simulated histories' intervals withhold most tiers and
/// leave too few trades to check. A 50 % interval withholds little.
fn mechanics_only(mut config: AppConfig) -> AppConfig {
    config.analytics.vrp.confidence_level = 0.5;
    config
}

fn request(app: &App, from: &str, to: &str, exit: ExitChoice) -> BacktestRequest {
    BacktestRequest {
        exit,
        ..BacktestRequest::new(d(from), d(to), app.config().analytics.clone())
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

/// Files written from the simulated market: every MRVL bar, its calendar, and chain snapshots
/// of the entry and reaction sessions of its reports in the second half of 2025. `mutate`
/// rewrites every row dated after `cutoff` (bars scaled, snapshot quotes doubled, calendar
/// rows moved a day), as a vendor's later corrections would.
async fn write_files(dir: &std::path::Path, cutoff: Option<NaiveDate>) {
    use ivcrush_market::sim::SimMarket;
    use std::fmt::Write as _;
    const T: &str = "MRVL";
    let seed = AppConfig::default().sim.seed;
    let today = SimMarket::new(seed, d("2026-02-02")).into_market_data();
    let after = |date: NaiveDate| cutoff.is_some_and(|c| date > c);
    let (bars, events) = async {
        let bars = today
            .history
            .daily_bars(T, d("2019-01-01"), d("2026-02-02"))
            .await
            .expect("bars");
        let events = today
            .calendar
            .calendar(d("2019-01-01"), d("2026-06-30"))
            .await
            .expect("calendar");
        (bars, events)
    }
    .await;
    let mut text = String::from("ticker,date,open,high,low,close,volume\n");
    for b in &bars {
        let k = if after(b.date) { 1.5 } else { 1.0 };
        let _ = writeln!(
            text,
            "{T},{},{},{},{},{},{}",
            b.date,
            b.open * k,
            b.high * k,
            b.low * k,
            b.close * k,
            b.volume
        );
    }
    std::fs::write(dir.join("bars.csv"), text).expect("bars.csv");
    let mut text = String::from("ticker,date,timing\n");
    let mine: Vec<_> = events.iter().filter(|r| r.ticker == T).collect();
    for r in &mine {
        let date = if after(r.event.date) {
            r.event.date + chrono::Duration::days(1)
        } else {
            r.event.date
        };
        let _ = writeln!(text, "{T},{date},{}", r.event.timing.as_str());
    }
    std::fs::write(dir.join("calendar.csv"), text).expect("calendar.csv");
    let mut text = String::from(
        "as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta\n",
    );
    for r in mine
        .iter()
        .filter(|r| r.event.date >= d("2025-04-01") && r.event.date <= d("2025-12-31"))
    {
        let entry = r.event.date;
        let reaction = ivcrush_core::calendar::next_trading_day(entry);
        for day in [entry, reaction] {
            let sim = SimMarket::new(seed, day);
            let at = sim.as_of();
            let market = sim.into_market_data();
            async {
                let spot = market
                    .options
                    .quotes(&[T.to_string()])
                    .await
                    .expect("quote")[0]
                    .price();
                let k = if after(day) { 2.0 } else { 1.0 };
                for expiration in market
                    .options
                    .expirations(T)
                    .await
                    .expect("expirations")
                    .iter()
                    .take(8)
                {
                    let chain = market.options.chain(T, *expiration).await.expect("chain");
                    for q in &chain.quotes {
                        let _ = writeln!(
                            text,
                            "{},{T},{spot},{expiration},{},{},{},{},,{},{},,",
                            at.to_rfc3339(),
                            q.strike,
                            q.kind.as_str(),
                            q.bid * k,
                            q.ask * k,
                            q.volume,
                            q.open_interest
                        );
                    }
                }
            }
            .await;
        }
    }
    std::fs::write(dir.join("chains.csv"), text).expect("chains.csv");
}

async fn files_report(files: &tempfile::TempDir, db: &tempfile::TempDir) -> BacktestReport {
    files_report_from(files, db, "2025-07-01").await
}

async fn files_report_from(
    files: &tempfile::TempDir,
    db: &tempfile::TempDir,
    from: &str,
) -> BacktestReport {
    let mut config = AppConfig {
        provider: ProviderKind::Files,
        as_of: Some(d("2026-02-02").into()),
        database_url: format!("sqlite://{}/t.db", db.path().display()),
        ..AppConfig::default()
    };
    config.files.dir = files.path().to_path_buf();
    let app = App::open(mechanics_only(config)).await.expect("app opens");
    let req = BacktestRequest {
        strategy: StrategyChoice::ShortStraddle,
        ..request(&app, from, "2025-12-31", ExitChoice::Reaction)
    };
    run(&app, &req).await
}

/// No look-ahead, the way: over imported files (snapshots of the simulated market),
/// rewriting every bar, chain snapshot and calendar row dated after the first entry leaves that
/// entry's analysis (implied move, legs, credit) exactly as it was; its exit, which reads the
/// rewritten reaction session, changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_everything_after_an_entry_leaves_the_entry_unchanged() {
    let honest = tempfile::tempdir().expect("temp dir");
    write_files(honest.path(), None).await;
    let db = tempfile::tempdir().expect("temp dir");
    let first_entry = files_report(&honest, &db).await;
    let first = first_entry
        .per_event
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("an analysed report: {:?}", first_entry.skipped));
    let cutoff = first.entry_date;

    let rewritten = tempfile::tempdir().expect("temp dir");
    write_files(rewritten.path(), Some(cutoff)).await;
    let db = tempfile::tempdir().expect("temp dir");
    let changed = files_report(&rewritten, &db).await;
    let again = changed
        .per_event
        .iter()
        .find(|e| e.report_date == first.report_date)
        .unwrap_or_else(|| panic!("the first report again: {:?}", changed.skipped));
    assert_eq!(again.entry_date, first.entry_date);
    assert_eq!(
        again.implied_move_pct, first.implied_move_pct,
        "the implied move at entry"
    );
    let trade = |r: &BacktestReport| {
        r.trades
            .iter()
            .find(|t| t.report_date == first.report_date)
            .map(|t| (t.legs.clone(), t.credit, t.score, t.vrp_tier))
    };
    assert!(
        trade(&first_entry).is_some(),
        "the first report is traded: {:?}",
        first_entry.skipped
    );
    assert_eq!(trade(&first_entry), trade(&changed), "the entry's trade");
    assert_ne!(
        again.realised_move_pct, first.realised_move_pct,
        "the reaction read the rewritten bars"
    );
}

/// Known answers over three reports of imported files: each short straddle's P&L is worked out
/// here by hand from the rows of `chains.csv` (the fill rule and fees as the README states
/// them), and the summary from those P&Ls, independently of the settlement code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_reports_over_files_give_the_hand_computed_trades_and_summary() {
    let files = tempfile::tempdir().expect("temp dir");
    write_files(files.path(), None).await;
    let db = tempfile::tempdir().expect("temp dir");
    let report = files_report_from(&files, &db, "2025-04-01").await;
    assert_eq!(
        report.trades.len(),
        3,
        "three reports traded: {:?}",
        report.skipped
    );
    // The rows: (as-of New York date, expiration, strike, type) -> (bid, ask).
    let text = std::fs::read_to_string(files.path().join("chains.csv")).expect("chains.csv");
    let mut rows = std::collections::HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let at: chrono::DateTime<chrono::Utc> = f[0].parse().expect("as_of");
        let day = ivcrush_core::calendar::new_york_date(at);
        let key = (
            day,
            f[3].to_string(),
            f[4].parse::<f64>().expect("strike").to_bits(),
            f[5].to_string(),
        );
        rows.insert(
            key,
            (
                f[6].parse::<f64>().expect("bid"),
                f[7].parse::<f64>().expect("ask"),
            ),
        );
    }
    let (slippage, fee, multiplier) = (0.5, 0.65, 100.0);
    let mut pnls = Vec::new();
    for t in &report.trades {
        // The entry row of each leg is the one with the leg's entry bid and ask.
        let mut credit = 0.0;
        let mut exit = 0.0;
        let mut legs = 0.0;
        for leg in &t.legs {
            let kind = leg.leg.kind.as_str().to_string();
            let strike = leg.leg.strike.to_bits();
            let (expiration, _) = rows
                .iter()
                .find(|((day, _, k, ty), (bid, ask))| {
                    *day == t.entry_date
                        && *k == strike
                        && *ty == kind
                        && *bid == leg.bid
                        && *ask == leg.ask
                })
                .map(|((_, e, _, _), q)| (e.clone(), *q))
                .expect("the leg's entry row");
            let (bid, ask) = rows[&(t.exit_date, expiration, strike, kind)];
            let half_spread_entry = (leg.ask - leg.bid) / 2.0;
            let entry_mid = (leg.ask + leg.bid) / 2.0;
            let exit_mid = (ask + bid) / 2.0;
            let q = f64::from(leg.leg.quantity);
            // A short straddle sells both legs: sold at mid − s·half-spread, bought back at
            // mid + s·half-spread.
            credit += q * (entry_mid - slippage * half_spread_entry);
            exit += q * (exit_mid + slippage * (ask - bid) / 2.0);
            legs += q;
        }
        let fees_per_share = fee * legs * 2.0 / multiplier;
        let pnl = credit - exit - fees_per_share;
        assert!(
            (t.credit - credit).abs() < 1e-9,
            "{}: credit {} vs {credit}",
            t.report_date,
            t.credit
        );
        assert!(
            (t.pnl - pnl).abs() < 1e-9,
            "{}: P&L {} vs {pnl}",
            t.report_date,
            t.pnl
        );
        assert!((t.pnl_per_contract - pnl * multiplier).abs() < 1e-7);
        pnls.push(pnl * multiplier);
    }
    let s = &report.summary;
    let wins = pnls.iter().filter(|p| **p > 0.0).count();
    assert_eq!(s.trades, 3);
    assert_eq!(s.win_rate, Some(wins as f64 / 3.0));
    let total: f64 = pnls.iter().sum();
    assert!((s.total_pnl - total).abs() < 1e-7);
    assert!(s.mean_pnl.is_some_and(|m| (m - total / 3.0).abs() < 1e-7));
    let mut sorted = pnls.clone();
    sorted.sort_by(f64::total_cmp);
    assert!(s.median_pnl.is_some_and(|m| (m - sorted[1]).abs() < 1e-7));
    // Drawdown: the largest fall of the running total from its peak (starting at 0).
    let (mut peak, mut equity, mut drawdown) = (0.0_f64, 0.0_f64, 0.0_f64);
    for p in &pnls {
        equity += p;
        peak = peak.max(equity);
        drawdown = drawdown.max(peak - equity);
    }
    assert!(
        (s.max_drawdown - drawdown).abs() < 1e-7,
        "{} vs {drawdown}",
        s.max_drawdown
    );
}
