//! The real vendor client path through the CLI: `scan --provider tradier` against a local mock
//! Tradier + Alpha Vantage (the vendors' wire formats, data from the simulated
//! market), not the simulator itself.

use assert_cmd::cargo::CommandCargoExt;
use ivcrush_mockvendor::{MockConfig, MockVendor};
use serde_json::Value;
use std::process::Command;

#[test]
fn scan_through_the_tradier_and_alpha_vantage_clients_works_end_to_end() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // The live providers use the wall clock: serve the simulated market as of today.
    let today = ivcrush_app::today_new_york();
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            expected_api_key: Some("test-key".into()),
            ..MockConfig::new(42, today)
        }))
        .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\n\
             [tradier]\nbase_url = \"{base}\"\n\
             # a generous quota keeps the test fast; the default 120/min is tested elsewhere\n\
             [tradier.resilience]\nrate_limits = [{{ limit = 100, window_ms = 1000 }}]\n\
             [alphavantage]\nbase_url = \"{base}\"\n\
             # a premium plan: no 5/min cap in this test\n\
             [alphavantage.resilience]\nrate_limits = []\n",
            base = mock.base_url()
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        Command::cargo_bin("ivcrush")
            .expect("binary")
            .current_dir(dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("t.db").display()),
            )
            .env("TRADIER_API_KEY", "test-key")
            .env("ALPHAVANTAGE_API_KEY", "test-key")
            .env_remove("IVCRUSH_PROVIDER")
            .env_remove("RUST_LOG")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = run(&["scan", "--days", "14", "--format", "json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "{stderr}");
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = rows.as_array().expect("array");
    let analysed: Vec<&Value> = rows.iter().filter(|r| r["score"].is_number()).collect();
    assert!(!analysed.is_empty(), "some rows analysed: {stderr}");
    for r in &analysed {
        assert_eq!(r["data"]["source"], "tradier");
        assert!(
            r["implied_move"]["straddle_pct"]
                .as_f64()
                .is_some_and(|x| x > 0.0)
        );
        assert!(r["historical"]["count"].as_u64().is_some_and(|n| n >= 4));
    }
    let by_path = mock.requests_by_path();
    eprintln!(
        "{} rows, {} analysed; requests by path: {by_path:?}",
        rows.len(),
        analysed.len()
    );
    for path in [
        "/v1/markets/options/chains",
        "/v1/markets/options/expirations",
        "/v1/markets/history",
        "/query",
    ] {
        assert!(
            by_path.get(path).copied().unwrap_or(0) > 0,
            "{path} was called: {by_path:?}"
        );
    }
    // Quotes were batched: one request for the whole window.
    assert_eq!(
        by_path.get("/v1/markets/quotes").copied().unwrap_or(0),
        1,
        "{by_path:?}"
    );

    // A second scan the same day: expirations, chains (within their TTL), calendar and history
    // come from the cache and the store; only the batched quote request goes out.
    let before = mock.requests();
    let again = run(&["scan", "--days", "14", "--format", "json"]);
    assert!(matches!(again.status.code(), Some(0) | Some(3)));
    assert!(again.stdout.len() > 2);
    assert_eq!(mock.requests() - before, 1, "{:?}", mock.requests_by_path());

    // A wrong key is a clear, key-free error.
    let bad = Command::cargo_bin("ivcrush")
        .expect("binary")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("u.db").display()),
        )
        .env("TRADIER_API_KEY", "wrong-secret")
        .env("ALPHAVANTAGE_API_KEY", "test-key")
        .args(["analyze", analysed[0]["ticker"].as_str().expect("ticker")])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(1));
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        e.contains("not authorised") && !e.contains("wrong-secret"),
        "{e}"
    );
    drop(mock);
}

#[test]
fn tradier_with_a_files_calendar_needs_no_alpha_vantage() {
    use ivcrush_market::EarningsCalendar;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let today = ivcrush_app::today_new_york();
    let mock = rt
        .block_on(MockVendor::start(MockConfig::new(42, today)))
        .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    // The calendar vendor by configuration: every simulated report date in a CSV file.
    let sim = ivcrush_market::sim::SimMarket::new(42, today);
    let cal = rt
        .block_on(sim.calendar(
            today - chrono::Duration::days(4 * 365),
            today + chrono::Duration::days(30),
        ))
        .expect("sim calendar");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let mut csv = String::from("ticker,date,timing\n");
    for r in &cal {
        csv += &format!(
            "{},{},{}\n",
            r.ticker,
            r.event.date,
            r.event.timing.as_str()
        );
    }
    std::fs::write(data.join("calendar.csv"), csv).expect("calendar.csv");
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\ncalendar_provider = \"files\"\n\
             [files]\ndir = \"{}\"\n\
             [tradier]\nbase_url = \"{}\"\n\
             [tradier.resilience]\nrate_limits = [{{ limit = 100, window_ms = 1000 }}]\n",
            data.display(),
            mock.base_url()
        ),
    )
    .expect("config");
    let out = Command::cargo_bin("ivcrush")
        .expect("binary")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .env("TRADIER_API_KEY", "test-key")
        .env_remove("ALPHAVANTAGE_API_KEY")
        .env_remove("IVCRUSH_PROVIDER")
        .args(["scan", "--days", "14", "--format", "json"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "{stderr}");
    let rows: Value = serde_json::from_slice(&out.stdout).expect("json");
    let analysed = rows
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| r["score"].is_number())
        .count();
    assert!(analysed > 0, "{stderr}");
    assert_eq!(
        mock.requests_by_path().get("/query"),
        None,
        "no Alpha Vantage call"
    );
}

#[test]
fn a_failing_analyze_prints_each_cause_once() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let today = ivcrush_app::today_new_york();
    // Every Tradier answer is a 503.
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            faults: Some(ivcrush_mockvendor::Faults {
                server_error: 1.0,
                ..ivcrush_mockvendor::Faults::new(1)
            }),
            ..MockConfig::new(42, today)
        }))
        .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\n\
             [tradier]\nbase_url = \"{base}\"\n\
             [tradier.resilience]\ndeadline_ms = 1500\n\
             [tradier.resilience.retry]\nbase_ms = 50\ncap_ms = 200\n\
             [tradier.resilience.breaker]\nconsecutive_failures = 1000\n\
             [alphavantage]\nbase_url = \"{base}\"\n\
             [alphavantage.resilience]\nrate_limits = []\n",
            base = mock.base_url()
        ),
    )
    .expect("config");
    let out = Command::cargo_bin("ivcrush")
        .expect("binary")
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("t.db").display()),
        )
        .env("TRADIER_API_KEY", "test-key")
        .env("ALPHAVANTAGE_API_KEY", "test-key")
        .env_remove("IVCRUSH_PROVIDER")
        .env_remove("RUST_LOG")
        .args(["analyze", "IONQ", "--earnings-date", "2099-01-02"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let error_line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {stderr}"));
    assert!(error_line.contains("server error 503"), "{error_line}");
    assert_eq!(
        error_line.matches("server error 503").count(),
        1,
        "each cause once: {error_line}"
    );
    assert!(mock.requests() > 1, "the call was retried");
}
