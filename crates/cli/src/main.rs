//! `ivcrush` — the command-line tool.
//!
//! This file only parses the command line, dispatches to the subcommand and maps the outcome to
//! an exit status: 0 on success (also when stdout is closed early, e.g. `| head`), 1 on an error
//! (printed as `error: <cause chain, each cause once>` on stderr) or a negative answer, 2 on a usage error (clap).

mod calc;
mod cli;
mod commands;
mod output;
mod progress;
mod runtime;

use clap::Parser;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Each cause once: our errors show their cause and also expose it as `source()`.
            eprintln!("error: {}", ivcrush_app::error_report(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// `true` when the error comes from writing to a closed pipe: the reader went away, which is
/// not a failure of ours.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
