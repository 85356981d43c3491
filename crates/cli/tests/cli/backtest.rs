//! `ivcrush backtest` end to end on the simulated market: two profiles side by side, a
//! walk-forward that reports only out-of-sample windows, and clear errors for bad input.

use serde_json::Value;

use crate::support::ivcrush;

#[test]
fn two_profiles_and_a_walk_forward_over_the_same_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Both profiles gate tiers on a 50 % interval: at the default 90 % the simulated histories
    // leave too few tradeable reports for the score bar to make a difference.
    std::fs::write(
        dir.path().join("loose.toml"),
        "[analytics.score]\nmin_score = 50.0\n[analytics.vrp]\nconfidence_level = 0.5\n",
    )
    .expect("write");
    std::fs::write(
        dir.path().join("strict.toml"),
        "[analytics.score]\nmin_score = 70.0\n[analytics.vrp]\nconfidence_level = 0.5\n",
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

#[test]
fn imported_chain_snapshots_land_in_the_files_directory_and_bad_rows_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("snap.csv");
    std::fs::write(
        &csv,
        "as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta\n\
         2026-01-28T20:00:00Z,KVLT,101.5,2026-02-20,100,call,3.10,3.30,3.2,10,200,0.45,0.55\n\
         2026-01-28T20:00:00Z,KVLT,101.5,2026-02-20,100,put,1.90,2.05,,4,150,0.47,-0.45\n\
         2026-01-28T20:00:00Z,KVLT,101.5,2026-02-20,-5,call,1.0,1.1,,,,,\n",
    )
    .expect("write");
    for expected in ["snap.csv", "snap-1.csv"] {
        let out = ivcrush(dir.path())
            .args(["import", "chains"])
            .arg(&csv)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(3), "a rejected row exits 3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("imported 2 chain quotes, rejected 1"),
            "{stdout}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("snap.csv:4") && stderr.contains("strike"),
            "{stderr}"
        );
        let written = dir.path().join("data/chains").join(expected);
        let text = std::fs::read_to_string(&written).expect("the snapshot file");
        assert_eq!(text.lines().count(), 3, "header and the two good rows");
    }
}
