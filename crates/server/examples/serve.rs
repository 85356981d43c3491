//! A standalone `serve` for benchmarks and manual runs: the simulated market (or the
//! configured provider) plus [`ivcrush_server::Server`].
//!
//! `cargo run --release -p ivcrush-server --example serve -- --as-of 2026-02-02 \
//!   --server-config server.toml`

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Parser;
use ivcrush_app::config::ConfigSources;
use ivcrush_app::{App, AppConfig};
use ivcrush_server::{Server, shutdown_signal};

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
    /// Configuration file (default ./ivcrush.toml when present).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A former server configuration file, read as `[server]`.
    #[arg(long)]
    server_config: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct Overrides {
    database_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_of: Option<NaiveDate>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_max_level(cli.log_level)
        .with_ansi(false)
        .init();
    let sources = ConfigSources {
        file: cli.config,
        legacy_server_file: cli.server_config,
    };
    let overrides = Overrides {
        database_url: cli.database_url,
        as_of: cli.as_of,
    };
    let loaded = AppConfig::load_from(&sources, overrides, std::env::vars())?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let config = loaded.config;
    let settings = config.server.clone();
    ivcrush_server::install_metrics_recorder();
    let app = App::open(config).await?;
    let server = Server::bind(app, settings).await?;
    eprintln!("listening on http://{}", server.local_addr()?);
    server.run(shutdown_signal()).await?;
    Ok(())
}
