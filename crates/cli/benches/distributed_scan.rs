//! Benchmark (not a test): a scan of 2,000 simulated tickers, local and distributed over 1, 2
//! and 4 `ivcrush worker` processes, on the machine's PostgreSQL (`DATABASE_URL`, a fresh schema,
//! dropped afterwards) and Redis (`REDIS_URL`, a key prefix of its own).
//!
//! History is stored once by a first (cold) local scan; every measured run then analyses the
//! same 2,000 tickers with the chains recomputed (`cache.chains_secs = 0`), as a daily scan
//! does. Prints each run's wall time and tickers per second, and the queue's cost per job: the
//! distributed run on one worker against the local scan analysing one ticker at a time
//! (`--concurrency 1`), and the Redis round trips alone (enqueue, read, acknowledge) measured
//! in-process. Run:
//! `DATABASE_URL=postgres://… REDIS_URL=redis://… cargo bench -p ivcrush-cli --bench distributed_scan`

use ivcrush_jobs::{Consumer, Job, Queue, QueueConfig, consumer_name};
use ivcrush_store::sqlx::{self, Connection};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TICKERS: usize = 2_000;
const AS_OF: &str = "2026-02-02";
/// A window in which every ticker of the universe reports.
const DAYS: &str = "92";

struct Bench {
    dir: tempfile::TempDir,
    base: String,
    schema: String,
    redis: String,
    prefix: String,
}

impl Bench {
    fn database_url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.schema)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ivcrush"));
        for (k, _) in std::env::vars() {
            if k.starts_with("IVCRUSH_") {
                c.env_remove(k);
            }
        }
        c.current_dir(self.dir.path())
            .env_remove("RUST_LOG")
            .env("DATABASE_URL", self.database_url())
            .env("REDIS_URL", &self.redis)
            .env("IVCRUSH_AS_OF", AS_OF)
            .env("IVCRUSH_SIM__UNIVERSE_SIZE", TICKERS.to_string())
            .env("IVCRUSH_CACHE__CHAINS_SECS", "0")
            .env("IVCRUSH_JOBS__PREFIX", &self.prefix)
            .env("IVCRUSH_JOBS__POLL_INTERVAL_MS", "50")
            .args(args);
        c
    }

    /// Runs a scan to its end; its wall time and row count.
    fn scan(&self, args: &[&str]) -> (Duration, usize) {
        let mut all = vec!["scan", "--days", DAYS, "--format", "csv", "--quiet"];
        all.extend_from_slice(args);
        let t0 = Instant::now();
        let out = self.cmd(&all).output().expect("scan runs");
        let wall = t0.elapsed();
        assert!(
            matches!(out.status.code(), Some(0 | 3)),
            "scan {args:?}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // CSV: a header, then one line per row.
        let rows = String::from_utf8_lossy(&out.stdout)
            .lines()
            .count()
            .saturating_sub(1);
        (wall, rows)
    }

    /// Starts `n` workers and waits until each says it started.
    fn workers(&self, n: usize) -> Vec<Child> {
        let children: Vec<(Child, std::path::PathBuf)> = (0..n)
            .map(|i| {
                let log = self.dir.path().join(format!("worker-{n}-{i}.log"));
                let file = std::fs::File::create(&log).expect("log");
                let child = self
                    .cmd(&["worker"])
                    .stdout(Stdio::null())
                    .stderr(file)
                    .spawn()
                    .expect("worker starts");
                (child, log)
            })
            .collect();
        let t0 = Instant::now();
        for (_, log) in &children {
            while !std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains("worker started")
            {
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "worker did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        children.into_iter().map(|(c, _)| c).collect()
    }
}

fn stop(workers: Vec<Child>) {
    for mut w in workers {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(w.id().to_string())
            .status();
        let _ = w.wait();
    }
}

fn line(what: &str, wall: Duration, rows: usize) {
    let s = wall.as_secs_f64();
    println!(
        "{what:<44} {s:>7.2} s  {:>7.1} tickers/s  {:>6.2} ms/ticker  ({rows} rows)",
        rows as f64 / s,
        s * 1_000.0 / rows.max(1) as f64
    );
}

/// Enqueue, read and acknowledge `n` empty jobs on one consumer: the Redis part of a job.
fn queue_round_trips(
    rt: &tokio::runtime::Runtime,
    redis: &str,
    prefix: &str,
    n: usize,
) -> Duration {
    rt.block_on(async {
        let config = QueueConfig {
            prefix: format!("{prefix}-bare"),
            block: Duration::from_millis(100),
            ..QueueConfig::default()
        };
        let mut q = Queue::connect(redis, config.clone()).await.expect("queue");
        let mut c = Consumer::connect(redis, config.clone(), consumer_name())
            .await
            .expect("consumer");
        let jobs: Vec<Job<serde_json::Value>> = (0..n)
            .map(|i| Job {
                run_id: "bench".into(),
                ticker: format!("T{i}"),
                body: serde_json::json!({ "i": i }),
            })
            .collect();
        let t0 = Instant::now();
        q.enqueue(&jobs).await.expect("enqueue");
        let mut done = 0;
        while done < n {
            if let Some(d) = c.next().await.expect("next") {
                c.ack(&d).await.expect("ack");
                done += 1;
            }
        }
        let elapsed = t0.elapsed();
        let client = redis::Client::open(redis).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(config.jobs_key())
            .arg(config.dead_key())
            .arg(config.errors_key())
            .query_async(&mut conn)
            .await;
        elapsed
    })
}

fn main() {
    let (Ok(base), Ok(redis)) = (std::env::var("DATABASE_URL"), std::env::var("REDIS_URL")) else {
        eprintln!("distributed_scan: set DATABASE_URL (PostgreSQL) and REDIS_URL");
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let unique = format!("{}_{}", std::process::id(), rand::random::<u32>());
    let bench = Bench {
        dir: tempfile::tempdir().expect("temp dir"),
        base: base.clone(),
        schema: format!("ivcrush_bench_{unique}"),
        redis: redis.clone(),
        prefix: format!("ivcrush-bench:{unique}"),
    };
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA {}",
            bench.schema
        )))
        .execute(&mut conn)
        .await
        .expect("schema");
    });
    let migrated = bench
        .cmd(&["db", "migrate", "--quiet"])
        .status()
        .expect("migrate");
    assert!(migrated.success());
    println!("{TICKERS} simulated tickers, as of {AS_OF}, {DAYS}-day window, PostgreSQL + Redis");
    let (wall, rows) = bench.scan(&[]);
    line("local scan, cold (history backfilled)", wall, rows);
    let (seq, rows) = bench.scan(&["--concurrency", "1"]);
    line("local scan, one ticker at a time", seq, rows);
    let (local, rows) = bench.scan(&[]);
    line("local scan (concurrency 8)", local, rows);
    let mut one_worker = None;
    for n in [1, 2, 4] {
        let workers = bench.workers(n);
        let (wall, rows) = bench.scan(&["--distributed"]);
        stop(workers);
        line(&format!("distributed, {n} worker(s)"), wall, rows);
        if n == 1 {
            one_worker = Some((wall, rows));
        }
    }
    if let Some((wall, rows)) = one_worker {
        let per_job = (wall.as_secs_f64() - seq.as_secs_f64()) * 1_000.0 / rows.max(1) as f64;
        println!(
            "queue cost per job, 1 worker vs the local scan one ticker at a time: {per_job:+.3} ms \
             (per-ticker quote, per-row insert, Redis, polling)"
        );
    }
    let bare = queue_round_trips(&rt, &redis, &bench.prefix, TICKERS);
    println!(
        "Redis alone (enqueue + read + acknowledge, one consumer): {:.3} ms per job",
        bare.as_secs_f64() * 1_000.0 / TICKERS as f64
    );
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&base).await.expect("connect");
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            bench.schema
        )))
        .execute(&mut conn)
        .await;
    });
}
