//! `ivcrush batch FILE.csv`: analyse listed tickers (`ticker,earnings_date[,expiration]`).

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::print_rows;
use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use ivcrush_app::{App, ListedTicker, RankBy, RowView, symbols::normalize_symbol};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `ivcrush batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// CSV with a header `ticker,earnings_date[,expiration]` (`-` for stdin).
    pub file: PathBuf,
    /// Order of the rows: the file's (default); tradeable first, then by score; or by score.
    #[arg(long, value_name = "tradeable|score")]
    pub rank: Option<RankBy>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The columns a batch file may have.
const COLUMNS: [&str; 3] = ["ticker", "earnings_date", "expiration"];

/// Reads the list: a header naming `ticker`, `earnings_date` and optionally `expiration` (any
/// other column is refused, naming it); one ticker per line, its problems (bad symbol, bad date,
/// extra fields) kept on the line's row with its line number.
fn read_list(file: &PathBuf) -> anyhow::Result<Vec<ListedTicker>> {
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
    if let Some(extra) = headers
        .iter()
        .find(|h| !COLUMNS.iter().any(|c| h.eq_ignore_ascii_case(c)))
    {
        anyhow::bail!(
            "{}: unknown column `{extra}` (expected ticker,earnings_date[,expiration])",
            file.display()
        );
    }
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let t =
        col("ticker").with_context(|| format!("{}: missing column `ticker`", file.display()))?;
    let e = col("earnings_date")
        .with_context(|| format!("{}: missing column `earnings_date`", file.display()))?;
    let x = col("expiration");
    let mut list = Vec::new();
    for rec in rdr.records() {
        let rec = rec.with_context(|| format!("{}: unreadable CSV", file.display()))?;
        // The record's own position: blank lines and quoted newlines keep numbers true.
        let line = rec.position().map_or(0, csv::Position::line);
        let mut problems = Vec::new();
        if rec.len() > headers.len() {
            problems.push(format!(
                "{} fields, the header has {}",
                rec.len(),
                headers.len()
            ));
        }
        let mut date = |idx: Option<usize>, what: &str| -> Option<NaiveDate> {
            let s = idx.and_then(|i| rec.get(i)).filter(|s| !s.is_empty())?;
            s.parse()
                .map_err(|_| problems.push(format!("bad {what} {s:?} (expected YYYY-MM-DD)")))
                .ok()
        };
        let earnings_date = date(Some(e), "earnings_date");
        let expiration = date(x, "expiration");
        let raw = rec.get(t).unwrap_or("");
        let ticker = normalize_symbol(raw).unwrap_or_else(|err| {
            problems.insert(0, err.to_string());
            raw.to_string()
        });
        list.push(ListedTicker {
            line,
            ticker,
            earnings_date,
            expiration,
            problem: (!problems.is_empty())
                .then(|| format!("line {line}: {}", problems.join("; "))),
        });
    }
    Ok(list)
}

/// Runs the batch; exit 3 when some rows failed.
pub async fn run(app: App, cid: String, a: BatchArgs) -> anyhow::Result<ExitCode> {
    let list = read_list(&a.file)?;
    let bar = super::BarProgress::new(a.common.quiet, "batch");
    let report = app
        .scanner()
        .run_list(list, &cid, Some(bar.clone()))
        .await?;
    bar.finish();
    let rows = report.view(&RowView {
        rank: a.rank,
        ..RowView::default()
    });
    let caption = crate::output::caption(report.as_of, app.source(), None, a.rank);
    print_rows(&rows, a.format, &caption)?;
    Ok(super::report_failures(&report, "row(s)"))
}
