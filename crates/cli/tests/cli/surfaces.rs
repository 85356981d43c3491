//! What a trader needs before acting, the same in every format (issue 13 item 7): the scan
//! table, CSV and JSON show the as-of, the expiry, the days to the event, the event move, the
//! VRP basis, warnings and the best strategy with its credit and POP; `implied%` is
//! `implied_move.interpolated_pct`; untradeable rows never rank above tradeable ones unless
//! `--rank score` asks.

use crate::parse::{csv_rows, table_rows};
use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::process::Output;
use tempfile::TempDir;

/// A temporary directory with its own SQLite database; no `IVCRUSH_*` from the caller's
/// environment, no colour, no `RUST_LOG` (shared by the output tests).
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Runs `ivcrush ARGS`, expected to exit 0 or 3.
    pub fn run(&self, args: &[&str]) -> Output {
        let out = self.run_any(args);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `ivcrush ARGS` whatever its exit status.
    pub fn run_any(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("runs")
    }

    /// The command `ivcrush ARGS` in this environment, not started.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::cargo_bin("ivcrush").expect("binary built");
        c.current_dir(self.dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("t.db").display()),
            )
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") {
                c.env_remove(k);
            }
        }
        c.args(args);
        c
    }
}

pub fn text(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[test]
fn the_scan_table_csv_and_json_carry_the_same_trader_facts() {
    let env = Env::new();
    // 2026-02-02: two tickers whose ratio interval clears a tier, with strategies.
    let as_of = ["--as-of", "2026-02-02"];
    let json: Value = serde_json::from_slice(
        &env.run(&["scan", as_of[0], as_of[1], "--format", "json"])
            .stdout,
    )
    .expect("json");
    let table = text(&env.run(&["scan", as_of[0], as_of[1]]));
    let csv = text(&env.run(&["scan", as_of[0], as_of[1], "--format", "csv"]));
    let rows: Vec<&Value> = json
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["score"].is_number())
        .collect();
    assert!(rows.len() >= 5, "{json}");
    assert!(
        rows.iter().any(|r| r["best_strategy"].is_object()),
        "some row has a best strategy"
    );
    assert!(
        table.starts_with("as of 2026-02-02 15:30 EST (sim)  reports 2026-02-02 to 2026-02-09"),
        "{table}"
    );
    let trows = table_rows(&table);
    let crows = csv_rows(&csv);
    assert_eq!(trows.len(), rows.len());
    assert_eq!(crows.len(), rows.len());
    for (i, r) in rows.iter().enumerate() {
        let (t, c) = (&trows[i], &crows[i]);
        let ticker = r["ticker"].as_str().expect("ticker");
        assert_eq!(t["ticker"], ticker, "same order in the table");
        assert_eq!(c["ticker"], ticker, "same order in the CSV");
        // As-of, expiry, days to the event.
        assert_eq!(c["as_of"], r["as_of"].as_str().expect("as_of"));
        assert_eq!(t["expiry"], r["expiration"].as_str().expect("expiry"));
        assert_eq!(c["expiration"], t["expiry"]);
        let days = r["days_to_event"].as_i64().expect("days_to_event");
        let report: chrono::NaiveDate = r["earnings_date"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("date");
        assert_eq!(
            days,
            (report - chrono::NaiveDate::from_ymd_opt(2026, 2, 2).expect("date")).num_days()
        );
        assert_eq!(t["days"], days.to_string());
        assert_eq!(c["days_to_event"], days.to_string());
        // implied% is the interpolated straddle; the event move beside it.
        let im = &r["implied_move"];
        assert_eq!(
            t["implied%"],
            format!("{:.2}", f(&im["interpolated_pct"])),
            "{ticker}: implied% is implied_move.interpolated_pct"
        );
        assert_eq!(t["event%"], format!("{:.2}", f(&im["event_pct"])));
        assert!((c["event_pct"].parse::<f64>().expect("event") - f(&im["event_pct"])).abs() < 1e-6);
        // The VRP basis, when the record carries it.
        match r["vrp"]["basis"].as_str() {
            Some(b) => {
                assert_eq!(t["basis"], b);
                assert_eq!(c["vrp_basis"], b);
                let sr = f(&r["vrp"]["straddle_ratio"]);
                assert!((c["vrp_straddle_ratio"].parse::<f64>().expect("ratio") - sr).abs() < 1e-6);
            }
            None => assert_eq!(t["basis"], "-"),
        }
        // Warnings: counted in the table and listed below it, joined in the CSV.
        let ws: Vec<&str> = r["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| w.as_str().expect("text"))
            .collect();
        assert_eq!(
            t["warn"],
            if ws.is_empty() {
                "-".to_string()
            } else {
                ws.len().to_string()
            }
        );
        assert_eq!(c["warnings"], ws.join(" | "));
        for w in &ws {
            assert!(
                table.contains(&format!("warning: {ticker}: {w}")),
                "{ticker}: {w}"
            );
        }
        // The best strategy with its credit and POP (a fraction in JSON and CSV).
        match r["best_strategy"].as_object() {
            Some(b) => {
                let kind = b["kind"].as_str().expect("kind");
                let (credit, pop) = (f(&b["credit"]), f(&b["pop"]));
                assert!((0.0..=1.0).contains(&pop), "{pop}");
                assert_eq!(
                    t["best strategy"],
                    format!("{kind} cr {credit:.2} POP {:.0}%", pop * 100.0)
                );
                assert_eq!(c["best_strategy"], kind);
                assert!((c["best_credit"].parse::<f64>().expect("credit") - credit).abs() < 1e-4);
                assert!((c["best_pop"].parse::<f64>().expect("pop") - pop).abs() < 1e-4);
                // It is one of the record's strategies: the recommended one (rank 1 by
                // risk-adjusted return), expected to earn after costs.
                let chosen: Vec<&Value> = r["strategies"]
                    .as_array()
                    .expect("strategies")
                    .iter()
                    .filter(|s| s["recommended"] == true)
                    .collect();
                assert_eq!(chosen.len(), 1, "{}", r["ticker"]);
                assert_eq!(chosen[0]["kind"], b["kind"]);
                assert_eq!(chosen[0]["rank"], 1);
                assert!((f(&b["expected_pnl"]) - f(&chosen[0]["expected_pnl"])).abs() < 1e-12);
                assert!(f(&b["expected_pnl"]) > 0.0);
            }
            None => {
                assert_eq!(t["best strategy"], "-");
                assert_eq!(c["best_strategy"], "");
            }
        }
    }
}

#[test]
fn untradeable_rows_never_rank_above_tradeable_ones_unless_asked() {
    let env = Env::new();
    let scan = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "scan",
            "--as-of",
            "2026-11-26",
            "--days",
            "95",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let v: Value = serde_json::from_slice(&env.run(&args).stdout).expect("json");
        v.as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["score"].is_number())
            .cloned()
            .collect()
    };
    let default = scan(&[]);
    let tradeable: Vec<bool> = default
        .iter()
        .map(|r| r["tradeable"].as_bool().expect("tradeable"))
        .collect();
    assert!(tradeable.contains(&true) && tradeable.contains(&false));
    let first_untradeable = tradeable.iter().position(|t| !t).expect("one");
    assert!(
        tradeable[first_untradeable..].iter().all(|t| !t),
        "no tradeable row after an untradeable one: {tradeable:?}"
    );
    for group in [&default[..first_untradeable], &default[first_untradeable..]] {
        for w in group.windows(2) {
            assert!(
                f(&w[0]["score"]) >= f(&w[1]["score"]),
                "by score within a group"
            );
        }
    }
    // An untradeable row scoring above a tradeable one exists in this window: `--rank score`
    // puts it first, the default does not.
    let by_score = scan(&["--rank", "score"]);
    for w in by_score.windows(2) {
        assert!(f(&w[0]["score"]) >= f(&w[1]["score"]));
    }
    let min_tradeable = default[..first_untradeable]
        .iter()
        .map(|r| f(&r["score"]))
        .fold(f64::INFINITY, f64::min);
    let max_untradeable = default[first_untradeable..]
        .iter()
        .map(|r| f(&r["score"]))
        .fold(f64::NEG_INFINITY, f64::max);
    if max_untradeable > min_tradeable {
        let order = |rows: &[Value]| -> Vec<String> {
            rows.iter()
                .map(|r| r["ticker"].as_str().expect("ticker").to_string())
                .collect()
        };
        assert_ne!(order(&default), order(&by_score));
    }
    // The table says how it is ranked.
    let out = env.run(&[
        "scan",
        "--as-of",
        "2026-11-26",
        "--rank",
        "score",
        "--limit",
        "1",
    ]);
    assert!(
        text(&out)
            .lines()
            .next()
            .is_some_and(|l| l.ends_with("ranked: by score"))
    );
    let out = env.run_any(&["scan", "--as-of", "2026-11-26", "--rank", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
}
