//! `ivcrush config check|show`.

use crate::cli::CommonArgs;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::process::ExitCode;

/// Arguments of `ivcrush config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Check or show.
    #[command(subcommand)]
    pub command: ConfigCommand,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Configuration actions.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate file + environment + flags; report every problem at once (exit 1 if any).
    Check,
    /// Print the effective configuration as TOML, secrets redacted.
    Show,
}

/// Runs the config command (no runtime needed).
pub fn run(a: ConfigArgs) -> anyhow::Result<ExitCode> {
    super::init_logging(&a.common);
    match super::load_config(&a.common) {
        Ok(cfg) => {
            match a.command {
                ConfigCommand::Check => writeln!(std::io::stdout(), "configuration OK")?,
                ConfigCommand::Show => write!(std::io::stdout(), "{}", cfg.show())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
