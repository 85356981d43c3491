//! Crash consistency at scale (issue 19): `backfill`, `scan`, `import` and a `serve` running its
//! scheduled scan are each killed by SIGKILL at [`KILLS`] random points, on SQLite and on
//! PostgreSQL (a fresh database for every kill, so that each point lands in a different phase
//! of a first run). After every kill:
//! - the database passes its integrity check (SQLite: `PRAGMA integrity_check` and
//!   `foreign_key_check`; PostgreSQL: amcheck's `verify_heapam` on every table and
//!   `bt_index_check` on every index of the schema);
//! - it holds no half-written run: every run ID in `analyses` has all the rows of its run (a
//!   scan stores its rows in one transaction);
//! - a re-run completes, and the database then holds, row for row, what an uninterrupted run
//!   stores (compared through the store API without row IDs, run IDs and timestamps).
//!
//! Each kill point is drawn uniformly from the start of the process to the end of an
//! uninterrupted run of the same command (measured first), from a fixed seed: a failure names
//! its seed and point and reproduces.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use ivcrush_store::open_store;
use ivcrush_store::sqlx::{self, Connection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::backfill_ranges::{Db, Snapshot, all_analyses, assert_same, backends, ended, runtime};

/// Kills per command and backend.
const KILLS: u64 = 50;

/// The tickers every workload touches (reports in the week after the as-of).
const TICKERS: &str = "MRVL,PRSM,QNTM";

#[derive(Debug, Clone, Copy)]
enum Workload {
    Backfill,
    Scan,
    Import,
    Serve,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Backfill => "backfill",
            Workload::Scan => "scan",
            Workload::Import => "import",
            Workload::Serve => "serve",
        }
    }

    /// Writes what the command reads into the database's directory: the import's file, the
    /// serve's schedule (a scan every second, none at start).
    fn prepare(self, db: &Db) {
        match self {
            Workload::Import => {
                std::fs::write(db.dir().join("bars.csv"), bars_csv()).expect("bars file");
            }
            Workload::Serve => std::fs::write(
                db.dir().join("ivcrush.toml"),
                "[server]\nscan_cron = \"* * * * * *\"\nscan_on_start = false\n\
                 [scan]\nhistory_years = 1\n",
            )
            .expect("config"),
            Workload::Backfill | Workload::Scan => {}
        }
    }

    fn args(self) -> Vec<String> {
        let args: &[&str] = match self {
            Workload::Backfill => &["backfill", "--years", "2", "MRVL", "PRSM", "QNTM"],
            Workload::Scan => &["scan", "--tickers", TICKERS, "--format", "json"],
            Workload::Import => &["import", "bars", "bars.csv"],
            Workload::Serve => &["serve", "--bind", "127.0.0.1:0", "--log-format", "json"],
        };
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    fn spawn(self, db: &Db) -> Child {
        let args = self.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // serve logs at INFO (its "scan finished" line): not quiet.
        let mut command = match self {
            Workload::Serve => db.command(&args),
            _ => db.cmd(&args),
        };
        command
            .stdout(Stdio::null())
            .stderr(match self {
                Workload::Serve => Stdio::piped(),
                _ => Stdio::null(),
            })
            .spawn()
            .expect("spawns")
    }

    /// Runs the command to its end: a `serve` until its first scheduled scan is stored, then
    /// SIGTERM.
    fn run_to_end(self, db: &Db) {
        match self {
            Workload::Serve => {
                let mut child = self.spawn(db);
                let stderr = child.stderr.take().expect("piped");
                let (lines, received) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        if lines.send(line).is_err() {
                            break;
                        }
                    }
                });
                let mut seen = Vec::new();
                let mut finished = false;
                let deadline = Instant::now() + Duration::from_secs(120);
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    let Ok(line) = received.recv_timeout(left) else {
                        break;
                    };
                    if line.contains("\"scan finished\"") && line.contains("\"scheduled\"") {
                        finished = true;
                        break;
                    }
                    seen.push(line);
                }
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                let status = child.wait().expect("reaped");
                assert!(
                    finished,
                    "{}: serve stopped before its scheduled scan ({status:?}):\n{}",
                    db.name(),
                    seen.join("\n")
                );
            }
            _ => {
                let args = self.args();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                db.run(&args);
            }
        }
    }
}

/// Three years of synthetic daily bars for the three tickers (about 2,300 rows).
fn bars_csv() -> String {
    let mut csv = String::from("ticker,date,open,high,low,close,volume\n");
    let start: chrono::NaiveDate = "2023-11-01".parse().expect("date");
    for (i, ticker) in TICKERS.split(',').enumerate() {
        let mut day = start;
        let mut n = 0_u32;
        while day < "2026-11-26".parse().expect("date") {
            if !matches!(
                chrono::Datelike::weekday(&day),
                chrono::Weekday::Sat | chrono::Weekday::Sun
            ) {
                let close = 50.0 + 10.0 * i as f64 + f64::from(n % 97) * 0.25;
                csv.push_str(&format!(
                    "{ticker},{day},{:.2},{:.2},{:.2},{close:.2},{}\n",
                    close - 0.5,
                    close + 1.0,
                    close - 1.0,
                    1_000_000 + n
                ));
                n += 1;
            }
            day = day.succ_opt().expect("next day");
        }
    }
    csv
}

/// The database's own integrity check; `Err` names what failed.
fn integrity(db: &Db) -> Result<(), String> {
    runtime().block_on(async {
        match db {
            Db::Sqlite { dir } => {
                // Killed before it created the file: nothing stored, nothing to check.
                if !dir.path().join("t.db").exists() {
                    return Ok(());
                }
                let mut conn = sqlx::SqliteConnection::connect(&db.url())
                    .await
                    .map_err(|e| format!("open: {e}"))?;
                let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| format!("integrity_check: {e}"))?;
                if rows != ["ok"] {
                    return Err(format!("integrity_check: {rows:?}"));
                }
                let broken: Vec<(String,)> = sqlx::query_as("PRAGMA foreign_key_check")
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| format!("foreign_key_check: {e}"))?;
                if !broken.is_empty() {
                    return Err(format!("foreign_key_check: {broken:?}"));
                }
                conn.close().await.ok();
                Ok(())
            }
            Db::Postgres { base, schema, .. } => {
                let mut conn = sqlx::PgConnection::connect(base)
                    .await
                    .map_err(|e| format!("open: {e}"))?;
                sqlx::query("CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA public")
                    .execute(&mut conn)
                    .await
                    .map_err(|e| format!("amcheck: {e}"))?;
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT c.oid::regclass::text FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = $1 AND c.relkind = 'r'",
                )
                .bind(schema)
                .fetch_all(&mut conn)
                .await
                .map_err(|e| format!("tables: {e}"))?;
                // Killed before its first migration committed: nothing stored.
                for (table,) in &tables {
                    let problems: Vec<(Option<String>,)> =
                        sqlx::query_as("SELECT msg FROM public.verify_heapam($1::regclass)")
                            .bind(table)
                            .fetch_all(&mut conn)
                            .await
                            .map_err(|e| format!("verify_heapam({table}): {e}"))?;
                    if !problems.is_empty() {
                        return Err(format!("verify_heapam({table}): {problems:?}"));
                    }
                }
                let indexes: Vec<(String,)> = sqlx::query_as(
                    "SELECT c.oid::regclass::text FROM pg_index i \
                     JOIN pg_class c ON c.oid = i.indexrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     JOIN pg_am am ON am.oid = c.relam \
                     WHERE n.nspname = $1 AND am.amname = 'btree'",
                )
                .bind(schema)
                .fetch_all(&mut conn)
                .await
                .map_err(|e| format!("indexes: {e}"))?;
                for (index,) in &indexes {
                    sqlx::query("SELECT public.bt_index_check($1::regclass, true)")
                        .bind(index)
                        .execute(&mut conn)
                        .await
                        .map_err(|e| format!("bt_index_check({index}): {e}"))?;
                }
                conn.close().await.ok();
                Ok(())
            }
        }
    })
}

/// The number of stored analysis rows of each run.
fn rows_per_run(db: &Db) -> BTreeMap<String, usize> {
    let url = db.url();
    runtime().block_on(async move {
        let store = open_store(&url).await.expect("opens after SIGKILL");
        let mut runs = BTreeMap::new();
        for row in all_analyses(&*store).await {
            *runs.entry(row.run_id.clone()).or_insert(0) += 1;
        }
        runs
    })
}

/// One workload on every backend: the reference run, then [`KILLS`] killed runs, each checked
/// and completed.
fn kill_at_random_points(workload: Workload, seed: u64) {
    for new_db in backends(&format!("crash consistency of {}", workload.name())) {
        let reference = new_db();
        workload.prepare(&reference);
        let started = Instant::now();
        workload.run_to_end(&reference);
        let took = started.elapsed();
        let want: Snapshot = reference.snapshot();
        let run_size: Vec<usize> = rows_per_run(&reference).into_values().collect();
        if matches!(workload, Workload::Scan | Workload::Serve) {
            assert_eq!(run_size.len(), 1, "one run stored: {run_size:?}");
        }
        let backend = reference.name();
        drop(reference);

        let max_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut outcomes = BTreeMap::<String, u32>::new();
        let all = Instant::now();
        for kill in 0..KILLS {
            let db = new_db();
            workload.prepare(&db);
            let delay = rng.random_range(0..=max_ms);
            let context = format!(
                "{backend} {} seed {seed} kill {kill} at {delay}/{max_ms} ms",
                workload.name()
            );
            let mut child = workload.spawn(&db);
            std::thread::sleep(Duration::from_millis(delay));
            let _ = child.kill(); // SIGKILL; a no-op when it has already exited.
            let status = child.wait().expect("reaped");
            *outcomes.entry(ended(status)).or_default() += 1;

            if let Err(e) = integrity(&db) {
                panic!("{context}: integrity check failed: {e}");
            }
            for (run, rows) in rows_per_run(&db) {
                assert!(
                    run_size.contains(&rows),
                    "{context}: run {run} is half-written ({rows} rows; a whole run has {run_size:?})"
                );
            }
            workload.run_to_end(&db);
            assert_same(&context, &db.snapshot(), &want);
        }
        eprintln!(
            "{backend} {}: {KILLS} kills in {:.1} s (uninterrupted {max_ms} ms): {outcomes:?}",
            workload.name(),
            all.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn a_backfill_killed_at_50_random_points_stays_consistent_and_completes() {
    kill_at_random_points(Workload::Backfill, 19_001);
}

#[test]
fn a_scan_killed_at_50_random_points_leaves_no_half_written_run() {
    kill_at_random_points(Workload::Scan, 19_002);
}

#[test]
fn an_import_killed_at_50_random_points_stays_consistent_and_completes() {
    kill_at_random_points(Workload::Import, 19_003);
}

#[test]
fn a_serve_killed_during_its_scheduled_scans_at_50_random_points_stays_consistent() {
    kill_at_random_points(Workload::Serve, 19_004);
}
