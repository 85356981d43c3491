//! `ivcrush health`: the dependency table; exit 0 UP, 1 DOWN, 2 DEGRADED. It creates and
//! migrates nothing: a missing database is reported DOWN, naming the file.

use crate::cli::{CommonArgs, OutputFormat};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::process::ExitCode;
use tracing::Instrument;

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
pub fn run(a: HealthArgs) -> anyhow::Result<ExitCode> {
    super::init_logging(&a.common);
    let span = tracing::info_span!("run", cid = %ivcrush_app::new_correlation_id());
    let config = span.in_scope(|| super::load_config(&a.common))?;
    let report = super::runtime()?.block_on(
        async move {
            ivcrush_app::check_existing(config)
                .await
                .context("opening the application")
        }
        .instrument(span),
    )?;
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
