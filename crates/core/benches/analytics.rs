//! Criterion benchmarks of the analytics hot paths: one implied-vol solve, one OTM smile of a
//! 30-quote chain, and one full ticker analysis (12 reports, strategies) on the vendor fixtures'
//! market (two expiries) and on a synthetic market with what the app fetches for the
//! term-structure fit (a pre-event expiry, the event expiry and five more in the window, 82
//! quotes each). The Python tools we replace take ≈0.5 ms per ticker; the budget is 100 µs.

use criterion::{Criterion, criterion_group, criterion_main};
use ivcrush_core::Bar;
use ivcrush_core::calendar::previous_trading_day;
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::realized::rv_record;
use ivcrush_core::smile::{ExpiryMarket, otm_smile};
use ivcrush_core::uncertainty::mean_interval;
use ivcrush_core::{
    AnalysisInput, AnalyticsConfig, EarningsEvent, OptionKind, OptionParams, Pct, Timing, analyze,
    bsm_price, implied_vol,
};
use std::hint::black_box;

#[path = "../tests/core/fixture_chain.rs"]
mod fixture_chain;
#[path = "../tests/core/synthetic.rs"]
mod synthetic;
use fixture_chain::fixture_chain as chain;

fn history() -> Vec<HistoricalMove> {
    // Scaled by 0.8 so that the ratio's 90 % interval still clears MARGINAL: the bench
    // measures a tradeable ticker, strategies included.
    [
        2.0, -3.1, 1.1, -0.8, 4.9, -1.5, 0.4, -6.2, 2.8, -1.3, 1.7, -2.5,
    ]
    .iter()
    .map(|s| s * 0.8)
    .enumerate()
    .map(|(i, s)| {
        let d = chrono::NaiveDate::from_ymd_opt(2023, 1, 26).expect("date")
            + chrono::Duration::days(91 * i as i64);
        HistoricalMove {
            report_date: d,
            timing: Timing::Amc,
            reaction_date: d + chrono::Duration::days(1),
            reference_close: 100.0,
            close_move_pct: Pct::new(f64::abs(s)).expect("finite"),
            gap_move_pct: Pct::new(f64::abs(s)).expect("finite"),
            intraday_move_pct: Pct::new(f64::abs(s)).expect("finite"),
            signed_close_pct: Pct::new(s).expect("finite"),
        }
    })
    .collect()
}

/// 90 daily bars of consecutive sessions ending the session before `date` (the realized
/// volatility's 20- and 60-session windows, with and without reaction sessions).
fn bars_before(date: &str) -> Vec<Bar> {
    let mut day: chrono::NaiveDate = date.parse().expect("date");
    let mut bars = Vec::with_capacity(90);
    for i in 0..90 {
        day = previous_trading_day(day);
        let c = 100.0 * (1.0 + 0.02 * ((i * 7 % 11) as f64 / 11.0 - 0.5));
        bars.push(Bar {
            date: day,
            open: c * 0.998,
            high: c * 1.012,
            low: c * 0.987,
            close: c,
            volume: 1_000_000,
        });
    }
    bars.reverse();
    bars
}

fn benches(c: &mut Criterion) {
    let p = OptionParams::new(OptionKind::Put, 100.0, 90.0, 0.1, 0.04, 0.01).expect("valid");
    let price = bsm_price(&p, 0.45);
    c.bench_function("implied_vol/one_solve", |b| {
        b.iter(|| {
            let v = implied_vol(black_box(&p), black_box(price)).expect("solvable");
            assert!((v - 0.45).abs() < 1e-12);
            v
        })
    });

    let chains = [
        chain("tradier_chain_AAPL_2026-01-30.json"),
        chain("tradier_chain_AAPL_2026-02-06.json"),
    ];
    let market = ExpiryMarket {
        spot: 251.37,
        t: 0.0056,
        rate: 0.043,
        div: 0.004,
    };
    c.bench_function("smile/otm_30_quotes", |b| {
        b.iter(|| {
            let s = otm_smile(black_box(&chains[0]), black_box(&market));
            assert_eq!(s.len(), 15);
            s
        })
    });

    let hist = history();
    let bars = bars_before("2026-01-28");
    let cfg = AnalyticsConfig::default();
    let input = AnalysisInput {
        ticker: "AAPL",
        as_of: "2026-01-28T20:00:00Z".parse().expect("instant"),
        spot: 251.37,
        rate: 0.043,
        div: 0.004,
        event: EarningsEvent {
            date: "2026-01-29".parse().expect("date"),
            timing: Timing::Amc,
        },
        chains: &chains,
        history: &hist,
        bars: &bars,
        expiration: None,
        quality: &[],
    };
    c.bench_function("analyze/one_ticker_two_expiries", |b| {
        b.iter(|| {
            let a = analyze(black_box(&input), &cfg).expect("analyses");
            assert!(a.tradeable);
            a
        })
    });
}

fn whole_term_structure(c: &mut Criterion) {
    let mut s = synthetic::Scenario::week();
    // Report Monday before the open: Friday 2026-01-30 expires before the reaction.
    s.event.date = "2026-02-02".parse().expect("date");
    s.event.timing = Timing::Bmo;
    let chains = s.chains(&[
        "2026-01-30",
        "2026-02-06",
        "2026-02-13",
        "2026-02-20",
        "2026-02-27",
        "2026-03-06",
        "2026-03-13",
    ]);
    let hist = synthetic::history(1.5);
    let bars = bars_before(&s.as_of.date_naive().to_string());
    let cfg = AnalyticsConfig::default();
    let input = AnalysisInput {
        ticker: "SYN",
        as_of: s.as_of,
        spot: s.spot,
        rate: s.rate,
        div: 0.0,
        event: s.event,
        chains: &chains,
        history: &hist,
        bars: &bars,
        expiration: None,
        quality: &[],
    };
    c.bench_function("analyze/one_ticker_seven_expiries", |b| {
        b.iter(|| {
            let a = analyze(black_box(&input), &cfg).expect("analyses");
            assert!(a.tradeable && a.implied_move.fit_expiries == Some(7));
            a
        })
    });
}

/// The parts the uncertainty and realized-vol blocks add to an analysis: the mean move's
/// interval over 12 reports and the four realized-vol windows over 61 bars.
fn uncertainty_and_realized_vol(c: &mut Criterion) {
    let moves = [2.0, 3.1, 1.1, 0.8, 4.9, 1.5, 0.4, 6.2, 2.8, 1.3, 1.7, 2.5];
    c.bench_function("uncertainty/mean_interval_12_reports", |b| {
        b.iter(|| mean_interval(black_box(&moves), 0.90).expect("interval"))
    });
    let bars = bars_before("2026-01-28");
    let reactions = [bars[70].date];
    c.bench_function("realized/rv_record_20_60_ex_earnings", |b| {
        b.iter(|| rv_record(black_box(&bars), black_box(&reactions)).expect("windows"))
    });
}

criterion_group!(
    analytics,
    benches,
    whole_term_structure,
    uncertainty_and_realized_vol
);
criterion_main!(analytics);
