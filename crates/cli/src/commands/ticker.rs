//! `ivcrush ticker`: the streaming quote service (option quotes to Redis).

use crate::cli::{CommonArgs, LogFormat};
use clap::Args;
use std::process::ExitCode;
use tracing::Instrument;

/// Arguments of `ivcrush ticker`: the service's own flags plus logging.
#[derive(Debug, Args)]
pub struct TickerCliArgs {
    /// Service options.
    #[command(flatten)]
    pub ticker: ivcrush_ticker::TickerArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
    /// Only errors in the log.
    #[arg(long, short)]
    pub quiet: bool,
    /// More logging (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Runs the service until SIGTERM/SIGINT (or `--duration`), then flushes pending writes.
pub fn run(a: TickerCliArgs) -> anyhow::Result<ExitCode> {
    super::init_logging(&CommonArgs {
        log_format: a.log_format,
        quiet: a.quiet,
        verbose: a.verbose,
        ..CommonArgs::default()
    });
    let rt = super::runtime()?;
    let cid = ivcrush_app::new_correlation_id();
    rt.block_on(
        ivcrush_ticker::run(a.ticker).instrument(tracing::info_span!("ticker", cid = %cid)),
    )?;
    Ok(ExitCode::SUCCESS)
}
