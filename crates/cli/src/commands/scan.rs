//! `ivcrush scan`: the main job.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::print_rows;
use chrono::NaiveDate;
use clap::Args;
use ivcrush_app::{App, RankBy, RowView, ScanRequest, symbols::parse_symbol_list};
use std::process::ExitCode;

/// Arguments of `ivcrush scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// First report date (default: the as-of date).
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Last report date.
    #[arg(long, value_name = "DATE", conflicts_with = "days")]
    pub to: Option<NaiveDate>,
    /// Window length in days from --from (default 7).
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Only these tickers (comma-separated).
    #[arg(long, value_name = "A,B,...")]
    pub tickers: Option<String>,
    /// Show only rows scoring at least this.
    #[arg(long, value_name = "X")]
    pub min_score: Option<f64>,
    /// Show at most this many analysed rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Order of the rows: tradeable first, then by score (default); or by score alone.
    #[arg(long, value_name = "tradeable|score", default_value = "tradeable")]
    pub rank: RankBy,
    /// Tickers analysed at once (default 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs the scan; exit 0 when every row is fine, 3 when some rows failed (listed on stderr).
pub async fn run(app: App, cid: String, a: ScanArgs) -> anyhow::Result<ExitCode> {
    let tickers = a.tickers.as_deref().map(parse_symbol_list).transpose()?;
    let req = ScanRequest {
        from: a.from,
        to: a.to,
        days: a.days,
        tickers,
        concurrency: a.concurrency.map(usize::from),
    };
    let bar = super::BarProgress::new(a.common.quiet, "scanning");
    let report = app.scanner().run(&req, &cid, Some(bar.clone())).await?;
    bar.finish();
    tracing::info!(
        run_id = %report.run_id,
        rows = report.rows.len(),
        from = %report.from,
        to = %report.to,
        "scan finished"
    );
    let c = app.cache_stats();
    tracing::info!(
        hits_memory = c.hits_memory,
        hits_store = c.hits_store,
        coalesced = c.coalesced,
        misses = c.misses,
        stale_served = c.stale_served,
        hit_rate = c.hit_rate(),
        "cache"
    );
    let view = RowView {
        rank: Some(a.rank),
        min_score: a.min_score,
        limit: a.limit,
    };
    let rows = report.view(&view);
    if let Some(reason) = report.empty_reason(&rows)
        && !a.common.quiet
    {
        let hint = if report.listed == 0 || report.already_out == report.listed {
            "; widen the window with --days or --to"
        } else {
            "; lower --min-score or raise --limit"
        };
        eprintln!("{reason}{hint}");
    }
    let caption = crate::output::caption(
        report.as_of,
        app.source(),
        Some((report.from, report.to)),
        Some(a.rank),
    );
    print_rows(&rows, a.format, &caption)?;
    Ok(super::report_failures(&report, "ticker(s)"))
}
