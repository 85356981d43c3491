//! One classification of call results, shared by the breaker, retry and metrics.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// How the circuit breaker reads the result of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The dependency answered correctly (this includes HTTP 4xx other than 408 and 429).
    Success,
    /// The dependency is unhealthy: connection error, timeout, HTTP 5xx or 408.
    Failure,
    /// Says nothing about the dependency's health (HTTP 429, our own rejections);
    /// not counted, and a half-open trial permit is returned.
    Ignored,
}

/// A server's hint for when to try again; it overrides the computed backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryHint {
    /// Wait this long from now (`Retry-After: 7`).
    After(Duration),
    /// Wait until this instant on the tokio clock.
    At(Instant),
}

impl RetryHint {
    /// The delay from `now` this hint asks for (zero when it lies in the past).
    pub fn delay_from(self, now: Instant) -> Duration {
        match self {
            RetryHint::After(delay) => delay,
            RetryHint::At(at) => at.saturating_duration_since(now),
        }
    }
}

/// Classifies the caller's error type `E` for the breaker, the retry loop and metrics.
///
/// Any `Fn(&E) -> Outcome` is a classifier whose failures are retryable and which gives no hint.
pub trait Classifier<E>: Send + Sync {
    /// What the breaker records for this error.
    fn classify(&self, error: &E) -> Outcome;

    /// Whether another attempt may help. Default: the error is a [`Outcome::Failure`].
    fn retryable(&self, error: &E) -> bool {
        self.classify(error) == Outcome::Failure
    }

    /// A server hint for the next delay (`Retry-After`, `X-Ratelimit-Expiry`). Default: none.
    fn retry_hint(&self, _error: &E) -> Option<RetryHint> {
        None
    }
}

impl<E, F> Classifier<E> for F
where
    F: Fn(&E) -> Outcome + Send + Sync,
{
    fn classify(&self, error: &E) -> Outcome {
        self(error)
    }
}

/// What an HTTP client error exposes so that [`HttpClassifier`] can read it.
pub trait HttpFailure {
    /// The response status, or `None` when there was no response (connection error, timeout).
    fn status(&self) -> Option<u16>;

    /// A server hint for the next attempt, usually from [`parse_retry_after`] or
    /// [`epoch_reset_delay`]. Default: none.
    fn retry_hint(&self) -> Option<RetryHint> {
        None
    }
}

/// The ready-made HTTP classifier (spec §Circuit breaker "What counts"):
///
/// | result | breaker | retried |
/// |---|---|---|
/// | no response (connect error, timeout) | failure | yes |
/// | 5xx, 408 | failure | yes |
/// | 429 | ignored | yes, honouring the hint |
/// | other 4xx, 2xx, 3xx | success | never |
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpClassifier;

/// Breaker outcome of an HTTP status (see [`HttpClassifier`]).
pub fn classify_http_status(status: u16) -> Outcome {
    match status {
        429 => Outcome::Ignored,
        408 | 500..=599 => Outcome::Failure,
        _ => Outcome::Success,
    }
}

/// Whether an HTTP status is worth another attempt: 408, 429 and 5xx.
pub fn http_status_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

impl<E: HttpFailure> Classifier<E> for HttpClassifier {
    fn classify(&self, error: &E) -> Outcome {
        error
            .status()
            .map_or(Outcome::Failure, classify_http_status)
    }

    fn retryable(&self, error: &E) -> bool {
        error.status().is_none_or(http_status_retryable)
    }

    fn retry_hint(&self, error: &E) -> Option<RetryHint> {
        error.retry_hint()
    }
}

/// Parses a `Retry-After` header value: delta-seconds (`"7"`) or an HTTP date
/// (`"Wed, 21 Oct 2026 07:28:00 GMT"`), relative to the wall-clock `now`.
///
/// A date in the past gives zero. Returns `None` when the value is neither form.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Converts a reset time such as Tradier's `X-Ratelimit-Expiry` into a delay from the
/// wall-clock `now`. Values ≥ 1e12 are epoch milliseconds; smaller ones are epoch seconds.
/// A reset time in the past gives zero.
pub fn epoch_reset_delay(reset: u64, now: SystemTime) -> Duration {
    let at = if reset >= 1_000_000_000_000 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(reset)
    } else {
        SystemTime::UNIX_EPOCH + Duration::from_secs(reset)
    };
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_statuses_map_to_the_spec_table() {
        assert_eq!(classify_http_status(404), Outcome::Success);
        assert_eq!(classify_http_status(400), Outcome::Success);
        assert_eq!(classify_http_status(200), Outcome::Success);
        assert_eq!(classify_http_status(408), Outcome::Failure);
        assert_eq!(classify_http_status(503), Outcome::Failure);
        assert_eq!(classify_http_status(429), Outcome::Ignored);
        assert!(http_status_retryable(429));
        assert!(http_status_retryable(500));
        assert!(!http_status_retryable(404));
        assert!(!http_status_retryable(401));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn epoch_reset_accepts_milliseconds_and_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            epoch_reset_delay(1_700_000_040_000, now),
            Duration::from_secs(40)
        );
        assert_eq!(
            epoch_reset_delay(1_700_000_040, now),
            Duration::from_secs(40)
        );
        assert_eq!(epoch_reset_delay(1_600_000_000, now), Duration::ZERO);
    }
}
