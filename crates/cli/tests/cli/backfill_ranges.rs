//! What a backfill stores depends only on the ranges requested (issue 12): not on the order of
//! the runs, nor on runs killed with SIGKILL and run again. Compared row for row (bars, earnings
//! events, historical moves, coverage, and the deterministic content of analyses) through the
//! store API, on SQLite and, when `DATABASE_URL` names a PostgreSQL server, on PostgreSQL (a
//! fresh schema per database, dropped afterwards).

use chrono::{Duration, NaiveDate};
use ivcrush_core::Bar;
use ivcrush_core::moves::HistoricalMove;
use ivcrush_store::sqlx::{self, Connection};
use ivcrush_store::{AnalysisFilter, EarningsRow, Store, TickerRow, open_store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// The README's as-of date: MRVL and PRSM report on the 27th, QNTM on the 30th.
pub(crate) const AS_OF: &str = "2026-11-26";
/// The last completed session as of [`AS_OF`] (the 26th is Thanksgiving).
const LAST_SESSION: &str = "2026-11-25";

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// First date of a backfill window of `years` as of [`AS_OF`].
fn window_start(years: i64) -> NaiveDate {
    date(AS_OF) - Duration::days(years * 365 + 10)
}

/// One database under test, with the working directory of the commands.
pub(crate) enum Db {
    Sqlite {
        dir: tempfile::TempDir,
    },
    Postgres {
        dir: tempfile::TempDir,
        base: String,
        schema: String,
    },
}

static SEQ: AtomicU64 = AtomicU64::new(0);

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A fresh schema in the `DATABASE_URL` database; `None` (with a message) when unset.
    pub(crate) fn postgres(test: &str) -> Option<Db> {
        let Ok(base) = std::env::var("DATABASE_URL") else {
            eprintln!(
                "skipping the PostgreSQL part of {test}: DATABASE_URL is not set \
                 (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        if !base.starts_with("postgres") {
            eprintln!("skipping the PostgreSQL part of {test}: DATABASE_URL is not postgres://");
            return None;
        }
        let schema = format!(
            "ivcrush_cli_{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed),
            chrono::Utc::now().timestamp_subsec_nanos()
        );
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
        Some(Db::Postgres {
            dir: tempfile::tempdir().expect("temp dir"),
            base,
            schema,
        })
    }

    /// The working directory of the commands (the SQLite file's too).
    pub(crate) fn dir(&self) -> &std::path::Path {
        match self {
            Db::Sqlite { dir } | Db::Postgres { dir, .. } => dir.path(),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    pub(crate) fn url(&self) -> String {
        match self {
            Db::Sqlite { dir } => format!("sqlite://{}", dir.path().join("t.db").display()),
            Db::Postgres { base, schema, .. } => {
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}options[search_path]={schema}")
            }
        }
    }

    /// `ivcrush ARGS --quiet` on this database as of [`AS_OF`], with the environment cleared of
    /// ivcrush settings so that a developer's configuration cannot leak in.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.command(args);
        c.arg("--quiet");
        c
    }

    /// [`Db::cmd`] without `--quiet` (its INFO lines on stderr).
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = crate::support::ivcrush(self.dir());
        c.env("DATABASE_URL", self.url())
            .env("IVCRUSH_AS_OF", AS_OF)
            .args(args);
        c
    }

    /// Runs a command to its end; panics unless it exits 0 (or 3 for a scan: some rows failed).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).output().expect("runs");
        let ok = match out.status.code() {
            Some(0) => true,
            Some(3) => args.first() == Some(&"scan"),
            _ => false,
        };
        assert!(
            ok,
            "{} `ivcrush {}`: {:?}\n{}",
            self.name(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let url = self.url();
        runtime().block_on(async move {
            let store = open_store(&url).await.expect("open store");
            Snapshot::read(&*store).await
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Postgres { base, schema, .. } = self {
            let (base, schema) = (base.clone(), schema.clone());
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
            });
        }
    }
}

/// Every stored analysis row.
pub(crate) async fn all_analyses(store: &dyn Store) -> Vec<ivcrush_store::StoredAnalysis> {
    store
        .latest_analyses(&AnalysisFilter {
            limit: 1_000_000,
            ..AnalysisFilter::default()
        })
        .await
        .expect("analyses")
}

/// Everything a backfill or a scan stores, without row IDs, run IDs and timestamps.
#[derive(Debug, PartialEq)]
pub(crate) struct Snapshot {
    tickers: Vec<TickerRow>,
    events: BTreeMap<String, Vec<EarningsRow>>,
    bars: BTreeMap<String, Vec<Bar>>,
    moves: BTreeMap<String, Vec<HistoricalMove>>,
    /// `(covered_from, completed_through)` of the moves progress row.
    coverage: BTreeMap<String, Option<(Option<NaiveDate>, NaiveDate)>>,
    /// Per (ticker, as-of): the distinct stored contents (record or error, key columns).
    analyses: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Snapshot {
    async fn read(store: &dyn Store) -> Snapshot {
        let mut snap = Snapshot {
            tickers: store.tickers().await.expect("tickers"),
            events: BTreeMap::new(),
            bars: BTreeMap::new(),
            moves: BTreeMap::new(),
            coverage: BTreeMap::new(),
            analyses: BTreeMap::new(),
        };
        for t in &snap.tickers {
            let s = t.symbol.clone();
            let events = store.earnings_for(&s).await.expect("events");
            let bars = store
                .bars(&s, date("1900-01-01"), date("2100-12-31"))
                .await
                .expect("bars");
            let moves = store.historical_moves(&s).await.expect("moves");
            let progress = store.get_progress(&s, "moves").await.expect("progress");
            snap.events.insert(s.clone(), events);
            snap.bars.insert(s.clone(), bars);
            snap.moves.insert(s.clone(), moves);
            snap.coverage
                .insert(s, progress.map(|p| (p.covered_from, p.completed_through)));
        }
        for a in all_analyses(store).await {
            let mut v = serde_json::to_value(&a).expect("serializable");
            if let Some(m) = v.as_object_mut() {
                for k in ["id", "run_id", "created_at"] {
                    m.remove(k);
                }
            }
            snap.analyses
                .entry((a.ticker.clone(), a.as_of.to_rfc3339()))
                .or_default()
                .insert(v.to_string());
        }
        snap
    }

    /// Counts, for messages.
    fn summary(&self) -> String {
        let n = |m: &BTreeMap<String, Vec<_>>| m.values().map(Vec::len).sum::<usize>();
        format!(
            "{} tickers, {} events, {} bars, {} moves, coverage {:?}, {} analysis keys",
            self.tickers.len(),
            self.events.values().map(Vec::len).sum::<usize>(),
            n(&self.bars),
            self.moves.values().map(Vec::len).sum::<usize>(),
            self.coverage,
            self.analyses.len()
        )
    }
}

/// Asserts equality part by part, naming the first difference (not a wall of bars).
pub(crate) fn assert_same(what: &str, got: &Snapshot, want: &Snapshot) {
    fn first_diff<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
        a: &BTreeMap<K, V>,
        b: &BTreeMap<K, V>,
    ) -> String {
        let keys: BTreeSet<&K> = a.keys().chain(b.keys()).collect();
        for k in keys {
            if a.get(k) != b.get(k) {
                let show = |v: Option<&V>| {
                    let s = format!("{v:?}");
                    s.chars().take(600).collect::<String>()
                };
                return format!("{k:?}: got {} / want {}", show(a.get(k)), show(b.get(k)));
            }
        }
        String::new()
    }
    let ctx = format!("{what}\n got: {}\nwant: {}", got.summary(), want.summary());
    assert_eq!(got.tickers, want.tickers, "tickers differ: {ctx}");
    assert!(
        got.events == want.events,
        "earnings events differ at {}: {ctx}",
        first_diff(&got.events, &want.events)
    );
    assert!(
        got.bars == want.bars,
        "bars differ at {}: {ctx}",
        first_diff(&got.bars, &want.bars)
    );
    assert!(
        got.moves == want.moves,
        "moves differ at {}: {ctx}",
        first_diff(&got.moves, &want.moves)
    );
    assert!(
        got.coverage == want.coverage,
        "coverage differs at {}: {ctx}",
        first_diff(&got.coverage, &want.coverage)
    );
    assert!(
        got.analyses == want.analyses,
        "analyses differ at {}: {ctx}",
        first_diff(&got.analyses, &want.analyses)
    );
    assert_eq!(got, want, "{ctx}");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every backend to run on: SQLite always, PostgreSQL when configured.
pub(crate) fn backends(test: &str) -> Vec<Arc<dyn Fn() -> Db>> {
    let mut v: Vec<Arc<dyn Fn() -> Db>> = vec![Arc::new(Db::sqlite)];
    if std::env::var("DATABASE_URL").is_ok() {
        let test = test.to_string();
        v.push(Arc::new(move || {
            Db::postgres(&test).expect("DATABASE_URL was checked")
        }));
    } else {
        let _ = Db::postgres(test); // prints why it skips
    }
    v
}

/// How a killed child ended: killed by the signal, or finished first.
pub(crate) fn ended(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(sig) = status.signal() {
            return format!("killed (signal {sig})");
        }
    }
    match status.code() {
        Some(0) => "finished".to_string(),
        other => format!("exited {other:?}"),
    }
}

const PAIR: [&str; 2] = ["MRVL", "PRSM"];

#[test]
fn backfill_3_then_6_years_stores_exactly_what_a_fresh_6_year_backfill_stores() {
    for new_db in backends("backfill_3_then_6_years") {
        let backfill = |db: &Db, years: &str| {
            let mut args = vec!["backfill", "--years", years];
            args.extend(PAIR);
            stdout(&db.run(&args))
        };

        let fresh = new_db();
        let s = backfill(&fresh, "6");
        assert!(s.contains("2 ticker(s) updated"), "{s}");
        let want = fresh.snapshot();
        // The whole six years are there (the symptom: only three).
        for t in PAIR {
            assert_eq!(
                want.coverage[t],
                Some((Some(window_start(6)), date(LAST_SESSION))),
                "{t}"
            );
            let bars = &want.bars[t];
            let first = bars.first().expect("bars").date;
            assert!(
                first >= window_start(6) && first < window_start(6) + Duration::days(7),
                "{t} bars start {first}"
            );
            assert_eq!(bars.last().expect("bars").date, date(LAST_SESSION));
            let moves = &want.moves[t];
            assert!(moves.len() >= 22, "{t}: {} moves", moves.len());
            assert!(
                moves[0].report_date < window_start(3),
                "{t}: moves before the three-year window"
            );
        }

        let widened = new_db();
        let s = backfill(&widened, "3");
        assert!(s.contains("2 ticker(s) updated"), "{s}");
        let three = widened.snapshot();
        assert_eq!(
            three.coverage[PAIR[0]],
            Some((Some(window_start(3)), date(LAST_SESSION)))
        );
        assert!(three.moves[PAIR[0]].len() < want.moves[PAIR[0]].len());
        let s = backfill(&widened, "6");
        assert!(
            s.contains("2 ticker(s) updated"),
            "a wider range is fetched: {s}"
        );
        assert_same(
            &format!("{}: --years 3 then --years 6", widened.name()),
            &widened.snapshot(),
            &want,
        );

        // Narrower afterwards: covered, nothing fetched, nothing changed.
        let s = backfill(&widened, "3");
        assert!(s.contains("0 ticker(s) updated, 2 already complete"), "{s}");
        let s = backfill(&fresh, "3");
        assert!(s.contains("0 ticker(s) updated, 2 already complete"), "{s}");
        assert_same(
            &format!("{}: then --years 3", widened.name()),
            &widened.snapshot(),
            &want,
        );
        assert_same(
            &format!("{}: --years 6 then --years 3", fresh.name()),
            &fresh.snapshot(),
            &want,
        );
    }
}

/// Backfills and scans of a few tickers; the scans backfill implicitly (three years).
const SEQUENCE: &[&[&str]] = &[
    &["backfill", "--years", "2", "MRVL", "PRSM"],
    &["scan", "--tickers", "MRVL,PRSM,QNTM", "--format", "json"],
    &["backfill", "--years", "4", "MRVL", "PRSM", "QNTM"],
    &["scan", "--tickers", "MRVL,PRSM,QNTM", "--format", "json"],
];

/// Kill seeds per backend: each makes its own kill points.
const SEEDS: [u64; 3] = [12, 1212, 121_212];

#[test]
fn a_sequence_killed_at_random_points_and_rerun_stores_what_it_stores_uninterrupted() {
    for new_db in backends("a_sequence_killed_at_random_points") {
        // Uninterrupted, timing each step.
        let reference = new_db();
        let mut durations = Vec::new();
        for args in SEQUENCE {
            let t0 = Instant::now();
            reference.run(args);
            durations.push(t0.elapsed());
        }
        let want = reference.snapshot();
        for t in ["MRVL", "PRSM", "QNTM"] {
            assert_eq!(
                want.coverage[t],
                Some((Some(window_start(4)), date(LAST_SESSION))),
                "{t}"
            );
        }
        assert_eq!(want.analyses.len(), 3, "{:?}", want.analyses.keys());

        for seed in SEEDS {
            let db = new_db();
            let mut rng = StdRng::seed_from_u64(seed);
            let mut log = Vec::new();
            for (args, took) in SEQUENCE.iter().zip(&durations) {
                // A point anywhere from the start of the process to its usual end.
                let max_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX).max(1);
                let delay = rng.random_range(0..=max_ms);
                let mut child = db
                    .cmd(args)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawns");
                std::thread::sleep(std::time::Duration::from_millis(delay));
                let _ = child.kill(); // SIGKILL on Unix; a no-op when it has already exited.
                let status = child.wait().expect("reaped");
                log.push(format!(
                    "{} at {delay}/{max_ms} ms: {}",
                    args[0],
                    ended(status)
                ));
                db.run(args);
            }
            eprintln!("{} seed {seed}: {}", db.name(), log.join(", "));
            assert_same(
                &format!("{} seed {seed}: {}", db.name(), log.join(", ")),
                &db.snapshot(),
                &want,
            );
        }
    }
}
