//! Breaker configuration, readable from TOML/JSON through serde.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Which rule trips a CLOSED breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripMode {
    /// Open after `consecutive_failures` failures in a row (default).
    #[default]
    Consecutive,
    /// Judge the last `window_size` calls.
    CountWindow,
    /// Judge the calls of the last `window_ms` milliseconds (1-s buckets).
    TimeWindow,
}

/// Circuit breaker settings. Durations are whole milliseconds (`*_ms` fields);
/// percentages are `0.0..=100.0` (`50.0` means 50 %).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Trip rule. Default `consecutive`.
    pub mode: TripMode,
    /// Consecutive mode: failures in a row that open the breaker. Default 5.
    pub consecutive_failures: u32,
    /// Count window: the number of most recent calls judged. Default 100.
    pub window_size: u32,
    /// Time window: its span in milliseconds. Default 60 000.
    pub window_ms: u64,
    /// Window modes: no judgement before this many calls are in the window. Default 20.
    pub min_calls: u32,
    /// Window modes: open when the failure rate is at or above this percentage. Default 50.
    pub failure_rate_pct: f64,
    /// Window modes: open when the slow-call rate is at or above this percentage. Default 100.
    pub slow_rate_pct: f64,
    /// A call taking strictly longer than this many milliseconds is slow. Default 5 000.
    pub slow_call_ms: u64,
    /// How long OPEN rejects before a half-open trial, in milliseconds. Default 60 000.
    pub open_wait_ms: u64,
    /// Double the wait on each reopen from HALF_OPEN, up to `open_wait_max_ms`. Default off.
    pub open_wait_growth: bool,
    /// Cap of the grown wait in milliseconds. Default 600 000 (10 min).
    pub open_wait_max_ms: u64,
    /// Trial calls admitted in HALF_OPEN, concurrently at most this many. Default 3.
    pub half_open_permits: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            mode: TripMode::Consecutive,
            consecutive_failures: 5,
            window_size: 100,
            window_ms: 60_000,
            min_calls: 20,
            failure_rate_pct: 50.0,
            slow_rate_pct: 100.0,
            slow_call_ms: 5_000,
            open_wait_ms: 60_000,
            open_wait_growth: false,
            open_wait_max_ms: 600_000,
            half_open_permits: 3,
        }
    }
}

impl BreakerConfig {
    /// Every problem with these settings, or `Ok` when the breaker can be built.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem (zero thresholds, rates outside 0..=100, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.consecutive_failures == 0 {
            problems.push("breaker.consecutive_failures must be at least 1".to_owned());
        }
        if self.mode == TripMode::CountWindow && self.window_size == 0 {
            problems.push("breaker.window_size must be at least 1".to_owned());
        }
        if self.mode == TripMode::TimeWindow && self.window_ms < 1_000 {
            problems.push("breaker.window_ms must be at least 1000".to_owned());
        }
        for (field, pct) in [
            ("failure_rate_pct", self.failure_rate_pct),
            ("slow_rate_pct", self.slow_rate_pct),
        ] {
            if !(pct > 0.0 && pct <= 100.0) {
                problems.push(format!("breaker.{field} must be in (0, 100], got {pct}"));
            }
        }
        if self.half_open_permits == 0 {
            problems.push("breaker.half_open_permits must be at least 1".to_owned());
        }
        if self.open_wait_max_ms < self.open_wait_ms {
            problems.push("breaker.open_wait_max_ms must be >= open_wait_ms".to_owned());
        }
        ConfigError::check(problems)
    }

    pub(crate) fn slow_after(&self) -> Duration {
        Duration::from_millis(self.slow_call_ms)
    }
}
