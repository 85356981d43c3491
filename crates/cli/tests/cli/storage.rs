//! Storage behaviour seen from the command line: imports keep good rows and touch nothing else;
//! a backfill killed with SIGKILL leaves a consistent database that a re-run completes.

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("t.db").display())
    }
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("ivcrush").expect("binary");
        c.current_dir(self.dir.path())
            .env("DATABASE_URL", self.url())
            .env("IVCRUSH_AS_OF", "2026-02-02")
            .env_remove("RUST_LOG");
        c
    }
}

fn calendar(env: &Env) -> Vec<Value> {
    let out = env
        .cmd()
        .args([
            "calendar",
            "list",
            "--from",
            "2026-01-01",
            "--to",
            "2026-12-31",
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
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("json")
        .as_array()
        .expect("array")
        .clone()
}

#[test]
fn an_import_with_bad_rows_stores_the_good_rows_and_changes_nothing_else() {
    let env = Env::new();
    assert!(
        env.cmd()
            .args(["calendar", "sync", "--days", "120"])
            .status()
            .expect("runs")
            .success()
    );
    let before = calendar(&env);
    assert!(!before.is_empty());
    let file = env.dir.path().join("cal.csv");
    std::fs::write(
        &file,
        "ticker,date,timing,name\nNEWCO,2026-03-03,BMO,New Co\nBAD,2026-13-01,AMC,x\nOTHER,2026-03-04,LUNCH,y\nNEWB,2026-03-05,,z\n",
    )
    .expect("write");
    let out = env
        .cmd()
        .args(["import", "calendar", file.to_str().expect("utf-8")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3), "rejected rows make exit 3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cal.csv:3") && stderr.contains("cal.csv:4"),
        "file and line: {stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 calendar rows, rejected 2"));
    let after = calendar(&env);
    let imported: Vec<&Value> = after.iter().filter(|r| r["source"] == "files").collect();
    assert_eq!(imported.len(), 2, "{imported:?}");
    let untouched: Vec<&Value> = after.iter().filter(|r| r["source"] != "files").collect();
    assert_eq!(untouched.len(), before.len());
    for (a, b) in untouched.iter().zip(&before) {
        assert_eq!(*a, b, "rows already stored are unchanged");
    }
}

#[test]
fn a_backfill_killed_with_sigkill_leaves_a_consistent_database_and_a_rerun_completes_it() {
    let env = Env::new();
    let mut child = env
        .cmd()
        .args(["backfill", "--quiet"])
        .spawn()
        .expect("spawns");
    std::thread::sleep(Duration::from_millis(250));
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
    let _ = child.wait();

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        // The database opens (WAL recovered, migrations intact) and every ticker marked complete
        // has its moves, every stored move has its bars.
        let store = ivcrush_store::open_store(&env.url())
            .await
            .expect("opens after SIGKILL");
        for t in store.tickers().await.expect("tickers") {
            if store
                .get_progress(&t.symbol, "moves")
                .await
                .expect("progress")
                .is_some()
            {
                let moves = store.historical_moves(&t.symbol).await.expect("moves");
                assert!(
                    !moves.is_empty(),
                    "{} marked complete without moves",
                    t.symbol
                );
                for m in &moves {
                    let bars = store
                        .bars(&t.symbol, m.reaction_date, m.reaction_date)
                        .await
                        .expect("bars");
                    assert_eq!(bars.len(), 1, "{} move without its bar", t.symbol);
                }
            }
        }
    });

    let rerun = env
        .cmd()
        .args(["backfill", "--quiet"])
        .output()
        .expect("runs");
    assert_eq!(
        rerun.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let again = env
        .cmd()
        .args(["backfill", "--quiet"])
        .output()
        .expect("runs");
    let s = String::from_utf8_lossy(&again.stdout);
    assert!(
        s.contains(" 0 ticker(s) updated") && s.contains("0 failed"),
        "nothing left to do: {s}"
    );
}
