//! The vendor path end to end, in process: the real Tradier and Alpha Vantage clients against
//! the local mock vendor (`ivcrush-mockvendor`, wire formats served from the simulated market),
//! with the app's clock pinned to the mock's day so that results are deterministic.

mod chaos;
mod dates;
mod gates;
mod history;
mod requests;

use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_app::{AnalysisRecord, AnalyzeOptions, App, AppConfig, AppError, ProviderKind};
use ivcrush_market::sim::SimMarket;
use ivcrush_mockvendor::{MockConfig, MockVendor};

/// The default seed of the simulated market.
pub const SEED: u64 = ivcrush_market::sim::DEFAULT_SEED;

/// Wednesday 2026-11-25: IONQ reports 2026-12-03 before the open (a liquid name).
pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
}

pub const TICKER: &str = "IONQ";

/// The mock's quote time: 15:30 New York of `day` (the simulated market's as-of).
pub fn mock_as_of(day: NaiveDate) -> DateTime<Utc> {
    SimMarket::new(SEED, day).as_of()
}

/// Tradier + Alpha Vantage pointed at `mock`, a SQLite file in `dir`.
pub fn vendor_config(mock: &MockVendor, dir: &tempfile::TempDir) -> AppConfig {
    let mut c = AppConfig {
        provider: ProviderKind::Tradier,
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    };
    c.tradier.base_url = mock.base_url();
    c.tradier.api_key = "test-key".into();
    c.alphavantage.base_url = mock.base_url();
    c.alphavantage.api_key = "test-key".into();
    // The free plan's 5 per minute would make these tests wait; its quota is tested elsewhere.
    c.alphavantage.resilience.rate_limits = Vec::new();
    c
}

/// Opens the app with its clock pinned to `as_of`.
pub async fn open(config: AppConfig, as_of: DateTime<Utc>) -> App {
    App::open(config)
        .await
        .expect("app opens")
        .with_clock(move || as_of)
}

/// Starts a mock with `tweak` applied to the defaults of `day`.
pub async fn mock(day: NaiveDate, tweak: impl FnOnce(&mut MockConfig)) -> MockVendor {
    let mut cfg = MockConfig::new(SEED, day);
    tweak(&mut cfg);
    MockVendor::start(cfg).await.expect("mock starts")
}

/// One cold analysis of `ticker` through the vendor clients against a mock built by `tweak`.
pub async fn analyze_through_mock(
    ticker: &str,
    tweak: impl FnOnce(&mut MockConfig),
) -> Result<AnalysisRecord, AppError> {
    let mock = mock(day(), tweak).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = open(vendor_config(&mock, &dir), mock_as_of(day())).await;
    app.analyzer()
        .analyze(ticker, &AnalyzeOptions::default())
        .await
}

/// The analysis of the simulated market itself on `day` (the truth the vendor path must match).
pub async fn analyze_sim(ticker: &str) -> AnalysisRecord {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = App::open(AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(day().into()),
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    })
    .await
    .expect("sim app");
    app.analyzer()
        .analyze(ticker, &AnalyzeOptions::default())
        .await
        .expect("sim analysis")
}

/// The record as JSON without the fields that legitimately differ between providers.
pub fn numbers(r: &AnalysisRecord) -> serde_json::Value {
    let mut v = serde_json::to_value(&r.analysis).expect("json");
    if let Some(o) = v.as_object_mut() {
        o.remove("data_quality");
    }
    v
}
