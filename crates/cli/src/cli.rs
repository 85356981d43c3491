//! The command line: one [`Cli`] with a [`Command`] per subcommand.

use crate::calc;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Trade earnings volatility: price options, solve implied vols and more.
#[derive(Debug, Parser)]
#[command(name = "ivcrush", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `ivcrush`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Option calculator: Black–Scholes–Merton price and greeks, implied volatility (single
    /// quote or a CSV file of quotes).
    Calc(calc::CalcArgs),
}

/// Runs the chosen subcommand; `Ok` carries the exit status of a completed run.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Calc(args) => calc::run(args),
    }
}
