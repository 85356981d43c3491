//! `ivcrush batch FILE.csv`: analyse listed tickers (`ticker,earnings_date[,expiration]`).

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::print_rows;
use anyhow::Context;
use clap::Args;
use ivcrush_app::batch_file::{BatchFileError, read_batch_list};
use ivcrush_app::{App, ListedTicker, RankBy, RowView};
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

/// Reads the list ([`read_batch_list`]), naming `file` in its errors.
fn read_list(file: &PathBuf) -> anyhow::Result<Vec<ListedTicker>> {
    let reader: Box<dyn std::io::Read> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        )
    };
    read_batch_list(reader).map_err(|e| match e {
        BatchFileError::Header(e) => anyhow::Error::from(e),
        BatchFileError::Unreadable(e) => {
            anyhow::Error::from(e).context(format!("{}: unreadable CSV", file.display()))
        }
        other => anyhow::anyhow!("{}: {other}", file.display()),
    })
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
