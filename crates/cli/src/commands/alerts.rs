//! `ivcrush alerts list|deliver`.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::new_table;
use clap::{Args, Subcommand};
use comfy_table::Cell;
use ivcrush_app::App;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `ivcrush alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// List or deliver.
    #[command(subcommand)]
    pub command: AlertsCommand,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Alert actions.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Stored alerts, newest first.
    List {
        /// Alerts of the last N days (default 7).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
        /// At most N alerts (default 100).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
    /// Deliver the pending alerts to the configured webhooks now (at most `--timeout`).
    Deliver {
        /// Longest the delivery may take, in seconds (default 60).
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
}

/// Runs the alerts command.
pub async fn run(app: App, _cid: String, a: AlertsArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        AlertsCommand::List {
            days,
            limit,
            format,
        } => {
            let rows = app.alerts().list(days, limit).await?;
            let mut out = std::io::stdout().lock();
            match format {
                OutputFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &rows)?;
                    writeln!(out)?;
                }
                OutputFormat::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    w.write_record([
                        "id",
                        "created_at",
                        "kind",
                        "ticker",
                        "message",
                        "delivered",
                        "key",
                    ])?;
                    for r in &rows {
                        w.write_record([
                            r.id.to_string(),
                            r.alert.created_at.to_rfc3339(),
                            r.alert.kind.clone(),
                            r.alert.ticker.clone().unwrap_or_default(),
                            r.alert.message.clone(),
                            r.delivered.to_string(),
                            r.alert.key.clone(),
                        ])?;
                    }
                    w.flush()?;
                }
                OutputFormat::Table => {
                    let mut t =
                        new_table(&["#", "raised (UTC)", "kind", "ticker", "alert", "sent"]);
                    for r in &rows {
                        t.add_row(vec![
                            Cell::new(r.id),
                            Cell::new(r.alert.created_at.format("%Y-%m-%d %H:%M:%S")),
                            Cell::new(&r.alert.kind),
                            Cell::new(r.alert.ticker.as_deref().unwrap_or("")),
                            Cell::new(&r.alert.message),
                            Cell::new(r.delivered),
                        ]);
                    }
                    writeln!(out, "{t}")?;
                    if rows.is_empty() {
                        writeln!(out, "(no alerts in the last {days} days)")?;
                    }
                }
            }
        }
        AlertsCommand::Deliver { timeout } => {
            match app.alerts().flush(Duration::from_secs(timeout)).await {
                Some(round) => writeln!(
                    std::io::stdout(),
                    "alerts: {} delivered, {} failed, {} put off (endpoint down; retried later)",
                    round.delivered,
                    round.failed,
                    round.postponed
                )?,
                None if app.alert_dispatcher().is_none() => writeln!(
                    std::io::stdout(),
                    "alerts: no webhook configured ([[alerts.webhooks.endpoints]])"
                )?,
                None => writeln!(
                    std::io::stdout(),
                    "alerts: delivery still running after {timeout} s; the rest stays pending"
                )?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
