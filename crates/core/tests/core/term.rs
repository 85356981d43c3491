//! The term structure used whole, the forward from the chain, the clock inside the session and
//! the VRP basis, on synthetic markets whose truth is known (issue 13, items 1, 2, 8 and 9).

use crate::synthetic::WEEKLIES;
use crate::synthetic::{Scenario, d, history};
use ivcrush_core::QualityCode;
use ivcrush_core::config::ImpliedSource;
use ivcrush_core::forward::ForwardSource;
use ivcrush_core::vrp::{VrpBasis, VrpTier};
use ivcrush_core::{Analysis, AnalysisInput, AnalyticsConfig, OptionChain, analyze};

fn run(
    s: &Scenario,
    chains: &[OptionChain],
    hist_mean: f64,
    expiration: Option<&str>,
    cfg: &AnalyticsConfig,
) -> Analysis {
    let hist = history(hist_mean);
    let input = AnalysisInput {
        ticker: "SYN",
        as_of: s.as_of,
        spot: s.spot,
        rate: s.rate,
        div: 0.0,
        event: s.event,
        chains,
        history: &hist,
        bars: &[],
        expiration: expiration.map(d),
        quality: &[],
    };
    analyze(&input, cfg).expect("synthetic market analyses")
}

fn rel(got: f64, truth: f64) -> f64 {
    (got / truth - 1.0).abs()
}

#[test]
fn every_expiry_in_the_window_enters_the_fit() {
    let s = Scenario::week();
    let a = run(
        &s,
        &s.chains(&WEEKLIES),
        2.0,
        None,
        &AnalyticsConfig::default(),
    );
    assert_eq!(a.implied_move.fit_expiries, Some(5), "{:?}", a.implied_move);
    assert_eq!(
        a.implied_move.method,
        Some(ivcrush_core::implied_move::EventMoveMethod::TradingDaysLeastSquares)
    );
    let ev = a.implied_move.event_pct.expect("event move");
    assert!(rel(ev, s.event_pct()) < 0.02, "{ev} vs {}", s.event_pct());
    assert_eq!(a.term_structure.points.len(), 5);
    for p in &a.term_structure.points {
        assert!(p.in_fit);
        let truth = s.diffusion
            * (ivcrush_core::calendar::trading_years_at(s.as_of, p.expiration)
                / ivcrush_core::calendar::calendar_years(s.as_of, p.expiration))
            .sqrt();
        let got = p.ex_event_iv.expect("ex-event iv");
        assert!(rel(got, truth) < 0.02, "{}: {got} vs {truth}", p.expiration);
    }
    let f = a.forecast;
    let post = f.post_event_iv.expect("post-event iv");
    let crush = f.crush_vol_points.expect("crush");
    assert!((crush - (a.term_structure.points[0].atm_iv - post) * 100.0).abs() < 1e-9);
    assert!(
        crush > 20.0,
        "the front carries a 4 % event over two sessions: {f:?}"
    );
    assert!(rel(f.diffusion_vol.expect("diffusion"), s.diffusion) < 0.02);
    // A window of 14 days keeps the event expiry and the next two.
    let mut narrow = AnalyticsConfig::default();
    narrow.term.window_days = 14;
    let a = run(&s, &s.chains(&WEEKLIES), 2.0, None, &narrow);
    assert_eq!(a.implied_move.fit_expiries, Some(3));
    assert_eq!(
        a.term_structure.points.iter().filter(|p| p.in_fit).count(),
        3
    );
}

#[test]
fn a_pre_event_expiry_anchors_the_diffusion() {
    // Report Monday 2026-02-02 before the open: Friday 2026-01-30 expires before the reaction.
    let mut s = Scenario::week();
    s.event.date = d("2026-02-02");
    s.event.timing = ivcrush_core::Timing::Bmo;
    let chains = s.chains(&WEEKLIES);
    let a = run(&s, &chains, 2.0, None, &AnalyticsConfig::default());
    assert_eq!(a.expiration, d("2026-02-06"));
    assert_eq!(a.implied_move.pre_event_expiry, Some(d("2026-01-30")));
    assert_eq!(a.implied_move.fit_expiries, Some(5));
    let ev = a.implied_move.event_pct.expect("event move");
    assert!(rel(ev, s.event_pct()) < 0.02, "{ev} vs {}", s.event_pct());
    // The term structure starts at the event expiry; the pre-event one is not "the front".
    assert_eq!(a.term_structure.points[0].expiration, d("2026-02-06"));
    // The pre-event expiry and one post-event expiry alone pin both unknowns down.
    let two = [chains[0].clone(), chains[1].clone()];
    let a = run(&s, &two, 2.0, None, &AnalyticsConfig::default());
    assert_eq!(a.implied_move.fit_expiries, Some(2));
    let ev = a.implied_move.event_pct.expect("event move");
    assert!(rel(ev, s.event_pct()) < 0.03, "{ev} vs {}", s.event_pct());
    // Switched off, the same two chains give no event move.
    let mut off = AnalyticsConfig::default();
    off.term.pre_event = false;
    let a = run(&s, &two, 2.0, None, &off);
    assert_eq!(a.implied_move.event_pct, None);
    assert_eq!(a.vrp.basis, VrpBasis::Interpolated);
}

#[test]
fn a_discrete_dividend_is_recovered_only_with_the_implied_forward() {
    // A $1.50 dividend goes ex on Monday 2026-02-02, between the event expiry and the next.
    let mut s = Scenario::week();
    s.dividend = Some((d("2026-02-02"), 1.5));
    let chains = s.chains(&WEEKLIES);
    let a = run(&s, &chains, 2.0, None, &AnalyticsConfig::default());
    let ev = a.implied_move.event_pct.expect("event move");
    eprintln!("parity forward: event move {ev} vs truth {}", s.event_pct());
    assert!(
        rel(ev, s.event_pct()) < 0.02,
        "parity forward: {ev} vs {}",
        s.event_pct()
    );
    assert!((a.implied_move.forward - s.forward(d("2026-01-30"))).abs() < 0.02);
    let disagree: Vec<_> = a
        .data_quality
        .iter()
        .filter(|n| n.code == QualityCode::ForwardDisagrees)
        .collect();
    assert_eq!(
        disagree.len(),
        4,
        "every expiry after the ex-date: {disagree:?}"
    );
    assert!(disagree.iter().all(|n| !n.blocking));
    for p in &a.term_structure.points {
        let truth = s.atm_iv(p.expiration);
        assert!(
            rel(p.atm_iv, truth) < 0.01,
            "{}: {} vs {truth}",
            p.expiration,
            p.atm_iv
        );
    }
    // Rate and yield alone put every later forward $1.50 too high: the OTM side, the ATM vol and
    // the event move are all wrong.
    let mut carry = AnalyticsConfig::default();
    carry.forward.source = ForwardSource::Carry;
    let b = run(&s, &chains, 2.0, None, &carry);
    let wrong = b.implied_move.event_pct.unwrap_or(0.0);
    eprintln!(
        "carry forward: event move {wrong} vs truth {}",
        s.event_pct()
    );
    assert!(
        rel(wrong, s.event_pct()) > 0.05,
        "carry forward: {wrong} vs {}",
        s.event_pct()
    );
    // The same with only the two expiries around the ex-date (the textbook pair).
    let two = &chains[..2];
    let ev = run(&s, two, 2.0, None, &AnalyticsConfig::default())
        .implied_move
        .event_pct
        .expect("event move");
    let wrong = run(&s, two, 2.0, None, &carry)
        .implied_move
        .event_pct
        .unwrap_or(0.0);
    eprintln!(
        "two expiries: parity {ev}, carry {wrong}, truth {}",
        s.event_pct()
    );
    assert!(rel(ev, s.event_pct()) < 0.02, "{ev}");
    assert!(rel(wrong, s.event_pct()) > 0.05, "{wrong}");
    // Without the dividend both forwards agree and no note is made.
    let plain = Scenario::week();
    let c = run(
        &plain,
        &plain.chains(&WEEKLIES),
        2.0,
        None,
        &AnalyticsConfig::default(),
    );
    assert!(
        !c.data_quality.iter().any(|n| matches!(
            n.code,
            QualityCode::ForwardDisagrees | QualityCode::ForwardFallback
        )),
        "{:?}",
        c.data_quality
    );
}

#[test]
fn too_few_two_sided_pairs_fall_back_to_rate_and_yield_with_a_note() {
    let s = Scenario::week();
    let mut chains = s.chains(&WEEKLIES);
    // The 2026-02-13 chain keeps one two-sided strike near the money.
    let spot = s.spot;
    for q in &mut chains[2].quotes {
        if q.kind == ivcrush_core::OptionKind::Put && (q.strike - spot).abs() > 0.5 {
            q.bid = 0.0;
        }
    }
    let a = run(&s, &chains, 2.0, None, &AnalyticsConfig::default());
    let notes: Vec<_> = a
        .data_quality
        .iter()
        .filter(|n| n.code == QualityCode::ForwardFallback)
        .collect();
    assert_eq!(notes.len(), 1, "{:?}", a.data_quality);
    assert!(notes[0].detail.contains("2026-02-13"), "{notes:?}");
}

#[test]
fn a_later_expiry_does_not_raise_the_event_basis_ratio() {
    // Event move 3.19 %, past reactions 2.9 %: SKIP on the event basis. The straddle to a later
    // expiry prices weeks of ordinary movement on top.
    let s = Scenario::week();
    let chains = s.chains(&WEEKLIES);
    let cfg = AnalyticsConfig::default();
    let event = run(&s, &chains, 2.9, None, &cfg);
    assert_eq!(event.vrp.basis, VrpBasis::Event);
    assert_eq!(event.vrp.tier, VrpTier::Skip);
    let mut last_straddle_ratio = 0.0;
    for later in &WEEKLIES[1..] {
        let a = run(&s, &chains, 2.9, Some(later), &cfg);
        assert_eq!(a.expiration, d(later));
        assert_eq!(a.vrp.basis, VrpBasis::Event);
        assert!(
            a.vrp.ratio <= event.vrp.ratio + 1e-12,
            "{later}: {} vs {}",
            a.vrp.ratio,
            event.vrp.ratio
        );
        assert_eq!(a.vrp.tier, VrpTier::Skip, "{later}");
        assert!(!a.tradeable, "{later}");
        // The straddle ratio shown beside it grows with the expiry, as it must.
        let sr = a.vrp.straddle_ratio.expect("straddle ratio");
        assert!(sr > last_straddle_ratio, "{later}: {sr}");
        last_straddle_ratio = sr;
    }
    assert!(last_straddle_ratio > 2.0, "{last_straddle_ratio}");
    // On the straddle basis the later expiry turns the trade on: the old behaviour.
    let mut straddle = AnalyticsConfig::default();
    straddle.vrp.implied = ImpliedSource::Interpolated;
    let a = run(&s, &chains, 2.9, Some("2026-02-27"), &straddle);
    assert_eq!(a.vrp.basis, VrpBasis::Interpolated);
    assert!(a.vrp.tier >= VrpTier::Good, "{:?}", a.vrp);
}

#[test]
fn the_non_event_share_is_warned_whenever_it_is_large() {
    let s = Scenario::week();
    let chains = s.chains(&WEEKLIES);
    let cfg = AnalyticsConfig::default();
    let warned = |a: &Analysis| a.warnings.iter().any(|w| w.contains("ordinary movement"));
    // Two sessions of 35 % diffusion against a 4 % event: mostly event.
    let front = run(&s, &chains, 2.0, None, &cfg);
    let share = front.vrp.non_event_share.expect("share");
    assert!(share < 0.5, "{share}");
    assert!(!warned(&front), "{:?}", front.warnings);
    // Four weeks later, mostly diffusion: warned, whatever the basis, well within 10 sessions.
    let later = run(&s, &chains, 2.0, Some("2026-02-13"), &cfg);
    let share = later.vrp.non_event_share.expect("share");
    assert!(share > 0.5, "{share}");
    assert!(warned(&later), "{:?}", later.warnings);
    // The threshold is configuration.
    let mut strict = AnalyticsConfig::default();
    strict.vrp.non_event_share_warning = 0.1;
    assert!(warned(&run(&s, &chains, 2.0, None, &strict)));
}

#[test]
fn without_an_event_move_the_vrp_uses_the_interpolated_straddle_and_says_so() {
    let s = Scenario::week();
    let only_front = s.chains(&WEEKLIES[..1]);
    let a = run(&s, &only_front, 2.0, None, &AnalyticsConfig::default());
    assert_eq!(a.implied_move.event_pct, None);
    assert_eq!(a.vrp.basis, VrpBasis::Interpolated);
    assert!((a.vrp.ratio - a.implied_move.interpolated_pct / a.historical.mean_pct).abs() < 1e-12);
    assert!(
        a.warnings.iter().any(|w| w.contains("basis interpolated")),
        "{:?}",
        a.warnings
    );
    assert_eq!(a.forecast, ivcrush_core::term::Forecast::default());
}

#[test]
fn the_event_move_holds_at_every_time_of_day() {
    // The synthetic chains are priced in the spec's clock at each instant; the analysis must
    // recover the same event whether the session has not begun, is under way, has closed, or is
    // a half day.
    let cases = [
        ("2026-01-28T13:00:00Z", "before the open"),
        ("2026-01-28T20:00:00Z", "15:00 New York"),
        ("2026-01-28T21:30:00Z", "after the close"),
    ];
    for (at, what) in cases {
        let mut s = Scenario::week();
        s.as_of = at.parse().expect("instant");
        let a = run(
            &s,
            &s.chains(&WEEKLIES),
            2.0,
            None,
            &AnalyticsConfig::default(),
        );
        let ev = a.implied_move.event_pct.expect("event move");
        assert!(
            rel(ev, s.event_pct()) < 0.02,
            "{what}: {ev} vs {}",
            s.event_pct()
        );
    }
    // Friday 2026-11-27 (closes 13:00) at 11:15: half of its 3.5 hours are left.
    let mut s = Scenario::week();
    s.as_of = "2026-11-27T16:15:00Z".parse().expect("instant");
    s.event.date = d("2026-12-01");
    let chains = s.chains(&["2026-12-04", "2026-12-11", "2026-12-18", "2026-12-24"]);
    let a = run(&s, &chains, 2.0, None, &AnalyticsConfig::default());
    let ev = a.implied_move.event_pct.expect("event move");
    assert!(
        rel(ev, s.event_pct()) < 0.02,
        "half day: {ev} vs {}",
        s.event_pct()
    );
    let front = &a.term_structure.points[0];
    assert!(
        (front.trading_days.expect("sessions") - 5.5).abs() < 1e-9,
        "{front:?}"
    );
}

#[test]
fn an_expiry_before_the_reaction_is_an_error() {
    let s = Scenario::week();
    let chains = s.chains(&["2026-01-29", "2026-01-30", "2026-02-06"]);
    let hist = history(2.0);
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
        expiration: Some(d("2026-01-29")),
        quality: &[],
    };
    let e = analyze(&input, &AnalyticsConfig::default()).expect_err("no event inside");
    assert!(
        e.to_string()
            .contains("before the reaction session 2026-01-30"),
        "{e}"
    );
}
