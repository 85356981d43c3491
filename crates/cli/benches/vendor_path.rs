//! Benchmark (not a test): one ticker's analysis through the real Tradier and Alpha Vantage
//! clients against the local mock vendor.
//!
//! 1. `ivcrush analyze` as a user runs it (release binary, fresh SQLite file): cold and warm
//!    wall time with no vendor latency, then cold with 100 ms on every answer (independent
//!    requests go out together, so a cold analysis costs about two round trips plus the
//!    backfill's).
//! 2. Flaky vendors at production timing: independent faults on every attempt (30 % 503,
//!    10 % 429 asking for 1 s, 5 % hangs cut at the endpoint's attempt timeout), cold analyses
//!    in process with the production pipelines (only the quota is lifted, so that the figures
//!    measure flakiness, not the 120-per-minute window): right answers, p50 and max wall time.
//!
//! Run: `cargo bench -p ivcrush-cli --bench vendor_path` (about 10 minutes; `CHAOS_RUNS=20` for
//! a quicker run).

use chrono::NaiveDate;
use ivcrush_app::{AnalyzeOptions, App, AppConfig, ProviderKind};
use ivcrush_mockvendor::{Faults, MockConfig, MockVendor};
use ivcrush_resilience::WindowConfig;
use std::process::Command;
use std::time::{Duration, Instant};

const SEED: u64 = 42;

fn config_file(dir: &tempfile::TempDir, mock: &MockVendor) {
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\n[tradier]\nbase_url = \"{b}\"\n[alphavantage]\nbase_url = \"{b}\"\n\
             [alphavantage.resilience]\nrate_limits = []\n",
            b = mock.base_url()
        ),
    )
    .expect("config");
}

/// One `ivcrush analyze` run: wall seconds and whether it succeeded.
fn analyze_cli(dir: &tempfile::TempDir, db: &str, ticker: &str) -> (f64, bool, String) {
    let t0 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ivcrush"))
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join(db).display()),
        )
        .env("TRADIER_API_KEY", "bench-key")
        .env("ALPHAVANTAGE_API_KEY", "bench-key")
        .env_remove("RUST_LOG")
        .args(["analyze", ticker, "--format", "json"])
        .output()
        .expect("analyze runs");
    (
        t0.elapsed().as_secs_f64(),
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn summary(mut secs: Vec<f64>) -> String {
    secs.sort_by(f64::total_cmp);
    let n = secs.len();
    format!(
        "median {:.3} s, min {:.3} s, max {:.3} s over {n} runs",
        secs[n / 2],
        secs[0],
        secs[n - 1]
    )
}

/// A liquid ticker with a report in the next weeks, as of `day`.
fn pick_ticker(rt: &tokio::runtime::Runtime, day: NaiveDate) -> String {
    use ivcrush_market::EarningsCalendar;
    let sim = ivcrush_market::sim::SimMarket::new(SEED, day);
    let cal = rt
        .block_on(sim.calendar(
            day + chrono::Duration::days(2),
            day + chrono::Duration::days(60),
        ))
        .expect("sim calendar");
    let liquid: Vec<String> = ivcrush_market::sim::universe::universe()
        .into_iter()
        .take(20)
        .map(|p| p.symbol.to_owned())
        .collect();
    cal.iter()
        .find(|r| liquid.contains(&r.ticker))
        .map(|r| r.ticker.clone())
        .expect("a liquid ticker reports soon")
}

fn cli_runs(rt: &tokio::runtime::Runtime, today: NaiveDate, ticker: &str, latency: Duration) {
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            latency,
            ..MockConfig::new(SEED, today)
        }))
        .expect("mock starts");
    let dir = tempfile::tempdir().expect("temp dir");
    config_file(&dir, &mock);
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for i in 0..7 {
        let db = format!("cold-{i}.db");
        let (secs, ok, err) = analyze_cli(&dir, &db, ticker);
        assert!(ok, "cold analyze failed: {err}");
        cold.push(secs);
        let (secs, ok, err) = analyze_cli(&dir, &db, ticker);
        assert!(ok, "warm analyze failed: {err}");
        warm.push(secs);
    }
    let requests = mock.requests() as f64 / 7.0;
    println!(
        "analyze {ticker}, vendor latency {latency:?}: cold {}; warm {}; {requests:.1} vendor \
         requests per cold+warm pair",
        summary(cold),
        summary(warm)
    );
}

fn chaos(
    rt: &tokio::runtime::Runtime,
    day: NaiveDate,
    ticker: &str,
    runs: usize,
    max_chains: Option<usize>,
) {
    let truth_mock = rt
        .block_on(MockVendor::start(MockConfig::new(SEED, day)))
        .expect("mock");
    let as_of = ivcrush_market::sim::SimMarket::new(SEED, day).as_of();
    let open = |mock: &MockVendor, dir: &tempfile::TempDir| {
        let mut c = AppConfig {
            provider: ProviderKind::Tradier,
            database_url: format!("sqlite://{}/t.db", dir.path().display()),
            ..AppConfig::default()
        };
        c.tradier.base_url = mock.base_url();
        c.tradier.api_key = "bench-key".into();
        c.alphavantage.base_url = mock.base_url();
        c.alphavantage.api_key = "bench-key".into();
        // Production pipelines; only the quotas are lifted (see the module docs).
        let unlimited = vec![WindowConfig::fixed(
            1_000_000,
            Duration::from_secs(60),
            Duration::from_secs(1),
        )];
        c.tradier.resilience.rate_limits = unlimited.clone();
        c.alphavantage.resilience.rate_limits = unlimited;
        rt.block_on(App::open(c))
            .expect("app")
            .with_clock(move || as_of)
    };
    let strip = |r: ivcrush_app::AnalysisRecord| {
        let mut v = serde_json::to_value(&r.analysis).expect("json");
        if let Some(o) = v.as_object_mut() {
            o.remove("data_quality");
        }
        v
    };
    let opts = AnalyzeOptions {
        max_chains,
        ..AnalyzeOptions::default()
    };
    let dir = tempfile::tempdir().expect("dir");
    let truth = strip(
        rt.block_on(open(&truth_mock, &dir).analyzer().analyze(ticker, &opts))
            .expect("fault-free analysis"),
    );
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            faults: Some(Faults {
                server_error: 0.30,
                rate_limited: 0.10,
                hang: 0.05,
                hang_for: Duration::from_secs(3600),
                retry_after: Duration::from_secs(1),
                ..Faults::new(7)
            }),
            faults_on_alphavantage: true,
            ..MockConfig::new(SEED, day)
        }))
        .expect("mock");
    let mut secs = Vec::new();
    let (mut right, mut wrong, mut errors) = (0, 0, Vec::new());
    for _ in 0..runs {
        let dir = tempfile::tempdir().expect("dir");
        let app = open(&mock, &dir);
        let t0 = Instant::now();
        let r = rt.block_on(app.analyzer().analyze(ticker, &opts));
        secs.push(t0.elapsed().as_secs_f64());
        match r {
            Ok(r) if strip(r.clone()) == truth => right += 1,
            Ok(_) => wrong += 1,
            Err(e) => errors.push(e.to_string()),
        }
    }
    println!(
        "chaos (30 % 503, 10 % 429 for 1 s, 5 % hangs; production timeouts; chains: {}): \
         {right}/{runs} right, {wrong} wrong, {} errors {errors:?}; {}; {} requests, faults {:?}",
        max_chains.map_or("the whole term structure".to_owned(), |n| format!("{n}")),
        errors.len(),
        summary(secs),
        mock.requests(),
        mock.faults_injected()
    );
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let today = ivcrush_app::today_new_york();
    let ticker = pick_ticker(&rt, today);
    cli_runs(&rt, today, &ticker, Duration::ZERO);
    cli_runs(&rt, today, &ticker, Duration::from_millis(100));
    let runs = std::env::var("CHAOS_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    // As a scan on a live vendor fetches (2 chains), then as `analyze` does (every expiry the
    // term-structure fit wants, typically 6–7).
    chaos(&rt, day, "IONQ", runs, Some(2));
    chaos(&rt, day, "IONQ", runs, None);
}
