//! `ivcrush calendar sync|list`.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::new_table;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use comfy_table::Cell;
use ivcrush_app::App;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `ivcrush calendar`.
#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// Sync or list.
    #[command(subcommand)]
    pub command: CalendarCommand,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Calendar actions.
#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// Fetch the provider's calendar into the store.
    Sync {
        /// Days ahead (default 90).
        #[arg(long, default_value_t = 90)]
        days: u32,
    },
    /// List stored reports in a window.
    List {
        /// First date (default: the as-of date).
        #[arg(long, value_name = "DATE")]
        from: Option<NaiveDate>,
        /// Last date (default: from + 7 days).
        #[arg(long, value_name = "DATE")]
        to: Option<NaiveDate>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: OutputFormat,
    },
}

/// Runs the calendar command.
pub async fn run(app: App, _cid: String, a: CalendarArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        CalendarCommand::Sync { days } => {
            let (from, to) = app.calendar().resolve_window(None, None, Some(days))?;
            let n = app.calendar().sync(from, to).await?;
            writeln!(
                std::io::stdout(),
                "calendar: {n} report(s) stored for {from}..{to} from {}",
                app.source()
            )?;
        }
        CalendarCommand::List { from, to, format } => {
            let (from, to) = app.calendar().resolve_window(from, to, None)?;
            let rows = app.calendar().stored(from, to).await?;
            let mut out = std::io::stdout().lock();
            match format {
                OutputFormat::Json => {
                    serde_json::to_writer_pretty(&mut out, &rows)?;
                    writeln!(out)?;
                }
                OutputFormat::Csv => {
                    let mut w = csv::Writer::from_writer(out);
                    w.write_record(["ticker", "report_date", "timing", "source"])?;
                    for r in &rows {
                        w.write_record([
                            r.ticker.as_str(),
                            &r.report_date.to_string(),
                            r.timing.as_str(),
                            &r.source,
                        ])?;
                    }
                    w.flush()?;
                }
                OutputFormat::Table => {
                    let mut t = new_table(&["report", "ticker", "when", "source"]);
                    for r in &rows {
                        t.add_row(vec![
                            Cell::new(r.report_date),
                            Cell::new(&r.ticker),
                            Cell::new(r.timing.as_str()),
                            Cell::new(&r.source),
                        ]);
                    }
                    writeln!(out, "{t}")?;
                    if rows.is_empty() {
                        writeln!(
                            out,
                            "(no stored reports in {from}..{to}; run `ivcrush calendar sync`)"
                        )?;
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
