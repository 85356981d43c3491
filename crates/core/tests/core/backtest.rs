//! Backtest analytics: settlement at both exits against hand values, a hand-computed three-trade
//! summary, typed errors, the walk-forward window parser, and property tests of the invariants.

use chrono::NaiveDate;
use ivcrush_core::OptionKind;
use ivcrush_core::backtest::{
    BidAsk, ParseWindowError, QuoteAt, SettleError, Trade, TradeCosts, TradeExit, TradeInfo,
    WalkForwardError, WalkForwardEvent, WindowSpec, settle, summarize, walk_forward,
};
use ivcrush_core::liquidity::LiquidityTier;
use ivcrush_core::strategy::{Leg, MaxLoss, Payoff, Side, StrategyKind, StrategyLeg};
use ivcrush_core::vrp::VrpTier;
use proptest::prelude::*;

const TOL: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= TOL
}

macro_rules! assert_close {
    ($a:expr, $b:expr) => {{
        let (a, b): (f64, f64) = ($a, $b);
        assert!(close(a, b), "{} = {a} vs {b}", stringify!($a));
    }};
}

fn leg(kind: OptionKind, strike: f64, side: Side, bid: f64, ask: f64) -> StrategyLeg {
    StrategyLeg {
        leg: Leg {
            kind,
            strike,
            side,
            quantity: 1,
            mid: 0.5 * (bid + ask),
        },
        bid,
        ask,
        liquidity: Some(LiquidityTier::Good),
        open_interest: 1000,
        iv: None,
        delta: None,
    }
}

fn q(bid: f64, ask: f64) -> Option<BidAsk> {
    Some(BidAsk { bid, ask })
}

use OptionKind::{Call, Put};
use Side::{Long, Short};

/// Half a half-spread of slippage, 0.65 per contract per leg, ×100.
fn costs() -> TradeCosts {
    TradeCosts {
        slippage: 0.5,
        commission: 0.65,
        multiplier: 100.0,
    }
}

// Every fill below: sell at mid − 0.5·(ask − bid)/2, buy at mid + 0.5·(ask − bid)/2.

fn straddle() -> Vec<StrategyLeg> {
    // Call 4.90/5.10: mid 5.00, slip 0.05 → sold 4.95. Put 4.70/4.90: mid 4.80 → sold 4.75.
    // Credit 9.70; opening commissions 2 × 0.65 / 100 = 0.013 per share.
    vec![
        leg(Call, 100.0, Short, 4.90, 5.10),
        leg(Put, 100.0, Short, 4.70, 4.90),
    ]
}

#[test]
fn straddle_settles_at_both_exits() {
    let legs = straddle();
    // Close: call 1.00/1.20 bought 1.15, put 3.90/4.10 bought 4.05 → exit 5.20; commissions
    // 0.026; P&L 9.70 − 5.20 − 0.026 = 4.474 (447.4 per contract); margin 20 → 0.2237.
    let exit = [q(1.00, 1.20), q(3.90, 4.10)];
    let r = settle(&legs, TradeExit::Close(&exit), &costs(), Some(20.0)).expect("settles");
    assert_close!(r.credit, 9.70);
    assert_close!(r.exit_cost, 5.20);
    assert_close!(r.commissions, 0.026);
    assert_close!(r.pnl, 4.474);
    assert_close!(r.pnl_per_contract, 447.4);
    assert_close!(r.pnl_pct, 0.2237);
    assert_eq!(r.max_loss, MaxLoss::Unbounded);
    // Expiry at 93: the put owes 7 → P&L 9.70 − 7 − 0.013 = 2.687; 2.687 / 20 = 0.13435.
    let r = settle(
        &legs,
        TradeExit::HoldToExpiry { settlement: 93.0 },
        &costs(),
        Some(20.0),
    )
    .expect("settles");
    assert_close!(r.exit_cost, 7.0);
    assert_close!(r.commissions, 0.013);
    assert_close!(r.pnl, 2.687);
    assert_close!(r.pnl_per_contract, 268.7);
    assert_close!(r.pnl_pct, 0.13435);
}

#[test]
fn strangle_settles_at_both_exits() {
    // Put 95 2.00/2.20 sold 2.05, call 105 1.80/2.00 sold 1.85: credit 3.90.
    let legs = vec![
        leg(Put, 95.0, Short, 2.00, 2.20),
        leg(Call, 105.0, Short, 1.80, 2.00),
    ];
    // Close: put 0.40/0.60 bought 0.55, call 0.10/0.20 (mid 0.15, slip 0.025) bought 0.175 →
    // exit 0.725; P&L 3.90 − 0.725 − 0.026 = 3.149; margin 15.
    let exit = [q(0.40, 0.60), q(0.10, 0.20)];
    let r = settle(&legs, TradeExit::Close(&exit), &costs(), Some(15.0)).expect("settles");
    assert_close!(r.credit, 3.90);
    assert_close!(r.exit_cost, 0.725);
    assert_close!(r.pnl, 3.149);
    assert_close!(r.pnl_per_contract, 314.9);
    assert_close!(r.pnl_pct, 3.149 / 15.0);
    // Expiry at 108: the call owes 3 → 3.90 − 3 − 0.013 = 0.887.
    let r = settle(
        &legs,
        TradeExit::HoldToExpiry { settlement: 108.0 },
        &costs(),
        Some(15.0),
    )
    .expect("settles");
    assert_close!(r.exit_cost, 3.0);
    assert_close!(r.pnl, 0.887);
    assert_close!(r.pnl_pct, 0.887 / 15.0);
}

fn condor() -> Vec<StrategyLeg> {
    // Long put 85 0.40/0.60 bought 0.55; short put 90 1.10/1.30 sold 1.15; short call 110
    // 1.20/1.40 sold 1.25; long call 120 0.40/0.60 bought 0.55: credit 1.30.
    vec![
        leg(Put, 85.0, Long, 0.40, 0.60),
        leg(Put, 90.0, Short, 1.10, 1.30),
        leg(Call, 110.0, Short, 1.20, 1.40),
        leg(Call, 120.0, Long, 0.40, 0.60),
    ]
}

#[test]
fn iron_condor_settles_at_both_exits() {
    let legs = condor();
    // Opening commissions 4 × 0.65 / 100 = 0.026; max loss = wider wing 10 − (1.30 − 0.026)
    // = 8.726.
    // Close: long put 0.00/0.05 (mid 0.025, slip 0.0125) sold 0.0125; short put 0.05/0.15
    // bought 0.125; short call 2.90/3.10 bought 3.05; long call 0.20/0.30 sold 0.225:
    // exit −0.0125 + 0.125 + 3.05 − 0.225 = 2.9375; P&L 1.30 − 2.9375 − 0.052 = −1.6895.
    let exit = [q(0.0, 0.05), q(0.05, 0.15), q(2.90, 3.10), q(0.20, 0.30)];
    let r = settle(&legs, TradeExit::Close(&exit), &costs(), None).expect("bounded");
    assert_close!(r.credit, 1.30);
    assert_close!(r.exit_cost, 2.9375);
    assert_close!(r.commissions, 0.052);
    assert_close!(r.pnl, -1.6895);
    assert_close!(r.pnl_per_contract, -168.95);
    match r.max_loss {
        MaxLoss::Bounded(l) => assert_close!(l, 8.726),
        MaxLoss::Unbounded => panic!("a condor's loss is bounded"),
    }
    assert_close!(r.pnl_pct, -1.6895 / 8.726);
    // Expiry at 122: short call owes 12, long call pays 2 → exit 10; P&L 1.30 − 10 − 0.026 =
    // −8.726, the whole max loss.
    let r = settle(
        &legs,
        TradeExit::HoldToExpiry { settlement: 122.0 },
        &costs(),
        None,
    )
    .expect("bounded");
    assert_close!(r.exit_cost, 10.0);
    assert_close!(r.pnl, -8.726);
    assert_close!(r.pnl_pct, -1.0);
    // Expiry inside the shorts: nothing owed, 1.30 − 0.026.
    let r = settle(
        &legs,
        TradeExit::HoldToExpiry { settlement: 100.0 },
        &costs(),
        None,
    )
    .expect("bounded");
    assert_close!(r.exit_cost, 0.0);
    assert_close!(r.pnl, 1.274);
}

#[test]
fn costs_from_config_double_the_full_spread_fraction() {
    let cfg = ivcrush_core::config::StrategyConfig::default();
    let c = TradeCosts::from_config(&cfg);
    // The analysis gives up 0.25 of the full spread: half a half-spread.
    assert_eq!(c.slippage, 0.5);
    assert_eq!(c.commission, 0.65);
    assert_eq!(c.multiplier, 100.0);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let legs = straddle();
    let c = costs();
    let hold = |s: f64| TradeExit::HoldToExpiry { settlement: s };
    let with_entry = |bid: f64, ask: f64| {
        let mut l = straddle();
        l[1].bid = bid;
        l[1].ask = ask;
        settle(&l, hold(100.0), &c, Some(20.0))
    };
    for (bid, ask) in [
        (f64::NAN, 1.0),
        (1.0, f64::NAN),
        (-0.1, 1.0),
        (2.0, 1.0),
        (0.0, 0.0),
        (1.0, f64::INFINITY),
    ] {
        assert!(
            matches!(
                with_entry(bid, ask),
                Err(SettleError::BadQuote {
                    leg: 1,
                    at: QuoteAt::Entry,
                    ..
                })
            ),
            "{bid}/{ask}"
        );
    }
    let msg = with_entry(2.0, 1.0).expect_err("crossed").to_string();
    assert!(msg.contains("leg 1: entry quote bid 2 / ask 1"), "{msg}");
    for s in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            settle(&legs, hold(s), &c, Some(20.0)),
            Err(SettleError::BadSettlement(_))
        ));
    }
    let missing = [q(1.0, 1.2), None];
    assert_eq!(
        settle(&legs, TradeExit::Close(&missing), &c, Some(20.0)),
        Err(SettleError::MissingExitQuote { leg: 1 })
    );
    let short = [q(1.0, 1.2)];
    assert_eq!(
        settle(&legs, TradeExit::Close(&short), &c, Some(20.0)),
        Err(SettleError::ExitQuoteCount { legs: 2, quotes: 1 })
    );
    let crossed = [q(1.3, 1.2), q(1.0, 1.1)];
    assert!(matches!(
        settle(&legs, TradeExit::Close(&crossed), &c, Some(20.0)),
        Err(SettleError::BadQuote {
            leg: 0,
            at: QuoteAt::Exit,
            ..
        })
    ));
    // A worthless option quoted 0/0 can be closed.
    let worthless = [q(0.0, 0.0), q(1.0, 1.1)];
    assert!(settle(&legs, TradeExit::Close(&worthless), &c, Some(20.0)).is_ok());
    assert_eq!(
        settle(&[], hold(100.0), &c, Some(20.0)),
        Err(SettleError::NoLegs)
    );
    assert_eq!(
        settle(&legs, hold(100.0), &c, None),
        Err(SettleError::NoRiskBasis)
    );
    assert!(matches!(
        settle(&legs, hold(100.0), &c, Some(f64::NAN)),
        Err(SettleError::BadParameter {
            name: "margin_per_share",
            ..
        })
    ));
    for bad in [
        TradeCosts {
            slippage: -0.1,
            ..c
        },
        TradeCosts {
            commission: f64::NAN,
            ..c
        },
        TradeCosts {
            multiplier: 0.0,
            ..c
        },
    ] {
        assert!(matches!(
            settle(&legs, hold(100.0), &bad, Some(20.0)),
            Err(SettleError::BadParameter { .. })
        ));
    }
    let mut zero = straddle();
    zero[0].leg.quantity = 0;
    assert_eq!(
        settle(&zero, hold(100.0), &c, Some(20.0)),
        Err(SettleError::ZeroQuantity { leg: 0 })
    );
    let mut nan_strike = straddle();
    nan_strike[0].leg.strike = f64::NAN;
    assert!(matches!(
        settle(&nan_strike, hold(100.0), &c, Some(20.0)),
        Err(SettleError::BadStrike { leg: 0, .. })
    ));
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

#[allow(clippy::too_many_arguments)]
fn info(
    entry: &str,
    strategy: StrategyKind,
    implied: f64,
    realised: f64,
    tier: VrpTier,
    liq: LiquidityTier,
    score: f64,
    pops: (Option<f64>, Option<f64>),
) -> TradeInfo {
    TradeInfo {
        ticker: "TEST".to_string(),
        report_date: date(entry),
        entry_date: date(entry),
        exit_date: date(entry).succ_opt().expect("date"),
        strategy,
        implied_move_pct: implied,
        realised_move_pct: realised,
        vrp_tier: tier,
        liquidity_tier: liq,
        score,
        pop_lognormal: pops.0,
        pop_empirical: pops.1,
    }
}

/// Three trades settled by hand, one commission of 1.00 per contract per leg (0.01 per share).
fn three_trades() -> Vec<Trade> {
    let c = TradeCosts {
        slippage: 0.5,
        commission: 1.0,
        multiplier: 100.0,
    };
    // A: straddle 100. Call 5.90/6.10 sold 5.95, put 3.90/4.10 sold 3.95: credit 9.90.
    // Closed: call 1.90/2.10 bought 2.05, put 0.90/1.10 bought 1.05: exit 3.10.
    // Commissions 4 × 0.01 = 0.04. P&L 9.90 − 3.10 − 0.04 = 6.76 → 676; margin 16.9 → 0.40.
    let a_legs = vec![
        leg(Call, 100.0, Short, 5.90, 6.10),
        leg(Put, 100.0, Short, 3.90, 4.10),
    ];
    let a_exit = [q(1.90, 2.10), q(0.90, 1.10)];
    let a = settle(&a_legs, TradeExit::Close(&a_exit), &c, Some(16.9)).expect("A");
    // B: the condor above, credit 1.30, opening commissions 0.04, max loss 10 − 1.26 = 8.74.
    // Held to 125: owes 10 → P&L 1.30 − 10 − 0.04 = −8.74 → −874; pnl_pct −1.
    let b = settle(
        &condor(),
        TradeExit::HoldToExpiry { settlement: 125.0 },
        &c,
        None,
    )
    .expect("B");
    // C: strangle 95/105, credit 3.90 (as above). Held to 102: nothing owed. P&L 3.90 − 0.02
    // = 3.88 → 388; margin 19.4 → 0.20.
    let c_legs = vec![
        leg(Put, 95.0, Short, 2.00, 2.20),
        leg(Call, 105.0, Short, 1.80, 2.00),
    ];
    let c_res = settle(
        &c_legs,
        TradeExit::HoldToExpiry { settlement: 102.0 },
        &c,
        Some(19.4),
    )
    .expect("C");
    vec![
        Trade::new(
            info(
                "2024-01-10",
                StrategyKind::ShortStraddle,
                5.0,
                -2.0,
                VrpTier::Good,
                LiquidityTier::Excellent,
                72.0,
                (Some(0.68), Some(0.9)),
            ),
            a_legs,
            &a,
        ),
        Trade::new(
            info(
                "2024-02-10",
                StrategyKind::IronCondor,
                6.0,
                25.0,
                VrpTier::Good,
                LiquidityTier::Warning,
                49.99,
                (Some(0.62), None),
            ),
            condor(),
            &b,
        ),
        Trade::new(
            info(
                "2024-03-10",
                StrategyKind::ShortStrangle,
                4.0,
                4.0,
                VrpTier::Excellent,
                LiquidityTier::Excellent,
                100.0,
                (Some(0.45), Some(1.0)),
            ),
            c_legs,
            &c_res,
        ),
    ]
}

#[test]
fn three_trade_summary_matches_hand_arithmetic() {
    let trades = three_trades();
    let pnls: Vec<f64> = trades.iter().map(|t| t.pnl_per_contract).collect();
    assert_close!(pnls[0], 676.0);
    assert_close!(pnls[1], -874.0);
    assert_close!(pnls[2], 388.0);
    assert_close!(trades[0].pnl_pct, 0.4);
    assert_close!(trades[1].pnl_pct, -1.0);
    assert_close!(trades[2].pnl_pct, 0.2);
    // |−2| ≤ 5 inside; |25| > 6 outside; |4| ≤ 4 inside (the boundary counts as inside).
    assert_eq!(
        trades.iter().map(|t| t.inside).collect::<Vec<_>>(),
        [true, false, true]
    );

    let s = summarize(&trades);
    assert_eq!(s.trades, 3);
    // Wins: A and C → 2/3.
    assert_close!(s.win_rate.expect("trades"), 2.0 / 3.0);
    // Total 676 − 874 + 388 = 190; mean 190/3; median of (−874, 388, 676) = 388.
    assert_close!(s.total_pnl, 190.0);
    assert_close!(s.mean_pnl.expect("trades"), 190.0 / 3.0);
    assert_close!(s.median_pnl.expect("trades"), 388.0);
    // pnl_pct (0.4, −1, 0.2): mean −0.4/3; deviations 0.4 + 0.4/3, −1 + 0.4/3, 0.2 + 0.4/3;
    // sample variance = their squares' sum / 2 (= 1.72/3 ≈ 0.5733); Sharpe = mean / √var ≈
    // −0.1761.
    let m: f64 = -0.4 / 3.0;
    let var = ((0.4 - m).powi(2) + (-1.0 - m).powi(2) + (0.2 - m).powi(2)) / 2.0;
    assert_close!(var, 1.72 / 3.0);
    assert_close!(s.sharpe.expect("dispersion"), m / var.sqrt());
    // Equity 0 → 676 → −198 → 190: peak 676, trough −198 → drawdown 874.
    assert_close!(s.max_drawdown, 874.0);

    // By tier: GOOD = A, B (1 win of 2, total −198, mean −99); EXCELLENT = C.
    let good = s.by_tier[&VrpTier::Good];
    assert_eq!(good.trades, 2);
    assert_close!(good.win_rate, 0.5);
    assert_close!(good.total_pnl, -198.0);
    assert_close!(good.mean_pnl, -99.0);
    let exc = s.by_tier[&VrpTier::Excellent];
    assert_eq!((exc.trades, exc.win_rate), (1, 1.0));
    assert_close!(exc.total_pnl, 388.0);
    assert_eq!(s.by_tier.len(), 2);
    // By liquidity: EXCELLENT = A, C (2 wins, 1064); WARNING = B.
    let le = s.by_liquidity[&LiquidityTier::Excellent];
    assert_eq!((le.trades, le.win_rate), (2, 1.0));
    assert_close!(le.total_pnl, 1064.0);
    assert_eq!(s.by_liquidity[&LiquidityTier::Warning].trades, 1);
    // Score deciles: 72 → 7, 49.99 → 4, 100 → 9 (clamped).
    assert_eq!(
        s.by_score_decile.keys().copied().collect::<Vec<_>>(),
        [4, 7, 9]
    );
    // Lognormal calibration: 0.45 → "0.4-0.5" (1 trade, won); 0.68 and 0.62 → "0.6-0.7"
    // (predicted 0.65, 1 win of 2).
    let cal = &s.calibration;
    assert_eq!(cal.len(), 2);
    assert_eq!((cal[0].bucket.as_str(), cal[0].count), ("0.4-0.5", 1));
    assert_close!(cal[0].predicted, 0.45);
    assert_close!(cal[0].realised, 1.0);
    assert_eq!((cal[1].bucket.as_str(), cal[1].count), ("0.6-0.7", 2));
    assert_close!(cal[1].predicted, 0.65);
    assert_close!(cal[1].realised, 0.5);
    // Empirical: 0.9 and 1.0 → "0.9-1.0" (predicted 0.95, both won); B has none.
    let emp = &s.calibration_empirical;
    assert_eq!(emp.len(), 1);
    assert_eq!((emp[0].bucket.as_str(), emp[0].count), ("0.9-1.0", 2));
    assert_close!(emp[0].predicted, 0.95);
    assert_close!(emp[0].realised, 1.0);

    let json = serde_json::to_value(&s).expect("serialises");
    assert_eq!(json["by_tier"]["GOOD"]["trades"], 2);
    assert_eq!(json["by_score_decile"]["9"]["trades"], 1);
    let t = serde_json::to_value(&trades[0]).expect("serialises");
    for key in [
        "ticker",
        "report_date",
        "entry_date",
        "exit_date",
        "strategy",
        "legs",
        "credit",
        "pnl",
        "pnl_per_contract",
        "pnl_pct",
        "implied_move_pct",
        "realised_move_pct",
        "inside",
        "vrp_tier",
        "liquidity_tier",
        "score",
        "pop_lognormal",
        "pop_empirical",
    ] {
        assert!(t.get(key).is_some(), "trade JSON lacks {key}");
    }
    assert_eq!(t["entry_date"], "2024-01-10");
    assert_eq!(t["strategy"], "short_straddle");
}

#[test]
fn empty_and_single_trade_summaries_have_no_sharpe() {
    let s = summarize::<Trade>(&[]);
    assert_eq!(
        (s.trades, s.win_rate, s.mean_pnl, s.sharpe),
        (0, None, None, None)
    );
    assert_eq!(s.max_drawdown, 0.0);
    let one = &three_trades()[..1];
    let s = summarize(one);
    assert_eq!(s.sharpe, None);
    assert_eq!(s.max_drawdown, 0.0);
}

#[test]
fn window_specs_parse_months_and_years() {
    let p = |s: &str| s.parse::<WindowSpec>();
    assert_eq!(
        p("6m:3m"),
        Ok(WindowSpec {
            train_months: 6,
            test_months: 3
        })
    );
    assert_eq!(
        p("1y:3m"),
        Ok(WindowSpec {
            train_months: 12,
            test_months: 3
        })
    );
    assert_eq!(
        p(" 2Y : 6M "),
        Ok(WindowSpec {
            train_months: 24,
            test_months: 6
        })
    );
    for bad in [
        "", "6m", "6:3", "0m:3m", "6m:0y", "6w:3m", "m:3m", "6m:3m:1m", "-6m:3m",
    ] {
        let e = p(bad).expect_err(bad);
        assert_eq!(
            e,
            ParseWindowError {
                input: bad.to_string()
            }
        );
        assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
    }
}

/// A minimal trade for the summary and walk-forward properties.
fn trade(entry: NaiveDate, exit_days: u64, pnl: f64, score: f64, pops: [Option<f64>; 2]) -> Trade {
    Trade {
        ticker: "T".to_string(),
        report_date: entry,
        entry_date: entry,
        exit_date: entry + chrono::Days::new(exit_days),
        strategy: StrategyKind::IronCondor,
        legs: Vec::new(),
        credit: 1.0,
        pnl,
        pnl_per_contract: pnl * 100.0,
        pnl_pct: pnl / 5.0,
        implied_move_pct: 5.0,
        realised_move_pct: 3.0,
        inside: true,
        vrp_tier: if score > 50.0 {
            VrpTier::Good
        } else {
            VrpTier::Marginal
        },
        liquidity_tier: LiquidityTier::Good,
        score,
        pop_lognormal: pops[0],
        pop_empirical: pops[1],
    }
}

#[test]
fn walk_forward_picks_on_training_and_reports_the_test() {
    // Monthly events from 2024-01-15; profile 0 wins January–June, profile 1 wins after.
    let start = date("2024-01-15");
    let events: Vec<WalkForwardEvent> = (0..12)
        .map(|i| {
            let d = start
                .checked_add_months(chrono::Months::new(i))
                .expect("date");
            let (p0, p1) = if i < 6 { (1.0, -1.0) } else { (-1.0, 1.0) };
            WalkForwardEvent {
                entry_date: d,
                trades: vec![
                    Some(trade(d, 1, p0, 60.0, [None, None])),
                    Some(trade(d, 1, p1, 60.0, [None, None])),
                ],
            }
        })
        .collect();
    let wf = walk_forward(&events, 6, 3, &["base", "wide"]).expect("runs");
    // Windows test from Jul 15 and Oct 15 (Jan 15 + 6 and + 9 months); the next would start
    // Jan 15 2025, after the last event (Dec 15).
    assert_eq!(wf.windows.len(), 2);
    let w0 = &wf.windows[0];
    assert_eq!(
        (w0.train_from, w0.train_to, w0.test_from, w0.test_to),
        (
            date("2024-01-15"),
            date("2024-07-15"),
            date("2024-07-15"),
            date("2024-10-15")
        )
    );
    // Training Jan–Jun: profile 0 made 600, profile 1 −600.
    assert_eq!(w0.chosen_profile.as_deref(), Some("base"));
    assert_eq!(w0.trades.len(), 3);
    assert!(w0.trades.iter().all(|t| t.pnl == -1.0));
    // Training Apr–Sep: profile 0 3×100 − 3×100 = 0, profile 1 0 too: the tie goes to 0.
    assert_eq!(wf.windows[1].chosen_profile.as_deref(), Some("base"));
    assert_eq!(wf.out_of_sample.trades, 6);
    assert_eq!(wf.out_of_sample.total_pnl, -600.0);

    assert_eq!(
        walk_forward(&events, 0, 3, &["a", "b"]),
        Err(WalkForwardError::ZeroLength {
            train_months: 0,
            test_months: 3
        })
    );
    assert!(matches!(
        walk_forward(&events, 6, 3, &["a"]),
        Err(WalkForwardError::SlotCount { index: 0, .. })
    ));
    let mut unsorted = events.clone();
    unsorted.swap(2, 3);
    assert!(matches!(
        walk_forward(&unsorted, 6, 3, &["a", "b"]),
        Err(WalkForwardError::NotSorted { index: 3, .. })
    ));
    let empty = walk_forward(&[], 6, 3, &["a"]).expect("empty runs");
    assert!(empty.windows.is_empty());
}

#[test]
fn walk_forward_ignores_training_trades_still_open_at_the_test_start() {
    // Profile 1's big training win closes after the test starts: not known when choosing.
    let d0 = date("2024-01-02");
    let d1 = date("2024-06-30");
    let d2 = date("2024-07-10");
    let events = vec![
        WalkForwardEvent {
            entry_date: d0,
            trades: vec![Some(trade(d0, 1, 1.0, 60.0, [None, None])), None],
        },
        WalkForwardEvent {
            entry_date: d1,
            trades: vec![None, Some(trade(d1, 10, 50.0, 60.0, [None, None]))],
        },
        WalkForwardEvent {
            entry_date: d2,
            trades: vec![
                Some(trade(d2, 1, 2.0, 60.0, [None, None])),
                Some(trade(d2, 1, 3.0, 60.0, [None, None])),
            ],
        },
    ];
    let wf = walk_forward(&events, 6, 3, &["a", "b"]).expect("runs");
    assert_eq!(wf.windows[0].chosen_profile.as_deref(), Some("a"));
    assert_eq!(wf.windows[0].trades[0].pnl, 2.0);
}

fn arb_legs() -> impl Strategy<Value = Vec<StrategyLeg>> {
    proptest::collection::vec(
        (
            prop_oneof![Just(Call), Just(Put)],
            50.0f64..150.0,
            prop_oneof![Just(Long), Just(Short)],
            1u32..4,
            0.0f64..10.0,
            0.0f64..1.0,
        ),
        1..5,
    )
    .prop_map(|v| {
        v.into_iter()
            .map(|(k, strike, side, qty, bid, spread)| {
                let mut l = leg(k, strike, side, bid, bid + spread + 0.01);
                l.leg.quantity = qty;
                l
            })
            .collect()
    })
}

fn arb_trades() -> impl Strategy<Value = Vec<Trade>> {
    proptest::collection::vec(
        (
            -10.0f64..10.0,
            -5.0f64..110.0,
            proptest::option::of(0.0f64..=1.0),
            proptest::option::of(0.0f64..=1.0),
            0u64..20,
        ),
        0..40,
    )
    .prop_map(|v| {
        let start = date("2023-01-02");
        v.into_iter()
            .enumerate()
            .map(|(i, (pnl, score, p0, p1, exit_days))| {
                let d = start + chrono::Days::new(i as u64 * 9);
                trade(d, exit_days, pnl, score, [p0, p1])
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hold_to_expiry_is_the_payoff_less_opening_commissions(
        legs in arb_legs(), s in 1.0f64..300.0, slip in 0.0f64..1.0, fee in 0.0f64..2.0
    ) {
        let c = TradeCosts { slippage: slip, commission: fee, multiplier: 100.0 };
        let r = settle(&legs, TradeExit::HoldToExpiry { settlement: s }, &c, Some(25.0))
            .expect("valid legs");
        let contracts: f64 = legs.iter().map(|l| f64::from(l.quantity)).sum();
        let want = Payoff::with_credit(&legs, r.credit).pnl(s) - fee * contracts / 100.0;
        prop_assert!((r.pnl - want).abs() <= 1e-9 * (1.0 + want.abs()), "{} vs {want}", r.pnl);
        prop_assert!((r.pnl_per_contract - 100.0 * r.pnl).abs() <= 1e-9 * (1.0 + r.pnl.abs()));
        if let MaxLoss::Bounded(l) = r.max_loss {
            // No outcome at expiry loses more than the max loss.
            prop_assert!(r.pnl >= -l - 1e-9, "{} < -{l}", r.pnl);
        }
    }

    #[test]
    fn closing_at_the_entry_quotes_costs_the_slippage_and_fees(
        legs in arb_legs(), slip in 0.0f64..1.0, fee in 0.0f64..2.0
    ) {
        let c = TradeCosts { slippage: slip, commission: fee, multiplier: 100.0 };
        let same: Vec<_> = legs.iter().map(|l| q(l.bid, l.ask)).collect();
        let r = settle(&legs, TradeExit::Close(&same), &c, Some(25.0)).expect("valid");
        // Round trip: s half-spreads twice on every contract, plus fees both ways.
        let spread: f64 = legs.iter().map(|l| f64::from(l.quantity) * (l.ask - l.bid)).sum();
        let contracts: f64 = legs.iter().map(|l| f64::from(l.quantity)).sum();
        let want = -(slip * spread) - 2.0 * fee * contracts / 100.0;
        prop_assert!((r.pnl - want).abs() <= 1e-9, "{} vs {want}", r.pnl);
    }

    #[test]
    fn summary_invariants(trades in arb_trades()) {
        let s = summarize(&trades);
        prop_assert_eq!(s.trades, trades.len());
        if let Some(w) = s.win_rate {
            prop_assert!((0.0..=1.0).contains(&w));
        }
        let losses: f64 = trades.iter().map(|t| (-t.pnl_per_contract).max(0.0)).sum();
        prop_assert!(s.max_drawdown >= 0.0);
        prop_assert!(s.max_drawdown <= losses + 1e-9, "{} > {losses}", s.max_drawdown);
        let with_ln = trades.iter().filter(|t| t.pop_lognormal.is_some()).count();
        let with_emp = trades.iter().filter(|t| t.pop_empirical.is_some()).count();
        prop_assert_eq!(s.calibration.iter().map(|b| b.count).sum::<usize>(), with_ln);
        prop_assert_eq!(s.calibration_empirical.iter().map(|b| b.count).sum::<usize>(), with_emp);
        for b in s.calibration.iter().chain(&s.calibration_empirical) {
            prop_assert!((0.0..=1.0).contains(&b.realised) && b.count > 0);
        }
        prop_assert_eq!(s.by_tier.values().map(|g| g.trades).sum::<usize>(), trades.len());
        prop_assert_eq!(s.by_score_decile.values().map(|g| g.trades).sum::<usize>(), trades.len());
        prop_assert!(s.by_score_decile.keys().all(|&d| d <= 9));
        // Same inputs, same bytes.
        let again = summarize(&trades.clone());
        prop_assert_eq!(
            serde_json::to_string(&s).expect("json"),
            serde_json::to_string(&again).expect("json")
        );
    }

    #[test]
    fn walk_forward_never_reports_a_training_trade(
        trades in arb_trades(), other in proptest::collection::vec(-10.0f64..10.0, 40),
        train in 1u32..7, test in 1u32..4
    ) {
        let events: Vec<WalkForwardEvent> = trades
            .iter()
            .zip(&other)
            .map(|(t, &p)| WalkForwardEvent {
                entry_date: t.entry_date,
                trades: vec![
                    Some(t.clone()),
                    (p > -5.0).then(|| trade(t.entry_date, 3, p, 50.0, [None, None])),
                ],
            })
            .collect();
        let wf = walk_forward(&events, train, test, &["x", "y"]).expect("runs");
        for w in &wf.windows {
            prop_assert_eq!(w.train_to, w.test_from);
            for t in &w.trades {
                prop_assert!(t.entry_date >= w.test_from && t.entry_date < w.test_to);
                prop_assert!(!(t.entry_date >= w.train_from && t.entry_date < w.train_to));
            }
        }
        // Test windows do not overlap: every out-of-sample trade appears once.
        let reported: usize = wf.windows.iter().map(|w| w.trades.len()).sum();
        prop_assert_eq!(wf.out_of_sample.trades, reported);
        let a = serde_json::to_string(&wf).expect("json");
        let b = serde_json::to_string(&walk_forward(&events, train, test, &["x", "y"]).expect("runs"))
            .expect("json");
        prop_assert_eq!(a, b);
    }
}
