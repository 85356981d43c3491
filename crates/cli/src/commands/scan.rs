//! `ivcrush scan`: the main job.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::print_rows;
use anyhow::Context as _;
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
    /// Write the run's metrics to this file (Prometheus text, replaced atomically) for
    /// node_exporter's textfile collector (name it `*.prom`): a scan run by a timer has no
    /// /metrics of its own.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<std::path::PathBuf>,
    /// Hand the tickers to workers (`ivcrush worker`) through the Redis job queue, one job
    /// each, and gather their results from the database (shared by the workers, e.g.
    /// PostgreSQL); the output is the local scan's.
    #[arg(long)]
    pub distributed: bool,
    /// Redis URL of the job queue of --distributed (also REDIS_URL; else `jobs.redis`).
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The textfile of one run: its outcome, duration and rows, and the last success (carried
/// over from the previous file when this run failed, so that staleness alerts keep working).
fn metrics_text(
    previous: &str,
    now: f64,
    secs: f64,
    outcome: Result<(usize, usize), ()>,
) -> String {
    use std::fmt::Write as _;
    const LAST_SUCCESS: &str = "ivcrush_scan_last_success_timestamp_seconds";
    let last_success = match outcome {
        Ok(_) => Some(now),
        Err(()) => previous.lines().find_map(|l| {
            l.strip_prefix(LAST_SUCCESS)
                .and_then(|v| v.trim().parse::<f64>().ok())
        }),
    };
    let mut t = String::new();
    let mut family = |name: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(t, "{name}{labels} {value}");
        }
    };
    family(
        "ivcrush_build_info",
        "Always 1; the labels say which build ran (version, git_sha)",
        &[(
            &format!(
                "{{git_sha=\"{}\",version=\"{}\"}}",
                crate::runtime::GIT_SHA,
                crate::runtime::VERSION
            ),
            1.0,
        )],
    );
    family(
        "ivcrush_scan_last_run_timestamp_seconds",
        "Unix time the last scan ended",
        &[("", now)],
    );
    family(
        "ivcrush_scan_last_run_success",
        "1 when the last scan ran (some rows may have failed), 0 when it could not run",
        &[("", if outcome.is_ok() { 1.0 } else { 0.0 })],
    );
    family(
        "ivcrush_scan_last_duration_seconds",
        "Wall time of the last scan",
        &[("", secs)],
    );
    if let Some(at) = last_success {
        family(
            LAST_SUCCESS,
            "Unix time of the last successful scan",
            &[("", at)],
        );
    }
    if let Ok((analyzed, failed)) = outcome {
        family(
            "ivcrush_scan_rows",
            "Rows of the last scan by status",
            &[
                ("{status=\"analyzed\"}", analyzed as f64),
                ("{status=\"failed\"}", failed as f64),
            ],
        );
    }
    t
}

/// Replaces `path` with the run's metrics (a temporary file renamed over it: the collector
/// never reads half a file).
fn write_metrics(
    path: &std::path::Path,
    secs: f64,
    outcome: Result<(usize, usize), ()>,
) -> anyhow::Result<()> {
    let previous = std::fs::read_to_string(path).unwrap_or_default();
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    let text = metrics_text(&previous, now, secs, outcome);
    let tmp = path.with_extension("prom.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
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
    let started = std::time::Instant::now();
    let result = if a.distributed {
        let redis = match a.redis.as_deref() {
            Some(url) => url.to_string(),
            None if !app.config().jobs.redis.is_empty() => app.config().jobs.redis.clone(),
            None => anyhow::bail!(
                "--distributed needs the job queue: --redis URL, REDIS_URL or jobs.redis"
            ),
        };
        let r =
            ivcrush_app::distributed::coordinate(&app, &req, &cid, &redis, Some(bar.clone())).await;
        bar.finish();
        r.map_err(anyhow::Error::from)
    } else {
        let r = app.scanner().run(&req, &cid, Some(bar.clone())).await;
        bar.finish();
        r.map_err(anyhow::Error::from)
    };
    if let Some(path) = &a.metrics_file {
        let outcome = result.as_ref().map_err(|_| ()).map(|r| {
            let failed = r
                .rows
                .iter()
                .filter(|row| matches!(row, ivcrush_app::Row::Failed(_)))
                .count();
            (r.rows.len() - failed, failed)
        });
        // The scan's own outcome matters more than its metrics: a write failure is logged.
        if let Err(e) = write_metrics(path, started.elapsed().as_secs_f64(), outcome) {
            tracing::warn!(error = %format!("{e:#}"), "scan metrics not written");
        }
    }
    let report = result?;
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
