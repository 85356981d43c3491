//! `ivcrush scan`: the main job.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::print_rows;
use crate::progress;
use chrono::NaiveDate;
use clap::Args;
use ivcrush_app::{App, RankBy, ScanRequest, symbols::parse_symbol_list};
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
    let from = a.from;
    let to = match (a.to, a.days) {
        (Some(t), _) => Some(t),
        (None, Some(d)) => {
            Some(from.unwrap_or_else(|| app.as_of_date()) + chrono::Duration::days(i64::from(d)))
        }
        (None, None) => None,
    };
    let req = ScanRequest {
        from,
        to,
        tickers,
        min_score: a.min_score,
        limit: a.limit,
        concurrency: a.concurrency.map(usize::from),
        rank: a.rank,
    };
    let (_, _, universe) = app.scan_universe(&req).await?;
    let total = req.tickers.as_ref().map_or(universe.len(), Vec::len);
    let bar = progress::bar(total as u64, a.common.quiet, "scanning");
    let tick = bar.clone();
    let report = app
        .scan(
            &req,
            &cid,
            Some(std::sync::Arc::new(move |t: &str| {
                tick.set_message(t.to_string());
                tick.inc(1);
            })),
        )
        .await?;
    bar.finish_and_clear();
    tracing::info!(
        run_id = %report.run_id,
        rows = report.rows.len(),
        from = %report.from,
        to = %report.to,
        "scan finished"
    );
    let c = app.cache.stats();
    tracing::info!(
        hits_memory = c.hits_memory,
        hits_store = c.hits_store,
        coalesced = c.coalesced,
        misses = c.misses,
        stale_served = c.stale_served,
        hit_rate = c.hit_rate(),
        "cache"
    );
    if report.rows.is_empty() && !a.common.quiet {
        eprintln!(
            "no earnings reports between {} and {} (as of {}); widen the window with --days or --to",
            report.from, report.to, report.as_of
        );
    }
    let caption = crate::output::caption(
        report.as_of,
        app.market.source,
        Some((report.from, report.to)),
        a.rank,
    );
    print_rows(&report.rows, a.format, &caption)?;
    let failed: Vec<_> = report.failed().collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{} ticker(s) failed (run {}):", failed.len(), report.run_id);
        for r in failed {
            eprintln!("  {}: {}", r.ticker(), r.error().unwrap_or_default());
        }
        Ok(ExitCode::from(3))
    }
}
