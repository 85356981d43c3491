//! Distributed scans (issue 17): `ivcrush worker` processes and a `scan --distributed`
//! coordinator, started by the test on the machine's PostgreSQL (`DATABASE_URL`, a fresh schema
//! per test, dropped afterwards) and Redis (`REDIS_URL`, a key prefix per test, deleted
//! afterwards). Skipped with a message when either is unset.

use assert_cmd::cargo::CommandCargoExt;
use ivcrush_jobs::{Job, Queue, QueueConfig};
use ivcrush_store::sqlx::{self, Connection};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// As-of of every process (the simulated market at 15:30 New York).
const AS_OF: &str = "2026-02-02";
/// Longest a coordinator may take before the test gives up on it.
const RUN_DEADLINE: Duration = Duration::from_secs(600);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// A PostgreSQL schema, a Redis key prefix and the worker processes of one test.
struct Cluster {
    dir: tempfile::TempDir,
    base: String,
    schema: String,
    redis: String,
    prefix: String,
    /// `IVCRUSH_*` settings of every process (besides the as-of, database and prefix).
    settings: Vec<(&'static str, String)>,
    workers: Vec<Child>,
}

impl Cluster {
    /// `None`, with a message, when `DATABASE_URL` (PostgreSQL) or `REDIS_URL` is unset.
    fn new(test: &str, settings: &[(&'static str, &str)]) -> Option<Cluster> {
        let (Ok(base), Ok(redis)) = (std::env::var("DATABASE_URL"), std::env::var("REDIS_URL"))
        else {
            eprintln!(
                "skipping {test}: needs DATABASE_URL (PostgreSQL) and REDIS_URL \
                 (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
                 REDIS_URL=redis://127.0.0.1:6379)"
            );
            return None;
        };
        if !base.starts_with("postgres") {
            eprintln!("skipping {test}: DATABASE_URL is not postgres://");
            return None;
        }
        let unique = format!("{}_{}", std::process::id(), rand::random::<u32>());
        let schema = format!("ivcrush_dist_{unique}");
        runtime().block_on(async {
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .expect("connect to DATABASE_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create test schema");
            conn.close().await.ok();
        });
        let cluster = Cluster {
            dir: tempfile::tempdir().expect("temp dir"),
            base,
            schema,
            redis,
            prefix: format!("ivcrush-test:{test}:{unique}"),
            settings: settings.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            workers: Vec::new(),
        };
        // Migrated once, before processes race to open it.
        let out = cluster
            .cmd(&["db", "migrate", "--quiet"])
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(cluster)
    }

    fn database_url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.schema)
    }

    /// `ivcrush ARGS` with this cluster's database, queue and settings; the caller's own
    /// `IVCRUSH_*` settings and `RUST_LOG` removed.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("ivcrush").expect("binary");
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
            .env("IVCRUSH_JOBS__PREFIX", &self.prefix)
            .env("IVCRUSH_JOBS__BLOCK_MS", "100")
            .env("IVCRUSH_JOBS__POLL_INTERVAL_MS", "100");
        for (k, v) in &self.settings {
            c.env(k, v);
        }
        c.args(args);
        c
    }

    fn worker_log(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("worker-{i}.log"))
    }

    /// Starts a worker (`extra` flags added) logging to its own file.
    fn spawn_worker(&mut self, extra: &[&str]) {
        let log = std::fs::File::create(self.worker_log(self.workers.len())).expect("log file");
        let mut args = vec!["worker"];
        args.extend_from_slice(extra);
        let child = self
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start a worker");
        self.workers.push(child);
    }

    fn worker_logs_of(&self, i: usize) -> String {
        std::fs::read_to_string(self.worker_log(i)).unwrap_or_default()
    }

    /// The tickers of the jobs delivered to `consumer` and not acknowledged.
    fn pending_tickers(&self, consumer: &str) -> Vec<String> {
        let (redis_url, config) = (self.redis.clone(), self.queue_config());
        let consumer = consumer.to_string();
        runtime().block_on(async move {
            let client = redis::Client::open(redis_url.as_str()).expect("REDIS_URL");
            let mut c = client
                .get_multiplexed_async_connection()
                .await
                .expect("connect to Redis");
            let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
                .arg(config.jobs_key())
                .arg(config.group())
                .arg("-")
                .arg("+")
                .arg(100)
                .arg(&consumer)
                .query_async(&mut c)
                .await
                .expect("XPENDING");
            let mut tickers = Vec::new();
            for p in pending.ids {
                let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                    .arg(config.jobs_key())
                    .arg(&p.id)
                    .arg(&p.id)
                    .query_async(&mut c)
                    .await
                    .expect("XRANGE");
                for e in entries.ids {
                    if let Some(t) = e.get::<String>("ticker") {
                        tickers.push(t);
                    }
                }
            }
            tickers
        })
    }

    fn worker_logs(&self) -> String {
        (0..self.workers.len())
            .map(|i| self.worker_logs_of(i))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Starts `ivcrush scan --distributed ARGS --format json --quiet`.
    fn spawn_coordinator(&self, args: &[&str]) -> Child {
        let mut all = vec!["scan", "--distributed", "--format", "json", "--quiet"];
        all.extend_from_slice(args);
        self.spawn_to_files(&all)
    }

    /// Starts `ivcrush ARGS` with its stdout and stderr in files (a pipe nobody reads while
    /// waiting would fill up and block it).
    fn spawn_to_files(&self, args: &[&str]) -> Child {
        let out = std::fs::File::create(self.dir.path().join("coordinator.out")).expect("file");
        let err = std::fs::File::create(self.dir.path().join("coordinator.err")).expect("file");
        self.cmd(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the coordinator")
    }

    /// Waits for the coordinator; panics (with the workers' logs) beyond [`RUN_DEADLINE`].
    fn finish(&self, mut coordinator: Child) -> Output {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = coordinator.try_wait().expect("poll") {
                break status;
            }
            if started.elapsed() > RUN_DEADLINE {
                let _ = coordinator.kill();
                panic!("the run did not finish; workers:\n{}", self.worker_logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |name: &str| std::fs::read(self.dir.path().join(name)).expect("output file");
        Output {
            status,
            stdout: read("coordinator.out"),
            stderr: read("coordinator.err"),
        }
    }

    /// How often each ticker is stored, per run.
    fn stored(&self) -> BTreeMap<String, BTreeMap<String, i64>> {
        let url = self.database_url();
        runtime().block_on(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let rows: Vec<(String, String, i64)> = sqlx::query_as(
                "SELECT run_id, ticker, COUNT(*) FROM analyses GROUP BY run_id, ticker",
            )
            .fetch_all(&mut conn)
            .await
            .expect("count the stored rows");
            conn.close().await.ok();
            let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
            for (run, ticker, n) in rows {
                out.entry(run).or_default().insert(ticker, n);
            }
            out
        })
    }

    fn stored_count(&self) -> i64 {
        self.stored().values().flat_map(|m| m.values()).sum()
    }

    fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            prefix: self.prefix.clone(),
            ..QueueConfig::default()
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        let (base, schema, redis, config) = (
            self.base.clone(),
            self.schema.clone(),
            self.redis.clone(),
            self.queue_config(),
        );
        runtime().block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&base).await {
                let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                {
                    eprintln!("could not drop test schema {schema}: {e}");
                }
                conn.close().await.ok();
            }
            if let Ok(client) = redis::Client::open(redis.as_str())
                && let Ok(mut c) = client.get_multiplexed_async_connection().await
            {
                let _: Result<(), _> = redis::cmd("DEL")
                    .arg(config.jobs_key())
                    .arg(config.dead_key())
                    .arg(config.errors_key())
                    .query_async(&mut c)
                    .await;
            }
        });
    }
}

/// The symbols of the first `n` tickers of the simulated universe.
fn universe(n: usize) -> Vec<String> {
    ivcrush_market::sim::universe::universe_of(n)
        .iter()
        .map(|p| p.symbol.to_string())
        .collect()
}

/// The tickers of the coordinator's JSON rows, each once, sorted.
fn output_tickers(out: &Output) -> Vec<String> {
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON rows on stdout ({e}); stderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut tickers: Vec<String> = rows
        .as_array()
        .expect("an array of rows")
        .iter()
        .map(|r| r["ticker"].as_str().expect("a ticker").to_string())
        .collect();
    tickers.sort();
    tickers
}

/// Every ticker of the universe once in the output and once in the store, under one run.
fn assert_each_ticker_once(cluster: &Cluster, out: &Output, n: usize) {
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "coordinator: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut expected = universe(n);
    expected.sort();
    assert_eq!(
        output_tickers(out),
        expected,
        "each ticker once in the output"
    );
    let stored = cluster.stored();
    assert_eq!(stored.len(), 1, "one run: {:?}", stored.keys());
    let (_, per_ticker) = stored.iter().next().expect("one run");
    let stored_tickers: Vec<&String> = per_ticker.keys().collect();
    assert_eq!(stored_tickers.len(), n);
    assert!(
        stored_tickers.iter().zip(&expected).all(|(a, b)| *a == b),
        "the stored tickers are the universe's"
    );
    assert!(
        per_ticker.values().all(|&c| c == 1),
        "each ticker stored once: {:?}",
        per_ticker
            .iter()
            .filter(|(_, c)| **c != 1)
            .collect::<Vec<_>>()
    );
}

/// 500 tickers and a 92-day window: every ticker has a report in it.
const UNIVERSE: usize = 500;
const WINDOW_DAYS: &str = "92";

#[test]
fn three_workers_and_a_coordinator_store_each_of_500_tickers_once() {
    let Some(mut cluster) = Cluster::new("three_workers", &[("IVCRUSH_SIM__UNIVERSE_SIZE", "500")])
    else {
        return;
    };
    for _ in 0..3 {
        cluster.spawn_worker(&[]);
    }
    let out = cluster.finish(cluster.spawn_coordinator(&["--days", WINDOW_DAYS]));
    assert_each_ticker_once(&cluster, &out, UNIVERSE);
    let logs = cluster.worker_logs();
    assert_eq!(
        logs.matches("worker started").count(),
        3,
        "three workers took part:\n{logs}"
    );
}

#[test]
fn a_worker_killed_mid_run_leaves_its_job_to_the_others_and_each_ticker_is_stored_once() {
    let Some(mut cluster) = Cluster::new(
        "sigkill",
        &[
            ("IVCRUSH_SIM__UNIVERSE_SIZE", "500"),
            ("IVCRUSH_JOBS__VISIBILITY_TIMEOUT_MS", "2000"),
        ],
    ) else {
        return;
    };
    for _ in 0..3 {
        cluster.spawn_worker(&[]);
    }
    let coordinator = cluster.spawn_coordinator(&["--days", WINDOW_DAYS]);
    // Mid-run: some results stored, most jobs still to do.
    let started = Instant::now();
    while cluster.stored_count() < 60 {
        assert!(
            started.elapsed() < RUN_DEADLINE,
            "no progress; workers:\n{}",
            cluster.worker_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A worker killed between storing a result and acknowledging it (or between two jobs)
    // leaves nothing for the others to claim; kill workers (starting a replacement each time)
    // until one dies holding a job whose result is not stored.
    let mut abandoned = None;
    for victim in 0..5 {
        let child = &mut cluster.workers[victim];
        child.kill().expect("SIGKILL a worker"); // SIGKILL on Unix
        let status = child.wait().expect("reaped");
        assert!(!status.success(), "killed, not finished: {status:?}");
        let consumer = consumer_of(&cluster.worker_logs_of(victim))
            .expect("the killed worker logged its consumer name");
        let stored = cluster.stored();
        let unfinished: Vec<String> = cluster
            .pending_tickers(&consumer)
            .into_iter()
            .filter(|t| !stored.values().any(|m| m.contains_key(t)))
            .collect();
        if let Some(ticker) = unfinished.into_iter().next() {
            abandoned = Some(ticker);
            break;
        }
        cluster.spawn_worker(&[]);
    }
    let abandoned = abandoned.expect("one of five killed workers died holding an unfinished job");
    let killed_at = cluster.stored_count();
    let out = cluster.finish(coordinator);
    assert!(
        killed_at < UNIVERSE as i64,
        "killed mid-run ({killed_at} stored)"
    );
    assert_each_ticker_once(&cluster, &out, UNIVERSE);
    let logs = cluster.worker_logs();
    assert!(
        logs.lines().any(|l| l.contains("claimed an abandoned job")
            && l.contains(&format!("ticker={abandoned}"))),
        "the killed worker's job ({abandoned}) was claimed by another:\n{logs}"
    );
}

/// The consumer name a worker's log announces.
fn consumer_of(log: &str) -> Option<String> {
    log.lines()
        .find(|l| l.contains("worker started"))?
        .split_whitespace()
        .find_map(|w| w.strip_prefix("consumer="))
        .map(str::to_string)
}

#[test]
fn a_job_that_cannot_be_processed_is_dead_lettered_after_max_deliveries_with_its_reason() {
    let Some(mut cluster) = Cluster::new(
        "poison",
        &[
            ("IVCRUSH_JOBS__VISIBILITY_TIMEOUT_MS", "100"),
            ("IVCRUSH_JOBS__MAX_DELIVERIES", "3"),
        ],
    ) else {
        return;
    };
    let config = cluster.queue_config();
    let redis = cluster.redis.clone();
    // One runtime: the queue's connection lives on it.
    let rt = runtime();
    let mut queue = rt.block_on(Queue::connect(&redis, config)).expect("queue");
    rt.block_on(queue.enqueue(&[Job {
        run_id: "poison-run".to_string(),
        ticker: "AXON".to_string(),
        body: serde_json::json!({ "not": "a scan job" }),
    }]))
    .expect("enqueue a poison job");
    cluster.spawn_worker(&[]);
    let started = Instant::now();
    let dead = loop {
        let (dead, _) = rt
            .block_on(queue.dead_letters("poison-run", None))
            .expect("dead letters");
        if !dead.is_empty() {
            break dead;
        }
        assert!(
            started.elapsed() < RUN_DEADLINE,
            "not dead-lettered; worker:\n{}",
            cluster.worker_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].ticker, "AXON");
    assert_eq!(dead[0].deliveries, 3, "{dead:?}");
    assert!(
        dead[0].reason.contains("does not decode") && dead[0].reason.contains("missing field"),
        "{}",
        dead[0].reason
    );
    assert_eq!(rt.block_on(queue.pending()).expect("pending"), 0);
    assert_eq!(cluster.stored_count(), 0, "nothing stored for a poison job");
}

#[test]
fn a_run_whose_jobs_all_fail_reports_each_ticker_failed_with_the_dead_letter_reason() {
    let Some(mut cluster) = Cluster::new(
        "all_fail",
        &[
            ("IVCRUSH_JOBS__VISIBILITY_TIMEOUT_MS", "100"),
            ("IVCRUSH_JOBS__MAX_DELIVERIES", "2"),
        ],
    ) else {
        return;
    };
    // A worker on another provider refuses every job of a run on the simulated market.
    std::fs::create_dir_all(cluster.dir.path().join("data")).expect("files dir");
    cluster.spawn_worker(&["--provider", "files"]);
    let out = cluster.finish(cluster.spawn_coordinator(&["--tickers", "AXON,BLRK,CRVX"]));
    assert_eq!(out.status.code(), Some(3), "some rows failed");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON rows");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    for r in rows {
        let error = r["error"].as_str().expect("a failed row");
        assert!(
            error.starts_with("given up after 2 attempt(s)")
                && error.contains("the run's provider is sim but this worker's is files"),
            "{error}"
        );
    }
    let stored = cluster.stored();
    assert_eq!(stored.len(), 1);
    let per_ticker = stored.values().next().expect("one run");
    assert_eq!(
        per_ticker.keys().map(String::as_str).collect::<Vec<_>>(),
        ["AXON", "BLRK", "CRVX"],
        "the failures are stored, once each"
    );
}

#[test]
fn a_distributed_scan_prints_what_the_local_scan_prints() {
    let Some(mut cluster) = Cluster::new("same_output", &[]) else {
        return;
    };
    let local = cluster
        .cmd(&["scan", "--days", "30", "--format", "csv", "--quiet"])
        .output()
        .expect("local scan");
    assert!(matches!(local.status.code(), Some(0 | 3)));
    cluster.spawn_worker(&[]);
    cluster.spawn_worker(&["--concurrency", "2"]);
    let out = cluster.finish(cluster.spawn_to_files(&[
        "scan",
        "--distributed",
        "--days",
        "30",
        "--format",
        "csv",
        "--quiet",
    ]));
    assert_eq!(out.status.code(), local.status.code());
    assert!(!local.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&local.stdout)
    );
}

#[test]
fn serve_with_distributed_scans_hands_its_scan_to_the_workers() {
    const KEY: &str = "distributed-api-key-0123456789";
    let Some(mut cluster) = Cluster::new("serve", &[]) else {
        return;
    };
    // What the local scan of the default window finds.
    let local = cluster
        .cmd(&["scan", "--format", "json", "--quiet"])
        .output()
        .expect("local scan");
    assert!(matches!(local.status.code(), Some(0 | 3)));
    let local_tickers = output_tickers(&local);
    assert!(!local_tickers.is_empty(), "the default window has reports");

    cluster.spawn_worker(&[]);
    cluster.spawn_worker(&[]);
    let log_path = cluster.dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut serve = cluster
        .cmd(&["serve", "--bind", "127.0.0.1:0"])
        .env("IVCRUSH_API_KEYS", KEY)
        .env("IVCRUSH_SERVER__DISTRIBUTED_SCANS", "true")
        .env("IVCRUSH_JOBS__REDIS", &cluster.redis)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("serve starts");
    // The startup scan, through the workers.
    let started = Instant::now();
    let serve_log = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("scan finished") {
            break text;
        }
        assert!(
            started.elapsed() < RUN_DEADLINE && serve.try_wait().expect("poll").is_none(),
            "serve's startup scan finished:\n{text}\nworkers:\n{}",
            cluster.worker_logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(serve_log.contains("jobs enqueued"), "{serve_log}");
    let addr = serve_log
        .split_once("listening address=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve logged its address:\n{serve_log}"))
        .to_owned();
    let answer = crate::support::http(&addr, "GET", "/api/v1/scan?limit=1000", Some(KEY));
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body: serde_json::Value = serde_json::from_str(
        answer
            .split("\r\n\r\n")
            .nth(1)
            .expect("a body after the headers"),
    )
    .expect("JSON body");
    assert_eq!(body["trigger"], "startup", "the startup scan is served");
    let run_id = body["run_id"].as_str().expect("run id").to_owned();
    let mut served: Vec<String> = body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["ticker"].as_str().expect("a ticker").to_owned())
        .collect();
    served.sort();
    assert_eq!(
        served, local_tickers,
        "the workers found what the local scan finds"
    );
    let stored = cluster.stored();
    let of_run = stored.get(&run_id).expect("the run's rows are stored");
    assert_eq!(of_run.len(), served.len());
    assert!(
        of_run.values().all(|&n| n == 1),
        "each ticker once: {of_run:?}"
    );

    // The workers analysed them: their tallies add up to the run.
    for w in &cluster.workers {
        let pid = w.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
    }
    for w in &mut cluster.workers {
        let _ = w.wait();
    }
    let done: u64 = cluster
        .worker_logs()
        .lines()
        .filter(|l| l.contains("worker stopped"))
        .filter_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("done="))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum();
    assert_eq!(
        done,
        served.len() as u64,
        "workers:\n{}",
        cluster.worker_logs()
    );
}

#[test]
fn a_distributed_run_without_workers_ends_at_its_timeout_with_each_ticker_failed() {
    let Some(cluster) = Cluster::new("no_workers", &[("IVCRUSH_JOBS__RUN_TIMEOUT_SECS", "1")])
    else {
        return;
    };
    let out = cluster.finish(cluster.spawn_coordinator(&["--tickers", "AXON,BLRK"]));
    assert_eq!(out.status.code(), Some(3), "the rows failed");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON rows");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    for r in rows {
        let error = r["error"].as_str().expect("a failed row");
        assert!(
            error.contains("no worker stored a result within jobs.run_timeout_secs (1 s)"),
            "{error}"
        );
    }
}
