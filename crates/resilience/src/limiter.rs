//! Multi-window rate limiting on `governor`, driven by the tokio clock.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use metrics::{Counter, Histogram};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::ConfigError;

/// The limiter refused: the wait for a token would pass the caller's deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limiter `{name}` needs a wait of {wait:?}, past the deadline")]
pub struct RateLimited {
    /// The limiter's name.
    pub name: Arc<str>,
    /// The wait that was needed (zero when the deadline passed while queued).
    pub wait: Duration,
}

/// One quota window: at most `limit` requests in any `window_ms`, bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Requests allowed per window (L).
    pub limit: u32,
    /// Window length in milliseconds (W).
    pub window_ms: u64,
    /// Burst size (b), `1..=limit`. Default 1.
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

impl WindowConfig {
    /// `limit` requests per `window`, burst 1.
    pub fn new(limit: u32, window: Duration) -> WindowConfig {
        WindowConfig {
            limit,
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            burst: 1,
        }
    }

    /// The same window with burst `burst`.
    pub fn with_burst(self, burst: u32) -> WindowConfig {
        WindowConfig { burst, ..self }
    }

    /// The GCRA quota that never admits more than `limit` in any half-open window:
    /// period `T = W / (L − b + 1)`, burst `b`. (`Quota::per_minute(L)` would admit
    /// `2L − 1` in a minute: a full burst of L and then L − 1 more.)
    ///
    /// # Errors
    /// A message when `limit` or `window_ms` is zero or `burst` is not in `1..=limit`.
    pub fn quota(&self) -> Result<Quota, String> {
        if self.limit == 0 || self.window_ms == 0 {
            return Err(format!(
                "rate window {self:?}: limit and window_ms must be > 0"
            ));
        }
        let burst = NonZeroU32::new(self.burst)
            .filter(|b| b.get() <= self.limit)
            .ok_or_else(|| format!("rate window {self:?}: burst must be in 1..=limit"))?;
        // Rounded up to the nanosecond: a period a little short would let one more in.
        let slots = u128::from(self.limit - burst.get() + 1);
        let window_ns = u128::from(self.window_ms) * 1_000_000;
        let period_ns = u64::try_from(window_ns.div_ceil(slots)).unwrap_or(u64::MAX);
        let period = Duration::from_nanos(period_ns);
        Quota::with_period(period)
            .map(|q| q.allow_burst(burst))
            .ok_or_else(|| format!("rate window {self:?}: period rounds to zero"))
    }
}

/// A governor clock reading `tokio::time::Instant`, so the paused test clock drives it.
/// Readings are durations since the limiter was built.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.origin)
    }
}

type Gcra = governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// A rate limiter: what the pipeline needs, so a Redis-backed shared quota can stand in.
///
/// Used as a generic parameter (not `dyn`) so the in-process hot path allocates nothing.
pub trait Limiter: Send + Sync {
    /// The limiter's name (for errors and metrics).
    fn name(&self) -> &str;

    /// Takes one token, waiting for it in order of arrival, but never past `deadline`.
    ///
    /// # Errors
    /// [`RateLimited`] at once when the needed wait would pass `deadline`.
    fn acquire(
        &self,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<(), RateLimited>> + Send;

    /// Grants nothing before `until` (server said the quota is exhausted).
    fn pause_until(&self, until: Instant);
}

/// Several GCRA windows combined (all must allow), checked shortest window first, plus a
/// pause gate. Waiters are served in arrival order (tokio's fair mutex).
///
/// Because governor consumes a token when it allows, a refusal by a longer window has already
/// spent a token of the shorter ones: the limiter errs on the side of fewer requests, never more.
#[derive(Debug)]
pub struct RateLimiter {
    name: Arc<str>,
    clock: TokioClock,
    windows: Vec<Gcra>,
    /// Nanoseconds since `clock.origin` before which nothing is granted; 0 = no pause.
    paused_until: AtomicU64,
    queue: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    wait_seconds: Histogram,
    rejected: Counter,
}

impl RateLimiter {
    /// A limiter named `name` with these windows (none: it always allows).
    ///
    /// # Errors
    /// Every invalid window (see [`WindowConfig::quota`]).
    pub fn new(name: &str, windows: &[WindowConfig]) -> Result<RateLimiter, ConfigError> {
        let clock = TokioClock {
            origin: Instant::now(),
        };
        let mut sorted = windows.to_vec();
        sorted.sort_by_key(|w| w.window_ms);
        let mut problems = Vec::new();
        let mut gcras = Vec::new();
        for window in &sorted {
            match window.quota() {
                Ok(quota) => gcras.push(governor::RateLimiter::direct_with_clock(quota, clock)),
                Err(problem) => problems.push(problem),
            }
        }
        ConfigError::check(problems)?;
        Ok(RateLimiter {
            wait_seconds: metrics::histogram!("ivcrush_rate_limiter_wait_seconds", "name" => name.to_owned()),
            rejected: metrics::counter!("ivcrush_rate_limiter_rejected_total", "name" => name.to_owned()),
            name: Arc::from(name),
            clock,
            windows: gcras,
            paused_until: AtomicU64::new(0),
            queue: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
        })
    }

    /// One try now: `Err(wait)` says how long until a token may be granted.
    fn try_now(&self) -> Result<(), Duration> {
        let paused = self.paused_until.load(Ordering::Acquire);
        if paused != 0 {
            let now = self.clock.now();
            let until = Duration::from_nanos(paused);
            if now < until {
                return Err(until - now);
            }
        }
        for window in &self.windows {
            if let Err(not_until) = window.check() {
                return Err(not_until.wait_time_from(self.clock.now()));
            }
        }
        Ok(())
    }

    fn refuse(&self, wait: Duration) -> RateLimited {
        self.rejected.increment(1);
        RateLimited {
            name: Arc::clone(&self.name),
            wait,
        }
    }

    async fn acquire_queued(&self, deadline: Option<Instant>) -> Result<(), RateLimited> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        let started = Instant::now();
        let _turn = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.queue.lock())
                .await
                .map_err(|_| self.refuse(Duration::ZERO))?,
            None => self.queue.lock().await,
        };
        loop {
            match self.try_now() {
                Ok(()) => {
                    self.wait_seconds.record(started.elapsed().as_secs_f64());
                    return Ok(());
                }
                Err(wait) => {
                    let now = Instant::now();
                    if deadline.is_some_and(|d| now + wait > d) {
                        return Err(self.refuse(wait));
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

impl Limiter for RateLimiter {
    fn name(&self) -> &str {
        &self.name
    }

    async fn acquire(&self, deadline: Option<Instant>) -> Result<(), RateLimited> {
        // Fast path only when nobody queues, so newcomers never overtake waiters.
        if self.waiting.load(Ordering::Acquire) == 0 {
            match self.try_now() {
                Ok(()) => return Ok(()),
                Err(wait) => {
                    if deadline.is_some_and(|d| Instant::now() + wait > d) {
                        return Err(self.refuse(wait));
                    }
                }
            }
        }
        self.acquire_queued(deadline).await
    }

    fn pause_until(&self, until: Instant) {
        let nanos = until
            .saturating_duration_since(self.clock.origin)
            .as_nanos()
            .max(1);
        let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
        self.paused_until.fetch_max(nanos, Ordering::AcqRel);
        tracing::info!(limiter = %self.name, pause_ms = until.saturating_duration_since(Instant::now()).as_millis() as u64, "rate limiter paused by server");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_shortest_first() {
        let day = WindowConfig::new(25, Duration::from_secs(86_400)).with_burst(5);
        let minute = WindowConfig::new(5, Duration::from_secs(60));
        let limiter = RateLimiter::new("alpha_vantage", &[day, minute]).expect("valid");
        assert_eq!(limiter.windows.len(), 2);
        limiter.windows[0].check().expect("first grant");
        // The first window is the minute one (period 60 s / 5 = 12 s).
        let refusal = limiter.windows[0].check().expect_err("minute window spent");
        assert_eq!(
            refusal.quota().replenish_interval(),
            Duration::from_secs(12)
        );
    }

    #[test]
    fn invalid_windows_are_all_reported() {
        let error = RateLimiter::new(
            "x",
            &[
                WindowConfig::new(0, Duration::from_secs(1)),
                WindowConfig::new(5, Duration::from_secs(1)).with_burst(6),
            ],
        )
        .expect_err("invalid");
        assert_eq!(error.problems.len(), 2);
    }
}
