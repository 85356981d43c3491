//! `ivcrush calc price` and `ivcrush calc iv` (single quote and CSV batch).

use assert_cmd::Command;
use predicates::prelude::*;
use std::fmt::Write as _;
use std::path::Path;

fn ivcrush() -> Command {
    Command::cargo_bin("ivcrush").unwrap()
}

fn close(got: f64, want: f64, tol: f64) {
    assert!(
        (got - want).abs() <= tol,
        "got {got}, want {want} (diff {:e} > {tol:e})",
        (got - want).abs()
    );
}

const HULL_CALL: [&str; 14] = [
    "calc", "price", "--type", "call", "--spot", "42", "--strike", "40", "--t", "0.5", "--rate",
    "0.10", "--vol", "0.20",
];

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn price_json_matches_hull() {
    let s = stdout_of(ivcrush().args(HULL_CALL).args(["--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    let f = |k: &str| v[k].as_f64().unwrap();
    close(f("price"), 4.759422392871533, 1e-12);
    close(f("delta"), 0.779131290942669, 1e-12);
    close(f("vega"), 8.813415059602852, 1e-12);
    close(f("theta"), -4.559092194592626, 1e-12);
    close(f("rho"), 13.982045913360281, 1e-12);
    assert!(f("gamma") > 0.0);
}

#[test]
fn price_text_labels_units() {
    let s = stdout_of(ivcrush().args(HULL_CALL));
    let value = |label: &str, unit: &str| -> f64 {
        let line = s
            .lines()
            .find(|l| l.contains(unit) && (label.is_empty() || l.starts_with(label)))
            .unwrap_or_else(|| panic!("no line for {label} {unit} in\n{s}"));
        line.split_whitespace()
            .find_map(|w| w.parse::<f64>().ok())
            .unwrap()
    };
    // Money at 4 decimals, greeks at 4 (6 for the small per-point figures and gamma).
    close(value("price", ""), 4.759422392871533, 0.5e-4);
    close(value("delta", "per 1 of spot"), 0.779131290942669, 0.5e-4);
    close(value("vega", "per 1.00 vol"), 8.813415059602852, 0.5e-4);
    close(
        value("", "per vol point"),
        8.813415059602852 / 100.0,
        0.5e-6,
    );
    close(value("theta", "per year"), -4.559092194592626, 0.5e-4);
    close(
        value("", "per calendar day"),
        -4.559092194592626 / 365.0,
        0.5e-6,
    );
    close(value("rho", "per 1.00 rate"), 13.982045913360281, 0.5e-4);
    close(
        value("", "per 1 % rate"),
        13.982045913360281 / 100.0,
        0.5e-6,
    );
    assert!(s.lines().any(|l| l == "price  4.7594"), "{s}");
    assert!(s.contains("gamma  0.049963 "), "{s}");
}

#[test]
fn price_help_documents_json_units() {
    ivcrush()
        .args(["calc", "price", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("theta per YEAR")
                .and(predicate::str::contains("vega per 1.00")),
        );
}

#[test]
fn price_rejects_bad_input_and_usage() {
    ivcrush()
        .args([
            "calc", "price", "--type", "call", "--spot", "-1", "--strike", "40", "--t", "0.5",
        ])
        .args(["--rate", "0.1", "--vol", "0.2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error:").and(predicate::str::contains("spot")));
    ivcrush()
        .args(["calc", "price", "--type", "fwd"])
        .assert()
        .code(2);
}

#[test]
fn iv_single_solves_hull() {
    let s = stdout_of(ivcrush().args([
        "calc", "iv", "--type", "call", "--spot", "21", "--strike", "20", "--t", "0.25", "--rate",
        "0.1", "--price", "1.875",
    ]));
    close(s.trim().parse().unwrap(), 0.2345129139976438, 1e-12);
    let s = stdout_of(ivcrush().args([
        "calc", "iv", "--type", "c", "--spot", "21", "--strike", "20", "--t", "0.25", "--rate",
        "0.1", "--price", "1.875", "--format", "json",
    ]));
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["status"], "ok");
    close(v["iv"].as_f64().unwrap(), 0.2345129139976438, 1e-12);
}

#[test]
fn iv_single_below_intrinsic_fails_with_reason() {
    let args = [
        "calc", "iv", "--type", "call", "--spot", "100", "--strike", "90", "--t", "0.5", "--rate",
        "0.05", "--price", "9",
    ];
    ivcrush()
        .args(args)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("below_intrinsic"));
    let out = ivcrush()
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "below_intrinsic");
    assert!(v["iv"].is_null());
}

/// Runs `calc iv --input <file>` (every row solved: exit 0) and returns the output rows
/// (header first) as string fields.
fn run_csv(input: &str) -> Vec<Vec<String>> {
    run_csv_status(input, 0)
}

/// Runs `calc iv --input <file>`, expecting exit status `code`, and returns the output rows.
fn run_csv_status(input: &str, code: i32) -> Vec<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in.csv");
    let outp = dir.path().join("out.csv");
    std::fs::write(&inp, input).unwrap();
    ivcrush()
        .args(["calc", "iv", "--input"])
        .arg(&inp)
        .arg("--output")
        .arg(&outp)
        .assert()
        .code(code)
        .stdout("");
    read_rows(&outp)
}

fn read_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn csv_passes_extra_columns_in_order_and_div_is_optional() {
    let rows = run_csv(
        "id,price,note,type,t,strike,rate,spot\n\
         a1,1.875,\"x, quoted\",call,0.25,20,0.1,21\n\
         a2,4.759422392871533,plain,C,0.5,40,0.10,42\n",
    );
    assert_eq!(
        rows[0],
        [
            "id", "price", "note", "type", "t", "strike", "rate", "spot", "iv", "status", "delta",
            "gamma", "vega", "theta", "rho"
        ]
    );
    assert_eq!(
        rows[1][..8],
        [
            "a1",
            "1.875",
            "x, quoted",
            "call",
            "0.25",
            "20",
            "0.1",
            "21"
        ]
    );
    assert_eq!(rows[1][9], "ok");
    close(rows[1][8].parse().unwrap(), 0.2345129139976438, 1e-12);
    assert_eq!(rows[2][9], "ok");
    close(rows[2][8].parse().unwrap(), 0.2, 1e-12);
    close(rows[2][10].parse().unwrap(), 0.779131290942669, 1e-10);
    close(rows[2][12].parse().unwrap(), 8.813415059602852, 1e-9);
    close(rows[2][13].parse().unwrap(), -4.559092194592626, 1e-9);
    close(rows[2][14].parse().unwrap(), 13.982045913360281, 1e-9);
}

#[test]
fn csv_uses_div_column() {
    let rows = run_csv(
        "type,spot,strike,t,rate,div,price\nput,100,95,1,0.03,0.02,4.5\nput,100,95,1,0.03,,4.5\n",
    );
    let with_div: f64 = rows[1][7].parse().unwrap();
    let without: f64 = rows[2][7].parse().unwrap();
    assert!(with_div < without, "{with_div} vs {without}");
}

#[test]
fn csv_marks_bad_rows_and_solves_good_ones() {
    // Rows without a vol are a partial failure (exit 3, as a scan with failed rows).
    let rows = run_csv_status(
        "type,spot,strike,t,rate,price\n\
         call,21,20,0.25,0.1,1.875\n\
         call,abc,20,0.25,0.1,1.875\n\
         fwd,21,20,0.25,0.1,1.875\n\
         call,21,20,-0.25,0.1,1.875\n\
         call,21,20,0.25\n\
         call,100,90,0.5,0.05,9\n\
         put,21,20,0.25,0.1,0\n\
         put,21,20,0.25,0.1,1.0\n",
        3,
    );
    let status: Vec<&str> = rows[1..].iter().map(|r| r[r.len() - 6].as_str()).collect();
    assert_eq!(status[0], "ok");
    assert!(status[1].starts_with("invalid: spot"), "{}", status[1]);
    assert!(status[2].starts_with("invalid: type"), "{}", status[2]);
    assert!(status[3].starts_with("invalid: t "), "{}", status[3]);
    assert!(
        status[4].starts_with("invalid: row has 4 fields"),
        "{}",
        status[4]
    );
    assert_eq!(status[5], "below_intrinsic");
    assert_eq!(status[6], "zero_price");
    assert_eq!(status[7], "ok");
    // Rectangular output; no vol → empty iv and greeks.
    assert!(rows.iter().all(|r| r.len() == 13));
    for r in &rows[2..7] {
        assert!(
            r[6].is_empty() && r[8..].iter().all(String::is_empty),
            "{r:?}"
        );
    }
}

#[test]
fn csv_missing_column_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in.csv");
    let outp = dir.path().join("out.csv");
    std::fs::write(&inp, "type,spot,t,rate,price\ncall,21,0.25,0.1,1.875\n").unwrap();
    ivcrush()
        .args(["calc", "iv", "--input"])
        .arg(&inp)
        .arg("--output")
        .arg(&outp)
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("error:").and(predicate::str::contains("`strike`")));
    assert!(!outp.exists());
}

#[test]
fn csv_stdin_to_stdout() {
    ivcrush()
        .args(["calc", "iv", "--input", "-", "--output", "-"])
        .write_stdin("spot,strike,type,t,rate,price\n21,20,call,0.25,0.1,1.875\n")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "spot,strike,type,t,rate,price,iv,status,delta,gamma,vega,theta,rho\n21,20,call,0.25,0.1,1.875,0.2345129139976",
        ));
}

#[test]
fn csv_usage_errors_exit_2() {
    ivcrush()
        .args(["calc", "iv", "--input", "-", "--spot", "1"])
        .assert()
        .code(2);
    ivcrush()
        .args(["calc", "iv", "--type", "call"])
        .assert()
        .code(2);
}

type Quote = (&'static str, f64, f64, f64, f64, f64, f64);

/// A deterministic spread of options (no RNG needed): strikes, expiries, vols, both kinds; only
/// quotes whose time value carries the vol (vega ≥ 0.01) are kept.
fn grid(n: usize) -> Vec<Quote> {
    (0..)
        .map(|i| {
            let kind = if i % 2 == 0 { "call" } else { "put" };
            let spot = 100.0;
            let strike = 60.0 + (i % 81) as f64;
            let t = 0.02 + (i % 37) as f64 * 0.05;
            let rate = (i % 5) as f64 * 0.01;
            let div = (i % 3) as f64 * 0.01;
            let vol = 0.1 + (i % 23) as f64 * 0.04;
            (kind, spot, strike, t, rate, div, vol)
        })
        .filter(|&(kind, s, k, t, r, q, vol): &Quote| {
            let p = ivcrush_core::OptionParams::new(kind.parse().unwrap(), s, k, t, r, q).unwrap();
            ivcrush_core::bsm_greeks(&p, vol).vega >= 0.01
        })
        .take(n)
        .collect()
}

fn price_of(kind: &str, s: f64, k: f64, t: f64, r: f64, q: f64, vol: f64) -> f64 {
    let kind = kind.parse().unwrap();
    let p = ivcrush_core::OptionParams::new(kind, s, k, t, r, q).unwrap();
    ivcrush_core::bsm_price(&p, vol)
}

#[test]
fn csv_round_trip_recovers_vols() {
    let mut input = String::from("type,spot,strike,t,rate,div,price,vol\n");
    for (kind, s, k, t, r, q, vol) in grid(2000) {
        let px = price_of(kind, s, k, t, r, q, vol);
        writeln!(input, "{kind},{s},{k},{t},{r},{q},{px},{vol}").unwrap();
    }
    let rows = run_csv(&input);
    assert_eq!(rows.len(), 2001);
    for r in &rows[1..] {
        assert_eq!(r[9], "ok", "{r:?}");
        let want: f64 = r[7].parse().unwrap();
        close(r[8].parse().unwrap(), want, 1e-10);
    }
}

#[test]
fn csv_keeps_input_order_for_200k_rows() {
    let n = 200_000;
    let mut input = String::with_capacity(n * 60);
    input.push_str("id,type,spot,strike,t,rate,price\n");
    // A few distinct quotes, cycled; the id column checks order.
    let quotes: Vec<String> = grid(64)
        .into_iter()
        .map(|(kind, s, k, t, r, _, vol)| {
            format!(
                "{kind},{s},{k},{t},{r},{}",
                price_of(kind, s, k, t, r, 0.0, vol)
            )
        })
        .collect();
    for i in 0..n {
        writeln!(input, "{i},{}", quotes[i % quotes.len()]).unwrap();
    }
    let rows = run_csv(&input);
    assert_eq!(rows.len(), n + 1);
    for (i, r) in rows[1..].iter().enumerate() {
        assert_eq!(r[0], i.to_string());
        assert_eq!(r[8], "ok");
    }
}

#[test]
fn csv_refuses_to_overwrite_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let inp = dir.path().join("in.csv");
    let body = "type,spot,strike,t,rate,price\ncall,21,20,0.25,0.1,1.875\n";
    std::fs::write(&inp, body).unwrap();
    ivcrush()
        .args(["calc", "iv", "--input"])
        .arg(&inp)
        .arg("--output")
        .arg(&inp)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("input file"));
    assert_eq!(std::fs::read_to_string(&inp).unwrap(), body);
}
