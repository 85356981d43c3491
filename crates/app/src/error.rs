//! The app's error type: what went wrong for a ticker or a command, as typed variants that the
//! surfaces map once (the CLI to exit codes and hints, the server to HTTP statuses).
//!
//! Messages name the input and the reason, never a CLI flag: the CLI adds its own hints.

use chrono::NaiveDate;
use ivcrush_core::EarningsEvent;
use ivcrush_market::MarketError;
use ivcrush_store::StoreError;

/// An application error (per ticker or per command).
///
/// Not `#[non_exhaustive]` on purpose: the surfaces match it exhaustively, so a new variant
/// must be given a status and an exit code where they are decided.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A symbol that is not a ticker symbol at all.
    #[error(transparent)]
    InvalidSymbol(#[from] crate::symbols::SymbolError),
    /// The provider does not know the ticker.
    #[error("unknown ticker {ticker}: {reason}")]
    UnknownTicker {
        /// The ticker.
        ticker: String,
        /// What said so (no quote, the vendor).
        reason: String,
    },
    /// The calendar knows no report ahead of the as-of.
    #[error("{}", no_upcoming_text(ticker, reported.as_ref(), *horizon_days))]
    NoUpcomingReport {
        /// The ticker.
        ticker: String,
        /// Its latest report already out, when the calendar knows one.
        reported: Option<EarningsEvent>,
        /// Days ahead searched.
        horizon_days: i64,
    },
    /// The report asked for is already out at the as-of.
    #[error("{message}")]
    ReportOut {
        /// The ticker.
        ticker: String,
        /// The report date given.
        date: NaiveDate,
        /// The whole explanation (as-of, the next report).
        message: String,
    },
    /// The expiration asked for cannot be analysed (not listed, or before the reaction).
    #[error("{message}")]
    ExpirationUnusable {
        /// The ticker.
        ticker: String,
        /// The expiration given (`None`: none listed after the report).
        expiration: Option<NaiveDate>,
        /// The whole explanation (listed expirations, the first usable one).
        message: String,
    },
    /// A date window that ends before it starts or is too long.
    #[error("invalid window {from}..{to}: {reason}")]
    InvalidWindow {
        /// First date.
        from: NaiveDate,
        /// Last date.
        to: NaiveDate,
        /// Why it is refused.
        reason: String,
    },
    /// An as-of asked of a provider that only answers as of now.
    #[error(
        "as-of {as_of}: the {provider} provider answers as of now; an as-of applies to the simulated market and files"
    )]
    AsOfNotReplayable {
        /// The as-of asked for.
        as_of: String,
        /// The provider.
        provider: &'static str,
    },
    /// A file to import or read could not be used.
    #[error("{path}: {reason}")]
    InvalidFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The vendor has no options for the ticker (or the expiration).
    #[error("{context}: {source}")]
    NoOptions {
        /// What was being fetched.
        context: String,
        /// The vendor's answer.
        #[source]
        source: MarketError,
    },
    /// Market data could not be fetched (vendor down, rate limited, malformed answer).
    #[error("{context}: {source}")]
    Market {
        /// What was being fetched.
        context: String,
        /// The market error.
        #[source]
        source: MarketError,
    },
    /// The analysis could not be computed (a sanity gate, too little data).
    #[error("{0}")]
    Analysis(#[from] ivcrush_core::AnalysisError),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// The read-through cache failed for another reason than the vendor.
    #[error("{context}: cache: {detail}")]
    Cache {
        /// What was being read.
        context: String,
        /// The cache's error.
        detail: String,
    },
    /// Configuration problem.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// The distributed scan's job queue (Redis) failed.
    #[error("job queue: {0}")]
    Queue(#[from] ivcrush_jobs::JobError),
}

fn no_upcoming_text(ticker: &str, reported: Option<&EarningsEvent>, horizon: i64) -> String {
    match reported {
        Some(r) => format!(
            "{ticker} reported {} ({}); no next report known in the next {horizon} days",
            r.date,
            r.timing.as_str()
        ),
        None => format!("no earnings report for {ticker} in the next {horizon} days"),
    }
}

/// What kind of failure an [`AppError`] is, for the surfaces' one mapping to exit codes and
/// HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is malformed (symbol, window, file): fix the request.
    InvalidInput,
    /// What was asked for does not exist (ticker, report, listed expiration).
    NotFound,
    /// The inputs exist but cannot support an analysis (no options, a sanity gate).
    Unprocessable,
    /// The vendor is rate limiting us: retry later.
    RateLimited,
    /// A dependency (vendor) is unavailable.
    Unavailable,
    /// Our side failed (store, cache, configuration).
    Internal,
}

impl AppError {
    /// Wraps a market error with what was being fetched, typing what the surfaces tell apart
    /// (unknown symbol, no options).
    pub fn market(context: impl Into<String>, source: MarketError) -> Self {
        let context = context.into();
        match source {
            MarketError::UnknownSymbol(ticker) => AppError::UnknownTicker {
                ticker,
                reason: format!("{context}: the vendor does not know it"),
            },
            source @ MarketError::NoOptions { .. } => AppError::NoOptions { context, source },
            source => AppError::Market { context, source },
        }
    }

    /// The fleet (`[fleet]`) could not be joined: a configuration problem.
    pub fn fleet(source: ivcrush_fleet::FleetError) -> Self {
        AppError::Config(crate::config::ConfigError {
            problems: vec![source.to_string()],
        })
    }

    /// The kind of failure (one exhaustive match: a new variant must be classified here).
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::InvalidSymbol(_)
            | AppError::InvalidWindow { .. }
            | AppError::AsOfNotReplayable { .. }
            | AppError::InvalidFile { .. } => ErrorKind::InvalidInput,
            AppError::ReportOut { .. } | AppError::ExpirationUnusable { .. } => {
                ErrorKind::InvalidInput
            }
            AppError::UnknownTicker { .. } | AppError::NoUpcomingReport { .. } => {
                ErrorKind::NotFound
            }
            AppError::NoOptions { .. } | AppError::Analysis(_) => ErrorKind::Unprocessable,
            AppError::Market { source, .. } => match source {
                MarketError::RateLimited { .. } => ErrorKind::RateLimited,
                _ => ErrorKind::Unavailable,
            },
            AppError::Store(_) | AppError::Cache { .. } | AppError::Config(_) => {
                ErrorKind::Internal
            }
            AppError::Queue(_) => ErrorKind::Unavailable,
        }
    }
}

/// An error and its causes as one line, `outer: cause: root`, each cause once.
///
/// Our error types show their cause in their own message (so `to_string()` is complete for
/// logs, rows and HTTP bodies) and also expose it as `source()` (so callers can inspect it);
/// printing the whole chain naively would then show every cause twice. A cause whose text the
/// line already ends with is skipped.
pub fn error_report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !line.ends_with(&text) && !line.contains(&format!("{text}: ")) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_appears_once() {
        let e = AppError::market(
            "quote of AAPL",
            MarketError::Server {
                vendor: "tradier",
                status: 503,
            },
        );
        assert_eq!(error_report(&e), "quote of AAPL: tradier: server error 503");
        let wrapped = std::io::Error::other(e);
        assert_eq!(
            error_report(&wrapped),
            "quote of AAPL: tradier: server error 503"
        );
    }

    #[test]
    fn vendor_errors_are_typed_by_what_the_surfaces_tell_apart() {
        let e = AppError::market("quote of ZZZZ", MarketError::UnknownSymbol("ZZZZ".into()));
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            error_report(&e),
            "unknown ticker ZZZZ: quote of ZZZZ: the vendor does not know it"
        );
        let e = AppError::market(
            "chain of AAPL 2026-12-04",
            MarketError::NoOptions {
                symbol: "AAPL".into(),
                expiration: "2026-12-04".into(),
            },
        );
        assert_eq!(e.kind(), ErrorKind::Unprocessable);
        let e = AppError::market(
            "quote of AAPL",
            MarketError::Server {
                vendor: "tradier",
                status: 503,
            },
        );
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }

    #[test]
    fn library_messages_name_no_cli_flag() {
        let e = AppError::NoUpcomingReport {
            ticker: "ZZZ".into(),
            reported: None,
            horizon_days: 120,
        };
        assert_eq!(
            e.to_string(),
            "no earnings report for ZZZ in the next 120 days"
        );
        assert!(!e.to_string().contains("--"));
    }
}
