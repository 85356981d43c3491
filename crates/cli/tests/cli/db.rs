//! `ivcrush db` and `ivcrush health` on SQLite: nothing creates a database behind the
//! operator's back, and backup → prune → restore gives back what was pruned.

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    fn db(&self) -> PathBuf {
        self.dir.path().join("t.db")
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("ivcrush").expect("binary");
        c.current_dir(self.dir.path())
            .env("DATABASE_URL", format!("sqlite://{}", self.db().display()))
            .env("IVCRUSH_AS_OF", "2026-02-02")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("runs")
    }
    /// Runs `args`, which must succeed; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }
    fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["db", "status", "--format", "json"])).expect("json")
    }
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

fn rows(status: &Value, table: &str) -> u64 {
    status["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["table"] == table)
        .and_then(|t| t["rows"].as_u64())
        .unwrap_or_else(|| panic!("{table} in {status}"))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `ivcrush health` against `url` says the database is DOWN naming `file`, exits 1, and
/// creates nothing.
fn assert_health_down_without_creating(env: &Env, url: &str, file: &Path) {
    let out = env.run(&["health", "--database-url", url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("database"))
        .unwrap_or_else(|| panic!("a database line in {stdout}"));
    assert!(line.contains("DOWN"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
    assert!(line.contains(&file.display().to_string()), "{line}");
    assert!(stdout.starts_with("overall: DOWN"), "{stdout}");
    assert!(!file.exists(), "health created {}", file.display());

    let out = env.run(&["health", "--database-url", url, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["status"], "DOWN", "{report}");
    assert!(!file.exists());
}

#[test]
fn health_reports_a_missing_database_down_and_creates_nothing() {
    let env = Env::new();
    assert_health_down_without_creating(
        &env,
        "sqlite:///nonexistent/x.db",
        Path::new("/nonexistent/x.db"),
    );
    assert!(!Path::new("/nonexistent").exists());
    let missing = env.path("missing.db");
    assert_health_down_without_creating(&env, &format!("sqlite://{}", missing.display()), &missing);
    assert!(env.files().is_empty(), "{:?}", env.files());
}

#[test]
fn db_status_and_prune_never_create_a_database() {
    let env = Env::new();
    for args in [
        &["db", "status"][..],
        &["db", "prune", "--older-than", "30"][..],
        &["db", "backup", "--to", "b.db"][..],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("does not exist"), "{args:?}: {err}");
        assert!(err.contains("t.db"), "{args:?}: {err}");
    }
    assert!(env.files().is_empty(), "{:?}", env.files());
}

#[test]
fn migrate_creates_and_migrates_then_finds_nothing_to_do() {
    let env = Env::new();
    let first = env.ok(&["db", "migrate"]);
    assert!(first.contains("applied 5 migration(s)"), "{first}");
    assert!(first.contains("0001 init"), "{first}");
    let second = env.ok(&["db", "migrate"]);
    assert!(second.contains("no migration to apply"), "{second}");

    let status = env.status();
    assert_eq!(status["backend"], "sqlite");
    assert_eq!(status["schema_current"], true);
    assert_eq!(
        status["migrations"]["applied"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(
        status["migrations"]["pending"].as_array().map(Vec::len),
        Some(0)
    );
    assert!(
        status["file"]["bytes"].as_u64().is_some_and(|b| b > 0),
        "{status}"
    );
    assert_eq!(rows(&status, "analyses"), 0);

    let text = env.ok(&["db", "status"]);
    assert!(text.contains("5 applied, 0 pending (current)"), "{text}");
    assert!(text.contains("earnings_events"), "{text}");

    let health = env.ok(&["health"]);
    assert!(health.contains("schema current (5 migrations)"), "{health}");
}

#[test]
fn status_redacts_a_password_in_the_url() {
    let env = Env::new();
    // Nothing listens on port 1: the error names the server, never the password.
    let out = env.run(&[
        "db",
        "status",
        "--database-url",
        "postgres://ivcrush:s3cret-pw@127.0.0.1:1/ivcrush",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(!err.contains("s3cret-pw"), "{err}");
    assert!(err.contains("ivcrush:***@127.0.0.1:1"), "{err}");
}

#[test]
fn backup_prune_restore_gives_back_the_pruned_rows() {
    let env = Env::new();
    env.ok(&["scan", "-q", "--format", "json"]);
    let scanned = env.status();
    let analyses = rows(&scanned, "analyses");
    assert!(analyses > 0, "{scanned}");
    let events = rows(&scanned, "earnings_events");
    let bars = rows(&scanned, "daily_bars");

    let out = env.ok(&["db", "backup", "--to", "b.db"]);
    assert!(out.contains("backed up"), "{out}");
    let again = env.run(&["db", "backup", "--to", "b.db"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    env.ok(&["db", "backup", "--to", "b.db", "--force"]);

    let dry = env.ok(&["db", "prune", "--older-than", "0", "--dry-run"]);
    assert!(dry.contains("dry run: nothing was deleted"), "{dry}");
    assert!(
        dry.lines().any(|l| l.trim_start().starts_with("analyses")
            && l.trim_end().ends_with(&format!(" {analyses}"))),
        "{dry}"
    );
    assert_eq!(rows(&env.status(), "analyses"), analyses);

    let pruned = env.ok(&["db", "prune", "--older-than", "0"]);
    assert!(pruned.contains("kept: earnings events"), "{pruned}");
    let after = env.status();
    assert_eq!(rows(&after, "analyses"), 0);
    assert_eq!(rows(&after, "earnings_events"), events);
    assert_eq!(rows(&after, "daily_bars"), bars);

    let restored = env.ok(&["db", "restore", "--from", "b.db"]);
    assert!(restored.contains("previous database kept as"), "{restored}");
    let back = env.status();
    assert_eq!(rows(&back, "analyses"), analyses);
    assert_eq!(back["schema_current"], true);
    let baks: Vec<String> = env
        .files()
        .into_iter()
        .filter(|f| is_backup_copy(f))
        .collect();
    assert_eq!(baks.len(), 1, "{:?}", env.files());
    assert!(
        !env.files().iter().any(|f| f.ends_with(".tmp")),
        "{:?}",
        env.files()
    );
    // The kept file is the pruned database.
    let bak_url = format!("sqlite://{}", env.path(&baks[0]).display());
    let kept: Value = serde_json::from_str(&env.ok(&[
        "db",
        "status",
        "--format",
        "json",
        "--database-url",
        &bak_url,
    ]))
    .expect("json");
    assert_eq!(rows(&kept, "analyses"), 0);
    // The restored database works for the next run.
    let health = env.run(&["health"]);
    assert_eq!(health.status.code(), Some(0), "{}", stderr(&health));

    // --no-keep replaces without a copy.
    env.ok(&["db", "restore", "--from", "b.db", "--no-keep"]);
    assert_eq!(env.files().iter().filter(|f| is_backup_copy(f)).count(), 1);
}

#[test]
fn restore_refuses_what_is_not_an_ivcrush_database_and_keeps_the_database() {
    let env = Env::new();
    env.ok(&["db", "migrate"]);
    let before = std::fs::read(env.db()).expect("db");
    std::fs::write(env.path("junk.db"), b"this is not a database").expect("write");
    let out = env.run(&["db", "restore", "--from", "junk.db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a usable ivcrush database"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["db", "restore", "--from", "absent.db"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert_eq!(std::fs::read(env.db()).expect("db"), before);
    let files: Vec<String> = env
        .files()
        .into_iter()
        // SQLite's own files, and the empty lock file that keeps migrations one at a time.
        .filter(|f| !f.ends_with("-wal") && !f.ends_with("-shm") && !f.ends_with(".migrate.lock"))
        .collect();
    assert_eq!(files, vec!["junk.db", "t.db"]);
}

#[test]
fn restore_refuses_while_another_process_has_the_database_open() {
    let env = Env::new();
    env.ok(&["db", "migrate"]);
    env.ok(&["db", "backup", "--to", "b.db"]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = format!("sqlite://{}", env.db().display());
    let store = runtime
        .block_on(ivcrush_store::SqliteStore::open(&url))
        .expect("open");
    // A read leaves an idle pooled connection, as a running `serve` has.
    runtime
        .block_on(ivcrush_store::Store::tickers(&store))
        .expect("read");
    let out = env.run(&["db", "restore", "--from", "b.db"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains("stop the processes"), "{err}");
    runtime.block_on(store.close());
    env.ok(&["db", "restore", "--from", "b.db"]);
}

#[test]
fn backup_and_restore_refuse_postgres_pointing_to_its_tools() {
    let env = Env::new();
    let url = "postgres://ivcrush@127.0.0.1:1/ivcrush";
    let out = env.run(&["db", "backup", "--to", "b.db", "--database-url", url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pg_dump"), "{}", stderr(&out));
    let out = env.run(&["db", "restore", "--from", "b.db", "--database-url", url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pg_restore"), "{}", stderr(&out));
    assert!(env.files().is_empty());
}

/// A kept copy of the database (`t.db.bak-<time>`), not the WAL or shared-memory file a
/// command that opened that copy leaves beside it.
fn is_backup_copy(name: &str) -> bool {
    name.starts_with("t.db.bak-") && !name.ends_with("-wal") && !name.ends_with("-shm")
}

#[test]
fn processes_opening_a_new_sqlite_file_together_migrate_it_once() {
    // Found with two `serve` instances started at once on one new file: both applied the
    // first migration, and one failed with "table tickers already exists".
    let env = Env::new();
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.cmd()
                .args(["db", "migrate"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("ends");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(env.status()["migrations"]["pending"], serde_json::json!([]));
}

#[test]
fn serve_applies_the_retention_to_stored_analyses_and_keeps_the_history() {
    use ivcrush_store::sqlx::{self, Connection};
    use std::io::BufRead;
    let env = Env::new();
    env.run(&["scan", "--format", "json"]);
    let stored = rows(&env.status(), "analyses");
    assert!(stored >= 2, "the scan stored rows");
    // Every row but the last is made a year old.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let url = format!("sqlite://{}", env.db().display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("opens");
        sqlx::query(
            "UPDATE analyses SET created_at = '2025-11-01T00:00:00Z' \
             WHERE id < (SELECT MAX(id) FROM analyses)",
        )
        .execute(&mut conn)
        .await
        .expect("ages the row");
    });
    std::fs::write(
        env.path("ivcrush.toml"),
        "[server]\nretention_days = 30\nscan_on_start = false\n",
    )
    .expect("config");
    let mut serve = crate::support::Running(
        env.cmd()
            .args(["serve", "--bind", "127.0.0.1:0", "--no-scheduler"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("serve starts"),
    );
    let stderr = serve.0.stderr.take().expect("stderr");
    let line = std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("retention"))
        .expect("serve reports the retention run");
    assert!(line.contains(&format!("analyses={}", stored - 1)), "{line}");
    drop(serve);
    let status = env.status();
    assert_eq!(rows(&status, "analyses"), 1, "the recent row stays");
    assert!(
        rows(&status, "historical_moves") > 0,
        "history is never deleted"
    );
}
