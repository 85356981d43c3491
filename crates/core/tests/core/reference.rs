//! Every case of testdata/reference/numerics-vectors.json, each within its suggested
//! tolerance. A failure names the case, the quantity and the tolerance.

use crate::testdata_json;
use ivcrush_core::implied_move::{TermPoint, event_move, straddle_move};
use ivcrush_core::moves::MoveStats;
use ivcrush_core::pricing::bsm_greeks;
use ivcrush_core::realized::realized_vol;
use ivcrush_core::skew::fit_skew;
use ivcrush_core::smile::SmilePoint;
use ivcrush_core::stats::{MAD_NORMAL_SCALE, ewma, mad, mean, median, rms, std_dev};
use ivcrush_core::strategy::{Leg, MaxLoss, Payoff, Side};
use ivcrush_core::{
    Bar, IvError, OptionChain, OptionKind, OptionParams, OptionQuote, bsm_price, implied_vol,
};
use serde_json::Value;

fn cases(category: &str) -> Vec<Value> {
    let v = testdata_json("reference/numerics-vectors.json");
    let all = v["cases"].as_array().expect("cases array").clone();
    let out: Vec<Value> = all
        .into_iter()
        .filter(|c| c["category"] == category)
        .collect();
    assert!(!out.is_empty(), "no cases of category {category}");
    out
}

fn num(v: &Value, what: &str) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("f64"),
        _ => panic!("{what} is not a number: {v}"),
    }
}

fn params(c: &Value) -> OptionParams {
    let i = &c["inputs"];
    let kind = if i["flag"] == "c" {
        OptionKind::Call
    } else {
        OptionKind::Put
    };
    OptionParams::new(
        kind,
        num(&i["S"], "S"),
        num(&i["K"], "K"),
        num(&i["T"], "T"),
        num(&i["r"], "r"),
        num(&i["q"], "q"),
    )
    .unwrap_or_else(|e| panic!("{}: bad inputs: {e}", c["id"]))
}

/// |got − want| ≤ rel·|want| + abs.
fn close(id: &Value, what: &str, got: f64, want: f64, rel: f64, abs: f64) {
    let tol = rel * want.abs() + abs;
    assert!(
        (got - want).abs() <= tol,
        "{id}: {what} = {got:e}, expected {want:e} (|diff| {:e} > tol {tol:e})",
        (got - want).abs()
    );
}

fn check_greeks(c: &Value) {
    let id = &c["id"];
    let p = params(c);
    let sigma = num(&c["inputs"]["sigma"], "sigma");
    let e = &c["expected"];
    let g = bsm_greeks(&p, sigma);
    // Prices are relative-accurate even deep in the tails (1e-39 calls included).
    close(
        id,
        "price",
        g.price,
        num(&e["price"], "price"),
        1e-12,
        1e-300,
    );
    let scale = p.spot.max(p.strike);
    close(
        id,
        "delta",
        g.delta,
        num(&e["delta"], "delta"),
        1e-11,
        1e-13,
    );
    close(
        id,
        "gamma",
        g.gamma,
        num(&e["gamma"], "gamma"),
        1e-10,
        1e-15,
    );
    close(
        id,
        "vega",
        g.vega,
        num(&e["vega_per_1.00"], "vega"),
        1e-10,
        1e-12 * scale,
    );
    close(
        id,
        "theta",
        g.theta,
        num(&e["theta_per_year"], "theta"),
        1e-10,
        1e-12 * scale,
    );
    close(
        id,
        "rho",
        g.rho,
        num(&e["rho_per_1.00"], "rho"),
        1e-10,
        1e-12 * scale,
    );
}

#[test]
fn prices_and_greeks_match_the_50_digit_references() {
    for c in cases("bs_price_greeks") {
        check_greeks(&c);
        let pub_price = num(&c["published"]["price"], "published");
        let got = bsm_price(&params(&c), num(&c["inputs"]["sigma"], "sigma"));
        assert!(
            (got - pub_price).abs() < 1e-4 * pub_price.max(1.0) + 5e-3,
            "{}",
            c["id"]
        );
    }
}

#[test]
fn iv_round_trips_every_grid_case_within_its_conditioning() {
    let (mut ok, mut refused) = (0, 0);
    for c in cases("iv_roundtrip") {
        check_greeks(&c);
        let id = &c["id"];
        let p = params(&c);
        let sigma = num(&c["inputs"]["sigma"], "sigma");
        let price = num(&c["iv_input_price"], "iv_input_price");
        let status = c["iv_status"].as_str().expect("status");
        let got = implied_vol(&p, price);
        match status {
            "ok" => {
                let tol = num(&c["suggested_iv_tolerance"], "tolerance");
                let v = got.unwrap_or_else(|e| panic!("{id}: expected a vol, got {e}"));
                assert!(
                    (v - sigma).abs() <= tol,
                    "{id}: iv {v} vs {sigma}, err {:e} > tol {tol:e}",
                    (v - sigma).abs()
                );
                ok += 1;
            }
            "ill-conditioned: IV identifiable only to ~cond" => {
                // Either refused, or right to the attainable accuracy.
                // A vega of 0 is stored as the finite sentinel 1e300 (testdata/README.md).
                let cond = num(&c["iv_cond"], "iv_cond");
                if let Ok(v) = got {
                    let tol = (64.0 * cond).max(1e-12);
                    assert!(
                        (v - sigma).abs() <= tol,
                        "{id}: iv {v} vs {sigma} beyond 64×cond"
                    );
                } else {
                    refused += 1;
                }
            }
            _ => {
                // Time value lost or price underflowed: no vol is recoverable. A vol may only be
                // returned if it reproduces the input price (it is then as good as any other).
                match got {
                    Err(_) => refused += 1,
                    Ok(v) => {
                        let re = bsm_price(&p, v);
                        assert!(
                            (re - price).abs() <= 4.0 * f64::EPSILON * price.max(f64::MIN_POSITIVE),
                            "{id}: returned iv {v} that reprices to {re} not {price}"
                        );
                    }
                }
            }
        }
    }
    assert_eq!(ok, 211, "all well-conditioned cases solved");
    assert!(refused > 0);
}

#[test]
fn put_call_parity_holds_to_a_few_ulps() {
    for c in cases("put_call_parity") {
        let id = &c["id"];
        let i = &c["inputs"];
        let mk = |kind| {
            OptionParams::new(
                kind,
                num(&i["S"], "S"),
                num(&i["K"], "K"),
                num(&i["T"], "T"),
                num(&i["r"], "r"),
                num(&i["q"], "q"),
            )
            .expect("valid")
        };
        let sigma = num(&i["sigma"], "sigma");
        let (pc, pp) = (mk(OptionKind::Call), mk(OptionKind::Put));
        let (call, put) = (bsm_price(&pc, sigma), bsm_price(&pp, sigma));
        let e = &c["expected"];
        close(id, "call", call, num(&e["call"], "call"), 1e-12, 1e-300);
        close(id, "put", put, num(&e["put"], "put"), 1e-12, 1e-300);
        let rhs = pc.spot * (-pc.div * pc.t).exp() - pc.strike * (-pc.rate * pc.t).exp();
        let ulp = f64::EPSILON * call.max(put).max(pc.spot);
        assert!(
            (call - put - rhs).abs() <= 4.0 * ulp,
            "{id}: parity residual {:e} > 4 ulp",
            call - put - rhs
        );
    }
}

#[test]
fn published_iv_example_is_reproduced() {
    for c in cases("iv_published") {
        let i = &c["inputs"];
        let p = OptionParams::new(
            OptionKind::Call,
            num(&i["S"], "S"),
            num(&i["K"], "K"),
            num(&i["T"], "T"),
            num(&i["r"], "r"),
            num(&i["q"], "q"),
        )
        .expect("valid");
        let v = implied_vol(&p, num(&i["price"], "price")).expect("solvable");
        close(
            &c["id"],
            "iv",
            v,
            num(&c["expected"]["iv"], "iv"),
            0.0,
            1e-12,
        );
        assert!((v - num(&c["published"]["iv"], "published")).abs() < 5e-4);
    }
}

#[test]
fn error_and_edge_cases_are_typed_never_zero() {
    for c in cases("iv_error_or_edge") {
        let id = &c["id"];
        let i = &c["inputs"];
        let p = params(&c);
        let got = implied_vol(&p, num(&i["price"], "price"));
        match c["expected"]["iv"].as_f64() {
            None => {
                let e = got.expect_err(&format!("{id}: must refuse"));
                let expected_kind = match id.as_str().unwrap_or_default() {
                    "err_below_intrinsic_call" | "err_below_intrinsic_put" => "below_intrinsic",
                    "err_at_intrinsic_call" => "no_time_value",
                    "err_above_max_call" => "above_maximum",
                    "err_zero_price_otm_call" => "zero_price",
                    "err_negative_price" => "invalid_price",
                    other => panic!("unexpected error case {other}"),
                };
                assert_eq!(e.code(), expected_kind, "{id}: {e}");
            }
            Some(want) => {
                let v = got.unwrap_or_else(|e| panic!("{id}: {e}"));
                close(id, "iv", v, want, 1e-12, 0.0);
            }
        }
    }
    // The sub-intrinsic guard also covers puts priced under K·e^{-rT} − S.
    let p = OptionParams::new(OptionKind::Put, 100.0, 120.0, 0.25, 0.05, 0.0).expect("valid");
    assert!(matches!(
        implied_vol(&p, 18.0),
        Err(IvError::BelowIntrinsic { .. })
    ));
}

#[test]
fn realized_vol_estimators_match_the_worked_examples() {
    for c in cases("realized_vol") {
        let id = &c["id"];
        let i = &c["inputs"];
        let d0: chrono::NaiveDate = "2026-01-05".parse().expect("date");
        let bars: Vec<Bar> = i["ohlc"]
            .as_array()
            .expect("ohlc")
            .iter()
            .enumerate()
            .map(|(n, r)| Bar {
                date: d0 + chrono::Duration::days(n as i64),
                open: num(&r[0], "o"),
                high: num(&r[1], "h"),
                low: num(&r[2], "l"),
                close: num(&r[3], "c"),
                volume: 0,
            })
            .collect();
        let excluded: Vec<usize> = i["excluded_days"]
            .as_array()
            .expect("excluded")
            .iter()
            .map(|v| v.as_u64().expect("index") as usize)
            .collect();
        let rv = realized_vol(&bars, &excluded).expect("enough bars");
        let e = &c["expected"];
        assert_eq!(rv.n as u64, e["n"].as_u64().expect("n"), "{id}");
        close(
            id,
            "yz k",
            rv.yang_zhang_k,
            num(&e["yang_zhang_k"], "k"),
            1e-12,
            0.0,
        );
        for (name, got) in [
            ("close_to_close", rv.close_to_close),
            ("close_to_close_zero_mean", rv.close_to_close_zero_mean),
            ("parkinson", rv.parkinson),
            ("garman_klass", rv.garman_klass),
            ("rogers_satchell", rv.rogers_satchell),
            ("yang_zhang", rv.yang_zhang),
        ] {
            let want = &e[name];
            close(
                id,
                name,
                got.daily_variance,
                num(&want["daily_variance"], name),
                1e-10,
                0.0,
            );
            close(
                id,
                name,
                got.annualized_vol,
                num(&want["annualized_vol"], name),
                1e-10,
                0.0,
            );
        }
    }
}

#[test]
fn earnings_move_statistics_match_numpy_and_pandas() {
    for c in cases("earnings_move_stats") {
        let id = &c["id"];
        let moves: Vec<f64> = c["inputs"]["moves_oldest_to_newest"]
            .as_array()
            .expect("moves")
            .iter()
            .map(|v| num(v, "move"))
            .collect();
        let abs: Vec<f64> = moves.iter().map(|m| m.abs()).collect();
        let e = &c["expected"];
        let chk = |what: &str, got: Option<f64>| {
            close(
                id,
                what,
                got.expect(what),
                num(&e[what], what),
                1e-12,
                1e-15,
            )
        };
        chk("mean_signed", mean(&moves));
        chk("mean_abs", mean(&abs));
        chk("median_abs", median(&abs));
        chk("median_signed", median(&moves));
        chk("rms_about_zero", rms(&moves));
        chk("std_ddof1", std_dev(&moves));
        chk("mad_about_median_raw", mad(&moves));
        chk(
            "mad_about_median_normal_scaled(x1.4826)",
            mad(&moves).map(|m| m * MAD_NORMAL_SCALE),
        );
        chk("mad_of_abs_moves_raw", mad(&abs));
        chk("ew_mean_abs_halflife4", ewma(&abs, 4.0));
        chk("max_abs", abs.iter().copied().reduce(f64::max));
        // The record's statistics (percent units) agree with the same numbers.
        let pct: Vec<f64> = moves.iter().map(|m| m * 100.0).collect();
        let s = MoveStats::from_signed(&pct, 12, 4, 4.0).expect("12 reports");
        close(
            id,
            "record mean",
            s.mean_pct,
            100.0 * num(&e["mean_abs"], "m"),
            1e-12,
            0.0,
        );
        close(
            id,
            "record median",
            s.median_pct,
            100.0 * num(&e["median_abs"], "m"),
            1e-12,
            0.0,
        );
        close(
            id,
            "record mad",
            s.mad_pct,
            100.0 * MAD_NORMAL_SCALE * num(&e["mad_of_abs_moves_raw"], "m"),
            1e-12,
            0.0,
        );
        close(
            id,
            "record ewma",
            s.ewma_pct,
            100.0 * num(&e["ew_mean_abs_halflife4"], "m"),
            1e-12,
            0.0,
        );
        close(
            id,
            "record std",
            s.std_pct,
            100.0 * num(&e["std_ddof1"], "m"),
            1e-12,
            0.0,
        );
        close(
            id,
            "record max",
            s.max_pct,
            100.0 * num(&e["max_abs"], "m"),
            1e-12,
            0.0,
        );
        assert_eq!(s.count, 12);
        assert!((s.up_share - 0.5).abs() < 1e-15);
    }
}

fn two_sided(kind: OptionKind, strike: f64, mid: f64) -> OptionQuote {
    OptionQuote {
        kind,
        strike,
        bid: mid - 0.01,
        ask: mid + 0.01,
        last: None,
        volume: 1000,
        open_interest: 5000,
    }
}

#[test]
fn implied_move_worked_example_recovers_the_model_truth() {
    let c = &cases("implied_move")[0];
    let id = &c["id"];
    let i = &c["inputs"];
    let e = &c["expected"];
    let (t1, t2) = (
        num(&i["T1_years(3 trading days)"], "T1"),
        num(&i["T2_years(8 trading days)"], "T2"),
    );
    let (v1, v2) = (num(&i["atm_iv_T1"], "v1"), num(&i["atm_iv_T2"], "v2"));
    // The worked example runs in trading-day time: both clocks are the same here.
    let m = event_move(&[
        TermPoint {
            t_calendar: t1,
            tau_trading: t1,
            atm_iv: v1,
        },
        TermPoint {
            t_calendar: t2,
            tau_trading: t2,
            atm_iv: v2,
        },
    ])
    .expect("two expiries");
    close(
        id,
        "event var",
        m.event_variance,
        num(&e["event_var_term_structure (v1^2-v2^2)/(1/T1-1/T2)"], "E"),
        1e-12,
        0.0,
    );
    close(
        id,
        "diffusion vol",
        m.diffusion_vol,
        num(&e["ex_event_vol (v2^2 T2 - v1^2 T1)/(T2-T1)"], "sd"),
        1e-12,
        0.0,
    );
    close(
        id,
        "event pct",
        m.event_pct.0 / 100.0,
        num(&e["expected_abs_event_move_normal (s*sqrt(2/pi))"], "abs"),
        1e-12,
        0.0,
    );

    // The ATM straddle of the event expiry, priced from the model, gives straddle_pct.
    let mk = |kind| OptionParams::new(kind, 100.0, 100.0, t1, 0.0, 0.0).expect("valid");
    let straddle = bsm_price(&mk(OptionKind::Call), v1) + bsm_price(&mk(OptionKind::Put), v1);
    close(
        id,
        "straddle",
        straddle,
        num(&e["straddle_T1"], "straddle"),
        1e-12,
        0.0,
    );
    let chain = OptionChain {
        expiration: "2026-01-30".parse().expect("date"),
        quotes: vec![
            two_sided(OptionKind::Call, 100.0, straddle / 2.0),
            two_sided(OptionKind::Put, 100.0, straddle / 2.0),
        ],
        vendor: None,
    };
    let sm = straddle_move(&chain, 100.0, 100.0).expect("straddle");
    close(
        id,
        "straddle_pct",
        sm.straddle_pct.fraction(),
        num(&e["straddle_pct"], "pct"),
        1e-12,
        0.0,
    );

    // Strike interpolation example: the forward between 100 and 102.5.
    let x = &c["strike_interpolation_example"];
    let s = num(&x["S"], "S");
    let chain = OptionChain {
        expiration: "2026-01-30".parse().expect("date"),
        quotes: vec![
            two_sided(OptionKind::Call, 100.0, 4.0),
            two_sided(OptionKind::Put, 100.0, 2.4),
            two_sided(OptionKind::Call, 102.5, 2.9),
            two_sided(OptionKind::Put, 102.5, 3.3),
        ],
        vendor: None,
    };
    let sm = straddle_move(&chain, s, s).expect("straddle");
    close(
        id,
        "interpolated",
        sm.interpolated_pct.fraction(),
        num(&x["implied_move_pct"], "pct"),
        1e-12,
        0.0,
    );
    // 102.5 is 1.2 from the forward, 100 is 1.3: the nearer strike is the ATM one.
    assert_eq!(sm.atm_strike, 102.5);
}

#[test]
fn skew_fit_recovers_the_quadratic_smile_and_25_delta_points() {
    let c = &cases("skew")[0];
    let id = &c["id"];
    let i = &c["inputs"];
    let e = &c["expected"];
    let (f, t) = (num(&i["F"], "F"), num(&i["T"], "T"));
    let strikes = i["strikes"].as_array().expect("strikes");
    let ivs = i["otm_iv_from_vollib_black"].as_array().expect("ivs");
    let points: Vec<SmilePoint> = strikes
        .iter()
        .zip(ivs)
        .map(|(k, v)| {
            let (k, iv) = (num(k, "K"), num(v, "iv"));
            let kind = if k < f {
                OptionKind::Put
            } else {
                OptionKind::Call
            };
            let p = OptionParams::new(kind, f, k, t, 0.0, 0.0).expect("valid");
            SmilePoint {
                strike: k,
                k: (k / f).ln(),
                iv,
                vega: bsm_greeks(&p, iv).vega,
                kind,
            }
        })
        .collect();
    let fit = fit_skew(&points, t, f).expect("17 strikes");
    let coeffs = e["polyfit_deg2_coeffs_[c0,c1,c2]"]
        .as_array()
        .expect("coeffs");
    close(id, "c0", fit.level, num(&coeffs[0], "c0"), 0.0, 1e-9);
    close(id, "c1", fit.slope, num(&coeffs[1], "c1"), 0.0, 1e-8);
    close(id, "c2", fit.curvature, num(&coeffs[2], "c2"), 0.0, 1e-7);
    close(
        id,
        "K25c",
        fit.k25_call.expect("k25c"),
        num(&e["K_25d_call"], "k"),
        1e-8,
        0.0,
    );
    close(
        id,
        "K25p",
        fit.k25_put.expect("k25p"),
        num(&e["K_25d_put"], "k"),
        1e-8,
        0.0,
    );
    close(
        id,
        "iv25c",
        fit.iv25_call.expect("iv"),
        num(&e["iv_25d_call"], "iv"),
        0.0,
        1e-9,
    );
    close(
        id,
        "iv25p",
        fit.iv25_put.expect("iv"),
        num(&e["iv_25d_put"], "iv"),
        0.0,
        1e-9,
    );
    close(
        id,
        "rr25",
        fit.risk_reversal_25.expect("rr"),
        num(&e["rr25 = iv_c25 - iv_p25"], "rr"),
        0.0,
        1e-9,
    );
    close(
        id,
        "bf25",
        fit.butterfly_25.expect("bf"),
        num(&e["bf25 = (iv_c25+iv_p25)/2 - iv_atmf"], "bf"),
        0.0,
        1e-9,
    );
    // Fewer than five strikes is NoData, not a wild fit.
    assert!(fit_skew(&points[..4], t, f).is_err());
}

#[test]
fn pop_worked_example_for_straddle_and_condor() {
    let c = &cases("pop")[0];
    let id = &c["id"];
    let i = &c["inputs"];
    let e = &c["expected"];
    let (s, k, t, iv) = (
        num(&i["S"], "S"),
        num(&i["K"], "K"),
        num(&i["T"], "T"),
        num(&i["atm_iv"], "iv"),
    );
    let moves: Vec<f64> = i["historical_moves"]
        .as_array()
        .expect("moves")
        .iter()
        .map(|v| num(v, "m"))
        .collect();
    let price = |kind, strike| {
        bsm_price(
            &OptionParams::new(kind, s, strike, t, 0.0, 0.0).expect("valid"),
            iv,
        )
    };
    let leg = |kind, strike, side| Leg {
        kind,
        strike,
        side,
        quantity: 1,
        mid: price(kind, strike),
    };
    let w = iv * iv * t;

    let straddle = Payoff::new(&[
        leg(OptionKind::Call, k, Side::Short),
        leg(OptionKind::Put, k, Side::Short),
    ]);
    close(
        id,
        "straddle credit",
        straddle.credit(),
        num(&e["straddle_credit"], "c"),
        1e-12,
        0.0,
    );
    let be = straddle.breakevens();
    let want = e["breakevens"].as_array().expect("be");
    close(id, "be lo", be[0], num(&want[0], "lo"), 1e-12, 0.0);
    close(id, "be hi", be[1], num(&want[1], "hi"), 1e-12, 0.0);
    assert_eq!(straddle.max_loss(), MaxLoss::Unbounded);
    close(
        id,
        "pop ln",
        straddle.pop_lognormal(s, w),
        num(&e["pop_straddle_lognormal_riskneutral"], "p"),
        1e-10,
        0.0,
    );
    let (pop_raw, _) = straddle.empirical(s, &moves).expect("moves");
    close(
        id,
        "pop emp",
        pop_raw,
        num(&e["pop_straddle_empirical_raw_moves"], "p"),
        1e-12,
        0.0,
    );
    // Rescaled so that the moves' RMS equals the implied event σ (8 % in the worked example).
    let r = rms(&moves).expect("rms");
    let scaled: Vec<f64> = moves.iter().map(|m| m * 0.08 / r).collect();
    let (pop_rescaled, _) = straddle.empirical(s, &scaled).expect("moves");
    close(
        id,
        "pop rescaled",
        pop_rescaled,
        num(
            &e["pop_straddle_empirical_rescaled_to_implied_event_std"],
            "p",
        ),
        1e-12,
        0.0,
    );

    let ks: Vec<f64> = i["condor_strikes"]
        .as_array()
        .expect("strikes")
        .iter()
        .map(|v| num(v, "k"))
        .collect();
    let condor = Payoff::new(&[
        leg(OptionKind::Put, ks[0], Side::Long),
        leg(OptionKind::Put, ks[1], Side::Short),
        leg(OptionKind::Call, ks[2], Side::Short),
        leg(OptionKind::Call, ks[3], Side::Long),
    ]);
    close(
        id,
        "condor credit",
        condor.credit(),
        num(&e["condor_credit"], "c"),
        1e-12,
        0.0,
    );
    let be = condor.breakevens();
    let want = e["condor_breakevens"].as_array().expect("be");
    close(id, "condor be lo", be[0], num(&want[0], "lo"), 1e-12, 0.0);
    close(id, "condor be hi", be[1], num(&want[1], "hi"), 1e-12, 0.0);
    match condor.max_loss() {
        MaxLoss::Bounded(l) => close(
            id,
            "condor max loss",
            l,
            num(&e["condor_max_loss"], "l"),
            1e-12,
            0.0,
        ),
        MaxLoss::Unbounded => panic!("{id}: condor loss is bounded"),
    }
    close(
        id,
        "condor pop",
        condor.pop_lognormal(s, w),
        num(&e["pop_condor_lognormal"], "p"),
        1e-10,
        0.0,
    );
    let (pop_c, _) = condor.empirical(s, &moves).expect("moves");
    close(
        id,
        "condor pop emp",
        pop_c,
        num(&e["pop_condor_empirical_raw_moves"], "p"),
        1e-12,
        0.0,
    );
}
