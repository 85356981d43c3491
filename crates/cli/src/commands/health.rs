//! `ivcrush health`: the dependency table; exit 0 UP, 1 DOWN, 2 DEGRADED.

use crate::cli::{CommonArgs, OutputFormat};
use clap::Args;
use ivcrush_app::App;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `ivcrush health`.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs every check concurrently and prints the report.
pub async fn run(app: App, _cid: String, a: HealthArgs) -> anyhow::Result<ExitCode> {
    let report = app.health().check().await;
    let mut out = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        _ => write!(out, "{}", report.table())?,
    }
    Ok(ExitCode::from(
        u8::try_from(report.exit_code()).unwrap_or(1),
    ))
}
