//! Benchmark (not a test): `ivcrush backtest` of the whole simulated universe over three years
//! of reports, in release, through the binary as a user runs it. Prints the wall time of a
//! cold run (empty store: the history is backfilled first) and of a warm one, the events and
//! the events per second. Run: `cargo bench -p ivcrush-cli --bench backtest`.

use std::process::Command;
use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    for run in ["cold", "warm"] {
        let t0 = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ivcrush"))
            .current_dir(dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("b.db").display()),
            )
            .env("IVCRUSH_AS_OF", "2026-02-02")
            .args([
                "backtest",
                "--from",
                "2023-01-01",
                "--to",
                "2025-12-31",
                "--format",
                "json",
            ])
            .output()
            .expect("ivcrush runs");
        let wall = t0.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let events = report["events"].as_u64().unwrap_or(0);
        println!(
            "{run}: {events} reports ({} analysed, {} traded) in {:.2} s wall: {:.0} reports/s",
            report["per_event"].as_array().map_or(0, Vec::len),
            report["summary"]["trades"],
            wall.as_secs_f64(),
            events as f64 / wall.as_secs_f64()
        );
    }
}
