//! `ivcrush` — the command-line tool.
//!
//! This file only parses the command line, dispatches to the subcommand and maps the outcome to
//! an exit status (the README's table): 0 on success (also when stdout is closed early, e.g.
//! `| head`), 1 on an error (printed as `error: <cause chain, each cause once>` on stderr) or a
//! negative answer, 2 on a usage error (clap, or a malformed input: [`exit_code_for`]), 3 when
//! some rows of a run failed and the others are intact.

#![forbid(unsafe_code)]

mod calc;
mod cli;
mod commands;
mod output;
mod progress;
mod runtime;

use clap::Parser;
use ivcrush_app::{AppError, ErrorKind};
use std::io;
use std::process::ExitCode;

/// Exit status of a fatal error.
const EXIT_FATAL: u8 = 1;
/// Exit status of a usage error (clap's own, too).
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Each cause once: our errors show their cause and also expose it as `source()`.
            let report = ivcrush_app::error_report(err.as_ref());
            let hint = hint_for(&err);
            let code = exit_code_for(&err);
            if commands::json_logs() {
                // A log pipeline reading JSON lines gets the fatal error as one of them.
                tracing::error!(exit_code = code, hint, "{report}");
            } else {
                eprintln!("error: {report}");
                if let Some(hint) = hint {
                    eprintln!("hint: {hint}");
                }
            }
            ExitCode::from(code)
        }
    }
}

/// The exit status of a failed run: 2 for a malformed input (a symbol, a window, a report date
/// or expiration that cannot be analysed, an unusable file), 1 for everything else.
fn exit_code_for(err: &anyhow::Error) -> u8 {
    let usage = err.chain().any(|e| {
        e.is::<ivcrush_app::symbols::SymbolError>()
            || e.downcast_ref::<AppError>()
                .is_some_and(|e| e.kind() == ErrorKind::InvalidInput)
    });
    if usage { EXIT_USAGE } else { EXIT_FATAL }
}

/// What the user can do about an error, in the CLI's terms (library messages never name flags).
fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    err.chain()
        .find_map(|e| match e.downcast_ref::<AppError>() {
            Some(AppError::NoUpcomingReport { .. }) => {
                Some("pass --earnings-date DATE to analyse a report the calendar does not list")
            }
            _ => None,
        })
}

/// `true` when the error comes from writing to a closed pipe: the reader went away, which is
/// not a failure of ours. The I/O error may be wrapped by the JSON or CSV writer, which do not
/// expose it as their `source()`.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        let kind = if let Some(e) = e.downcast_ref::<io::Error>() {
            Some(e.kind())
        } else if let Some(e) = e.downcast_ref::<serde_json::Error>() {
            e.io_error_kind()
        } else if let Some(e) = e.downcast_ref::<csv::Error>() {
            match e.kind() {
                csv::ErrorKind::Io(e) => Some(e.kind()),
                _ => None,
            }
        } else {
            None
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn malformed_inputs_are_usage_errors_and_the_rest_fatal() {
        let window = AppError::InvalidWindow {
            from: chrono::NaiveDate::MIN,
            to: chrono::NaiveDate::MIN,
            reason: "ends before it starts".into(),
        };
        assert_eq!(exit_code_for(&anyhow::Error::new(window)), EXIT_USAGE);
        let symbol = ivcrush_app::symbols::normalize_symbol("").expect_err("empty");
        let wrapped = Err::<(), _>(symbol).context("reading --tickers");
        assert_eq!(exit_code_for(&wrapped.expect_err("error")), EXIT_USAGE);
        let unknown = AppError::UnknownTicker {
            ticker: "ZZZZ".into(),
            reason: "no quote".into(),
        };
        assert_eq!(exit_code_for(&anyhow::Error::new(unknown)), EXIT_FATAL);
        assert_eq!(exit_code_for(&anyhow::anyhow!("disk full")), EXIT_FATAL);
    }

    #[test]
    fn no_upcoming_report_hints_at_the_flag() {
        let e = anyhow::Error::new(AppError::NoUpcomingReport {
            ticker: "MRVL".into(),
            reported: None,
            horizon_days: 120,
        });
        assert!(hint_for(&e).is_some_and(|h| h.contains("--earnings-date")));
        assert!(!ivcrush_app::error_report(e.as_ref()).contains("--"));
        assert_eq!(hint_for(&anyhow::anyhow!("other")), None);
    }

    #[test]
    fn a_closed_pipe_is_recognised_inside_json_and_csv_errors() {
        let pipe = || io::Error::from(io::ErrorKind::BrokenPipe);
        assert!(is_broken_pipe(&anyhow::Error::new(pipe())));
        let json = serde_json::Error::io(pipe());
        assert!(is_broken_pipe(&anyhow::Error::new(json).context("writing")));
        let csv = csv::Error::from(pipe());
        assert!(is_broken_pipe(&anyhow::Error::new(csv)));
        let other = serde_json::Error::io(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_broken_pipe(&anyhow::Error::new(other)));
    }
}
