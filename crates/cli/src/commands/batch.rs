//! `ivcrush batch FILE.csv`: analyse listed tickers (`ticker,earnings_date[,expiration]`).

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::print_rows;
use crate::progress;
use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use ivcrush_app::{
    AnalyzeOptions, App, FailedRow, RankBy, Row, record::rank_by, symbols::normalize_symbol,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ivcrush batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// CSV with a header `ticker,earnings_date[,expiration]` (`-` for stdin).
    pub file: PathBuf,
    /// Order of the rows: tradeable first, then by score (default); or by score alone.
    #[arg(long, value_name = "tradeable|score", default_value = "tradeable")]
    pub rank: RankBy,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

struct Job {
    line: u64,
    ticker: Result<String, String>,
    earnings_date: Result<Option<NaiveDate>, String>,
    expiration: Result<Option<NaiveDate>, String>,
}

fn read_jobs(file: &PathBuf) -> anyhow::Result<Vec<Job>> {
    let reader: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        )
    };
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr.headers()?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let t =
        col("ticker").with_context(|| format!("{}: missing column `ticker`", file.display()))?;
    let e = col("earnings_date")
        .with_context(|| format!("{}: missing column `earnings_date`", file.display()))?;
    let x = col("expiration");
    let mut jobs = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.with_context(|| format!("{}: line {line}", file.display()))?;
        let date = |idx: Option<usize>, what: &str| -> Result<Option<NaiveDate>, String> {
            match idx.and_then(|i| rec.get(i)).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("line {line}: bad {what} {s:?} (expected YYYY-MM-DD)")),
            }
        };
        jobs.push(Job {
            line,
            ticker: normalize_symbol(rec.get(t).unwrap_or(""))
                .map_err(|err| format!("line {line}: {err}")),
            earnings_date: date(Some(e), "earnings_date"),
            expiration: date(x, "expiration"),
        });
    }
    Ok(jobs)
}

/// Runs the batch; exit 3 when some rows failed.
pub async fn run(app: App, cid: String, a: BatchArgs) -> anyhow::Result<ExitCode> {
    let jobs = read_jobs(&a.file)?;
    let bar = progress::bar(jobs.len() as u64, a.common.quiet, "batch");
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(app.config.scan.concurrency));
    let mut set = tokio::task::JoinSet::new();
    for job in jobs {
        let app = app.clone();
        let sem = sem.clone();
        let bar = bar.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await;
            let raw = job.ticker.clone().unwrap_or_else(|e| e);
            let row = match (job.ticker, job.earnings_date, job.expiration) {
                (Ok(t), Ok(d), Ok(x)) => {
                    let opts = AnalyzeOptions {
                        earnings_date: d,
                        expiration: x,
                        // A batch is a scan of a list: the same quota rule on a live vendor.
                        max_chains: app.is_live().then_some(app.config.scan.live_chains),
                        ..AnalyzeOptions::default()
                    };
                    match app.analyze_ticker(&t, &opts).await {
                        Ok(r) => Row::Analyzed(Box::new(r)),
                        Err(e) => Row::Failed(FailedRow {
                            ticker: t,
                            earnings_date: d,
                            timing: None,
                            error: e.to_string(),
                        }),
                    }
                }
                (t, d, x) => Row::Failed(FailedRow {
                    ticker: t.clone().unwrap_or(raw),
                    earnings_date: d.clone().ok().flatten(),
                    timing: None,
                    error: [t.err(), d.err(), x.err()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("; "),
                }),
            };
            bar.inc(1);
            (job.line, row)
        });
    }
    let mut rows = Vec::new();
    while let Some(r) = set.join_next().await {
        rows.push(r?);
    }
    bar.finish_and_clear();
    rows.sort_by_key(|(line, _)| *line);
    let mut rows: Vec<Row> = rows.into_iter().map(|(_, r)| r).collect();
    rank_by(&mut rows, a.rank);
    let now = chrono::Utc::now();
    let stored: Vec<_> = rows
        .iter()
        .map(|r| match r {
            Row::Analyzed(x) => ivcrush_store::NewAnalysis::ok(&cid, x.analysis.clone(), now),
            Row::Failed(f) => {
                ivcrush_store::NewAnalysis::failed(&cid, &f.ticker, app.as_of(), &f.error, now)
            }
        })
        .collect();
    app.store.insert_analyses(&stored).await?;
    let caption = crate::output::caption(app.as_of(), app.market.source, None, a.rank);
    print_rows(&rows, a.format, &caption)?;
    let failed: Vec<&Row> = rows.iter().filter(|r| r.error().is_some()).collect();
    if failed.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("{} row(s) failed (run {cid}):", failed.len());
    for r in failed {
        eprintln!("  {}: {}", r.ticker(), r.error().unwrap_or_default());
    }
    Ok(ExitCode::from(3))
}
