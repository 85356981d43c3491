//! A standalone `serve` for benchmarks and manual runs until `ivcrush serve` is wired in the
//! CLI: the simulated market (or the configured provider) plus [`ivcrush_server::run`].
//!
//! `cargo run --release -p ivcrush-server --example serve -- --as-of 2026-02-02 \
//!   --server-config server.toml`

use chrono::NaiveDate;
use clap::Parser;
use ivcrush_app::{App, AppConfig};
use ivcrush_server::ServeArgs;

#[derive(Debug, Parser)]
struct Cli {
    /// As-of date of the simulated market (default: today in New York).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// Database URL.
    #[arg(long, default_value = "sqlite://ivcrush-serve.db")]
    database_url: String,
    /// Log level (error, warn, info, debug).
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_max_level(cli.log_level)
        .with_ansi(false)
        .init();
    ivcrush_server::install_metrics_recorder();
    let app = App::open(AppConfig {
        as_of: cli.as_of.map(Into::into),
        database_url: cli.database_url,
        ..AppConfig::default()
    })
    .await?;
    ivcrush_server::run(app, cli.serve).await
}
