//! The main job end to end on the simulated market: `scan`, `analyze`, `batch`, `history`,
//! `backfill`, `calendar`, `health`, `config`. Every test runs in its own temporary directory
//! with its own SQLite file, and with the environment cleared of ivcrush settings so that CI's
//! DATABASE_URL or a developer's ivcrush.toml cannot leak in.

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

const AS_OF: &str = "2026-02-02";

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("ivcrush").expect("binary built");
        c.current_dir(self.dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", self.dir.path().join("t.db").display()),
            )
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env("IVCRUSH_AS_OF", AS_OF);
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") && k != "IVCRUSH_AS_OF" {
                c.env_remove(k);
            }
        }
        c
    }
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

const RECORD_FIELDS: [&str; 20] = [
    "ticker",
    "as_of",
    "earnings_date",
    "timing",
    "expiration",
    "spot",
    "implied_move",
    "historical",
    "vrp",
    "skew",
    "term_structure",
    "liquidity",
    "score",
    "score_breakdown",
    "strategies",
    "tradeable",
    "warnings",
    "data",
    "days_to_event",
    "best_strategy",
];

#[test]
fn scan_json_has_the_documented_fields_and_is_ranked_tradeable_first_then_by_score() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["scan", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json(&out);
    let rows = rows.as_array().expect("one JSON array");
    assert!(rows.len() >= 5, "a week of reports: {}", rows.len());
    let mut last = f64::INFINITY;
    let mut last_tradeable = true;
    for r in rows {
        for f in RECORD_FIELDS {
            assert!(r.get(f).is_some(), "missing {f} in {r}");
        }
        for f in [
            "straddle_pct",
            "interpolated_pct",
            "event_pct",
            "atm_strike",
            "straddle_mid",
            "method",
        ] {
            assert!(r["implied_move"].get(f).is_some(), "implied_move.{f}");
        }
        for f in [
            "count",
            "mean_pct",
            "median_pct",
            "mad_pct",
            "ewma_pct",
            "max_pct",
        ] {
            assert!(r["historical"][f].is_number(), "historical.{f}");
        }
        assert!(r["vrp"]["ratio"].is_number() && r["vrp"]["tier"].is_string());
        assert_eq!(r["data"]["source"], "sim");
        assert_eq!(r["data"]["stale"], false);
        // Tradeable rows first, each group by score.
        let score = r["score"].as_f64().expect("score");
        let tradeable = r["tradeable"].as_bool().expect("tradeable");
        assert!(
            !tradeable || last_tradeable,
            "a tradeable row after an untradeable one: {}",
            r["ticker"]
        );
        if tradeable != last_tradeable {
            last = f64::INFINITY;
        }
        assert!(
            score <= last + 1e-12,
            "ranked by score: {score} after {last}"
        );
        last = score;
        last_tradeable = tradeable;
        for s in r["strategies"].as_array().expect("strategies") {
            for f in [
                "kind",
                "legs",
                "credit",
                "max_loss",
                "breakevens",
                "pop",
                "expected_pnl",
            ] {
                assert!(s.get(f).is_some(), "strategy.{f}");
            }
        }
    }
}

#[test]
fn reject_liquidity_rows_are_never_tradeable() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["scan", "--days", "30", "--format", "json"])
        .output()
        .expect("runs");
    let rows = json(&out);
    let rows = rows.as_array().expect("array");
    let rejects: Vec<&Value> = rows
        .iter()
        .filter(|r| r["liquidity"]["tier"] == "REJECT")
        .collect();
    assert!(
        !rejects.is_empty(),
        "the illiquid class shows up in a month of reports"
    );
    for r in rejects {
        assert_eq!(r["tradeable"], false, "{}", r["ticker"]);
        assert!(r["strategies"].as_array().is_some_and(|s| s.is_empty()));
    }
}

#[test]
fn a_broken_ticker_gives_exit_3_with_the_others_intact() {
    let env = Env::new();
    let out = env
        .cmd()
        .args([
            "scan",
            "--days",
            "10",
            "--tickers",
            "glxy,NOPE,rdnt,Bad$",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    // An invalid symbol is a usage problem of the whole command (exit 2).
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Bad$"));

    let out = env
        .cmd()
        .args([
            "scan",
            "--days",
            "10",
            "--tickers",
            "glxy,NOPE,rdnt",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json(&out);
    let rows = rows.as_array().expect("array");
    let by = |t: &str| {
        rows.iter()
            .find(|r| r["ticker"] == t)
            .unwrap_or_else(|| panic!("{t} row"))
    };
    assert!(by("GLXY")["score"].is_number());
    assert!(by("RDNT")["score"].is_number());
    // A ticker the market does not list is named as unknown (not "no report").
    let nope = by("NOPE");
    let err = nope["error"].as_str().expect("error");
    assert!(err.contains("unknown ticker NOPE"), "{err}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NOPE"),
        "failed rows listed on stderr: {stderr}"
    );
}

#[test]
fn piped_and_no_color_output_is_plain_text() {
    let env = Env::new();
    for no_color in [false, true] {
        let mut c = env.cmd();
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.args(["scan", "--limit", "3"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(0));
        let s = String::from_utf8(out.stdout).expect("utf-8");
        assert!(!s.contains('\u{1b}'), "no escape codes when piped: {s}");
        assert!(s.contains("ticker") && s.contains("score"));
        let mut lines = s.lines();
        assert!(
            lines
                .next()
                .is_some_and(|c| c.starts_with("as of 2026-02-02 15:30 EST (sim)")),
            "a caption with the as-of: {s}"
        );
        let table: Vec<&str> = lines.take_while(|l| l.starts_with('|')).collect();
        assert_eq!(table.len(), 2 + 3, "header, rule and three rows: {s}");
        assert!(
            s.lines().skip(6).all(|l| l.starts_with("warning: ")),
            "then the rows' warnings: {s}"
        );
        assert!(out.stderr.iter().all(|b| *b != 0x1b), "stderr plain too");
    }
}

#[test]
fn csv_output_has_flat_columns() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["scan", "--format", "csv", "--limit", "2"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = s.lines();
    let header = lines.next().expect("header");
    assert!(header.starts_with("ticker,earnings_date,timing,expiration,spot,"));
    assert_eq!(lines.count(), 2);
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    assert_eq!(
        env.cmd()
            .args(["scan", "--bogus"])
            .output()
            .expect("runs")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        env.cmd()
            .args(["scan", "--to", "2026-02-10", "--days", "3"])
            .output()
            .expect("runs")
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn every_log_line_carries_the_correlation_id_stored_with_the_rows() {
    let env = Env::new();
    let out = env
        .cmd()
        .args([
            "scan",
            "-v",
            "--log-format",
            "json",
            "--tickers",
            "GLXY",
            "--days",
            "10",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8(out.stderr).expect("utf-8");
    let mut cids = std::collections::HashSet::new();
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let cid = v["cid"]
            .as_str()
            .unwrap_or_else(|| panic!("no cid: {line}"));
        cids.insert(cid.to_string());
    }
    assert_eq!(cids.len(), 1, "{stderr}");
    let cid = cids.into_iter().next().expect("one");
    let hist = env
        .cmd()
        .args(["history", "GLXY", "--format", "json"])
        .output()
        .expect("runs");
    let h = json(&hist);
    assert_eq!(h["analyses"][0]["run_id"], cid.as_str());
}

#[test]
fn analyze_shows_the_detailed_view_and_handles_bad_symbols() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["analyze", "glxy", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json(&out);
    assert_eq!(r["ticker"], "GLXY");
    assert!(r["implied_move"]["event_pct"].is_number());
    let moves = r["historical_moves"].as_array().expect("last moves");
    assert_eq!(moves.len(), 12);
    // GLXY's tier is withheld by uncertainty (no strategies); XCEL's interval clears one.
    let table = env.cmd().args(["analyze", "XCEL"]).output().expect("runs");
    let t = String::from_utf8(table.stdout).expect("utf-8");
    for s in [
        "straddle",
        "event move",
        "VRP",
        "Mixon",
        "liquidity",
        "short_straddle",
        "unbounded",
        "iron_condor",
    ] {
        assert!(t.contains(s), "detail view mentions {s}");
    }
    // Dotted class symbol, lower case, dash spelling.
    let dotted = env
        .cmd()
        .args(["analyze", "argo-b", "--format", "json"])
        .output()
        .expect("runs");
    assert!(
        dotted.status.code() == Some(0)
            || String::from_utf8_lossy(&dotted.stderr).contains("ARGO.B"),
        "{}",
        String::from_utf8_lossy(&dotted.stderr)
    );
    let unknown = env.cmd().args(["analyze", "NOPE"]).output().expect("runs");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown ticker NOPE"));
    let past = env
        .cmd()
        .args(["analyze", "GLXY", "--earnings-date", "2025-01-01"])
        .output()
        .expect("runs");
    // A report date or an expiration that cannot be analysed is a usage error.
    assert_eq!(past.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&past.stderr).contains("in the past"));
    let no_options = env
        .cmd()
        .args(["analyze", "GLXY", "--expiration", "2026-02-11"])
        .output()
        .expect("runs");
    assert_eq!(no_options.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_options.stderr).contains("has no options"));
}

#[test]
fn batch_reports_each_bad_row_and_analyses_the_rest() {
    let env = Env::new();
    let file = env.dir.path().join("batch.csv");
    std::fs::write(
        &file,
        "ticker,earnings_date,expiration\nGLXY,2026-02-05,\nnope,2026-02-09,\nRDNT,not-a-date,\nelvo,2026-02-09,2026-02-13\n",
    )
    .expect("write");
    let out = env
        .cmd()
        .args(["batch", file.to_str().expect("utf-8"), "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = json(&out);
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 4);
    let err = |t: &str| {
        rows.iter()
            .find(|r| r["ticker"] == t)
            .and_then(|r| r["error"].as_str())
            .map(str::to_string)
    };
    assert!(err("NOPE").is_some_and(|e| e.contains("unknown ticker")));
    assert!(err("RDNT").is_some_and(|e| e.contains("line 4") && e.contains("earnings_date")));
    assert!(
        rows.iter()
            .any(|r| r["ticker"] == "ELVO" && r["expiration"] == "2026-02-13")
    );
}

#[test]
fn backfill_is_idempotent_and_calendar_syncs() {
    let env = Env::new();
    let first = env
        .cmd()
        .args(["backfill", "GLXY", "RDNT"])
        .output()
        .expect("runs");
    assert_eq!(first.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&first.stdout).contains("2 ticker(s) updated, 0 already complete")
    );
    let again = env
        .cmd()
        .args(["backfill", "GLXY", "RDNT"])
        .output()
        .expect("runs");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 ticker(s) updated, 2 already complete")
    );
    let sync = env.cmd().args(["calendar", "sync"]).output().expect("runs");
    assert_eq!(sync.status.code(), Some(0));
    let list = env
        .cmd()
        .args([
            "calendar",
            "list",
            "--from",
            "2026-02-02",
            "--to",
            "2026-02-09",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    let rows = json(&list);
    assert!(
        rows.as_array()
            .is_some_and(|r| r.iter().any(|e| e["ticker"] == "GLXY"))
    );
}

#[test]
fn health_exits_0_when_up_and_config_reports_every_problem() {
    let env = Env::new();
    // Health never creates the database (tests/cli/db.rs): create it first.
    let migrated = env.cmd().args(["db", "migrate"]).output().expect("runs");
    assert!(migrated.status.success());
    let h = env
        .cmd()
        .args(["health", "--format", "json"])
        .output()
        .expect("runs");
    assert_eq!(h.status.code(), Some(0));
    assert_eq!(json(&h)["status"], "UP");
    let bad = env
        .cmd()
        .env("IVCRUSH_SCAN__CONCURRENCY", "0")
        .env("IVCRUSH_RISK_FREE_RATE", "7")
        .args(["config", "check"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        e.contains("scan.concurrency") && e.contains("risk_free_rate"),
        "{e}"
    );
    let show = env
        .cmd()
        .args([
            "config",
            "show",
            "--database-url",
            "postgres://u:hunter2@localhost/x",
        ])
        .output()
        .expect("runs");
    let s = String::from_utf8_lossy(&show.stdout);
    assert!(
        s.contains("u:***@localhost") && !s.contains("hunter2"),
        "{s}"
    );
}

#[test]
fn the_documented_example_configuration_is_valid() {
    let env = Env::new();
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ivcrush.toml.example");
    let out = env
        .cmd()
        .args([
            "config",
            "check",
            "--config",
            example.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn unknown_environment_variables_warn_and_config_show_covers_the_whole_tree() {
    let env = Env::new();
    let key = "k-0123456789abcdef0123";
    let out = env
        .cmd()
        // What Kubernetes injects for a Service named `ivcrush`.
        .env("IVCRUSH_PORT", "tcp://10.0.0.7:8080")
        .env("IVCRUSH_SERVICE_HOST", "10.0.0.7")
        .env("IVCRUSH_API_KEYS", key)
        .args(["config", "show"])
        .output()
        .expect("runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("IVCRUSH_PORT") && stderr.contains("IVCRUSH_SERVICE_HOST"),
        "{stderr}"
    );
    for section in [
        "[server]",
        "[ticker]",
        "[tradier.resilience.retry]",
        "[cache]",
    ] {
        assert!(stdout.contains(section), "{section} missing:\n{stdout}");
    }
    assert!(
        stdout.contains("\"***\"") && !stdout.contains(key),
        "{stdout}"
    );
    let bad = env
        .cmd()
        .args(["config", "check"])
        .env("IVCRUSH_SERVER__SCAN_TIMEZONE", "Mars/Olympus")
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(e.contains("server.scan_timezone"), "{e}");
}

/// The systemd unit's `ExecStart` run twice (paths pointed at a temporary directory): the file it
/// leaves is one whole JSON document each time, never two appended.
#[test]
fn the_scan_unit_leaves_one_whole_json_document_per_run() {
    let env = Env::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let unit = std::fs::read_to_string(root.join("deploy/ivcrush-scan.service")).expect("unit");
    assert!(!unit.contains("append:"), "the unit appends to its output");
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/bin/sh -c '"))
        .and_then(|l| l.strip_suffix('\''))
        .expect("ExecStart=/bin/sh -c '…'");
    let config = env.dir.path().join("ivcrush.toml");
    std::fs::copy(root.join("ivcrush.toml.example"), &config).expect("config");
    let binary = assert_cmd::cargo::cargo_bin("ivcrush");
    let script = exec
        .replace("$$", "$")
        .replace("/usr/local/bin/ivcrush", binary.to_str().expect("utf-8"))
        .replace("/etc/ivcrush/ivcrush.toml", config.to_str().expect("utf-8"))
        .replace("/var/lib/ivcrush", env.dir.path().to_str().expect("utf-8"));
    for _ in 0..2 {
        let mut sh = std::process::Command::new("/bin/sh");
        sh.args(["-c", &script])
            .current_dir(env.dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", env.dir.path().join("t.db").display()),
            )
            .env("IVCRUSH_AS_OF", AS_OF)
            .env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") && k != "IVCRUSH_AS_OF" {
                sh.env_remove(k);
            }
        }
        let out = sh.output().expect("runs");
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let written = std::fs::read(env.dir.path().join("last-scan.json")).expect("written");
        let v: Value = serde_json::from_slice(&written).expect("one JSON document");
        assert!(v.is_array(), "{v}");
        assert!(!env.dir.path().join("last-scan.json.tmp").exists());
    }
}

/// A scan run by a timer leaves its metrics for node_exporter's textfile collector; a failed run
/// says so and keeps the last success's time (so that a staleness alert still fires on time).
#[test]
fn a_scan_writes_a_metrics_textfile_and_a_failed_one_keeps_the_last_success() {
    let env = Env::new();
    let file = env.dir.path().join("ivcrush-scan.prom");
    let out = env
        .cmd()
        .args(["scan", "--days", "10", "--format", "json", "--metrics-file"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(matches!(out.status.code(), Some(0 | 3)));
    let text = std::fs::read_to_string(&file).expect("written");
    let value = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(value(&text, "ivcrush_scan_last_run_success"), Some(1.0));
    let success = value(&text, "ivcrush_scan_last_success_timestamp_seconds").expect("a success");
    assert!(value(&text, "ivcrush_scan_rows{status=\"analyzed\"}").is_some_and(|n| n > 0.0));
    assert!(text.contains("ivcrush_build_info{git_sha=\""), "{text}");
    if let Ok(promtool) = which_promtool() {
        let check = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).expect("open"))
            .output()
            .expect("promtool runs");
        assert!(
            check.status.success(),
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }

    let failed = env
        .cmd()
        .args([
            "scan",
            "--from",
            "2026-03-01",
            "--to",
            "2026-02-01",
            "--metrics-file",
        ])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(!failed.status.success());
    let text = std::fs::read_to_string(&file).expect("rewritten");
    assert_eq!(value(&text, "ivcrush_scan_last_run_success"), Some(0.0));
    assert_eq!(
        value(&text, "ivcrush_scan_last_success_timestamp_seconds"),
        Some(success),
        "the last success is carried over"
    );
}

/// `promtool` on the PATH (CI installs it), else the test checks the file by hand only.
fn which_promtool() -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file())
        .ok_or(())
}
