//! `ivcrush import calendar|bars FILE`: files into the store.

use crate::cli::CommonArgs;
use clap::{Args, Subcommand};
use ivcrush_app::App;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ivcrush import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What to import.
    #[command(subcommand)]
    pub command: ImportCommand,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Import kinds.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Earnings calendar CSV: `ticker,date,timing[,name]`.
    Calendar {
        /// The CSV file.
        file: PathBuf,
    },
    /// Daily bars CSV: `ticker,date,open,high,low,close,volume`.
    Bars {
        /// The CSV file.
        file: PathBuf,
    },
}

/// Imports; exit 3 when some rows were rejected (listed on stderr with file, line and reason).
pub async fn run(app: App, _cid: String, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let (what, outcome) = match &a.command {
        ImportCommand::Calendar { file } => ("calendar rows", app.importer().calendar(file).await?),
        ImportCommand::Bars { file } => ("bars", app.importer().bars(file).await?),
    };
    writeln!(
        std::io::stdout(),
        "imported {} {what}, rejected {}",
        outcome.stored,
        outcome.rejected.len()
    )?;
    for e in &outcome.rejected {
        eprintln!("  {e}");
    }
    Ok(if outcome.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
