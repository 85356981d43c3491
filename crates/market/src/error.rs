//! The one error type of the market adapters.

use std::time::Duration;

/// What went wrong fetching market data. Messages never contain API keys.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MarketError {
    /// The vendor does not know this symbol.
    #[error("unknown symbol {0}")]
    UnknownSymbol(String),
    /// No options are listed for the symbol / expiration.
    #[error("no options listed for {symbol} {expiration}")]
    NoOptions {
        /// Underlying.
        symbol: String,
        /// Expiration asked for (`-` when listing expirations).
        expiration: String,
    },
    /// The request was refused as unauthorised (bad or missing key).
    #[error("{vendor}: not authorised ({message})")]
    Unauthorized {
        /// Vendor name.
        vendor: &'static str,
        /// Vendor's message.
        message: String,
    },
    /// The vendor says we are over our quota.
    #[error("{vendor}: rate limited{}", .retry_in.map(|d| format!(", retry in {:.1}s", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// Vendor name.
        vendor: &'static str,
        /// When to try again, if the vendor said.
        retry_in: Option<Duration>,
    },
    /// A request parameter was refused (HTTP 400 or the vendor's equivalent).
    #[error("{vendor}: bad request: {message}")]
    BadRequest {
        /// Vendor name.
        vendor: &'static str,
        /// Vendor's message.
        message: String,
    },
    /// The plan does not include this endpoint or parameter.
    #[error("{vendor}: not available on this plan: {message}")]
    PlanLimit {
        /// Vendor name.
        vendor: &'static str,
        /// Vendor's message.
        message: String,
    },
    /// The vendor failed (HTTP 5xx).
    #[error("{vendor}: server error {status}")]
    Server {
        /// Vendor name.
        vendor: &'static str,
        /// HTTP status.
        status: u16,
    },
    /// The request timed out.
    #[error("{vendor}: timed out")]
    Timeout {
        /// Vendor name.
        vendor: &'static str,
    },
    /// The connection failed.
    #[error("{vendor}: connection failed: {message}")]
    Connect {
        /// Vendor name.
        vendor: &'static str,
        /// Cause (no URL query strings: they may carry keys).
        message: String,
    },
    /// The body did not parse.
    #[error("{vendor}: cannot decode {endpoint}: {message}")]
    Decode {
        /// Vendor name.
        vendor: &'static str,
        /// Endpoint.
        endpoint: &'static str,
        /// Parser message.
        message: String,
    },
    /// A resilience policy refused the call (breaker open, limiter, bulkhead, deadline).
    #[error("{0}")]
    Refused(String),
    /// Configuration problem (e.g. a demo key).
    #[error("configuration: {0}")]
    Config(String),
    /// Bad input from a file.
    #[error("{0}")]
    Input(String),
}

impl MarketError {
    /// Transient failures worth retrying: timeouts, connection errors, 5xx, rate limits.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            MarketError::Timeout { .. }
                | MarketError::Connect { .. }
                | MarketError::Server { .. }
                | MarketError::RateLimited { .. }
        )
    }
}
