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
