//! Property tests of the invariants (proptest; failures are persisted under
//! proptest-regressions/ and must be committed).

use ivcrush_core::config::{LiquidityConfig, VrpConfig};
use ivcrush_core::implied_move::{TermPoint, fit_event, straddle_move};
use ivcrush_core::liquidity::option_liquidity;
use ivcrush_core::moves::MoveStats;
use ivcrush_core::pricing::bsm_greeks;
use ivcrush_core::strategy::{Leg, MaxLoss, Payoff, Side};
use ivcrush_core::vrp::{vrp, vrp_tier};
use ivcrush_core::{OptionChain, OptionKind, OptionParams, OptionQuote, bsm_price, implied_vol};
use ivcrush_core::{calendar, score};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = OptionKind> {
    prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)]
}

fn params() -> impl Strategy<Value = (OptionKind, f64, f64, f64, f64, f64)> {
    (
        kind(),
        1.0f64..1000.0,
        0.5f64..1.5,
        1.0f64 / 365.0..2.0,
        0.0f64..0.08,
        0.0f64..0.04,
    )
        .prop_map(|(k, s, m, t, r, q)| (k, s, s * m, t, r, q))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn put_call_parity_holds((_, s, k, t, r, q) in params(), vol in 0.01f64..3.0) {
        let c = OptionParams::new(OptionKind::Call, s, k, t, r, q).expect("valid");
        let p = OptionParams::new(OptionKind::Put, s, k, t, r, q).expect("valid");
        let lhs = bsm_price(&c, vol) - bsm_price(&p, vol);
        let rhs = s * (-q * t).exp() - k * (-r * t).exp();
        prop_assert!((lhs - rhs).abs() <= 16.0 * f64::EPSILON * s.max(k), "{lhs} vs {rhs}");
    }

    #[test]
    fn price_increases_with_vol((kd, s, k, t, r, q) in params(), v in 0.01f64..3.0, dv in 0.001f64..1.0) {
        let p = OptionParams::new(kd, s, k, t, r, q).expect("valid");
        prop_assert!(bsm_price(&p, v + dv) >= bsm_price(&p, v));
    }

    #[test]
    fn iv_recovers_vol_wherever_the_price_carries_information(
        (kd, s, k, t, r, q) in params(), vol in 0.05f64..3.0
    ) {
        let p = OptionParams::new(kd, s, k, t, r, q).expect("valid");
        let g = bsm_greeks(&p, vol);
        let df = p.discount();
        let f = p.forward();
        let intrinsic = df * match kd { OptionKind::Call => (f - k).max(0.0), OptionKind::Put => (k - f).max(0.0) };
        let time_value = g.price - intrinsic;
        // Information: time value well above the price's rounding, and a non-negligible vega.
        let ulp = f64::EPSILON * g.price.max(f64::MIN_POSITIVE);
        prop_assume!(time_value > 1e6 * ulp && g.vega > 1e-8 * s);
        let cond = ulp / g.vega;
        let tol = (64.0 * cond).max(1e-12) * vol.max(1.0);
        let got = implied_vol(&p, g.price);
        prop_assert!(got.is_ok(), "{got:?}");
        let v = got.expect("checked");
        prop_assert!((v - vol).abs() <= tol, "iv {v} vs {vol} (tol {tol:e})");
    }

    #[test]
    fn implied_move_and_vrp_are_scale_invariant(
        spot in 5.0f64..500.0, lambda in 0.1f64..10.0, f_off in -0.02f64..0.02,
        mids in proptest::collection::vec((0.5f64..20.0, 0.5f64..20.0), 3..8),
        hist in 0.5f64..10.0
    ) {
        let step = spot * 0.025;
        let n = mids.len();
        let mk = |scale: f64| OptionChain {
            expiration: "2026-01-30".parse().expect("date"),
            quotes: mids.iter().enumerate().flat_map(|(i, (c, p))| {
                let strike = (spot + (i as f64 - n as f64 / 2.0) * step) * scale;
                [(OptionKind::Call, *c), (OptionKind::Put, *p)].map(|(kind, m)| OptionQuote {
                    kind, strike, bid: m * scale * 0.98, ask: m * scale * 1.02,
                    last: None, volume: 100, open_interest: 1000,
                })
            }).collect(),
            vendor: None,
        };
        let fwd = spot * (1.0 + f_off);
        let a = straddle_move(&mk(1.0), spot, fwd).expect("straddles");
        let b = straddle_move(&mk(lambda), spot * lambda, fwd * lambda).expect("straddles");
        let rel = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(1e-12);
        prop_assert!(rel(a.straddle_pct.0, b.straddle_pct.0));
        prop_assert!(rel(a.interpolated_pct.0, b.interpolated_pct.0));
        let cfg = VrpConfig::default();
        let va = vrp(a.interpolated_pct.0, hist, 1.0, hist, &cfg).expect("vrp");
        let vb = vrp(b.interpolated_pct.0, hist, 1.0, hist, &cfg).expect("vrp");
        prop_assert!(rel(va.ratio, vb.ratio));
        prop_assert_eq!(va.tier, vb.tier);
    }

    #[test]
    fn vrp_tier_is_monotone_in_the_ratio(a in 0.0f64..5.0, b in 0.0f64..5.0) {
        let cfg = VrpConfig::default();
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(vrp_tier(lo, &cfg) <= vrp_tier(hi, &cfg));
    }

    #[test]
    fn liquidity_tier_is_monotone(
        bid in 0.05f64..10.0, spread in 0.0f64..0.3, oi in 0u64..5000, vol in 0u64..2000,
        d_oi in 0u64..3000, d_vol in 0u64..2000, tighter in 0.0f64..1.0
    ) {
        let cfg = LiquidityConfig::default();
        let q = |spread: f64, oi, volume| OptionQuote {
            kind: OptionKind::Call, strike: 100.0, bid, ask: bid * (1.0 + spread) + 1e-9,
            last: None, volume, open_interest: oi,
        };
        let base = option_liquidity(&q(spread, oi, vol), &cfg).tier;
        let better = option_liquidity(&q(spread * tighter, oi + d_oi, vol + d_vol), &cfg).tier;
        prop_assert!(better >= base, "{base:?} -> {better:?}");
    }

    #[test]
    fn payoff_max_loss_and_breakevens_match_a_price_grid(
        k0 in 50.0f64..100.0, w1 in 1.0f64..20.0, w2 in 1.0f64..20.0, w3 in 1.0f64..20.0,
        mids in proptest::collection::vec(0.0f64..10.0, 4)
    ) {
        let ks = [k0, k0 + w1, k0 + w1 + w2, k0 + w1 + w2 + w3];
        let legs = [
            Leg { kind: OptionKind::Put, strike: ks[0], side: Side::Long, quantity: 1, mid: mids[0] },
            Leg { kind: OptionKind::Put, strike: ks[1], side: Side::Short, quantity: 1, mid: mids[1] },
            Leg { kind: OptionKind::Call, strike: ks[2], side: Side::Short, quantity: 1, mid: mids[2] },
            Leg { kind: OptionKind::Call, strike: ks[3], side: Side::Long, quantity: 1, mid: mids[3] },
        ];
        let p = Payoff::new(&legs);
        let grid_worst = ks.iter().chain(&[0.0]).map(|&x| p.pnl(x)).chain((0..=2_000).map(|i| p.pnl(i as f64 * 0.2))).fold(f64::INFINITY, f64::min);
        match p.max_loss() {
            MaxLoss::Bounded(l) => prop_assert!((l - (-grid_worst).max(0.0)).abs() < 1e-9),
            MaxLoss::Unbounded => prop_assert!(false, "condor loss is bounded"),
        }
        prop_assert!(p.max_loss() == MaxLoss::Bounded((w1.max(w3) - p.credit()).max(0.0))
            || matches!(p.max_loss(), MaxLoss::Bounded(l) if (l - (w1.max(w3) - p.credit()).max(0.0)).abs() < 1e-9));
        for be in p.breakevens() {
            prop_assert!(p.pnl(be).abs() < 1e-9);
        }
    }

    #[test]
    fn no_panic_for_any_input(
        s in any::<f64>(), k in any::<f64>(), t in any::<f64>(), r in any::<f64>(),
        q in any::<f64>(), v in any::<f64>(), price in any::<f64>(), kd in kind(),
        moves in proptest::collection::vec(any::<f64>(), 0..16)
    ) {
        if let Ok(p) = OptionParams::new(kd, s, k, t, r, q) {
            let _ = bsm_greeks(&p, v);
            let _ = implied_vol(&p, price);
        }
        let _ = MoveStats::from_signed(&moves, 12, 4, 4.0);
        let chain = OptionChain {
            expiration: "2026-01-30".parse().expect("date"),
            quotes: vec![OptionQuote { kind: kd, strike: k, bid: price, ask: v, last: None, volume: 0, open_interest: 0 }],
            vendor: None,
        };
        let _ = straddle_move(&chain, s, k);
        let _ = vrp(price, v, s, k, &VrpConfig::default());
        let _ = ivcrush_core::forward::expiry_forward(&chain, s, t, r, q, &Default::default());
        let pt = |a: f64, b: f64, c: f64| TermPoint { t_calendar: a, tau_trading: b, atm_iv: c };
        let _ = fit_event(&[pt(t, t, v), pt(k, s, price)], &[pt(r, q, v)]);
        let _ = score::vrp_score(v, &VrpConfig::default(), &Default::default());
    }
    #[test]
    fn vega_alone_is_the_greeks_vega((kd, s, k, t, r, q) in params(), vol in 0.01f64..3.0) {
        let p = OptionParams::new(kd, s, k, t, r, q).expect("valid");
        prop_assert_eq!(ivcrush_core::pricing::bsm_vega(&p, vol), bsm_greeks(&p, vol).vega);
    }

    #[test]
    fn vrp_score_is_strictly_increasing_and_below_100(a in 0.01f64..30.0, step in 1e-6f64..5.0) {
        let c = ivcrush_core::AnalyticsConfig::default();
        let (lo, hi) = (score::vrp_score(a, &c.vrp, &c.score), score::vrp_score(a + step, &c.vrp, &c.score));
        prop_assert!(hi > lo, "{a} -> {lo}, {} -> {hi}", a + step);
        prop_assert!(hi < 100.0 && lo > 0.0);
    }

    #[test]
    fn the_term_fit_recovers_any_noiseless_market(
        sd in 0.05f64..1.5, e_std in 0.0f64..0.2, front in 0.05f64..10.0,
        gaps in proptest::collection::vec(1.0f64..20.0, 1..6), pre in proptest::option::of(0.05f64..0.99)
    ) {
        let e = e_std * e_std;
        let point = |sessions: f64, event: bool| {
            let tau = sessions / 252.0;
            let t = sessions * 1.4 / 365.0;
            TermPoint { t_calendar: t, tau_trading: tau, atm_iv: ((sd * sd * tau + if event { e } else { 0.0 }) / t).sqrt() }
        };
        let mut post = vec![point(front, true)];
        let mut x = front;
        for g in &gaps {
            x += g;
            post.push(point(x, true));
        }
        let pre: Vec<TermPoint> = pre.map(|share| point(front * share, false)).into_iter().collect();
        let m = fit_event(&post, &pre).expect("fit");
        prop_assert!((m.event_variance - e).abs() <= 1e-9 * (e + sd * sd * front / 252.0), "{m:?}");
        prop_assert!((m.diffusion_vol - sd).abs() <= 1e-6 * sd, "{m:?}");
    }

    #[test]
    fn trading_time_never_grows_as_the_clock_runs(start in 0i64..(3 * 365 * 24 * 60), step in 1i64..(3 * 24 * 60), ahead in 0i64..60) {
        let base: chrono::DateTime<chrono::Utc> = "2025-01-01T00:00:00Z".parse().expect("instant");
        let t1 = base + chrono::Duration::minutes(start);
        let t2 = t1 + chrono::Duration::minutes(step);
        let expiry = calendar::new_york_date(t2) + chrono::Duration::days(ahead);
        let (a, b) = (calendar::trading_years_at(t1, expiry), calendar::trading_years_at(t2, expiry));
        prop_assert!(b <= a + 1e-15, "{t1}: {a}, {t2}: {b}");
        // Between the whole-session count and one session less.
        let whole = calendar::trading_years(calendar::new_york_date(t1), expiry);
        prop_assert!(a <= whole + 1e-15 && a >= whole - 1.0 / 252.0 - 1e-15, "{a} vs {whole}");
    }
}
