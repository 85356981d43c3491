//! The crate's errors.

use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::PolicyKind;

/// Invalid settings; lists every problem at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resilience configuration: {}", problems.join("; "))]
pub struct ConfigError {
    /// One human-readable line per problem.
    pub problems: Vec<String>,
}

impl ConfigError {
    pub(crate) fn check(problems: Vec<String>) -> Result<(), ConfigError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// Why a call through a [`Pipeline`](crate::Pipeline) failed: which policy refused it, or the
/// inner error. `attempts` counts calls of the inner closure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResilienceError<E> {
    /// The circuit breaker is open (or half-open without a free trial permit).
    #[error("circuit breaker `{name}` is open; it tries again in {retry_in:?}")]
    CircuitOpen {
        /// Breaker name.
        name: Arc<str>,
        /// Time until a trial call may pass (`Duration::MAX` while forced open).
        retry_in: Duration,
        /// Attempts made before the refusal.
        attempts: u32,
    },
    /// The rate limiter's wait would pass the deadline.
    #[error("rate limited by `{name}`: a wait of {wait:?} would pass the deadline")]
    RateLimited {
        /// Limiter name.
        name: Arc<str>,
        /// The wait that was needed.
        wait: Duration,
        /// Attempts made before the refusal.
        attempts: u32,
    },
    /// The bulkhead and its queue are full.
    #[error("bulkhead `{name}` is full")]
    BulkheadFull {
        /// Bulkhead name.
        name: Arc<str>,
        /// Attempts made before the refusal.
        attempts: u32,
    },
    /// The last attempt took longer than the per-attempt timeout.
    #[error("`{name}`: attempt {attempts} timed out after {timeout:?}")]
    AttemptTimeout {
        /// Dependency name.
        name: Arc<str>,
        /// The per-attempt timeout.
        timeout: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// The overall deadline passed (while queued or during an attempt).
    #[error("`{name}`: deadline exceeded after {attempts} attempt(s)")]
    DeadlineExceeded {
        /// Dependency name.
        name: Arc<str>,
        /// Attempts made.
        attempts: u32,
    },
    /// The inner call failed and was not (or no longer) retried: not retryable, attempts,
    /// budget or deadline exhausted. The source is the last error.
    // The message leaves the source out on purpose: it is exposed through `source()`, and
    // chain printers (anyhow's `{:#}`, error reports) would otherwise show it twice.
    #[error("call failed after {attempts} attempt(s)")]
    Inner {
        /// The last error of the inner call.
        #[source]
        source: E,
        /// Attempts made.
        attempts: u32,
    },
}

impl<E> ResilienceError<E> {
    /// The policy that refused the call; `None` for [`ResilienceError::Inner`].
    pub fn refused_by(&self) -> Option<PolicyKind> {
        match self {
            ResilienceError::CircuitOpen { .. } => Some(PolicyKind::CircuitBreaker),
            ResilienceError::RateLimited { .. } => Some(PolicyKind::RateLimiter),
            ResilienceError::BulkheadFull { .. } => Some(PolicyKind::Bulkhead),
            ResilienceError::AttemptTimeout { .. } => Some(PolicyKind::AttemptTimeout),
            ResilienceError::DeadlineExceeded { .. } => Some(PolicyKind::Deadline),
            ResilienceError::Inner { .. } => None,
        }
    }

    /// Calls made to the inner closure.
    pub fn attempts(&self) -> u32 {
        match self {
            ResilienceError::CircuitOpen { attempts, .. }
            | ResilienceError::RateLimited { attempts, .. }
            | ResilienceError::BulkheadFull { attempts, .. }
            | ResilienceError::AttemptTimeout { attempts, .. }
            | ResilienceError::DeadlineExceeded { attempts, .. }
            | ResilienceError::Inner { attempts, .. } => *attempts,
        }
    }

    /// The inner error, if the inner call failed.
    pub fn inner(&self) -> Option<&E> {
        match self {
            ResilienceError::Inner { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("vendor answered 503")]
    struct Vendor;

    /// What `anyhow`'s `{:#}` prints: each message of the chain, joined by ": ".
    fn chain(error: &(dyn std::error::Error + 'static)) -> String {
        let mut parts = vec![error.to_string()];
        let mut next = error.source();
        while let Some(e) = next {
            parts.push(e.to_string());
            next = e.source();
        }
        parts.join(": ")
    }

    #[test]
    fn the_inner_error_is_shown_once_in_a_chain() {
        let error = ResilienceError::Inner {
            source: Vendor,
            attempts: 3,
        };
        assert_eq!(error.to_string(), "call failed after 3 attempt(s)");
        assert!(error.source().is_some(), "the cause is the source");
        assert_eq!(
            chain(&error),
            "call failed after 3 attempt(s): vendor answered 503"
        );
    }

    #[test]
    fn policy_refusals_have_no_source() {
        let refusals: [ResilienceError<Vendor>; 2] = [
            ResilienceError::RateLimited {
                name: Arc::from("tradier"),
                wait: Duration::from_secs(3),
                attempts: 0,
            },
            ResilienceError::DeadlineExceeded {
                name: Arc::from("tradier"),
                attempts: 2,
            },
        ];
        for error in refusals {
            assert!(error.source().is_none(), "{error}");
        }
    }
}
