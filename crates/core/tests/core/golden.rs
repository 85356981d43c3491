//! `analyze` byte for byte: the serde JSON of the record (or the error message) for a spread of
//! inputs — the vendor fixtures' market and synthetic term structures, every VRP basis and
//! statistic, both exits and wing rules, forced expiries, blocking notes, vendor metadata and
//! the error paths — against the fingerprints in `tests/data/analyze_golden.txt`. A refactor of the analysis must
//! leave every byte in place; a deliberate change of the figures re-blesses the file with
//! `IVCRUSH_BLESS=1 cargo test -p ivcrush-core --test core golden` and says why in its commit.

use crate::fixture_chain::fixture_chain;
use crate::synthetic::WEEKLIES;
use crate::synthetic::{Scenario, d, history};
use chrono::{DateTime, Utc};
use ivcrush_core::config::{HistoricalStat, ImpliedSource, WingRule};
use ivcrush_core::exit::ExitKind;
use ivcrush_core::forward::ForwardSource;
use ivcrush_core::moves::{HistoricalMove, MoveMetric};
use ivcrush_core::{
    AnalysisInput, AnalyticsConfig, ChainProvenance, DataQuality, EarningsEvent, OptionChain,
    QualityCode, Timing, analyze,
};

/// One input of the snapshot.
struct Case {
    name: String,
    as_of: DateTime<Utc>,
    spot: f64,
    rate: f64,
    div: f64,
    event: EarningsEvent,
    chains: Vec<OptionChain>,
    history: Vec<HistoricalMove>,
    expiration: Option<&'static str>,
    quality: Vec<DataQuality>,
    cfg: AnalyticsConfig,
}

impl Case {
    fn run(&self) -> String {
        let input = AnalysisInput {
            ticker: "GOLD",
            as_of: self.as_of,
            spot: self.spot,
            rate: self.rate,
            div: self.div,
            event: self.event,
            chains: &self.chains,
            history: &self.history,
            bars: &[],
            expiration: self.expiration.map(d),
            quality: &self.quality,
        };
        match analyze(&input, &self.cfg) {
            Ok(a) => serde_json::to_string_pretty(&a).expect("an analysis serialises"),
            Err(e) => format!("error: {e}"),
        }
    }
}

fn fixture(name: &str, history_mean: f64) -> Case {
    Case {
        name: name.to_string(),
        as_of: "2026-01-28T20:00:00Z".parse().expect("instant"),
        spot: 251.37,
        rate: 0.043,
        div: 0.004,
        event: EarningsEvent {
            date: d("2026-01-29"),
            timing: Timing::Amc,
        },
        chains: vec![
            fixture_chain("tradier_chain_AAPL_2026-01-30.json"),
            fixture_chain("tradier_chain_AAPL_2026-02-06.json"),
        ],
        history: history(history_mean),
        expiration: None,
        quality: Vec::new(),
        cfg: AnalyticsConfig::default(),
    }
}

fn synthetic(name: &str, s: &Scenario, expiries: &[&str], history_mean: f64) -> Case {
    Case {
        name: name.to_string(),
        as_of: s.as_of,
        spot: s.spot,
        rate: s.rate,
        div: 0.0,
        event: s.event,
        chains: s.chains(expiries),
        history: history(history_mean),
        expiration: None,
        quality: Vec::new(),
        cfg: AnalyticsConfig::default(),
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for mean in [0.8, 1.5, 2.5, 4.0, 8.0] {
        out.push(fixture(&format!("fixture_hist_{mean}"), mean));
    }
    let with = |name: &str, f: &dyn Fn(&mut Case)| {
        let mut c = fixture(name, 1.5);
        f(&mut c);
        c
    };
    out.push(with("fixture_straddle_basis", &|c| {
        c.cfg.vrp.implied = ImpliedSource::Straddle
    }));
    out.push(with("fixture_interpolated_basis", &|c| {
        c.cfg.vrp.implied = ImpliedSource::Interpolated
    }));
    out.push(with("fixture_median", &|c| {
        c.cfg.vrp.historical = HistoricalStat::Median
    }));
    out.push(with("fixture_ewma", &|c| {
        c.cfg.vrp.historical = HistoricalStat::Ewma
    }));
    out.push(with("fixture_gap_metric", &|c| {
        c.cfg.moves.metric = MoveMetric::Gap
    }));
    out.push(with("fixture_lookback_6", &|c| {
        c.cfg.moves.lookback = 6;
        c.cfg.moves.min_reports = 3;
    }));
    out.push(with("fixture_hold_to_expiry", &|c| {
        c.cfg.strategy.exit = ExitKind::HoldToExpiry
    }));
    out.push(with("fixture_delta_wings", &|c| {
        c.cfg.strategy.wing_rule = WingRule::Delta
    }));
    out.push(with("fixture_carry_forward", &|c| {
        c.cfg.forward.source = ForwardSource::Carry
    }));
    out.push(with("fixture_forced_second_expiry", &|c| {
        c.expiration = Some("2026-02-06")
    }));
    out.push(with("fixture_timing_unknown", &|c| {
        c.event.timing = Timing::Unknown
    }));
    out.push(with("fixture_blocking_note", &|c| {
        c.quality = vec![
            DataQuality::new(QualityCode::StaleQuote, "stock quote 3 hours old"),
            DataQuality::new(QualityCode::RateLimited, "one 429"),
        ]
    }));
    out.push(with("fixture_vendor_metadata", &|c| {
        for (i, chain) in c.chains.iter_mut().enumerate() {
            chain.vendor = Some(ChainProvenance {
                quoted_at: Some("2026-01-28T14:00:00Z".parse().expect("instant"))
                    .filter(|_| i == 0),
                contracts: 30,
                greeks_missing: 4,
                dropped: 2,
            });
        }
    }));
    out.push(with("fixture_one_chain", &|c| c.chains.truncate(1)));
    out.push(with("error_expired_expiry", &|c| {
        c.expiration = Some("2026-01-27")
    }));
    out.push(with("error_before_reaction", &|c| {
        c.expiration = Some("2026-01-29")
    }));
    out.push(with("error_no_chain", &|c| {
        c.expiration = Some("2026-02-13")
    }));
    out.push(with("error_short_history", &|c| c.history.truncate(2)));
    out.push(with("error_bad_spot", &|c| c.spot = f64::NAN));
    out.push(with("error_no_event_expiry", &|c| {
        c.event.date = d("2026-03-02")
    }));

    let week = Scenario::week();
    out.push(synthetic("synthetic_weeklies", &week, &WEEKLIES, 2.0));
    out.push(synthetic("synthetic_weeklies_rich", &week, &WEEKLIES, 1.2));
    out.push(synthetic("synthetic_two", &week, &WEEKLIES[..2], 2.0));
    let mut bmo = Scenario::week();
    bmo.event.date = d("2026-02-02");
    bmo.event.timing = Timing::Bmo;
    out.push(synthetic("synthetic_pre_event", &bmo, &WEEKLIES, 2.0));
    out.push(synthetic(
        "synthetic_pre_event_two",
        &bmo,
        &WEEKLIES[..2],
        2.0,
    ));
    let mut c = synthetic("synthetic_pre_event_off", &bmo, &WEEKLIES[..2], 2.0);
    c.cfg.term.pre_event = false;
    out.push(c);
    let mut c = synthetic("synthetic_forced_later", &week, &WEEKLIES, 2.0);
    c.expiration = Some("2026-02-13");
    out.push(c);
    let mut div = Scenario::week();
    div.dividend = Some((d("2026-02-02"), 1.5));
    out.push(synthetic("synthetic_dividend", &div, &WEEKLIES, 2.0));
    for at in [
        "2026-01-28T13:00:00Z",
        "2026-01-28T21:30:00Z",
        "2026-01-27T15:00:00Z",
    ] {
        let mut s = Scenario::week();
        s.as_of = at.parse().expect("instant");
        out.push(synthetic(&format!("synthetic_at_{at}"), &s, &WEEKLIES, 2.0));
    }
    let mut half = Scenario::week();
    half.as_of = "2026-11-27T16:15:00Z".parse().expect("instant");
    half.event.date = d("2026-11-30");
    half.event.timing = Timing::Bmo;
    out.push(synthetic(
        "synthetic_half_day",
        &half,
        &["2026-12-04", "2026-12-11", "2026-12-18"],
        2.0,
    ));
    let mut flat = Scenario::week();
    flat.event_std = 0.0;
    out.push(synthetic("synthetic_no_event", &flat, &WEEKLIES, 2.0));
    out
}

/// FNV-1a, 64 bits: a stable fingerprint, so that the golden file stays a few lines long.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn analyze_output_matches_the_golden_file_byte_for_byte() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/analyze_golden.txt");
    let mut got = String::new();
    let mut outputs = std::collections::BTreeMap::new();
    for c in cases() {
        let out = c.run();
        got += &format!("{} {:016x} {}\n", c.name, fingerprint(&out), out.len());
        assert!(outputs.insert(c.name, out).is_none(), "a case name twice");
    }
    if std::env::var_os("IVCRUSH_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("tests/data");
        std::fs::write(&path, &got).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e})", path.display()));
    for (g, w) in got.lines().zip(want.lines()) {
        let name = g.split(' ').next().unwrap_or("");
        assert_eq!(
            g,
            w,
            "analyze output of case {name} changed; it is now:\n{}",
            outputs.get(name).map_or("", String::as_str)
        );
    }
    assert_eq!(
        got.lines().count(),
        want.lines().count(),
        "cases added or removed"
    );
}
