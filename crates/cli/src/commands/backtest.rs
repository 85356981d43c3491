//! `ivcrush backtest`: would the scan have earned money on the reports of a window?

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::new_table;
use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use comfy_table::Cell;
use ivcrush_app::backtest::{BacktestRequest, ExitChoice, Profile, StrategyChoice};
use ivcrush_app::{App, symbols::normalize_symbol};
use ivcrush_core::backtest::{Summary, TradeCosts, WindowSpec};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ivcrush backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// First report date (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// Last report date (YYYY-MM-DD); its reaction session must have happened.
    #[arg(long)]
    pub to: NaiveDate,
    /// Only these tickers (comma-separated); default: every ticker the calendar lists.
    #[arg(long, value_delimiter = ',')]
    pub tickers: Vec<String>,
    /// short_straddle, short_strangle, iron_condor, or best (the scan's recommendation).
    #[arg(long, default_value = "best", value_parser = parse_strategy)]
    pub strategy: StrategyChoice,
    /// reaction (bought back at the reaction session's chain) or expiry (held, settled at the
    /// expiry close).
    #[arg(long, default_value = "reaction", value_parser = parse_exit)]
    pub exit: ExitChoice,
    /// Scoring configurations to compare (repeatable): files in the ivcrush.toml format whose
    /// [analytics] section is used; named by their file stem. Default: the configured one.
    #[arg(long = "profile", value_name = "FILE")]
    pub profiles: Vec<PathBuf>,
    /// Pick the best profile on each training window and report it on the following test
    /// window only, e.g. 6m:3m or 1y:3m.
    #[arg(long, value_name = "TRAIN:TEST")]
    pub walk_forward: Option<WindowSpec>,
    /// Half-spreads given up per fill from mid (0 = mid, 1 = natural; default 0.5).
    #[arg(long, default_value_t = ivcrush_core::backtest::DEFAULT_SLIPPAGE)]
    pub slippage: f64,
    /// Commission per contract per leg per trade (opening; closing again before expiry).
    #[arg(long, default_value_t = 0.65)]
    pub commission: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_strategy(s: &str) -> Result<StrategyChoice, String> {
    s.parse()
}

fn parse_exit(s: &str) -> Result<ExitChoice, String> {
    s.parse()
}

/// Runs the backtest and prints the trades and the summary.
pub async fn run(app: App, _cid: String, a: BacktestArgs) -> anyhow::Result<ExitCode> {
    let tickers = if a.tickers.is_empty() {
        None
    } else {
        Some(
            a.tickers
                .iter()
                .map(|t| normalize_symbol(t))
                .collect::<Result<Vec<_>, _>>()
                .context("reading --tickers")?,
        )
    };
    let mut req = BacktestRequest {
        tickers,
        strategy: a.strategy,
        exit: a.exit,
        costs: TradeCosts {
            slippage: a.slippage,
            commission: a.commission,
            ..TradeCosts::default()
        },
        walk_forward: a.walk_forward,
        ..BacktestRequest::new(a.from, a.to, app.config().analytics.clone())
    };
    if !a.profiles.is_empty() {
        req.profiles = a
            .profiles
            .iter()
            .map(|p| Profile::load(p))
            .collect::<Result<Vec<_>, _>>()?;
    }
    let report = app.backtester().run(&req).await?;
    let mut out = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "ticker",
                "report_date",
                "entry_date",
                "exit_date",
                "strategy",
                "credit",
                "pnl",
                "pnl_per_contract",
                "pnl_pct",
                "implied_move_pct",
                "realised_move_pct",
                "inside",
                "vrp_tier",
                "score",
            ])?;
            for t in &report.trades {
                w.write_record([
                    t.ticker.clone(),
                    t.report_date.to_string(),
                    t.entry_date.to_string(),
                    t.exit_date.to_string(),
                    t.strategy.as_str().to_string(),
                    format!("{:.4}", t.credit),
                    format!("{:.4}", t.pnl),
                    format!("{:.2}", t.pnl_per_contract),
                    format!("{:.4}", t.pnl_pct),
                    format!("{:.4}", t.implied_move_pct),
                    format!("{:.4}", t.realised_move_pct),
                    t.inside.to_string(),
                    t.vrp_tier.as_str().to_string(),
                    format!("{:.1}", t.score),
                ])?;
            }
            w.flush()?;
        }
        OutputFormat::Table => {
            let mut table = new_table(&[
                "ticker", "report", "entry", "exit", "strategy", "credit", "P&L/ct", "% risk",
                "implied", "realised", "inside",
            ]);
            for t in &report.trades {
                table.add_row(vec![
                    Cell::new(&t.ticker),
                    Cell::new(t.report_date),
                    Cell::new(t.entry_date),
                    Cell::new(t.exit_date),
                    Cell::new(t.strategy.as_str()),
                    Cell::new(format!("{:.2}", t.credit)),
                    Cell::new(format!("{:.0}", t.pnl_per_contract)),
                    Cell::new(format!("{:.1}%", t.pnl_pct * 100.0)),
                    Cell::new(format!("{:.2}%", t.implied_move_pct)),
                    Cell::new(format!("{:+.2}%", t.realised_move_pct)),
                    Cell::new(if t.inside { "yes" } else { "no" }),
                ]);
            }
            writeln!(out, "{table}")?;
            writeln!(
                out,
                "{} reports from {} to {}; {} traded, {} skipped (see --format json)",
                report.events,
                report.from,
                report.to,
                report.trades.len(),
                report.skipped.len()
            )?;
            for p in &report.profiles {
                writeln!(out, "{}: {}", p.name, summary_line(&p.summary))?;
            }
            if let Some(wf) = &report.walk_forward {
                writeln!(
                    out,
                    "walk-forward out of sample ({} windows): {}",
                    wf.windows.len(),
                    summary_line(&wf.out_of_sample)
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn summary_line(s: &Summary) -> String {
    let pct = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.0}%", v * 100.0));
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    format!(
        "{} trades, win rate {}, mean P&L {} per contract, total {:.0}, Sharpe {} per trade, \
         max drawdown {:.0}",
        s.trades,
        pct(s.win_rate),
        num(s.mean_pnl),
        s.total_pnl,
        num(s.sharpe),
        s.max_drawdown
    )
}
