//! Secrets never leak: with the vendor keys, the API key and a database password set to unique
//! markers, every command and every HTTP route (errors included) at trace level in JSON, the
//! stored rows, `/metrics` and the dashboard are searched for the markers, and so are the
//! streaming ticker's log, `/metrics` page and Redis rows. The vendor keys are really used (a
//! local mock vendor expects them, for the ticker's streaming session too), so a leak through a
//! logged request would be caught.

use assert_cmd::cargo::CommandCargoExt;
use ivcrush_mockvendor::{MockConfig, MockVendor};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Both vendors' key (the mock vendor expects one key for both).
const VENDOR_KEY: &str = "MARKERvendorKEY7c1e9a";
const API_KEY: &str = "MARKERapiKEYserve0123456789";
const ADMIN_KEY: &str = "MARKERadminKEYserve0123456789";
const PG_PASSWORD: &str = "MARKERpgPASSWORD55f";

fn markers() -> [&'static str; 4] {
    [VENDOR_KEY, API_KEY, ADMIN_KEY, PG_PASSWORD]
}

/// Flattens a Redis reply into its text (bulk strings as UTF-8, lossy).
fn redis_text(value: &redis::Value, out: &mut String) {
    match value {
        redis::Value::BulkString(bytes) => out.push_str(&String::from_utf8_lossy(bytes)),
        redis::Value::SimpleString(text) => out.push_str(text),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            for item in items {
                redis_text(item, out);
                out.push(' ');
            }
        }
        redis::Value::Map(pairs) => {
            for (k, v) in pairs {
                redis_text(k, out);
                out.push('=');
                redis_text(v, out);
                out.push(' ');
            }
        }
        other => out.push_str(&format!("{other:?}")),
    }
}

/// Every key under `prefix` with its content (hashes, the stream, strings), then deletes them.
/// `None` when Redis cannot be reached.
fn redis_rows(url: &str, prefix: &str) -> Option<Vec<(String, String)>> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_connection().ok()?;
    // KEYS is fine on a test server; the prefix holds no glob characters.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .ok()?;
    let mut rows = Vec::new();
    for key in &keys {
        let kind: String = redis::cmd("TYPE").arg(key).query(&mut conn).ok()?;
        let read = match kind.as_str() {
            "hash" => redis::cmd("HGETALL").arg(key).clone(),
            "stream" => redis::cmd("XRANGE").arg(key).arg("-").arg("+").clone(),
            "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).clone(),
            "set" => redis::cmd("SMEMBERS").arg(key).clone(),
            "zset" => redis::cmd("ZRANGE")
                .arg(key)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES")
                .clone(),
            _ => redis::cmd("GET").arg(key).clone(),
        };
        let value: redis::Value = read.query(&mut conn).ok()?;
        let mut text = String::new();
        redis_text(&value, &mut text);
        rows.push((format!("Redis {kind} {key}"), text));
    }
    for key in &keys {
        let _: Result<(), _> = redis::cmd("DEL").arg(key).query(&mut conn);
    }
    Some(rows)
}

/// Runs `ivcrush ticker --feed tradier` against the mock vendor's REST and websocket
/// endpoints for a few seconds with `--log-format json`; adds its stdout, its log, its
/// `/metrics` page and its Redis rows to `written`. Checks from the ticker's own final summary
/// that quotes really arrived, so the search cannot pass on an idle ticker.
fn ticker(written: &mut Written, mock: &MockVendor, symbol: &str, mut command: Command) {
    let redis_set = std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    // Without REDIS_URL the publisher fails against the default; the logs are the point.
    let redis_url = redis_set
        .clone()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!("ivcrushsecrets{}:", std::process::id());
    let (base, ws) = (mock.base_url(), mock.ws_url());
    let args = [
        "ticker",
        "--feed",
        "tradier",
        "--symbols",
        symbol,
        "--tradier-base-url",
        &base,
        "--tradier-ws-url",
        &ws,
        "--redis",
        &redis_url,
        "--key-prefix",
        &prefix,
        "--metrics-bind",
        "127.0.0.1:0",
        "--duration",
        "4s",
        "--log-format",
        "json",
    ];
    let mut child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ticker starts");
    let stdout = child.stdout.take().expect("stdout");
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut text);
        text
    });
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
            lines.push(line);
        }
        lines
    });
    // The /metrics address, then the subscription, then the page once updates were published
    // (at most 3 s: without Redis nothing is).
    let mut metrics_addr = None;
    let mut subscribed = false;
    while !(subscribed && metrics_addr.is_some()) {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) else {
            break; // exited or silent: the summary check below says why
        };
        match line["message"].as_str() {
            Some("serving /metrics and /health") => {
                metrics_addr = line["addr"].as_str().map(str::to_owned);
            }
            Some("tradier stream subscribed") => subscribed = true,
            _ => {}
        }
    }
    if let Some(addr) = &metrics_addr {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let published = |page: &str| {
            page.lines()
                .any(|l| l.starts_with("ivcrush_ticker_published_total"))
        };
        let mut page = get(addr, "GET", "/metrics", None);
        while !published(&page) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            page = get(addr, "GET", "/metrics", None);
        }
        written.add("the ticker's /metrics", page);
        written.add(
            "the ticker's /health/ready",
            get(addr, "GET", "/health/ready", None),
        );
    }
    let status = child.wait().expect("ticker exits");
    let log = reader.join().unwrap_or_default();
    written.add(
        format!("stdout of {args:?}"),
        stdout.join().unwrap_or_default(),
    );
    written.add(format!("stderr of {args:?}"), log.join("\n"));
    let summary = log
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "ticker stopped");
    let count = |name: &str| summary.as_ref().and_then(|s| s[name].as_u64()).unwrap_or(0);
    let tail = || log[log.len().saturating_sub(20)..].join("\n");
    assert!(status.success(), "the ticker ran: {status}\n{}", tail());
    assert!(
        metrics_addr.is_some() && subscribed,
        "the ticker served /metrics and subscribed:\n{}",
        tail()
    );
    assert!(
        count("ingested") > 0,
        "the ticker received quotes from the mock: {summary:?}\n{}",
        tail()
    );
    assert!(mock.stream_events() > 0 && !mock.stream_sessions().is_empty());
    match redis_rows(&redis_url, &prefix) {
        Some(rows) => {
            if redis_set.is_some() {
                assert!(count("published") > 0, "published to Redis: {summary:?}");
                assert!(
                    rows.iter()
                        .any(|(k, _)| k.ends_with(&format!("last:{symbol}"))),
                    "the ticker wrote {prefix}last:{symbol}: {:?}",
                    rows.iter().map(|(k, _)| k).collect::<Vec<_>>()
                );
            }
            for (what, text) in rows {
                written.add(what, text);
            }
        }
        None => assert!(redis_set.is_none(), "REDIS_URL is set but unreachable"),
    }
}

/// Everything a run wrote that a person or a log pipeline could read.
#[derive(Default)]
struct Written(Vec<(String, String)>);

impl Written {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.0.push((what.into(), text.into()));
    }
    fn assert_clean(&self) {
        for (what, text) in &self.0 {
            for m in markers() {
                assert!(
                    !text.contains(m),
                    "{m} leaked in {what}: …{}…",
                    text.find(m)
                        .map(|i| &text[i.saturating_sub(120)..(i + m.len() + 40).min(text.len())])
                        .unwrap_or_default()
                );
            }
        }
    }
}

use crate::support::http as get;

#[test]
fn no_secret_appears_in_any_output_log_row_or_page() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let today = ivcrush_app::today_new_york();
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            expected_api_key: Some(VENDOR_KEY.into()),
            ..MockConfig::new(42, today)
        }))
        .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\n\
             [tradier]\nbase_url = \"{base}\"\n\
             [tradier.resilience]\nrate_limits = [{{ limit = 100, window_ms = 1000 }}]\n\
             [alphavantage]\nbase_url = \"{base}\"\n\
             [alphavantage.resilience]\nrate_limits = []\n\
             [server]\nbind = \"127.0.0.1:0\"\nscheduler = false\nscan_on_start = false\n",
            base = mock.base_url()
        ),
    )
    .expect("config");
    let database_url = format!("sqlite://{}", dir.path().join("t.db").display());
    let ivcrush = || {
        let mut c = Command::cargo_bin("ivcrush").expect("binary");
        c.current_dir(dir.path())
            .env("DATABASE_URL", &database_url)
            // Tradier's travels in a header, Alpha Vantage's as a query parameter.
            .env("TRADIER_API_KEY", VENDOR_KEY)
            .env("ALPHAVANTAGE_API_KEY", VENDOR_KEY)
            .env("IVCRUSH_API_KEYS", API_KEY)
            .env("IVCRUSH_ADMIN_KEYS", ADMIN_KEY)
            .env("RUST_LOG", "trace")
            .env_remove("IVCRUSH_PROVIDER");
        c
    };
    let mut written = Written::default();
    let run = |written: &mut Written, env: &[(&str, &str)], args: &[&str]| {
        let out = ivcrush()
            .envs(env.iter().copied())
            .args(args)
            .args(["--log-format", "json"])
            .output()
            .expect("runs");
        written.add(
            format!("stdout of {args:?} {env:?}"),
            String::from_utf8_lossy(&out.stdout),
        );
        written.add(
            format!("stderr of {args:?} {env:?}"),
            String::from_utf8_lossy(&out.stderr),
        );
        out
    };
    let symbol = mock.symbols().into_iter().next().expect("a symbol");
    let w = &mut written;
    run(w, &[], &["config", "show"]);
    run(w, &[], &["config", "check"]);
    // A database password: the commands that only read the configuration, and one that fails
    // to connect with it (nothing listens on port 1).
    let pg = format!("postgres://ivcrush:{PG_PASSWORD}@127.0.0.1:1/ivcrush");
    for args in [
        &["config", "show"][..],
        &["config", "check"],
        &["db", "status"],
    ] {
        run(w, &[("DATABASE_URL", pg.as_str())], args);
    }
    run(w, &[], &["health"]);
    let scan = run(w, &[], &["scan", "--days", "14", "--format", "json"]);
    assert!(
        matches!(scan.status.code(), Some(0 | 3)),
        "the scan ran: {}",
        String::from_utf8_lossy(&scan.stderr)
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("WARN"))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    run(w, &[], &["analyze", &symbol, "--format", "json"]);
    run(w, &[], &["analyze", "ZZZZZZ"]);
    run(w, &[], &["history", &symbol, "--format", "json"]);
    run(w, &[], &["calendar", "sync", "--days", "14"]);
    run(w, &[], &["db", "status", "--format", "json"]);

    // The service: every route, with the key, without it, and with a wrong one.
    let mut child = ivcrush()
        .args(["serve", "--log-format", "json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            lines.push(line);
        }
        lines
    });
    let addr = loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("serve logs its address");
        if let Some(rest) = line.split("\"address\":\"").nth(1) {
            break rest.split('"').next().unwrap_or_default().to_owned();
        }
    };
    let wrong = "MARKERnotTHEkeyButLongEnough";
    for (method, path) in [
        ("GET", "/".to_string()),
        ("GET", "/assets/app.js".to_string()),
        ("GET", "/health/live".to_string()),
        ("GET", "/health/ready".to_string()),
        ("GET", "/metrics".to_string()),
        ("GET", "/api/v1/openapi.json".to_string()),
        ("GET", "/api/v1/scan".to_string()),
        ("GET", format!("/api/v1/analyze/{symbol}")),
        ("GET", "/api/v1/analyze/ZZZZZZ".to_string()),
        ("GET", "/api/v1/calendar".to_string()),
        ("GET", format!("/api/v1/history/{symbol}")),
        ("GET", "/api/v1/breakers".to_string()),
        ("POST", "/api/v1/breakers/nope/reset".to_string()),
        ("GET", "/api/v1/nothing".to_string()),
        ("GET", format!("/?key={API_KEY}")),
    ] {
        for key in [Some(API_KEY), Some(ADMIN_KEY), None, Some(wrong)] {
            written.add(format!("{method} {path}"), get(&addr, method, &path, key));
        }
    }
    // The dashboard's login: the session cookie is a MAC, never the key.
    for key in [API_KEY, ADMIN_KEY, wrong] {
        use std::io::{Read, Write};
        let body = format!("key={key}");
        let mut conn = std::net::TcpStream::connect(&addr).expect("connects");
        write!(
            conn,
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("request");
        let mut answer = String::new();
        let _ = conn.read_to_string(&mut answer);
        written.add("POST /login", answer);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    written.add("serve's log", reader.join().unwrap_or_default().join("\n"));

    // The streaming ticker, for real: Tradier streaming against the mock (the chain discovery
    // and the session POST carry the key), its trace-level log, its /metrics page and the rows
    // it wrote to Redis.
    ticker(&mut written, &mock, &symbol, ivcrush());

    // The stored rows: the SQLite file's bytes (PostgreSQL rows are read through the CLI above).
    let db = dir.path().join("t.db");
    if db.exists() {
        let bytes = std::fs::read(&db).expect("database file");
        written.add("the database file", String::from_utf8_lossy(&bytes));
    }
    // Anything else the runs left in the directory (WAL, files written by commands).
    for entry in std::fs::read_dir(dir.path()).expect("dir").flatten() {
        let path = entry.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "ivcrush.toml") {
            let bytes = std::fs::read(&path).unwrap_or_default();
            written.add(path.display().to_string(), String::from_utf8_lossy(&bytes));
        }
    }
    let total: usize = written.0.iter().map(|(_, t)| t.len()).sum();
    assert!(
        total > 100_000,
        "the runs wrote something to search: {total} bytes"
    );
    written.assert_clean();
    // The wrong key reached the access log at most as a refusal, never echoed: covered above.
}
