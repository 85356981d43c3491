//! `ivcrush backtest` end to end on the simulated market: two profiles side by side, a
//! walk-forward that reports only out-of-sample windows, and clear errors for bad input.

use serde_json::Value;
use std::process::Command;

fn ivcrush(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("ivcrush"));
    cmd.current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("t.db").display()),
        )
        .env("IVCRUSH_AS_OF", "2026-02-02")
        .env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("IVCRUSH_") && k != "IVCRUSH_AS_OF" {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn two_profiles_and_a_walk_forward_over_the_same_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("loose.toml"),
        "[analytics.score]\nmin_score = 50.0\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("strict.toml"),
        "[analytics.score]\nmin_score = 70.0\n",
    )
    .expect("write");
    let out = ivcrush(dir.path())
        .args([
            "backtest",
            "--from",
            "2025-07-01",
            "--to",
            "2025-12-31",
            "--profile",
            "loose.toml",
            "--profile",
            "strict.toml",
            "--walk-forward",
            "3m:1m",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let profiles = report["profiles"].as_array().expect("profiles");
    assert_eq!(profiles.len(), 2);
    assert_eq!(profiles[0]["name"], "loose");
    assert_eq!(profiles[1]["name"], "strict");
    let loose = profiles[0]["summary"]["trades"].as_u64().unwrap_or(0);
    let strict = profiles[1]["summary"]["trades"].as_u64().unwrap_or(0);
    assert!(
        loose > strict,
        "a higher bar trades less: {loose} vs {strict}"
    );
    assert_eq!(report["summary"]["trades"].as_u64(), Some(loose));
    let windows = report["walk_forward"]["windows"]
        .as_array()
        .expect("windows");
    assert!(!windows.is_empty());
    for w in windows {
        let test_from = w["test_from"].as_str().expect("date");
        for t in w["trades"].as_array().expect("trades") {
            assert!(
                t["entry_date"].as_str().is_some_and(|d| d >= test_from),
                "an out-of-sample trade from the training window: {t}"
            );
        }
    }
}

#[test]
fn a_window_that_ends_before_it_starts_or_a_bad_walk_forward_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ivcrush(dir.path())
        .args(["backtest", "--from", "2025-12-01", "--to", "2025-11-01"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ends before it starts"));
    let out = ivcrush(dir.path())
        .args([
            "backtest",
            "--from",
            "2025-10-01",
            "--to",
            "2025-11-01",
            "--walk-forward",
            "six months",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("six months"));
}
