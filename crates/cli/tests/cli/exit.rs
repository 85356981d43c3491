//! Exit statuses and error lines (issue 14 items 7 and 9): a closed pipe is success, usage
//! errors exit 2, a failing command prints each cause once.

use crate::surfaces::Env;
use std::process::{Output, Stdio};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `ivcrush ARGS` with its stdout closed before it writes anything (as `| head -0` would):
/// the exit status and stderr.
fn with_stdout_closed(env: &Env, args: &[&str]) -> Output {
    let mut child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // The process opens its database and computes before it writes: the reader is gone by
    // then, so its first write meets a closed pipe.
    drop(child.stdout.take());
    child.wait_with_output().expect("runs")
}

#[test]
fn a_closed_pipe_is_success_in_every_format() {
    let env = Env::new();
    // Store the history first so that `history` has rows to print.
    env.run(&["analyze", "MRVL", "--as-of", "2026-11-25", "--quiet"]);
    for args in [
        &["history", "MRVL"][..],
        &["history", "MRVL", "--format", "json"],
        &["history", "MRVL", "--format", "csv"],
        &["analyze", "MRVL"],
        &["analyze", "MRVL", "--format", "json"],
        &["scan", "--format", "json"],
        &["scan", "--format", "csv"],
        &["scan"],
        &["calendar", "list", "--format", "json"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--as-of", "2026-11-25"]);
        let out = with_stdout_closed(&env, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("error") && !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    let env = Env::new();
    for (args, says) in [
        (
            &["scan", "--from", "2026-12-01", "--to", "2026-11-28"][..],
            "invalid window 2026-12-01..2026-11-28",
        ),
        (&["analyze", ""], "invalid ticker \"\""),
        (&["analyze", "!!"], "invalid ticker \"!!\""),
        (&["history", "Bad$"], "Bad$"),
        (&["scan", "--tickers", "MRVL,Bad$"], "Bad$"),
    ] {
        let out = env.run_any(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_failing_analyze_prints_each_cause_once() {
    let env = Env::new();
    let out = env.run_any(&["analyze", "ZZZZ", "--as-of", "2026-11-25"]);
    // The ticker does not exist: an error, not a usage problem.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(lines[0].matches("ZZZZ").count(), 1, "{err}");
    assert_eq!(lines[0].matches("no quote").count(), 1, "{err}");
}
