//! `ivcrush import calendar|bars|chains FILE`: calendars and bars into the store, option-chain
//! snapshots into the files provider's directory.

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
    /// Option-chain snapshots CSV (`as_of,underlying,spot,expiration,strike,type,bid,ask,last,
    /// volume,open_interest,iv,delta`) into files.dir/chains/, where `--provider files` (and its
    /// backtests) read each snapshot at its as-of.
    Chains {
        /// The CSV file.
        file: PathBuf,
    },
}

/// Imports; exit 3 when some rows were rejected (listed on stderr with file, line and reason).
pub async fn run(app: App, _cid: String, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let (what, outcome) = match &a.command {
        ImportCommand::Calendar { file } => ("calendar rows", app.importer().calendar(file).await?),
        ImportCommand::Bars { file } => ("bars", app.importer().bars(file).await?),
        ImportCommand::Chains { file } => ("chain quotes", app.importer().chains(file).await?),
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
