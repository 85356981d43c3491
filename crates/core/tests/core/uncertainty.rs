//! Realized volatility without the earnings sessions against numpy reference vectors, and the
//! confidence interval of the mean move: its coverage on simulated tickers, its determinism and
//! its invariants.

use ivcrush_core::Bar;
use ivcrush_core::config::VrpConfig;
use ivcrush_core::realized::{RvWindow, rv_record};
use ivcrush_core::uncertainty::{mean_interval, ratio_interval};
use ivcrush_core::vrp::vrp_tier;
use proptest::prelude::*;

fn fixture() -> serde_json::Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rv_ex_earnings.json");
    let text = std::fs::read_to_string(&path).expect("rv_ex_earnings.json is in the repository");
    serde_json::from_str(&text).expect("rv_ex_earnings.json is JSON")
}

fn close_rel(got: f64, want: f64, what: &str) {
    assert!(
        ((got - want) / want).abs() < 1e-12,
        "{what}: {got} vs numpy {want}"
    );
}

#[test]
fn realized_vol_without_reaction_sessions_matches_numpy() {
    let f = fixture();
    let num = |b: &serde_json::Value, k: &str| b[k].as_f64().expect("price");
    let bars: Vec<Bar> = f["bars"]
        .as_array()
        .expect("bars")
        .iter()
        .map(|b| Bar {
            date: b["date"].as_str().expect("date").parse().expect("date"),
            open: num(b, "open"),
            high: num(b, "high"),
            low: num(b, "low"),
            close: num(b, "close"),
            volume: 0,
        })
        .collect();
    let reactions: Vec<chrono::NaiveDate> = f["reaction_sessions"]
        .as_array()
        .expect("reaction sessions")
        .iter()
        .map(|d| d.as_str().expect("date").parse().expect("date"))
        .collect();
    let rv = rv_record(&bars, &reactions).expect("80 bars");
    let check = |name: &str, got: Option<RvWindow>| {
        let got = got.unwrap_or_else(|| panic!("{name} computed"));
        let want = &f["expected"][name];
        assert_eq!(
            got.sessions as u64,
            want["sessions"].as_u64().expect("n"),
            "{name}"
        );
        close_rel(got.close_to_close, num(want, "close_to_close"), name);
        close_rel(got.yang_zhang, num(want, "yang_zhang"), name);
    };
    check("rv20", rv.rv20);
    check("rv60", rv.rv60);
    check("rv20_ex_earnings", rv.rv20_ex_earnings);
    check("rv60_ex_earnings", rv.rv60_ex_earnings);
    assert_eq!(rv.excluded_sessions, reactions);
    assert_eq!(rv.last_session, bars[bars.len() - 1].date);
}

/// SplitMix64: a seeded generator for the simulation (no dependency, same stream everywhere).
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Log-sd of a report's move scale around the ticker's (some quarters matter more).
const SCALE_DISPERSION: f64 = 0.35;

/// 1,000 simulated tickers: each has a typical move σ between 2 % and 8 % and 4–12 past
/// reports; a report's signed move is normal with σ scaled by a lognormal factor (log-sd 0.35),
/// so absolute moves are right-skewed with a heavier tail than a half-normal. The true mean
/// absolute move is `σ·√(2/π)·exp(0.35²/2)`. Returns the share of intervals covering it and the
/// intervals.
fn simulate(seed: u64, level: f64) -> (f64, Vec<(f64, f64)>) {
    let mut rng = SplitMix(seed);
    let mut covered = 0;
    let mut intervals = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let sigma = 2.0 + 6.0 * rng.uniform();
        let n = 4 + (rng.next_u64() % 9) as usize;
        let moves: Vec<f64> = (0..n)
            .map(|_| (sigma * (SCALE_DISPERSION * rng.normal()).exp() * rng.normal()).abs())
            .collect();
        let truth = sigma
            * (2.0 / std::f64::consts::PI).sqrt()
            * (SCALE_DISPERSION * SCALE_DISPERSION / 2.0).exp();
        let ci = mean_interval(&moves, level).expect("4+ finite moves");
        if ci.lower <= truth && truth <= ci.upper {
            covered += 1;
        }
        intervals.push((ci.lower, ci.upper));
    }
    (f64::from(covered) / 1000.0, intervals)
}

#[test]
fn the_interval_covers_the_true_mean_move_at_the_nominal_level() {
    for level in [0.90, 0.80] {
        let (coverage, _) = simulate(0x1C_C2_05_18, level);
        eprintln!("coverage at {level}: {coverage:.3} on 1,000 simulated tickers");
        assert!(
            (coverage - level).abs() <= 0.03,
            "coverage {coverage} at nominal {level}"
        );
    }
}

#[test]
fn the_same_seed_gives_the_same_intervals() {
    let (a, ia) = simulate(7, 0.90);
    let (b, ib) = simulate(7, 0.90);
    assert_eq!(a, b);
    assert!(
        ia.iter()
            .zip(&ib)
            .all(|(x, y)| x.0.to_bits() == y.0.to_bits() && x.1.to_bits() == y.1.to_bits())
    );
    // The method itself has no randomness: the same moves, the same interval, bit for bit.
    let moves = [2.0, 3.1, 1.1, 0.8, 4.9, 1.5];
    assert_eq!(mean_interval(&moves, 0.9), mean_interval(&moves, 0.9));
}

fn moves_strategy() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(0.05f64..25.0, 4..=12)
}

proptest! {
    #[test]
    fn the_mean_lies_inside_its_interval(moves in moves_strategy(), level in 0.5f64..0.99) {
        let ci = mean_interval(&moves, level).expect("finite moves");
        let mean = moves.iter().sum::<f64>() / moves.len() as f64;
        prop_assert!(0.0 <= ci.lower && ci.lower <= mean && mean <= ci.upper,
            "{ci:?} around {mean}");
    }

    #[test]
    fn more_reports_of_the_same_spread_narrow_the_interval(moves in moves_strategy()) {
        // The same moves twice: same mean, same spread, twice the reports.
        let twice: Vec<f64> = moves.iter().chain(&moves).copied().collect();
        let (a, b) = (
            mean_interval(&moves, 0.9).expect("finite"),
            mean_interval(&twice, 0.9).expect("finite"),
        );
        prop_assert!(b.upper - b.lower <= a.upper - a.lower + 1e-12, "{a:?} then {b:?}");
    }

    #[test]
    fn the_tier_on_the_interval_is_never_above_the_point_tier(
        moves in moves_strategy(),
        implied in 0.1f64..40.0,
    ) {
        let cfg = VrpConfig::default();
        let mean = moves.iter().sum::<f64>() / moves.len() as f64;
        let ratio = implied / mean;
        let ci = ratio_interval(ratio, mean, &mean_interval(&moves, 0.9).expect("finite"));
        prop_assert!(ci.lower <= ratio && ci.upper.is_none_or(|u| u >= ratio));
        prop_assert!(vrp_tier(ci.lower, &cfg) <= vrp_tier(ratio, &cfg));
    }
}
