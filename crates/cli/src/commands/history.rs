//! `ivcrush history TICKER`: stored analyses and historical moves.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::new_table;
use clap::Args;
use comfy_table::Cell;
use ivcrush_app::{App, symbols::normalize_symbol};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `ivcrush history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Ticker symbol.
    pub ticker: String,
    /// Stored analyses to show (newest first).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Serialize)]
struct HistoryOut<'a> {
    ticker: &'a str,
    moves: Vec<ivcrush_core::moves::HistoricalMove>,
    analyses: Vec<ivcrush_app::StoredAnalysis>,
    /// Implied before each past report against the reaction.
    events: Vec<ivcrush_app::backtest::EventRecord>,
    /// Hit rate and implied/realised ratio over `events`.
    event_stats: Option<ivcrush_app::backtest::TickerStats>,
}

/// Prints the stored history (backfilling the moves when missing).
pub async fn run(app: App, _cid: String, a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let ticker = normalize_symbol(&a.ticker)?;
    let ivcrush_app::TickerHistory {
        moves, analyses, ..
    } = app.history().stored(&ticker, a.limit, true).await?;
    let (events, event_stats) = app.backtester().events_of(&ticker).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &HistoryOut {
                    ticker: &ticker,
                    moves,
                    analyses,
                    events,
                    event_stats,
                },
            )?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "report_date",
                "timing",
                "reaction_date",
                "reference_close",
                "close_move_pct",
                "gap_move_pct",
                "intraday_move_pct",
                "signed_close_pct",
            ])?;
            for m in &moves {
                w.write_record([
                    m.report_date.to_string(),
                    m.timing.as_str().to_string(),
                    m.reaction_date.to_string(),
                    format!("{:.4}", m.reference_close),
                    format!("{:.4}", m.close_move_pct.0),
                    format!("{:.4}", m.gap_move_pct.0),
                    format!("{:.4}", m.intraday_move_pct.0),
                    format!("{:.4}", m.signed_close_pct.0),
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            let mut t = new_table(&["report", "when", "reaction", "close", "gap", "intraday"]);
            for m in moves.iter().rev() {
                t.add_row(vec![
                    Cell::new(m.report_date),
                    Cell::new(m.timing.as_str()),
                    Cell::new(m.reaction_date),
                    Cell::new(format!("{:+.2}%", m.signed_close_pct.0)),
                    Cell::new(format!("{:.2}%", m.gap_move_pct.0)),
                    Cell::new(format!("{:.2}%", m.intraday_move_pct.0)),
                ]);
            }
            writeln!(
                out,
                "{ticker}: {} historical earnings moves\n{t}",
                moves.len()
            )?;
            // The market as-of the analysis priced, not when the row was written.
            let mut t = new_table(&[
                "as of",
                "run",
                "report",
                "score",
                "VRP",
                "tier",
                "liquidity",
                "trade",
                "error",
            ]);
            for s in &analyses {
                t.add_row(vec![
                    Cell::new(ivcrush_app::clock::new_york_text(s.as_of)),
                    // The first 8 characters, as git shows a commit; JSON and CSV carry it whole.
                    Cell::new(s.run_id.get(..8).unwrap_or(&s.run_id)),
                    Cell::new(s.earnings_date.map_or("-".into(), |d| d.to_string())),
                    Cell::new(s.score.map_or("-".into(), |x| format!("{x:.1}"))),
                    Cell::new(s.vrp_ratio.map_or("-".into(), |x| format!("{x:.2}"))),
                    Cell::new(s.vrp_tier.clone().unwrap_or_default()),
                    Cell::new(s.liquidity_tier.clone().unwrap_or_default()),
                    Cell::new(if s.tradeable { "yes" } else { "no" }),
                    Cell::new(s.error.clone().unwrap_or_default()),
                ]);
            }
            writeln!(out, "stored analyses (newest first)\n{t}")?;
            let mut t = new_table(&[
                "report",
                "priced at",
                "implied",
                "realised",
                "inside",
                "straddle P&L",
                "traded",
            ]);
            for e in events.iter().rev() {
                t.add_row(vec![
                    Cell::new(e.report_date),
                    Cell::new(e.entry_date),
                    Cell::new(format!("{:.2}%", e.implied_move_pct)),
                    Cell::new(format!("{:+.2}%", e.realised_move_pct)),
                    Cell::new(if e.inside { "yes" } else { "no" }),
                    Cell::new(format!("{:+.2}%", e.straddle_pnl_pct)),
                    Cell::new(if e.traded { "yes" } else { "no" }),
                ]);
            }
            let summary = event_stats.map_or_else(String::new, |s| {
                format!(
                    ": inside the implied move {:.0}% of the time, mean implied / mean realised {}",
                    s.inside_rate * 100.0,
                    s.implied_over_realised
                        .map_or_else(|| "-".to_string(), |r| format!("{r:.2}"))
                )
            });
            writeln!(
                out,
                "implied before each report against the reaction ({} reports{summary})\n{t}",
                events.len()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
