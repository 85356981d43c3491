//! # ivcrush-app — the services
//!
//! Orchestration between the pure analytics core, the market-data providers, the store and
//! the resilience policies. Surfaces (CLI, HTTP, ticker) call these services and only format.
//!
//! - [`App`]: the context of one process (configuration, provider, store, read-through
//!   cache), its parts private;
//! - the use cases, one home each, reached through the app: [`Analyzer`] (one ticker, and
//!   "analyse then store"), [`Scanner`] (a calendar window or a list of tickers, and the
//!   [`RowView`] every surface shows), [`CalendarService`] (windows, sync, report status),
//!   [`HistoryService`] (backfill, stored history), [`Importer`] and [`Health`];
//! - [`AppError`]: typed errors with one [`ErrorKind`] classification for the surfaces;
//! - [`AppConfig`]: `ivcrush.toml` < `IVCRUSH_*` environment < flags, validated with every
//!   problem reported at once.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod alerts;
mod analyzer;
pub mod backtest;
pub mod batch_file;
mod calendar;
pub mod clock;
pub mod config;
mod context;
pub mod distributed;
mod error;
mod health;
mod history;
mod import;
pub mod record;
mod scanner;
pub mod symbols;
mod vendor_status;

pub use analyzer::{AnalyzeOptions, Analyzer};
pub use backtest::{
    BacktestReport, BacktestRequest, Backtester, ExitChoice, Profile, StrategyChoice,
};
pub use calendar::{CalendarService, EVENT_HORIZON_DAYS, MAX_WINDOW_DAYS, ReportStatus};
pub use clock::AsOf;
pub use config::{
    AppConfig, CalendarProviderKind, ConfigError, ConfigSources, JobsSettings, LoadedConfig,
    ProviderKind, ServerSettings, TickerSettings,
};
pub use context::{App, Clock, Fetched, PingFn, VendorPing, today_new_york};
// The records the surfaces print and serve, so that they need not depend on `store`/`market`.
pub use error::{AppError, ErrorKind, error_report};
pub use health::{Health, check_existing};
pub use history::{BackfillOutcome, HistoryService, MOVES_PROGRESS, TickerHistory};
pub use import::{ImportOutcome, Importer};
pub use ivcrush_market::EarningsRecord;
/// The store itself, for the administration of the database (`ivcrush db`: migrations,
/// status, backup, restore, pruning); the other surfaces go through the services.
pub use ivcrush_store as store;
pub use ivcrush_store::{CacheStats, EarningsRow, StoredAnalysis};
pub use record::{AnalysisRecord, BestStrategy, DataInfo, FailedRow, RankBy, Row};
pub use scanner::{
    ListedTicker, Progress, RowView, ScanPlan, ScanProgress, ScanReport, ScanRequest, Scanner,
    TickerTask, new_correlation_id,
};

/// Registers the HELP text of the metrics of the layers below (resilience policies, cache)
/// with the current recorder; a binary exporting metrics calls it once.
pub fn describe_metrics() {
    ivcrush_resilience::describe_metrics();
    ivcrush_store::describe_metrics();
    ivcrush_market::http::describe_metrics();
    ivcrush_notify::describe_metrics();
    metrics::describe_counter!(
        "ivcrush_alerts_total",
        "Alerts raised (stored once), by kind"
    );
}
