//! The command line: one [`Cli`] with a [`Command`] per subcommand, and the options shared by
//! every command that touches market data or the store ([`CommonArgs`]).

use crate::calc;
use crate::commands;
use clap::{Args, Parser, Subcommand, ValueEnum};
use ivcrush_app::{AsOf, ProviderKind};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Trade earnings volatility: find when options overprice the earnings move.
#[derive(Debug, Parser)]
#[command(
    name = "ivcrush",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BUILD_GIT_SHA"), ")"),
    about,
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written (stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Output format of data commands (stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table (coloured on a terminal; plain with NO_COLOR or when piped).
    #[default]
    Table,
    /// JSON (the documented record; one array for many tickers).
    Json,
    /// Flat CSV columns.
    Csv,
}

/// Options shared by the commands that use market data and the store.
#[derive(Debug, Clone, Args, Default)]
pub struct CommonArgs {
    /// Configuration file (default: ./ivcrush.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Market-data provider.
    #[arg(long, global = true, value_enum)]
    pub provider: Option<ProviderArg>,
    /// As-of of the simulated market and files: YYYY-MM-DD (15:30 New York for the simulated
    /// market), an RFC 3339 date-time, or "YYYY-MM-DD HH:MM" in New York time (default: now,
    /// or the last close when the market is shut).
    #[arg(long, global = true, value_name = "DATE|DATETIME")]
    pub as_of: Option<AsOf>,
    /// Seed of the simulated market.
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Database URL (sqlite://FILE or postgres://…); also DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t)]
    pub log_format: LogFormat,
    /// Hide progress bars and informational logs.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// More logging (-v info, -vv debug).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Position-sizing overrides of the commands that take them (`analyze`).
    #[arg(skip)]
    pub sizing: SizingArgs,
}

/// Position sizing: the risk budget is account × risk per trade; one contract risks its max
/// loss (defined risk) or its Reg-T margin (undefined risk).
#[derive(Debug, Clone, Copy, Args, Default)]
pub struct SizingArgs {
    /// Account size for position sizing, in currency (default: analytics.strategy.account_size,
    /// 100000).
    #[arg(long, value_name = "AMOUNT", value_parser = parse_amount)]
    pub account: Option<f64>,
    /// Share of the account risked per trade: 0.02 or 2% (default:
    /// analytics.strategy.risk_per_trade, 0.02).
    #[arg(long, value_name = "FRACTION|PCT%", value_parser = parse_fraction)]
    pub risk_per_trade: Option<f64>,
}

/// A positive amount (`100000`, `100_000` or `100,000`).
fn parse_amount(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .replace(['_', ','], "")
        .parse()
        .map_err(|_| format!("{s:?} is not an amount"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("the account must be > 0 (got {s})"))
    }
}

/// A fraction in (0, 1]: `0.02` or `2%`.
fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|x| x / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a fraction (0.02) or a percentage (2%)"))?;
    if v.is_finite() && v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(format!("the risk per trade must be in (0, 1] (got {s})"))
    }
}

/// Provider names on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// The simulated market.
    Sim,
    /// Tradier.
    Tradier,
    /// Imported files.
    Files,
}

impl From<ProviderArg> for ProviderKind {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Sim => ProviderKind::Sim,
            ProviderArg::Tradier => ProviderKind::Tradier,
            ProviderArg::Files => ProviderKind::Files,
        }
    }
}

/// Flag overrides merged over file and environment configuration.
#[derive(Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<ProviderKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<AsOf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sim: Option<SimOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    analytics: Option<AnalyticsOverride>,
}

#[derive(Debug, Default, Serialize)]
struct AnalyticsOverride {
    strategy: StrategyOverride,
}

#[derive(Debug, Default, Serialize)]
struct StrategyOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    account_size: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk_per_trade: Option<f64>,
}

#[derive(Debug, Default, Serialize)]
struct SimOverride {
    seed: u64,
}

impl CommonArgs {
    /// The flags as configuration overrides.
    pub fn overrides(&self) -> FlagOverrides {
        FlagOverrides {
            provider: self.provider.map(Into::into),
            as_of: self.as_of,
            database_url: self.database_url.clone(),
            sim: self.seed.map(|seed| SimOverride { seed }),
            analytics: (self.sizing.account.is_some() || self.sizing.risk_per_trade.is_some())
                .then_some(AnalyticsOverride {
                    strategy: StrategyOverride {
                        account_size: self.sizing.account,
                        risk_per_trade: self.sizing.risk_per_trade,
                    },
                }),
        }
    }
}

/// The subcommands of `ivcrush`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the earnings calendar and rank the tickers whose options overprice the move.
    Scan(commands::scan::ScanArgs),
    /// The detailed analysis of one ticker.
    Analyze(commands::analyze::AnalyzeArgs),
    /// Analyse the tickers listed in a CSV file (`ticker,earnings_date[,expiration]`).
    Batch(commands::batch::BatchArgs),
    /// Stored analyses and historical earnings moves of one ticker.
    History(commands::history::HistoryArgs),
    /// Fetch bars and past report dates, compute and store historical moves.
    Backfill(commands::backfill::BackfillArgs),
    /// Replay the scan over past reports: the trades it would have made, their P&L and how
    /// well its probabilities were calibrated.
    Backtest(commands::backtest::BacktestArgs),
    /// Import an earnings calendar or daily bars from CSV into the store.
    Import(commands::import::ImportArgs),
    /// Earnings calendar: sync from the provider, list from the store.
    Calendar(commands::calendar::CalendarArgs),
    /// Alerts (calendar changes, threshold crossings, breakers, health): list, deliver.
    Alerts(commands::alerts::AlertsArgs),
    /// HTTP API, dashboard, Prometheus metrics and the scheduled scan.
    Serve(commands::serve::ServeCliArgs),
    /// Process the jobs of distributed scans (`scan --distributed`) from Redis until
    /// SIGTERM/SIGINT.
    Worker(commands::worker::WorkerArgs),
    /// Stream option quotes to Redis (channel, stream and latest-value hash).
    Ticker(commands::ticker::TickerCliArgs),
    /// Check the dependencies (exit 0 UP, 1 DOWN, 2 DEGRADED).
    Health(commands::health::HealthArgs),
    /// Check or show the configuration (secrets redacted).
    Config(commands::config::ConfigArgs),
    /// The database: migrate, status, backup, restore, prune.
    Db(commands::db::DbArgs),
    /// Option calculator: Black–Scholes–Merton price and greeks, implied volatility (single
    /// quote or a CSV file of quotes).
    Calc(calc::CalcArgs),
}

/// Runs the chosen subcommand; `Ok` carries the exit status of a completed run.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Calc(args) => calc::run(args),
        Command::Scan(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::scan::run(app, cid, a)
        }),
        Command::Analyze(a) => {
            let common = CommonArgs {
                sizing: a.sizing,
                ..a.common.clone()
            };
            commands::run_async(&common, |app, cid| commands::analyze::run(app, cid, a))
        }
        Command::Batch(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::batch::run(app, cid, a)
        }),
        Command::History(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::history::run(app, cid, a)
        }),
        Command::Backfill(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::backfill::run(app, cid, a)
        }),
        Command::Backtest(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::backtest::run(app, cid, a)
        }),
        Command::Import(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::import::run(app, cid, a)
        }),
        Command::Calendar(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::calendar::run(app, cid, a)
        }),
        Command::Alerts(a) => commands::run_async(&a.common.clone(), |app, cid| {
            commands::alerts::run(app, cid, a)
        }),
        Command::Health(a) => commands::health::run(a),
        Command::Config(a) => commands::config::run(a),
        Command::Db(a) => commands::db::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Ticker(a) => commands::ticker::run(a),
        Command::Worker(a) => commands::worker::run(a),
    }
}
