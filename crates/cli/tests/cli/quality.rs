//! Data-quality notes in every view: the JSON record's `data_quality`, the `analyze` table's
//! "data quality" section and withheld tier, the ranked table's `quality` column and the CSV's
//! `data_quality` / `vrp_withheld_tier` columns. Notes come from a mock Tradier serving hostile
//! data (the simulated market has next to none: there rows are `ok` but for thin quotes).

use crate::parse::{csv_rows, table_rows};
use assert_cmd::cargo::CommandCargoExt;
use ivcrush_mockvendor::{GreeksMode, MockConfig, MockVendor, QuoteDates};
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

/// The CLI against a mock Tradier + Alpha Vantage; every run shares one SQLite file.
struct Vendor {
    _mock: MockVendor,
    _rt: tokio::runtime::Runtime,
    dir: TempDir,
}

impl Vendor {
    fn start(tweak: impl FnOnce(&mut MockConfig)) -> Vendor {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        // The live providers use the wall clock: serve the simulated market as of today.
        let mut cfg = MockConfig::new(42, ivcrush_app::today_new_york());
        tweak(&mut cfg);
        let mock = rt.block_on(MockVendor::start(cfg)).expect("mock starts");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("ivcrush.toml"),
            format!(
                "provider = \"tradier\"\n\
                 [tradier]\nbase_url = \"{base}\"\n\
                 [tradier.resilience]\nrate_limits = [{{ limit = 100, window_ms = 1000 }}]\n\
                 [alphavantage]\nbase_url = \"{base}\"\n\
                 [alphavantage.resilience]\nrate_limits = []\n",
                base = mock.base_url()
            ),
        )
        .expect("config");
        Vendor {
            _mock: mock,
            _rt: rt,
            dir,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::cargo_bin("ivcrush").expect("binary");
        c.current_dir(self.dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("t.db").display()),
            )
            .env("TRADIER_API_KEY", "test-key")
            .env("ALPHAVANTAGE_API_KEY", "test-key")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") {
                c.env_remove(k);
            }
        }
        let out = c.args(args).output().expect("runs");
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The analysed rows of a two-week scan as JSON.
    fn scan_json(&self) -> Vec<Value> {
        let out = self.run(&["scan", "--days", "14", "--format", "json"]);
        let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
        let analysed: Vec<Value> = rows
            .as_array()
            .expect("array")
            .iter()
            .filter(|r| r["score"].is_number())
            .cloned()
            .collect();
        assert!(
            !analysed.is_empty(),
            "some rows analysed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        analysed
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

fn codes(row: &Value) -> Vec<(String, bool)> {
    row["data_quality"]
        .as_array()
        .unwrap_or_else(|| panic!("data_quality is an array: {row}"))
        .iter()
        .map(|n| {
            assert!(n["detail"].as_str().is_some_and(|d| !d.is_empty()), "{n}");
            (
                n["code"].as_str().expect("code").to_string(),
                n["blocking"].as_bool().expect("blocking"),
            )
        })
        .collect()
}

/// Whether a table row is an analysed one (a failed row has no `trade` cell).
fn analysed(r: &&HashMap<String, String>) -> bool {
    r.get("trade").is_some_and(|t| !t.is_empty())
}

#[test]
fn stale_quotes_are_blocking_notes_in_json_table_and_csv() {
    // A week old: stale whatever the day and time (the latest session opened after it).
    let v = Vendor::start(|c| {
        c.stale_quotes = Some(Duration::from_secs(7 * 86400));
        c.greeks = GreeksMode::Null;
    });
    let rows = v.scan_json();
    for r in &rows {
        let notes = codes(r);
        assert!(
            notes.contains(&("stale_quote".to_string(), true)),
            "{notes:?}"
        );
        assert!(
            notes.contains(&("vendor_greeks_missing".to_string(), false)),
            "{notes:?}"
        );
        assert_eq!(r["vrp"]["tier"], "SKIP", "{}", r["vrp"]);
        assert_eq!(r["tradeable"], false);
    }
    let withheld = rows
        .iter()
        .find(|r| {
            r["vrp"]["withheld_tier"]
                .as_str()
                .is_some_and(|t| t != "SKIP")
        })
        .unwrap_or_else(|| panic!("some row had a tier to withhold: {rows:?}"));
    let ticker = withheld["ticker"].as_str().expect("ticker");
    let tier = withheld["vrp"]["withheld_tier"].as_str().expect("tier");

    // The analyze table: the withheld tier and the data-quality section.
    let detail = stdout(&v.run(&["analyze", ticker]));
    assert!(
        detail.contains(&format!("SKIP ({tier} withheld: data quality)")),
        "{detail}"
    );
    assert!(detail.contains("| data quality"), "{detail}");
    let stale_line = detail
        .lines()
        .find(|l| l.starts_with("| stale_quote "))
        .unwrap_or_else(|| panic!("a stale_quote row: {detail}"));
    assert!(
        stale_line.contains("BLOCKING") && stale_line.contains(ticker),
        "{stale_line}"
    );
    let greeks_line = detail
        .lines()
        .find(|l| l.starts_with("| vendor_greeks_missing "))
        .unwrap_or_else(|| panic!("a vendor_greeks_missing row: {detail}"));
    assert!(!greeks_line.contains("BLOCKING"), "{greeks_line}");
    assert!(detail.contains("no (data quality)"), "{detail}");

    // The analyze JSON carries the same notes.
    let one: Value =
        serde_json::from_slice(&v.run(&["analyze", ticker, "--format", "json"]).stdout)
            .expect("json");
    assert!(codes(&one).contains(&("stale_quote".to_string(), true)));
    assert_eq!(one["vrp"]["withheld_tier"], tier);

    // The ranked table: a quality column, `!` first when a note blocks.
    let table = stdout(&v.run(&["scan", "--days", "14"]));
    let trows = table_rows(&table);
    assert!(trows.iter().any(|r| analysed(&r)), "{table}");
    for r in trows.iter().filter(analysed) {
        let q = &r["quality"];
        // Blocking codes first; the others (which may include `off-hours`, depending on the
        // clock) follow, at most three codes in all.
        assert!(q.starts_with("!stale,"), "{q}: {table}");
    }

    // CSV: the old columns in place, the new ones appended.
    let csv = stdout(&v.run(&["scan", "--days", "14", "--format", "csv"]));
    assert!(
        csv.starts_with("ticker,earnings_date,timing,expiration,spot,")
            && csv
                .lines()
                .next()
                .is_some_and(|h| h.contains(",source,stale,error,data_quality,vrp_withheld_tier,")),
        "{csv}"
    );
    let crows = csv_rows(&csv);
    let row = crows
        .iter()
        .find(|r| r["ticker"] == ticker)
        .unwrap_or_else(|| panic!("{ticker} in the CSV: {csv}"));
    let dq: Vec<&str> = row["data_quality"].split(';').collect();
    assert!(dq.contains(&"stale_quote!"), "{dq:?}");
    assert!(dq.contains(&"vendor_greeks_missing"), "{dq:?}");
    assert_eq!(row["vrp_tier"], "SKIP");
    assert_eq!(row["vrp_withheld_tier"], tier);
    assert_eq!(row["error"], "");
}

#[test]
fn notes_that_do_not_block_keep_the_tier_and_show_without_a_bang() {
    let v = Vendor::start(|c| c.quote_dates = QuoteDates::Missing);
    let rows = v.scan_json();
    for r in &rows {
        let notes = codes(r);
        assert!(
            notes.contains(&("quote_without_date".to_string(), false)),
            "{notes:?}"
        );
        assert!(notes.iter().all(|(_, blocking)| !blocking), "{notes:?}");
        // A tier may still be withheld by the ratio's interval, never by these notes.
        assert_ne!(r["vrp"]["withheld_by"], "data_quality", "{}", r["vrp"]);
    }
    let table = stdout(&v.run(&["scan", "--days", "14"]));
    for r in table_rows(&table).iter().filter(analysed) {
        let q = &r["quality"];
        assert!(!q.starts_with('!') && q.contains("no-date"), "{q}: {table}");
    }
    let csv = stdout(&v.run(&["scan", "--days", "14", "--format", "csv"]));
    for r in csv_rows(&csv).iter().filter(|r| r["error"].is_empty()) {
        assert!(
            r["data_quality"].contains("quote_without_date") && !r["data_quality"].contains('!'),
            "{r:?}"
        );
    }
    let ticker = rows[0]["ticker"].as_str().expect("ticker");
    let detail = stdout(&v.run(&["analyze", ticker]));
    assert!(detail.contains("| quote_without_date "), "{detail}");
    assert!(!detail.contains("BLOCKING"), "{detail}");
    assert!(!detail.contains("withheld: data quality"), "{detail}");
}

#[test]
fn the_simulated_market_shows_ok_wide_spreads_and_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let mut c = Command::cargo_bin("ivcrush").expect("binary");
        c.current_dir(dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("t.db").display()),
            )
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") {
                c.env_remove(k);
            }
        }
        let out = c
            .env("IVCRUSH_AS_OF", "2026-02-02")
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    // As of 2026-02-02 every row is clean but DUNE, whose ATM legs are wide (not blocking).
    let table = run(&["scan"]);
    assert!(
        table
            .lines()
            .find(|l| l.starts_with('|'))
            .is_some_and(|h| h.contains("| quality |"))
    );
    let trows = table_rows(&table);
    assert!(trows.len() > 3, "{table}");
    for r in &trows {
        let want = if r["ticker"] == "DUNE" { "wide" } else { "ok" };
        assert_eq!(r["quality"], want, "{table}");
    }

    let json: Value = serde_json::from_str(&run(&["scan", "--format", "json"])).expect("json");
    for r in json.as_array().expect("array") {
        let notes = codes(r);
        if r["ticker"] == "DUNE" {
            assert_eq!(notes, vec![("wide_spread".to_string(), false); 2], "{r}");
        } else {
            assert!(notes.is_empty(), "{r}");
        }
        // Wide spreads do not block: a tier is withheld, if at all, by the ratio's interval.
        assert_ne!(r["vrp"]["withheld_by"], "data_quality", "{r}");
    }

    let csv = run(&["scan", "--format", "csv"]);
    let crows = csv_rows(&csv);
    assert_eq!(crows.len(), trows.len());
    for r in &crows {
        let want = if r["ticker"] == "DUNE" {
            "wide_spread"
        } else {
            ""
        };
        assert_eq!(r["data_quality"], want);
        assert!(!r["vrp_tier"].is_empty());
    }

    let ticker = trows[0]["ticker"].clone();
    let detail = run(&["analyze", &ticker]);
    let mut lines = detail
        .lines()
        .skip_while(|l| !l.starts_with("| data quality"));
    assert!(lines.next().is_some(), "a data quality section: {detail}");
    assert!(
        lines.nth(1).is_some_and(|l| l.starts_with("| none")),
        "{detail}"
    );
    let dune = run(&["analyze", "DUNE"]);
    let wide: Vec<&str> = dune
        .lines()
        .filter(|l| l.starts_with("| wide_spread "))
        .collect();
    assert_eq!(wide.len(), 2, "both ATM legs: {dune}");
    assert!(wide.iter().all(|l| !l.contains("BLOCKING")), "{dune}");
    assert!(!dune.contains("withheld: data quality"), "{dune}");
}
