//! `ivcrush calc`: the option calculator.
//!
//! - `calc price`: price and greeks of one option at a given volatility ([`price`]);
//! - `calc iv`: the implied volatility of one quote ([`price`]), or of every row of a CSV file,
//!   in parallel and streamed in order ([`iv_csv`]).

mod iv_csv;
mod price;

use clap::{Args, Subcommand, ValueEnum};
use ivcrush_core::OptionKind;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ivcrush calc`.
#[derive(Debug, Args)]
pub struct CalcArgs {
    /// What to compute.
    #[command(subcommand)]
    pub command: CalcCommand,
}

/// The calculators.
#[derive(Debug, Subcommand)]
pub enum CalcCommand {
    /// Black–Scholes–Merton price and greeks of a European option.
    ///
    /// Text output labels every unit. JSON output (`--format json`) is one object with the fields
    /// price, delta, gamma, vega, theta, rho in API units: delta per 1 of spot, gamma per spot²,
    /// vega per 1.00 of vol (divide by 100 for per vol point), theta per YEAR (divide by 365 for
    /// per calendar day), rho per 1.00 of rate (divide by 100 for per 1 %).
    #[command(allow_negative_numbers = true)]
    Price(PriceArgs),
    /// Implied volatility of one quote, or of every row of a CSV file (`--input`).
    ///
    /// Single quote: prints the vol (or with `--format json` an object {iv, status, reason}); exit
    /// status 0 when a vol is solved, 1 otherwise with the reason (e.g. below_intrinsic) on stderr
    /// or in the JSON status.
    ///
    /// CSV mode (`--input FILE`, `-` for stdin): the header must name the columns
    /// type,spot,strike,t,rate,price (any order, case-insensitive; `div` optional, default 0).
    /// Every row is written back with all its columns followed by
    /// iv,status,delta,gamma,vega,theta,rho — status is `ok`, a reason code (invalid_price,
    /// zero_price, below_intrinsic, no_time_value, above_maximum) or `invalid: <reason>` for a
    /// row that cannot be read (a row with the wrong number of fields is padded or cut to the
    /// header width); greeks are empty without a vol and in API units (vega per 1.00
    /// vol, theta per year, rho per 1.00 rate). Rows are solved in parallel and written in input
    /// order. Exit status 0 when every row is solved, 3 when some rows have no vol (counted on
    /// stderr; the other rows are intact).
    #[command(allow_negative_numbers = true)]
    Iv(IvArgs),
}

/// Output format of the single-option calculators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// A labelled, human-readable table.
    #[default]
    Text,
    /// One JSON object (API units).
    Json,
}

/// Arguments of `calc price`.
#[derive(Debug, Args)]
pub struct PriceArgs {
    /// Option type: call or put (c/p).
    #[arg(long = "type", value_name = "call|put")]
    pub kind: OptionKind,
    /// Spot price of the underlying (> 0).
    #[arg(long)]
    pub spot: f64,
    /// Strike (> 0).
    #[arg(long)]
    pub strike: f64,
    /// Time to expiry in years (> 0).
    #[arg(long)]
    pub t: f64,
    /// Continuously compounded risk-free rate, decimal (0.05 = 5 %).
    #[arg(long)]
    pub rate: f64,
    /// Continuously compounded dividend yield, decimal.
    #[arg(long, default_value_t = 0.0)]
    pub div: f64,
    /// Volatility, decimal (0.20 = 20 %).
    #[arg(long)]
    pub vol: f64,
    /// Output format; JSON uses API units (vega per 1.00 vol, theta per year, rho per 1.00).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Arguments of `calc iv`: either the single-quote flags or `--input`.
#[derive(Debug, Args)]
pub struct IvArgs {
    /// Option type: call or put (c/p).
    #[arg(
        long = "type",
        value_name = "call|put",
        required_unless_present = "input"
    )]
    pub kind: Option<OptionKind>,
    /// Spot price of the underlying (> 0).
    #[arg(long, required_unless_present = "input")]
    pub spot: Option<f64>,
    /// Strike (> 0).
    #[arg(long, required_unless_present = "input")]
    pub strike: Option<f64>,
    /// Time to expiry in years (> 0).
    #[arg(long, required_unless_present = "input")]
    pub t: Option<f64>,
    /// Continuously compounded risk-free rate, decimal.
    #[arg(long, required_unless_present = "input")]
    pub rate: Option<f64>,
    /// Continuously compounded dividend yield, decimal (default 0).
    #[arg(long)]
    pub div: Option<f64>,
    /// Option price (present value).
    #[arg(long, required_unless_present = "input")]
    pub price: Option<f64>,
    /// Output format of a single quote.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// CSV file of quotes to solve (`-` for stdin); excludes the single-quote flags.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["kind", "spot", "strike", "t", "rate", "div", "price", "format"]
    )]
    pub input: Option<PathBuf>,
    /// Where to write the CSV result (`-` for stdout, the default).
    #[arg(long, value_name = "FILE", requires = "input")]
    pub output: Option<PathBuf>,
}

/// Exit status of a CSV batch in which some rows have no vol (the scan's partial failure).
const EXIT_PARTIAL: u8 = 3;

/// Runs `ivcrush calc`.
pub fn run(args: CalcArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CalcCommand::Price(a) => price::run_price(&a),
        CalcCommand::Iv(a) => match &a.input {
            Some(input) => {
                let summary = iv_csv::run(input, a.output.as_deref())?;
                if summary.failed == 0 {
                    return Ok(ExitCode::SUCCESS);
                }
                // Partial failure, as a scan with failed rows: the other rows are intact.
                eprintln!(
                    "{} of {} row(s) have no implied volatility (see their status column)",
                    summary.failed, summary.rows
                );
                Ok(ExitCode::from(EXIT_PARTIAL))
            }
            None => price::run_iv(&a),
        },
    }
}
