//! # ivcrush-app — the services
//!
//! Orchestration between the pure analytics core, the market-data providers, the store and
//! the resilience policies. Surfaces (CLI, HTTP, ticker) call these services and only format.
//!
//! - [`App`]: configuration, provider, store and read-through cache of one process;
//! - analysis of one ticker ([`App::analyze_ticker`]), the scan ([`App::scan`]), backfill of
//!   historical moves ([`App::backfill_ticker`]), calendar sync ([`App::sync_calendar`]) and
//!   health ([`App::health`]);
//! - [`AppConfig`]: `ivcrush.toml` < `IVCRUSH_*` environment < flags, validated with every
//!   problem reported at once.
#![deny(missing_docs)]

mod analyzer;
mod calendar;
pub mod clock;
pub mod config;
mod context;
mod error;
mod health;
mod history;
mod import;
pub mod record;
mod scanner;
pub mod symbols;

pub use analyzer::{AnalyzeOptions, EVENT_HORIZON_DAYS, ReportStatus};
pub use clock::AsOf;
pub use config::{AppConfig, CalendarProviderKind, ConfigError, ProviderKind};
pub use context::{App, Clock, Fetched, PingFn, VendorPing, today_new_york};
pub use error::{AppError, error_report};
pub use history::{BackfillOutcome, MOVES_PROGRESS};
pub use import::ImportOutcome;
pub use record::{AnalysisRecord, BestStrategy, DataInfo, FailedRow, RankBy, Row};
pub use scanner::{Progress, ScanReport, ScanRequest, new_correlation_id};
