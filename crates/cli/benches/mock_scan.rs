//! Benchmark (not a test): `ivcrush scan` of 200 tickers through the real Tradier and Alpha
//! Vantage clients against a local mock that enforces Tradier's quota (120 requests per minute,
//! fixed window, 429 beyond) and adds 20 ms of latency to every answer.
//!
//! Prints the wall time, Tradier requests per ticker, 429s received, and the share of the quota
//! used while the scan ran; then a second (warm) scan. Run:
//! `cargo bench -p ivcrush-cli --bench mock_scan` (about seven minutes).

use ivcrush_mockvendor::{MockConfig, MockVendor};
use std::process::Command;
use std::time::{Duration, Instant};

const TICKERS: usize = 200;
const QUOTA: u32 = 120;

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let today = ivcrush_app::today_new_york();
    let mock = rt
        .block_on(MockVendor::start(MockConfig {
            latency: Duration::from_millis(20),
            rate_limit: Some((QUOTA, Duration::from_secs(60))),
            ticker_aliases: TICKERS,
            expected_api_key: Some("bench-key".into()),
            ..MockConfig::new(42, today)
        }))
        .expect("mock starts");
    let symbols = mock.symbols();
    assert_eq!(symbols.len(), TICKERS);
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("ivcrush.toml"),
        format!(
            "provider = \"tradier\"\n[tradier]\nbase_url = \"{b}\"\n[alphavantage]\nbase_url = \"{b}\"\n\
             [alphavantage.resilience]\nrate_limits = []\n",
            b = mock.base_url()
        ),
    )
    .expect("config");
    let list = symbols.join(",");
    for run in ["cold", "warm"] {
        let before = mock.requests_by_path();
        let limited_before = mock.rate_limited();
        let t0 = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_ivcrush"))
            .current_dir(dir.path())
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.path().join("b.db").display()),
            )
            .env("TRADIER_API_KEY", "bench-key")
            .env("ALPHAVANTAGE_API_KEY", "bench-key")
            .args([
                "scan",
                "--tickers",
                &list,
                "--days",
                "95",
                "--format",
                "json",
                "--quiet",
            ])
            .output()
            .expect("scan runs");
        let secs = t0.elapsed().as_secs_f64();
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let failed: Vec<String> = rows
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some(format!("{}: {}", r["ticker"], r.get("error")?.as_str()?)))
            .collect();
        let rows = rows.as_array().map_or(0, Vec::len);
        let after = mock.requests_by_path();
        let delta =
            |p: &str| after.get(p).copied().unwrap_or(0) - before.get(p).copied().unwrap_or(0);
        let tradier: u64 = after
            .keys()
            .filter(|p| p.starts_with("/v1/"))
            .map(|p| delta(p))
            .sum();
        let av = delta("/query");
        let quota_used = tradier as f64 / (f64::from(QUOTA) * secs / 60.0);
        println!(
            "{run}: {rows} rows (exit {:?}) in {secs:.1} s; Tradier {tradier} requests = {:.2}/ticker \
             (quotes {}, expirations {}, chains {}, history {}); Alpha Vantage {av}; 429s {}; \
             quota use {:.1} %",
            out.status.code(),
            tradier as f64 / TICKERS as f64,
            delta("/v1/markets/quotes"),
            delta("/v1/markets/options/expirations"),
            delta("/v1/markets/options/chains"),
            delta("/v1/markets/history"),
            mock.rate_limited() - limited_before,
            quota_used * 100.0,
        );
        println!(
            "{run}: {} rows failed; first: {:?}",
            failed.len(),
            failed.iter().take(5).collect::<Vec<_>>()
        );
    }
}
