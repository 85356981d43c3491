//! The list of `ivcrush batch FILE.csv`: a header naming `ticker`, `earnings_date` and
//! optionally `expiration`, then one ticker per line.

use std::io::Read;

use chrono::NaiveDate;

use crate::scanner::ListedTicker;
use crate::symbols::normalize_symbol;

/// The columns a batch file may have.
pub const BATCH_COLUMNS: [&str; 3] = ["ticker", "earnings_date", "expiration"];

/// Why a batch file cannot be read at all (a bad line is a [`ListedTicker::problem`] instead).
#[derive(Debug, thiserror::Error)]
pub enum BatchFileError {
    /// The header is not readable CSV.
    #[error(transparent)]
    Header(csv::Error),
    /// A column that is not one of [`BATCH_COLUMNS`].
    #[error("unknown column `{0}` (expected ticker,earnings_date[,expiration])")]
    UnknownColumn(String),
    /// A required column is absent.
    #[error("missing column `{0}`")]
    MissingColumn(&'static str),
    /// A record is not readable CSV (e.g. invalid UTF-8).
    #[error("unreadable CSV")]
    Unreadable(#[source] csv::Error),
}

/// Reads the list: any column other than [`BATCH_COLUMNS`] is refused, naming it; each line's
/// problems (bad symbol, bad date, extra fields) are kept on its row with its line number.
///
/// # Errors
/// [`BatchFileError`] for an unreadable file, an unknown or missing column.
pub fn read_batch_list(reader: impl Read) -> Result<Vec<ListedTicker>, BatchFileError> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = rdr.headers().map_err(BatchFileError::Header)?.clone();
    if let Some(extra) = headers
        .iter()
        .find(|h| !BATCH_COLUMNS.iter().any(|c| h.eq_ignore_ascii_case(c)))
    {
        return Err(BatchFileError::UnknownColumn(extra.to_owned()));
    }
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let t = col("ticker").ok_or(BatchFileError::MissingColumn("ticker"))?;
    let e = col("earnings_date").ok_or(BatchFileError::MissingColumn("earnings_date"))?;
    let x = col("expiration");
    let mut list = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(BatchFileError::Unreadable)?;
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
