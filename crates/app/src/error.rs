//! The app's error type: what went wrong for a ticker or a command, with context.

use ivcrush_market::MarketError;
use ivcrush_store::StoreError;

/// An application error (per ticker or per command).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// Invalid user input (symbol, date, file).
    #[error("{0}")]
    Input(String),
    /// Market data could not be fetched.
    #[error("{context}: {source}")]
    Market {
        /// What was being fetched.
        context: String,
        /// The market error.
        #[source]
        source: MarketError,
    },
    /// The analysis could not be computed.
    #[error("{0}")]
    Analysis(#[from] ivcrush_core::AnalysisError),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    /// Configuration problem.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

impl AppError {
    /// Wraps a market error with what was being fetched.
    pub fn market(context: impl Into<String>, source: MarketError) -> Self {
        AppError::Market {
            context: context.into(),
            source,
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
}
