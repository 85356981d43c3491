//! Strategies chosen, priced and sized like a desk would (issue 13, items 4 and 5): exit (a)
//! against a reprice done by hand, exit (b) and the exit-(a) POP against numerical integration,
//! Reg-T margin, dollars per contract and sizing against hand-computed cases, the condor's
//! wings, and a property test: the chosen strategy never has a REJECT leg and never needs more
//! than the risk budget.

#[path = "core/synthetic.rs"]
mod synthetic;

use chrono::{DateTime, Utc};
use ivcrush_core::calendar::calendar_years;
use ivcrush_core::config::{LiquidityConfig, StrategyConfig};
use ivcrush_core::exit::{ExitKind, wilson_interval};
use ivcrush_core::liquidity::{LiquidityTier, option_liquidity};
use ivcrush_core::skew::Bias;
use ivcrush_core::smile::{ExpiryMarket, otm_smile};
use ivcrush_core::strategy::{
    Leg, MaxLoss, Side, SizeLimit, Strategy as Trade, StrategyContext, StrategyKind, best,
    build_strategies, contracts_for, reg_t_margin,
};
use ivcrush_core::{
    Analysis, AnalysisInput, AnalyticsConfig, OptionChain, OptionKind, OptionParams, OptionQuote,
    analyze, bsm_price,
};
use proptest::prelude::*;
use synthetic::{Scenario, d};

fn history_fractions(a: &[ivcrush_core::moves::HistoricalMove]) -> Vec<f64> {
    a.iter()
        .rev()
        .take(12)
        .rev()
        .map(|m| m.signed_close_pct.fraction())
        .collect()
}

/// The synthetic week as of Thursday 2026-01-29 after the close (the report comes out that
/// evening, the market reacts on Friday 01-30): nothing moves between the entry and the
/// reference close, so exit (a) is a plain reprice of each past move.
fn after_the_close(cfg: &AnalyticsConfig) -> (Scenario, Analysis, Vec<f64>) {
    let mut s = Scenario::week();
    s.as_of = "2026-01-29T21:00:00Z".parse().expect("instant");
    let chains = s.chains(&["2026-01-30", "2026-02-06", "2026-02-13", "2026-02-20"]);
    let hist = synthetic::history(1.5);
    let input = AnalysisInput {
        ticker: "SYN",
        as_of: s.as_of,
        spot: s.spot,
        rate: s.rate,
        div: 0.0,
        event: s.event,
        chains: &chains,
        history: &hist,
        bars: &[],
        // A week after the reaction: the exit leaves five sessions of time value.
        expiration: Some(d("2026-02-06")),
        quality: &[],
    };
    let a = analyze(&input, cfg).expect("analyses");
    assert!(a.tradeable, "{:?}", a.warnings);
    assert!(a.strategies.len() >= 4);
    let moves = history_fractions(&hist);
    (s, a, moves)
}

/// The leg's BSM value per share, signed by side.
fn leg_value(l: &Leg, s: f64, t: f64, r: f64, q: f64, vol: f64) -> f64 {
    let sign = match l.side {
        Side::Long => 1.0,
        Side::Short => -1.0,
    };
    let v = if t > 0.0 {
        let p = OptionParams::new(l.kind, s, l.strike, t, r, q).expect("valid");
        bsm_price(&p, vol)
    } else {
        match l.kind {
            OptionKind::Call => (s - l.strike).max(0.0),
            OptionKind::Put => (l.strike - s).max(0.0),
        }
    };
    sign * f64::from(l.quantity) * v
}

#[test]
fn exit_a_is_a_reprice_at_the_moved_spot_with_the_post_event_iv_done_by_hand() {
    let mut cfg = AnalyticsConfig::default();
    cfg.strategy.slippage = 0.0;
    cfg.strategy.fee_per_contract = 0.0;
    let (s, a, moves) = after_the_close(&cfg);
    let expiry = d("2026-02-06");
    let reaction = d("2026-01-30");
    // By hand: the calendar and trading time left after the reaction close (Fri 01-30 16:00 to
    // Fri 02-06 16:00: 7 days, 5 sessions), the fit's diffusion vol quoted over it, and the
    // expiry's carry from its implied forward.
    let t_post = calendar_years(s.as_of, expiry) - calendar_years(s.as_of, reaction);
    assert!((t_post - 7.0 / 365.0).abs() < 1e-12);
    let sigma_d = a.forecast.diffusion_vol.expect("fit diffusion");
    let post_iv = sigma_d * ((5.0 / 252.0) / t_post).sqrt();
    let t_front = calendar_years(s.as_of, expiry);
    let q = s.rate - (a.implied_move.forward / s.spot).ln() / t_front;
    for st in &a.strategies {
        let e = st.exits.as_ref().expect("exits");
        let m = &e.model;
        assert_eq!(m.sessions_before, 0.0, "entered at the reference close");
        assert!((m.sessions_after - 5.0).abs() < 1e-12);
        assert!((m.days_after - 7.0).abs() < 1e-9);
        assert!((m.post_event_iv - post_iv).abs() < 1e-12, "{m:?}");
        let pnls: Vec<f64> = moves
            .iter()
            .map(|mv| {
                let spot = s.spot * (1.0 + mv);
                st.credit
                    + st.legs
                        .iter()
                        .map(|l| leg_value(l, spot, t_post, s.rate, q, post_iv))
                        .sum::<f64>()
            })
            .collect();
        let mean = pnls.iter().sum::<f64>() / pnls.len() as f64;
        let wins = pnls.iter().filter(|p| **p > 0.0).count() as f64 / pnls.len() as f64;
        let worst = pnls.iter().copied().fold(f64::INFINITY, f64::min);
        let close = &e.close_after_reaction;
        assert!(
            (close.expected_pnl - mean).abs() < 1e-9,
            "{:?}: engine {} hand {mean}",
            st.kind,
            close.expected_pnl
        );
        assert!((close.worst_pnl - worst).abs() < 1e-9, "{:?}", st.kind);
        assert!((close.pop - wins).abs() < 1e-12, "{:?}", st.kind);
        assert_eq!(close.pop_interval, wilson_interval(wins, 12));
        // The shown exit is (a) by default: the headline fields are its figures.
        assert_eq!(st.exit, Some(ExitKind::CloseAfterReaction));
        assert_eq!(st.expected_pnl, Some(close.expected_pnl));
        assert_eq!(st.pop_empirical, Some(close.pop));
        // Each exit breakeven is a zero of the hand reprice.
        for be in &close.breakevens {
            let pnl = st.credit
                + st.legs
                    .iter()
                    .map(|l| leg_value(l, *be, t_post, s.rate, q, post_iv))
                    .sum::<f64>();
            assert!(pnl.abs() < 1e-4, "{:?} breakeven {be}: {pnl}", st.kind);
        }
    }
}

/// Simpson's rule of `f` over the standard normal, ±9 standard deviations.
fn gauss_expect(f: impl Fn(f64) -> f64) -> f64 {
    let n = 6000;
    let (a, b) = (-9.0, 9.0);
    let h = (b - a) / n as f64;
    let phi = |z: f64| (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (0..=n)
        .map(|i| {
            let z = a + h * i as f64;
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            w * phi(z) * f(z)
        })
        .sum::<f64>()
        * h
        / 3.0
}

#[test]
fn both_exits_integrate_the_other_sessions_diffusion() {
    // As of Wednesday 15:00: 1.15 sessions before the reference close, then the reaction, then
    // a week to the analysed expiry. Default costs.
    let s = Scenario::week();
    let chains = s.chains(&["2026-01-30", "2026-02-06", "2026-02-13", "2026-02-20"]);
    let hist = synthetic::history(1.5);
    let input = AnalysisInput {
        ticker: "SYN",
        as_of: s.as_of,
        spot: s.spot,
        rate: s.rate,
        div: 0.0,
        event: s.event,
        chains: &chains,
        history: &hist,
        bars: &[],
        expiration: Some(d("2026-02-06")),
        quality: &[],
    };
    let a = analyze(&input, &AnalyticsConfig::default()).expect("analyses");
    assert!(a.tradeable);
    let moves = history_fractions(&hist);
    let expiry = d("2026-02-06");
    let t_front = calendar_years(s.as_of, expiry);
    let q = s.rate - (a.implied_move.forward / s.spot).ln() / t_front;
    for st in &a.strategies {
        let e = st.exits.as_ref().expect("exits");
        let m = &e.model;
        assert!(
            (m.sessions_before - (1.0 / 6.5 + 1.0)).abs() < 1e-9,
            "{m:?}"
        );
        let t_post = m.days_after / 365.0;
        let v_pre = m.diffusion_vol.powi(2) * m.sessions_before / 252.0;
        let v_post = m.diffusion_vol.powi(2) * m.sessions_after / 252.0;
        let close = |spot: f64| {
            st.credit - e.close_after_reaction.costs
                + st.legs
                    .iter()
                    .map(|l| leg_value(l, spot, t_post, s.rate, q, m.post_event_iv))
                    .sum::<f64>()
        };
        let carry = ((s.rate - q) * t_post).exp();
        let hold = |spot: f64| {
            st.credit - e.hold_to_expiry.costs
                + st.legs
                    .iter()
                    .map(|l| leg_value(l, spot, 0.0, 0.0, 0.0, 0.0))
                    .sum::<f64>()
        };
        let (mut ec, mut pc, mut eh, mut ph) = (0.0, 0.0, 0.0, 0.0);
        for mv in &moves {
            let s_i = s.spot * (1.0 + mv);
            let at_exit = |z: f64| s_i * (z * v_pre.sqrt() - 0.5 * v_pre).exp();
            let w = v_pre + v_post;
            let at_expiry = |z: f64| s_i * carry * (z * w.sqrt() - 0.5 * w).exp();
            ec += gauss_expect(|z| close(at_exit(z)));
            pc += gauss_expect(|z| f64::from(u8::from(close(at_exit(z)) > 0.0)));
            eh += gauss_expect(|z| hold(at_expiry(z)));
            ph += gauss_expect(|z| f64::from(u8::from(hold(at_expiry(z)) > 0.0)));
        }
        let n = moves.len() as f64;
        let (c, h) = (&e.close_after_reaction, &e.hold_to_expiry);
        assert!(
            (c.expected_pnl - ec / n).abs() < 1e-6,
            "{:?} close E {} vs {}",
            st.kind,
            c.expected_pnl,
            ec / n
        );
        assert!(
            (h.expected_pnl - eh / n).abs() < 1e-6,
            "{:?} hold E {} vs {}",
            st.kind,
            h.expected_pnl,
            eh / n
        );
        assert!(
            (c.pop - pc / n).abs() < 2e-3,
            "{:?} close POP {} vs {}",
            st.kind,
            c.pop,
            pc / n
        );
        assert!(
            (h.pop - ph / n).abs() < 2e-3,
            "{:?} hold POP {} vs {}",
            st.kind,
            h.pop,
            ph / n
        );
        // The diffusion costs a short straddle: less than the expiry payoff of the moves alone.
        if st.kind == StrategyKind::ShortStraddle {
            let motionless: f64 = moves
                .iter()
                .map(|mv| hold(s.spot * (1.0 + mv)))
                .sum::<f64>()
                / n;
            assert!(
                h.expected_pnl < motionless - 0.1,
                "{} vs {motionless}",
                h.expected_pnl
            );
        }
    }
}

#[test]
fn reg_t_margin_against_hand_computed_cases() {
    let leg = |kind, strike, side, mid| Leg {
        kind,
        strike,
        side,
        quantity: 1,
        mid,
    };
    use OptionKind::{Call, Put};
    use Side::{Long, Short};
    // Short straddle at 100 on 100: each side max(20 − 0, 10) = 20; the greater side + both
    // premiums = 20 + 5 + 4.5.
    let straddle = [leg(Call, 100.0, Short, 5.0), leg(Put, 100.0, Short, 4.5)];
    let (m, _) = reg_t_margin(&straddle, 100.0, MaxLoss::Unbounded);
    assert!((m - 29.5).abs() < 1e-12, "{m}");
    // Short strangle 90/110 on 100: call max(20 − 10, 10) = 10, put max(20 − 10, 9) = 10.
    let strangle = [leg(Put, 90.0, Short, 1.0), leg(Call, 110.0, Short, 1.2)];
    let (m, _) = reg_t_margin(&strangle, 100.0, MaxLoss::Unbounded);
    assert!((m - 12.2).abs() < 1e-12, "{m}");
    // Far OTM naked put: the 10 % of strike floor, max(20 − 30, 7) = 7, + 0.10.
    let (m, _) = reg_t_margin(&[leg(Put, 70.0, Short, 0.1)], 100.0, MaxLoss::Unbounded);
    assert!((m - 7.1).abs() < 1e-12, "{m}");
    // Far OTM naked call: the 10 % of spot floor, max(20 − 30, 10) = 10, + 0.20.
    let (m, _) = reg_t_margin(&[leg(Call, 130.0, Short, 0.2)], 100.0, MaxLoss::Unbounded);
    assert!((m - 10.2).abs() < 1e-12, "{m}");
    // ITM naked call (no OTM amount): 20 % of 50 + 6.
    let (m, _) = reg_t_margin(&[leg(Call, 45.0, Short, 6.0)], 50.0, MaxLoss::Unbounded);
    assert!((m - 16.0).abs() < 1e-12, "{m}");
    // Defined risk: width − credit (a 5-wide put spread for 1.5).
    let (m, rule) = reg_t_margin(
        &[leg(Put, 85.0, Long, 0.5), leg(Put, 90.0, Short, 2.0)],
        100.0,
        MaxLoss::Bounded(3.5),
    );
    assert_eq!(m, 3.5);
    assert!(rule.contains("defined risk"));
}

#[test]
fn sizing_is_the_floor_of_the_budget_over_the_risk_capped_by_open_interest() {
    assert_eq!(
        contracts_for(2000.0, 595.0, 499),
        (3, SizeLimit::RiskBudget)
    );
    assert_eq!(
        contracts_for(2000.0, 35.0, 10),
        (10, SizeLimit::OpenInterest)
    );
    assert_eq!(
        contracts_for(2000.0, 2500.0, 100),
        (0, SizeLimit::RiskBudget)
    );
    assert_eq!(
        contracts_for(2000.0, 500.0, 100),
        (4, SizeLimit::RiskBudget)
    );
    assert_eq!(contracts_for(2000.0, 0.0, 7), (7, SizeLimit::OpenInterest));
}

fn quote(kind: OptionKind, strike: f64, bid: f64, ask: f64, volume: u64, oi: u64) -> OptionQuote {
    OptionQuote {
        kind,
        strike,
        bid,
        ask,
        last: None,
        volume,
        open_interest: oi,
    }
}

/// A chain on `spot` priced at `vol` (BSM, t years), every strike in `strikes`, quoted
/// `half_spread(model)` either side of the model price rounded to the cent.
fn chain_at(
    spot: f64,
    t: f64,
    vol: f64,
    strikes: impl Iterator<Item = f64>,
    half_spread: impl Fn(f64) -> f64,
    liq: impl Fn(f64) -> (u64, u64),
) -> OptionChain {
    let mut quotes = Vec::new();
    for k in strikes {
        for kind in [OptionKind::Call, OptionKind::Put] {
            let p = OptionParams::new(kind, spot, k, t, 0.0, 0.0).expect("valid");
            let model = bsm_price(&p, vol);
            let h = half_spread(model);
            let bid = ((model - h) * 100.0).round() / 100.0;
            let ask = ((model + h) * 100.0).round() / 100.0;
            let (volume, oi) = liq(k);
            quotes.push(quote(kind, k, bid.max(0.0), ask, volume, oi));
        }
    }
    OptionChain::new(d("2026-02-06"), quotes)
}

fn context<'a>(
    chain: &'a OptionChain,
    market: ExpiryMarket,
    smile: &'a [ivcrush_core::smile::SmilePoint],
    moves: &'a [f64],
    as_of: DateTime<Utc>,
    atm_iv: f64,
) -> StrategyContext<'a> {
    StrategyContext {
        chain,
        market,
        smile,
        atm_strike: market.spot.round(),
        implied_move: 0.8 * atm_iv * market.t.sqrt(),
        total_variance: atm_iv * atm_iv * market.t,
        event_std: Some(0.05),
        historical_moves: moves,
        bias: Bias::Neutral,
        as_of,
        reaction: d("2026-01-30"),
        atm_iv: Some(atm_iv),
        event_variance: Some(0.0025),
        diffusion_vol: Some(0.4),
    }
}

#[test]
fn straddle_dollars_margin_and_size_against_a_hand_computed_case() {
    // Spot 50, strikes 40–60, quotes 4 % wide (at least 2 cents), deep open interest.
    let as_of: DateTime<Utc> = "2026-01-29T21:00:00Z".parse().expect("instant");
    let t = calendar_years(as_of, d("2026-02-06"));
    let chain = chain_at(
        50.0,
        t,
        0.6,
        (40..=60).map(f64::from),
        |m| (0.02 * m).max(0.01),
        |_| (1000, 5000),
    );
    let market = ExpiryMarket {
        spot: 50.0,
        t,
        rate: 0.0,
        div: 0.0,
    };
    let smile = otm_smile(&chain, &market);
    let moves = [0.03, -0.05, 0.01, -0.02, 0.06, -0.01];
    let ctx = context(&chain, market, &smile, &moves, as_of, 0.6);
    let cfg = StrategyConfig::default();
    let out = build_strategies(&ctx, &cfg, &LiquidityConfig::default());
    let st = out
        .iter()
        .find(|s| s.kind == StrategyKind::ShortStraddle)
        .expect("straddle");
    let c = chain.quote(OptionKind::Call, 50.0).expect("call");
    let p = chain.quote(OptionKind::Put, 50.0).expect("put");
    // Legs carry bid, ask and mid.
    assert_eq!((st.legs[0].bid, st.legs[0].ask), (c.bid, c.ask));
    assert_eq!((st.legs[1].bid, st.legs[1].ask), (p.bid, p.ask));
    let mid = c.mid() + p.mid();
    let natural = c.bid + p.bid;
    // Slippage 25 % of each spread; fees 2 × 0.65 per contract.
    let fill = mid - 0.25 * (c.ask - c.bid) - 0.25 * (p.ask - p.bid);
    assert!((st.credit - mid).abs() < 1e-12);
    assert!((st.credit_natural.expect("natural") - natural).abs() < 1e-12);
    assert!((st.credit_fill.expect("fill") - fill).abs() < 1e-12);
    let pc = st.per_contract.expect("per contract");
    assert!((pc.credit - 100.0 * mid).abs() < 1e-9);
    assert!((pc.credit_natural - 100.0 * natural).abs() < 1e-9);
    assert!((pc.fees - 1.30).abs() < 1e-12);
    // Reg-T: ATM on 50, each side max(10 − 0, 5) = 10, + both premiums.
    let margin = 100.0 * (10.0 + mid);
    assert!(
        (pc.margin - margin).abs() < 1e-9,
        "{} vs {margin}",
        pc.margin
    );
    assert_eq!(pc.max_loss, None);
    // The short put's bounded downside: strike − credit.
    assert!((pc.downside_loss - 100.0 * (50.0 - mid)).abs() < 1e-9);
    // Sizing: 2 % of 100,000 over the margin.
    let z = st.sizing.expect("sizing");
    assert_eq!(z.risk_budget, 2000.0);
    assert!(!z.defined_risk);
    assert_eq!(z.contracts, (2000.0 / margin).floor() as u64);
    assert!(z.capital_at_risk <= 2000.0);
    // Expected P&L per contract and return on risk follow from the per-share figure.
    let e = st.expected_pnl.expect("expected");
    assert!((pc.expected_pnl.expect("pc") - 100.0 * e).abs() < 1e-9);
    assert!((st.return_on_risk.expect("ror") - 100.0 * e / margin).abs() < 1e-12);
    // Net greeks of a short ATM straddle: short vega, long theta, about flat delta.
    let g = st.greeks.expect("greeks");
    assert!(
        g.vega < 0.0 && g.theta > 0.0 && g.gamma < 0.0 && g.delta.abs() < 15.0,
        "{g:?}"
    );
    // Defined risk: the condor's risk per contract is its max loss.
    let condor = out
        .iter()
        .find(|s| s.kind == StrategyKind::IronCondor)
        .expect("condor");
    let MaxLoss::Bounded(l) = condor.max_loss else {
        panic!("bounded")
    };
    let z = condor.sizing.expect("sizing");
    assert!(z.defined_risk);
    assert!((z.risk_per_contract - 100.0 * l).abs() < 1e-9);
    assert!((condor.margin.as_ref().expect("margin").per_contract - 100.0 * l).abs() < 1e-9);
    assert_eq!(
        z.contracts,
        ((2000.0 / (100.0 * l)).floor() as u64).min(500)
    );
}

#[test]
fn condor_wings_are_an_implied_move_out_with_a_sensible_credit_per_width() {
    let s = Scenario::week();
    let chains = s.chains(&["2026-01-30", "2026-02-06", "2026-02-13"]);
    let hist = synthetic::history(1.5);
    let input = AnalysisInput {
        ticker: "SYN",
        as_of: s.as_of,
        spot: s.spot,
        rate: s.rate,
        div: 0.0,
        event: s.event,
        chains: &chains,
        history: &hist,
        bars: &[],
        expiration: None,
        quality: &[],
    };
    let a = analyze(&input, &AnalyticsConfig::default()).expect("analyses");
    let condor = a
        .strategies
        .iter()
        .find(|s| s.kind == StrategyKind::IronCondor)
        .expect("condor");
    let k: Vec<f64> = condor.legs.iter().map(|l| l.strike).collect();
    let width = (k[1] - k[0]).max(k[3] - k[2]);
    let implied = a.implied_move.interpolated_pct / 100.0 * a.spot;
    // Not adjacent strikes (1 apart here): within a strike of one implied move, or narrowed
    // only as far as the credit/width rule needs.
    assert!(width >= 2.0, "{k:?}");
    assert!(width <= implied + 1.0, "{k:?} vs implied move {implied}");
    assert!(condor.credit / width >= 0.25, "{} / {width}", condor.credit);
    // Short strikes near 25Δ.
    for l in &condor.legs[1..3] {
        let delta = l.delta.expect("delta").abs();
        assert!((delta - 0.25).abs() < 0.06, "{l:?}");
    }
}

#[test]
fn thin_liquidity_prefers_defined_risk_and_never_uses_a_reject_leg() {
    // WARNING everywhere (OI 300, volume 50), REJECT beyond ±6 (OI 50).
    let as_of: DateTime<Utc> = "2026-01-29T21:00:00Z".parse().expect("instant");
    let t = calendar_years(as_of, d("2026-02-06"));
    let chain = chain_at(
        50.0,
        t,
        0.6,
        (40..=60).map(f64::from),
        |m| (0.02 * m).max(0.02),
        |k| {
            if (k - 50.0).abs() > 6.0 {
                (50, 50)
            } else {
                (50, 300)
            }
        },
    );
    let market = ExpiryMarket {
        spot: 50.0,
        t,
        rate: 0.0,
        div: 0.0,
    };
    let smile = otm_smile(&chain, &market);
    let moves = [0.01, -0.015, 0.005, -0.01, 0.02, -0.005];
    let ctx = context(&chain, market, &smile, &moves, as_of, 0.6);
    let liq = LiquidityConfig::default();
    let out = build_strategies(&ctx, &StrategyConfig::default(), &liq);
    assert!(!out.is_empty());
    for s in &out {
        for l in &s.legs {
            let q = chain.quote(l.kind, l.strike).expect("quoted");
            assert_ne!(
                option_liquidity(q, &liq).tier,
                LiquidityTier::Reject,
                "{s:?}"
            );
            assert!((l.strike - 50.0).abs() <= 6.0);
        }
        if s.max_loss == MaxLoss::Unbounded {
            assert!(!s.recommended);
            assert!(s.rank.is_none());
            assert!(
                s.not_eligible
                    .iter()
                    .any(|w| w.contains("defined risk preferred")),
                "{:?}",
                s.not_eligible
            );
        }
    }
    if let Some(b) = best(&out) {
        assert!(matches!(b.max_loss, MaxLoss::Bounded(_)));
    }
}

#[test]
fn new_strategy_settings_are_validated() {
    let mut c = AnalyticsConfig::default();
    c.strategy.slippage = 1.5;
    c.strategy.risk_per_trade = 0.0;
    c.strategy.account_size = -1.0;
    c.strategy.fee_per_contract = f64::NAN;
    let e = c.validate().expect_err("invalid");
    let text = e.to_string();
    for key in [
        "strategy.slippage",
        "strategy.risk_per_trade",
        "strategy.account_size",
        "strategy.fee_per_contract",
    ] {
        assert!(text.contains(key), "{key}: {text}");
    }
    let parsed: AnalyticsConfig = serde_json::from_str(
        r#"{"strategy": {"account_size": 50000, "risk_per_trade": 0.01, "exit": "hold_to_expiry", "naked_min_liquidity": "EXCELLENT"}}"#,
    )
    .expect("parses");
    assert_eq!(parsed.strategy.exit, ExitKind::HoldToExpiry);
    assert_eq!(
        parsed.strategy.naked_min_liquidity,
        LiquidityTier::Excellent
    );
    parsed.validate().expect("valid");
}

#[test]
fn the_record_stays_readable_without_the_new_fields() {
    // A strategy as stored before issue 13: no bid/ask, margin, exits or ranking.
    let old = r#"{"kind":"short_straddle","legs":[{"type":"call","strike":22.0,"side":"short","quantity":1,"mid":0.81},{"type":"put","strike":22.0,"side":"short","quantity":1,"mid":0.8}],"credit":1.61,"max_loss":"unbounded","breakevens":[20.39,23.61],"pop":0.58,"pop_empirical":0.92,"pop_empirical_rescaled":0.9,"expected_pnl":0.95,"multiplier":100.0,"liquidity":"EXCELLENT","warnings":[]}"#;
    let s: Trade = serde_json::from_str(old).expect("old record parses");
    assert_eq!(s.legs[0].mid, 0.81);
    assert!(s.margin.is_none() && s.rank.is_none());
    // Old records: the best is still the highest positive expected P&L.
    assert_eq!(best(std::slice::from_ref(&s)).map(|b| b.kind), Some(s.kind));
    // New records keep the old field names (legs flatten type/strike/side/quantity/mid).
    let v = serde_json::to_value(&s).expect("serialises");
    for f in ["type", "strike", "side", "quantity", "mid", "bid", "ask"] {
        assert!(v["legs"][0].get(f).is_some(), "{f}");
    }
}

fn arb_chain() -> impl Strategy<Value = (Vec<OptionQuote>, f64)> {
    // Strikes 70–130 by 2.5 on spot 100; each quote a random spread, open interest and volume
    // (some REJECT, some without a bid).
    let n = 25;
    (
        proptest::collection::vec((0.0f64..0.4, 0u64..3000, 0u64..1500, 0u8..20), 2 * n),
        0.3f64..1.2,
    )
        .prop_map(move |(params, vol)| {
            let t = 7.0 / 365.0;
            let mut quotes = Vec::new();
            for (i, (rel, oi, volume, nobid)) in params.into_iter().enumerate() {
                let strike = 70.0 + 2.5 * (i / 2) as f64;
                let kind = if i % 2 == 0 {
                    OptionKind::Call
                } else {
                    OptionKind::Put
                };
                let p = OptionParams::new(kind, 100.0, strike, t, 0.0, 0.0).expect("valid");
                let model = bsm_price(&p, vol).max(0.01);
                let half = (rel * model / 2.0).max(0.005);
                let bid = if nobid == 0 {
                    0.0
                } else {
                    ((model - half).max(0.0) * 100.0).round() / 100.0
                };
                let ask = ((model + half) * 100.0).round() / 100.0 + 0.01;
                quotes.push(quote(kind, strike, bid, ask, volume, oi));
            }
            (quotes, vol)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_chosen_strategy_has_no_reject_leg_and_fits_the_risk_budget(
        (quotes, vol) in arb_chain(),
        moves in proptest::collection::vec(-0.25f64..0.25, 4..13),
        account in 1_000.0f64..1_000_000.0,
        risk in 0.001f64..0.2,
        exit_hold in any::<bool>(),
        pre_event in 0usize..3,
    ) {
        let as_of: DateTime<Utc> = match pre_event {
            0 => "2026-01-29T21:00:00Z",
            1 => "2026-01-28T20:00:00Z",
            _ => "2026-01-26T15:00:00Z",
        }
        .parse()
        .expect("instant");
        let chain = OptionChain::new(d("2026-02-06"), quotes);
        let market = ExpiryMarket { spot: 100.0, t: calendar_years(as_of, d("2026-02-06")), rate: 0.04, div: 0.0 };
        let smile = otm_smile(&chain, &market);
        let ctx = context(&chain, market, &smile, &moves, as_of, vol);
        let cfg = StrategyConfig {
            account_size: account,
            risk_per_trade: risk,
            exit: if exit_hold { ExitKind::HoldToExpiry } else { ExitKind::CloseAfterReaction },
            ..StrategyConfig::default()
        };
        let liq = LiquidityConfig::default();
        let out = build_strategies(&ctx, &cfg, &liq);
        let budget = account * risk;
        for s in &out {
            // No leg of any strategy is a REJECT quote.
            for l in &s.legs {
                let q = chain.quote(l.kind, l.strike).expect("quoted");
                prop_assert_ne!(option_liquidity(q, &liq).tier, LiquidityTier::Reject);
            }
            let z = s.sizing.expect("sizing");
            prop_assert!(z.capital_at_risk <= budget * (1.0 + 1e-12), "{z:?}");
            if let Some(p) = s.pop_empirical {
                prop_assert!((0.0..=1.0).contains(&p));
            }
        }
        let ranked = out.iter().filter(|s| s.recommended).count();
        prop_assert!(ranked <= 1);
        if let Some(b) = best(&out) {
            prop_assert!(b.recommended && b.rank == Some(1));
            for l in &b.legs {
                let q = chain.quote(l.kind, l.strike).expect("quoted");
                prop_assert_ne!(option_liquidity(q, &liq).tier, LiquidityTier::Reject);
            }
            let z = b.sizing.expect("sizing");
            prop_assert!(z.contracts >= 1);
            prop_assert!(z.contracts as f64 * z.risk_per_contract <= budget * (1.0 + 1e-12));
            prop_assert!(b.expected_pnl.is_some_and(|e| e > 0.0));
            if b.max_loss == MaxLoss::Unbounded {
                prop_assert!(b.liquidity >= cfg.naked_min_liquidity);
            }
            // No eligible strategy ranks above it.
            for s in out.iter().filter(|s| s.rank.is_some()) {
                prop_assert!(s.rank_score <= b.rank_score);
            }
        }
    }
}

#[test]
fn net_greeks_are_the_sum_of_the_legs_bsm_greeks() {
    let as_of: DateTime<Utc> = "2026-01-29T21:00:00Z".parse().expect("instant");
    let t = calendar_years(as_of, d("2026-02-06"));
    let chain = chain_at(
        50.0,
        t,
        0.6,
        (40..=60).map(f64::from),
        |m| (0.02 * m).max(0.01),
        |_| (1000, 5000),
    );
    let market = ExpiryMarket {
        spot: 50.0,
        t,
        rate: 0.04,
        div: 0.01,
    };
    let smile = otm_smile(&chain, &market);
    let moves = [0.03, -0.05, 0.01, -0.02];
    let ctx = context(&chain, market, &smile, &moves, as_of, 0.6);
    let out = build_strategies(
        &ctx,
        &StrategyConfig::default(),
        &LiquidityConfig::default(),
    );
    assert!(out.len() >= 4);
    for s in &out {
        let (mut delta, mut gamma, mut vega, mut theta) = (0.0, 0.0, 0.0, 0.0);
        for l in &s.legs {
            let p = OptionParams::new(l.kind, 50.0, l.strike, t, 0.04, 0.01).expect("valid");
            let g = ivcrush_core::bsm_greeks(&p, l.iv.expect("iv"));
            let w = if l.side == Side::Long { 100.0 } else { -100.0 };
            delta += w * g.delta;
            gamma += w * g.gamma;
            vega += w * g.vega / 100.0;
            theta += w * g.theta / 365.0;
            assert!((l.delta.expect("delta") - g.delta).abs() < 1e-12);
        }
        let g = s.greeks.expect("greeks");
        for (a, b) in [
            (g.delta, delta),
            (g.gamma, gamma),
            (g.vega, vega),
            (g.theta, theta),
        ] {
            assert!(
                (a - b).abs() < 1e-9 * (1.0 + b.abs()),
                "{:?}: {a} vs {b}",
                s.kind
            );
        }
    }
}
