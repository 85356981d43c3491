//! `ivcrush backfill [TICKER...]`: historical moves into the store, idempotent and resumable.

use crate::cli::CommonArgs;
use crate::progress;
use clap::Args;
use ivcrush_app::{App, symbols::normalize_symbol};
use std::io::Write as _;
use std::process::ExitCode;

/// Arguments of `ivcrush backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Tickers (default: every ticker in the provider's calendar for the next 90 days).
    pub tickers: Vec<String>,
    /// Years of history.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub years: u32,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Backfills each ticker; a re-run skips finished ones. Exit 3 when some tickers failed.
pub async fn run(app: App, _cid: String, a: BackfillArgs) -> anyhow::Result<ExitCode> {
    let mut tickers = Vec::new();
    for t in &a.tickers {
        tickers.push(normalize_symbol(t)?);
    }
    if tickers.is_empty() {
        let today = app.as_of_date();
        let cal = app
            .calendar()
            .window(today, today + chrono::Duration::days(90))
            .await?;
        for r in cal {
            if !tickers.contains(&r.ticker) {
                tickers.push(r.ticker);
            }
        }
    }
    let bar = progress::bar(tickers.len() as u64, a.common.quiet, "backfill");
    let (mut done, mut skipped, mut failed) = (0, 0, Vec::new());
    for t in &tickers {
        bar.set_message(t.clone());
        match app.history().backfill(t, a.years).await {
            Ok(o) if o.skipped => skipped += 1,
            Ok(o) => {
                done += 1;
                tracing::info!(ticker = %o.ticker, bars = o.bars_fetched, moves = o.moves, "backfilled");
                for u in &o.unusable {
                    tracing::warn!(ticker = %o.ticker, "report without usable bars: {u}");
                }
            }
            Err(e) => failed.push(format!("{t}: {e}")),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    writeln!(
        std::io::stdout(),
        "backfill: {done} ticker(s) updated, {skipped} already complete, {} failed",
        failed.len()
    )?;
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for f in &failed {
            eprintln!("  {f}");
        }
        Ok(ExitCode::from(3))
    }
}
