//! Snapshots of `scan`, `analyze` and `history` in every format on the simulated market at a
//! fixed as-of (the default seed). What varies between runs is redacted: run IDs and the
//! wall-clock time a row was written. Review a change with `cargo insta review` (or
//! `INSTA_UPDATE=always` and `git diff`).

use crate::surfaces::{Env, text};

const AS_OF: [&str; 2] = ["--as-of", "2026-11-25"];

/// Runs `ivcrush ARGS --as-of 2026-11-25 --quiet` and returns its stdout.
fn stdout(env: &Env, args: &[&str]) -> String {
    let mut args = args.to_vec();
    args.extend(AS_OF);
    args.push("--quiet");
    text(&env.run(&args))
}

/// Snapshots `output` under `name` with the run-dependent values redacted.
fn snapshot(name: &str, output: &str) {
    insta::with_settings!({
        filters => vec![
            // Run IDs: in JSON (32 hex digits), and the history table's `run` column (their
            // first 8, kept aligned).
            (r#""run_id": "[0-9a-f]{32}""#, r#""run_id": "[run-id]""#),
            (r"\| [0-9a-f]{8} \|", "| [run-id] |"),
            // When the row was written (wall clock).
            (r#""created_at": "[^"]+""#, r#""created_at": "[created-at]""#),
        ],
        prepend_module_to_snapshot => false,
        snapshot_path => "golden",
    }, {
        insta::assert_snapshot!(name, output);
    });
}

#[test]
fn scan_in_every_format() {
    let env = Env::new();
    for (format, name) in [
        ("table", "scan_table"),
        ("json", "scan_json"),
        ("csv", "scan_csv"),
    ] {
        let out = stdout(&env, &["scan", "--limit", "3", "--format", format]);
        snapshot(name, &out);
    }
}

#[test]
fn analyze_in_every_format() {
    let env = Env::new();
    for (format, name) in [
        ("table", "analyze_table"),
        ("json", "analyze_json"),
        ("csv", "analyze_csv"),
    ] {
        let out = stdout(&env, &["analyze", "MRVL", "--format", format]);
        snapshot(name, &out);
    }
}

#[test]
fn history_in_every_format() {
    let env = Env::new();
    // One stored analysis (history stores nothing itself).
    stdout(&env, &["analyze", "MRVL", "--format", "csv"]);
    for (format, name) in [
        ("table", "history_table"),
        ("json", "history_json"),
        ("csv", "history_csv"),
    ] {
        let out = stdout(&env, &["history", "MRVL", "--format", format]);
        snapshot(name, &out);
    }
}
