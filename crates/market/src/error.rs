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
    /// The vendor answered something other than what was asked (another expiration or
    /// underlying): never used.
    #[error("{vendor}: unexpected {endpoint} answer: {message}")]
    Unexpected {
        /// Vendor name.
        vendor: &'static str,
        /// Endpoint.
        endpoint: &'static str,
        /// What was asked and what came.
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

impl MarketError {
    /// The vendor named in the error, if any.
    pub fn vendor(&self) -> Option<&'static str> {
        match self {
            MarketError::Unauthorized { vendor, .. }
            | MarketError::RateLimited { vendor, .. }
            | MarketError::BadRequest { vendor, .. }
            | MarketError::PlanLimit { vendor, .. }
            | MarketError::Server { vendor, .. }
            | MarketError::Timeout { vendor }
            | MarketError::Connect { vendor, .. }
            | MarketError::Decode { vendor, .. }
            | MarketError::Unexpected { vendor, .. } => Some(vendor),
            _ => None,
        }
    }

    /// `true` when a circuit breaker refused the call without trying the vendor.
    pub fn is_breaker_open(&self) -> bool {
        matches!(self, MarketError::Refused(m) if m.starts_with(BREAKER_OPEN_PREFIX))
    }

    /// Converts a resilience pipeline's error: the inner error as is, an attempt timeout as
    /// [`MarketError::Timeout`], every policy refusal as [`MarketError::Refused`] (a breaker
    /// refusal is recognisable through [`MarketError::is_breaker_open`]).
    pub fn from_resilience(
        vendor: &'static str,
        error: ivcrush_resilience::ResilienceError<MarketError>,
    ) -> MarketError {
        use ivcrush_resilience::ResilienceError as R;
        match error {
            R::Inner { source, .. } => source,
            R::AttemptTimeout { .. } => MarketError::Timeout { vendor },
            e @ R::CircuitOpen { .. } => MarketError::Refused(format!("{BREAKER_OPEN_PREFIX}{e}")),
            other => MarketError::Refused(format!("{vendor}: {other}")),
        }
    }
}

const BREAKER_OPEN_PREFIX: &str = "breaker open: ";

/// How the resilience pipeline reads a market error (through
/// [`ivcrush_resilience::HttpClassifier`]): no response → failure, 5xx → failure, 429 → ignored
/// with the vendor's hint, every other answer (including "no data", 400, 401, plan limits and
/// undecodable bodies) → success, never retried.
impl ivcrush_resilience::HttpFailure for MarketError {
    fn status(&self) -> Option<u16> {
        match self {
            MarketError::Timeout { .. } | MarketError::Connect { .. } => None,
            MarketError::Server { status, .. } => Some(*status),
            MarketError::RateLimited { .. } => Some(429),
            MarketError::Unauthorized { .. } => Some(401),
            MarketError::PlanLimit { .. } => Some(403),
            MarketError::UnknownSymbol(_) | MarketError::NoOptions { .. } => Some(404),
            MarketError::Decode { .. } => Some(200),
            _ => Some(400),
        }
    }

    fn retry_hint(&self) -> Option<ivcrush_resilience::RetryHint> {
        match self {
            MarketError::RateLimited {
                retry_in: Some(d), ..
            } => Some(ivcrush_resilience::RetryHint::After(*d)),
            _ => None,
        }
    }
}
