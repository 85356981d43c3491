//! The simulated market: deterministic, long enough, and the analytics recover its truth.

use chrono::{Duration, NaiveDate};
use ivcrush_core::calendar::calendar_years;
use ivcrush_core::implied_move::{SQRT_2_OVER_PI, event_expiry};
use ivcrush_core::liquidity::LiquidityTier;
use ivcrush_core::moves::{MoveStats, historical_moves};
use ivcrush_core::{AnalysisInput, AnalyticsConfig, analyze};
use ivcrush_market::sim::{SimMarket, universe};
use ivcrush_market::{EarningsCalendar, OptionsData, PriceHistory};

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

async fn snapshot(m: &SimMarket) -> String {
    let mut out = String::new();
    let cal = m
        .calendar(d("2026-01-01"), d("2026-06-30"))
        .await
        .expect("calendar");
    out += &serde_json::to_string(&cal).expect("json");
    for sym in ["AXON", "KVLT", "HALO"] {
        let bars = m
            .daily_bars(sym, d("2023-01-01"), d("2026-12-31"))
            .await
            .expect("bars");
        out += &serde_json::to_string(&bars).expect("json");
        for e in m.expirations(sym).await.expect("exps").iter().take(3) {
            out += &serde_json::to_string(&m.chain(sym, *e).await.expect("chain")).expect("json");
        }
        out +=
            &serde_json::to_string(&m.quotes(&[sym.to_string()]).await.expect("q")).expect("json");
    }
    out
}

#[tokio::test]
async fn same_seed_and_date_give_byte_identical_data() {
    let a = snapshot(&SimMarket::new(7, d("2026-03-10"))).await;
    let b = snapshot(&SimMarket::new(7, d("2026-03-10"))).await;
    assert_eq!(a, b);
    let c = snapshot(&SimMarket::new(8, d("2026-03-10"))).await;
    assert_ne!(a, c, "another seed gives another market");
}

#[tokio::test]
async fn universe_has_sixty_tickers_from_liquid_to_illiquid_with_three_years_of_history() {
    let u = universe::universe();
    assert_eq!(u.len(), 60);
    let m = SimMarket::new(42, d("2026-03-10"));
    for p in &u {
        let bars = m
            .daily_bars(p.symbol, d("2022-01-01"), d("2026-03-10"))
            .await
            .expect("bars");
        let first = bars.first().expect("bars").date;
        assert!(
            first <= d("2023-03-10"),
            "{} history starts {first}",
            p.symbol
        );
        let reports = m.past_reports(p.symbol).await.expect("reports");
        assert!(
            reports.len() >= 12,
            "{}: {} reports",
            p.symbol,
            reports.len()
        );
    }
    assert!(
        u.iter().any(|p| p.symbol.contains('.')),
        "a dotted symbol is covered"
    );
}

/// As of two sessions before each ticker's next report: the analysis of the simulated chains.
async fn analysis_before_report(sym: &str) -> (ivcrush_core::Analysis, universe::TickerParams) {
    let probe = SimMarket::new(42, d("2026-02-02"));
    let next = probe
        .truth(sym)
        .expect("truth")
        .next_report
        .expect("next report");
    let as_of = ivcrush_core::calendar::previous_trading_day(
        ivcrush_core::calendar::previous_trading_day(next.date),
    );
    let m = SimMarket::new(42, as_of);
    let truth = m.truth(sym).expect("truth");
    assert_eq!(truth.next_report, Some(next));
    let exps = m.expirations(sym).await.expect("expirations");
    let ev = event_expiry(&exps, &next).expect("event expiry");
    let mut chains = Vec::new();
    for e in exps.iter().filter(|e| **e >= ev).take(2) {
        chains.push(m.chain(sym, *e).await.expect("chain"));
    }
    let bars = m
        .daily_bars(sym, as_of - Duration::days(4 * 365), as_of)
        .await
        .expect("bars");
    let past = m.past_reports(sym).await.expect("past");
    let (hist, _) = historical_moves(&bars, &past);
    let spot = m.quotes(&[sym.to_string()]).await.expect("quote")[0].last;
    let input = AnalysisInput {
        ticker: sym,
        as_of: m.as_of(),
        spot,
        rate: ivcrush_market::sim::RATE,
        div: 0.0,
        event: next,
        chains: &chains,
        history: &hist,
        expiration: None,
        quality: &[],
    };
    assert!(calendar_years(m.as_of(), ev) > 0.0);
    (
        analyze(&input, &AnalyticsConfig::default()).expect("analysis"),
        truth.params,
    )
}

#[tokio::test]
async fn term_structure_event_move_recovers_every_tickers_jump_within_ten_percent() {
    let mut worst: f64 = 0.0;
    for p in universe::universe() {
        let (a, params) = analysis_before_report(p.symbol).await;
        let truth = 100.0 * SQRT_2_OVER_PI * params.implied_jump_std();
        let got = a.implied_move.event_pct.expect("event move");
        let err = (got / truth - 1.0).abs();
        worst = worst.max(err);
        assert!(
            err < 0.10,
            "{}: event move {got:.3}% vs truth {truth:.3}% ({:.1}%)",
            p.symbol,
            err * 100.0
        );
    }
    eprintln!(
        "worst relative error of the event move: {:.2}%",
        worst * 100.0
    );
}

#[tokio::test]
async fn historical_move_statistics_match_the_simulated_moves_exactly() {
    let m = SimMarket::new(42, d("2026-03-10"));
    for p in universe::universe() {
        let truth = m.truth(p.symbol).expect("truth");
        let bars = m
            .daily_bars(p.symbol, d("2018-01-01"), d("2026-03-10"))
            .await
            .expect("bars");
        let last_session = ivcrush_core::calendar::previous_trading_day(d("2026-03-10"));
        let past: Vec<_> = m
            .past_reports(p.symbol)
            .await
            .expect("past")
            .into_iter()
            .filter(|e| ivcrush_core::moves::reaction_date(e) <= last_session)
            .collect();
        let (moves, skipped) = historical_moves(&bars, &past);
        assert!(skipped.is_empty(), "{}: {skipped:?}", p.symbol);
        let sim: Vec<f64> = truth
            .past_reports
            .iter()
            .map(|r| r.signed_close_move_pct)
            .collect();
        let ours: Vec<f64> = moves.iter().map(|m| m.signed_close_pct.0).collect();
        assert_eq!(ours, sim, "{}", p.symbol);
        let a = MoveStats::from_signed(&sim, 12, 4, 4.0).expect("stats");
        let b = MoveStats::from_moves(&moves, Default::default(), 12, 4, 4.0).expect("stats");
        assert_eq!(a, b, "{}", p.symbol);
    }
}

#[tokio::test]
async fn liquidity_classes_span_excellent_to_reject() {
    let (liquid, _) = analysis_before_report("AXON").await;
    let (illiquid, _) = analysis_before_report("HALO").await;
    assert!(
        liquid.liquidity.tier >= LiquidityTier::Good,
        "{:?}",
        liquid.liquidity
    );
    assert_eq!(illiquid.liquidity.tier, LiquidityTier::Reject);
    assert!(!illiquid.tradeable);
}

#[tokio::test]
async fn unknown_symbols_and_unlisted_expirations_are_no_data() {
    let m = SimMarket::new(42, d("2026-03-10"));
    assert!(m.expirations("NOPE").await.is_err());
    assert!(
        m.quotes(&["NOPE".to_string()])
            .await
            .expect("batch")
            .is_empty()
    );
    let c = m.chain("AXON", d("2026-03-11")).await.expect("empty chain");
    assert!(c.quotes.is_empty());
}
