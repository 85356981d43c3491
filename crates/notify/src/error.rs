//! What a delivery can end in.

use std::time::Duration;

/// Why a webhook delivery (or building the [`Notifier`](crate::Notifier)) failed. Messages name
/// the endpoint by its configured name and never contain the secret or the URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// No endpoint with this name is configured (a stale outbox row after a configuration
    /// change: drop it).
    #[error("no webhook endpoint named `{0}` is configured")]
    UnknownEndpoint(String),
    /// The receiver refused the delivery for good: a 4xx other than 408 and 429, or a
    /// redirect (not followed: it would re-send a signed body to another address). Retrying the
    /// same body cannot help.
    #[error(
        "webhook `{endpoint}` refused the delivery with HTTP {status} (attempt {attempts}); not retried"
    )]
    Permanent {
        /// Endpoint name.
        endpoint: String,
        /// The receiver's HTTP status.
        status: u16,
        /// Attempts made (earlier ones failed retryably).
        attempts: u32,
    },
    /// Every attempt failed retryably (5xx, 408, 429, transport error, timeout), or the
    /// retries ran out of attempts, deadline or retry budget. The receiver may come back: try
    /// again later with the same idempotency key.
    #[error("webhook `{endpoint}`: gave up after {attempts} attempt(s): {last_error}")]
    GaveUp {
        /// Endpoint name.
        endpoint: String,
        /// Attempts made.
        attempts: u32,
        /// What the last attempt ended in (`HTTP 503`, `attempt timed out after 5s`, ...).
        last_error: String,
    },
    /// The endpoint's circuit breaker is open after repeated failures: nothing was sent.
    #[error("webhook `{endpoint}`: circuit breaker open, next trial in {retry_in:?}")]
    BreakerOpen {
        /// Endpoint name.
        endpoint: String,
        /// Time until the breaker lets a trial delivery through.
        retry_in: Duration,
    },
    /// The delivery itself cannot be sent (its idempotency key or event is empty, too long or
    /// not printable ASCII, so it cannot be a header); nothing was sent.
    #[error("webhook `{endpoint}`: delivery not sent: {reason}")]
    InvalidDelivery {
        /// Endpoint name.
        endpoint: String,
        /// What is wrong with the delivery.
        reason: String,
    },
    /// Invalid settings (every problem, by key), or the HTTP client could not be built.
    #[error("invalid webhook settings: {}", .0.join("; "))]
    Config(Vec<String>),
}

impl NotifyError {
    /// Whether delivering the same alert later may succeed ([`GaveUp`](Self::GaveUp),
    /// [`BreakerOpen`](Self::BreakerOpen)); `false` for outcomes that later attempts would
    /// repeat.
    pub fn retry_later(&self) -> bool {
        matches!(
            self,
            NotifyError::GaveUp { .. } | NotifyError::BreakerOpen { .. }
        )
    }

    /// The endpoint this error is about, when it names a configured one.
    pub fn endpoint(&self) -> Option<&str> {
        match self {
            NotifyError::Permanent { endpoint, .. }
            | NotifyError::GaveUp { endpoint, .. }
            | NotifyError::BreakerOpen { endpoint, .. } => Some(endpoint),
            NotifyError::InvalidDelivery { endpoint, .. } => Some(endpoint),
            NotifyError::UnknownEndpoint(_) | NotifyError::Config(_) => None,
        }
    }
}
