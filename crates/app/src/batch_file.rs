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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_keep_their_problem_and_line_number() {
        let list = read_batch_list(
            "ticker,earnings_date,expiration\nbrk-b,2026-02-05,\nAA$,2026-13-01,x,extra\n"
                .as_bytes(),
        )
        .expect("a readable list");
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].ticker, "BRK.B");
        assert_eq!(list[0].problem, None);
        let problem = list[1].problem.as_deref().expect("a problem");
        assert!(problem.starts_with("line 3: "), "{problem}");
        assert!(problem.contains("4 fields, the header has 3"), "{problem}");
        assert!(problem.contains("bad expiration \"x\""), "{problem}");
    }

    #[test]
    fn unknown_and_missing_columns_are_refused_by_name() {
        let e = read_batch_list("ticker,earnings_date,strike\n".as_bytes()).expect_err("strike");
        assert_eq!(
            e.to_string(),
            "unknown column `strike` (expected ticker,earnings_date[,expiration])"
        );
        let e = read_batch_list("ticker\nAAPL\n".as_bytes()).expect_err("no date column");
        assert_eq!(e.to_string(), "missing column `earnings_date`");
        let e = read_batch_list(&b"ticker,earnings_date\n\xff,2026-01-01\n"[..])
            .expect_err("not UTF-8");
        assert!(matches!(e, BatchFileError::Unreadable(_)), "{e:?}");
    }
}
