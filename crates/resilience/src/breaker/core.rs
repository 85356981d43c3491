//! The breaker's state machine, free of locks, clocks and side effects: every method takes
//! `now` and returns the transition it caused, so it can be tested without a runtime.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::config::{BreakerConfig, TripMode};
use crate::classify::Outcome;

/// The state of a circuit breaker. The metric gauge value is given per variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BreakerState {
    /// Calls pass and are counted.
    Closed,
    /// Calls are rejected until the wait ends.
    Open,
    /// A fixed number of trial calls pass.
    HalfOpen,
    /// An operator holds the breaker open until reset.
    ForcedOpen,
    /// An operator switched the breaker off: everything passes, nothing is recorded.
    Disabled,
}

impl BreakerState {
    /// Lower-case label used in metrics and logs (`closed`, `half_open`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
        }
    }

    pub(crate) const ALL: [BreakerState; 5] = [
        BreakerState::Closed,
        BreakerState::Open,
        BreakerState::HalfOpen,
        BreakerState::ForcedOpen,
        BreakerState::Disabled,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Lifetime totals of a breaker. A slow call counts in `slow` and in `success` or `failure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BreakerTotals {
    /// Calls recorded as success (including late ones).
    pub success: u64,
    /// Calls recorded as failure (including late ones).
    pub failure: u64,
    /// Successes or failures slower than the slow-call threshold.
    pub slow: u64,
    /// Calls whose outcome was [`Outcome::Ignored`].
    pub ignored: u64,
    /// Calls the breaker refused.
    pub rejected: u64,
    /// Outcomes that arrived after the breaker changed generation (counted above too).
    pub late: u64,
}

/// One state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: BreakerState,
    pub(crate) to: BreakerState,
}

/// What an admitted call holds; it names the generation it was admitted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// CLOSED: the outcome goes into the window.
    Counted { generation: u64 },
    /// HALF_OPEN: one of the N trial permits.
    Trial { generation: u64 },
    /// DISABLED: nothing is recorded.
    Unrecorded,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    second: u64,
    calls: u32,
    failed: u32,
    slow: u32,
}

#[derive(Debug)]
enum Window {
    Consecutive {
        threshold: u32,
        failures: u32,
    },
    Count {
        size: usize,
        ring: VecDeque<(bool, bool)>,
        failed: u32,
        slow: u32,
    },
    Time {
        span_secs: u64,
        buckets: VecDeque<Bucket>,
        calls: u32,
        failed: u32,
        slow: u32,
    },
}

impl Window {
    fn new(config: &BreakerConfig) -> Window {
        match config.mode {
            TripMode::Consecutive => Window::Consecutive {
                threshold: config.consecutive_failures.max(1),
                failures: 0,
            },
            TripMode::CountWindow => Window::Count {
                size: config.window_size.max(1) as usize,
                ring: VecDeque::with_capacity(config.window_size.max(1) as usize),
                failed: 0,
                slow: 0,
            },
            TripMode::TimeWindow => Window::Time {
                span_secs: (config.window_ms / 1_000).max(1),
                buckets: VecDeque::new(),
                calls: 0,
                failed: 0,
                slow: 0,
            },
        }
    }

    fn clear(&mut self) {
        match self {
            Window::Consecutive { failures, .. } => *failures = 0,
            Window::Count {
                ring, failed, slow, ..
            } => {
                ring.clear();
                *failed = 0;
                *slow = 0;
            }
            Window::Time {
                buckets,
                calls,
                failed,
                slow,
                ..
            } => {
                buckets.clear();
                *calls = 0;
                *failed = 0;
                *slow = 0;
            }
        }
    }

    fn evict(&mut self, now_second: u64) {
        if let Window::Time {
            span_secs,
            buckets,
            calls,
            failed,
            slow,
        } = self
        {
            while let Some(front) = buckets.front() {
                if front.second + *span_secs > now_second {
                    break;
                }
                *calls -= front.calls;
                *failed -= front.failed;
                *slow -= front.slow;
                buckets.pop_front();
            }
        }
    }

    /// (calls, failed, slow) currently judged.
    fn counts(&self) -> (u32, u32, u32) {
        match self {
            Window::Consecutive { failures, .. } => (0, *failures, 0),
            Window::Count {
                ring, failed, slow, ..
            } => (ring.len() as u32, *failed, *slow),
            Window::Time {
                calls,
                failed,
                slow,
                ..
            } => (*calls, *failed, *slow),
        }
    }

    /// Adds one outcome; returns true when the trip rule says OPEN.
    fn push(&mut self, failed_call: bool, slow_call: bool, now_second: u64, rule: &Rule) -> bool {
        match self {
            Window::Consecutive {
                threshold,
                failures,
            } => {
                if failed_call {
                    *failures += 1;
                    *failures >= *threshold
                } else {
                    *failures = 0;
                    false
                }
            }
            Window::Count {
                size,
                ring,
                failed,
                slow,
            } => {
                if ring.len() == *size
                    && let Some((old_failed, old_slow)) = ring.pop_front()
                {
                    *failed -= u32::from(old_failed);
                    *slow -= u32::from(old_slow);
                }
                ring.push_back((failed_call, slow_call));
                *failed += u32::from(failed_call);
                *slow += u32::from(slow_call);
                rule.trips(ring.len() as u32, *failed, *slow)
            }
            Window::Time { .. } => {
                self.evict(now_second);
                let Window::Time {
                    buckets,
                    calls,
                    failed,
                    slow,
                    ..
                } = self
                else {
                    unreachable!("matched Window::Time above")
                };
                match buckets.back_mut() {
                    Some(bucket) if bucket.second == now_second => {
                        bucket.calls += 1;
                        bucket.failed += u32::from(failed_call);
                        bucket.slow += u32::from(slow_call);
                    }
                    _ => buckets.push_back(Bucket {
                        second: now_second,
                        calls: 1,
                        failed: u32::from(failed_call),
                        slow: u32::from(slow_call),
                    }),
                }
                *calls += 1;
                *failed += u32::from(failed_call);
                *slow += u32::from(slow_call);
                rule.trips(*calls, *failed, *slow)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Rule {
    min_calls: u32,
    failure_rate_pct: f64,
    slow_rate_pct: f64,
}

impl Rule {
    /// Inclusive thresholds: exactly 50 % at a 50 % threshold trips.
    fn trips(&self, calls: u32, failed: u32, slow: u32) -> bool {
        if calls == 0 || calls < self.min_calls {
            return false;
        }
        let calls = f64::from(calls);
        f64::from(failed) * 100.0 >= self.failure_rate_pct * calls
            || f64::from(slow) * 100.0 >= self.slow_rate_pct * calls
    }
}

/// Counts shown in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CoreCounts {
    pub(crate) state: BreakerState,
    pub(crate) buffered: u32,
    pub(crate) failed: u32,
    pub(crate) slow: u32,
    pub(crate) not_permitted: u64,
    pub(crate) retry_in: Option<Duration>,
    pub(crate) totals: BreakerTotals,
    pub(crate) generation: u64,
}

/// The breaker state machine.
#[derive(Debug)]
pub(crate) struct Core {
    state: BreakerState,
    generation: u64,
    origin: Instant,
    rule: Rule,
    window: Window,
    slow_after: Duration,
    base_wait: Duration,
    max_wait: Duration,
    growth: bool,
    current_wait: Duration,
    reopens: u32,
    opened_at: Instant,
    permits: u32,
    trials_available: u32,
    trial_successes: u32,
    not_permitted: u64,
    totals: BreakerTotals,
}

impl Core {
    pub(crate) fn new(config: &BreakerConfig, now: Instant) -> Core {
        let base_wait = Duration::from_millis(config.open_wait_ms);
        Core {
            state: BreakerState::Closed,
            generation: 0,
            origin: now,
            rule: Rule {
                min_calls: config.min_calls,
                failure_rate_pct: config.failure_rate_pct,
                slow_rate_pct: config.slow_rate_pct,
            },
            window: Window::new(config),
            slow_after: config.slow_after(),
            base_wait,
            max_wait: Duration::from_millis(config.open_wait_max_ms).max(base_wait),
            growth: config.open_wait_growth,
            current_wait: base_wait,
            reopens: 0,
            opened_at: now,
            permits: config.half_open_permits.max(1),
            trials_available: 0,
            trial_successes: 0,
            not_permitted: 0,
            totals: BreakerTotals::default(),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.state
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    fn transition(&mut self, to: BreakerState, now: Instant) -> Option<Transition> {
        let from = self.state;
        if from == to {
            return None;
        }
        self.state = to;
        self.generation += 1;
        self.not_permitted = 0;
        match to {
            BreakerState::Closed => {
                self.window.clear();
                self.reopens = 0;
                self.current_wait = self.base_wait;
            }
            BreakerState::Open => {
                self.opened_at = now;
                if from == BreakerState::HalfOpen {
                    self.reopens = self.reopens.saturating_add(1);
                } else {
                    self.reopens = 0;
                }
                self.current_wait = if self.growth {
                    let factor = 1u32.checked_shl(self.reopens.min(31)).unwrap_or(u32::MAX);
                    self.base_wait
                        .checked_mul(factor)
                        .unwrap_or(self.max_wait)
                        .min(self.max_wait)
                } else {
                    self.base_wait
                };
            }
            BreakerState::HalfOpen => {
                self.window.clear();
                self.trials_available = self.permits;
                self.trial_successes = 0;
            }
            BreakerState::ForcedOpen | BreakerState::Disabled => self.window.clear(),
        }
        Some(Transition { from, to })
    }

    fn reject(&mut self, retry_in: Duration) -> Duration {
        self.totals.rejected += 1;
        self.not_permitted += 1;
        retry_in
    }

    /// Admits or rejects one call at `now`. The error is the time until the breaker tries
    /// again (zero in HALF_OPEN without permits, `Duration::MAX` while forced open).
    pub(crate) fn acquire(
        &mut self,
        now: Instant,
    ) -> (Result<Admission, Duration>, Option<Transition>) {
        match self.state {
            BreakerState::Closed => (
                Ok(Admission::Counted {
                    generation: self.generation,
                }),
                None,
            ),
            BreakerState::Open => {
                let retry_at = self.opened_at + self.current_wait;
                if now >= retry_at {
                    let transition = self.transition(BreakerState::HalfOpen, now);
                    (self.take_trial(), transition)
                } else {
                    (Err(self.reject(retry_at - now)), None)
                }
            }
            BreakerState::HalfOpen => (self.take_trial(), None),
            BreakerState::ForcedOpen => (Err(self.reject(Duration::MAX)), None),
            BreakerState::Disabled => (Ok(Admission::Unrecorded), None),
        }
    }

    fn take_trial(&mut self) -> Result<Admission, Duration> {
        if self.trials_available > 0 {
            self.trials_available -= 1;
            Ok(Admission::Trial {
                generation: self.generation,
            })
        } else {
            Err(self.reject(Duration::ZERO))
        }
    }

    /// A permit dropped without an outcome: a current half-open trial permit comes back.
    pub(crate) fn release(&mut self, admission: Admission) {
        if let Admission::Trial { generation } = admission
            && generation == self.generation
            && self.state == BreakerState::HalfOpen
        {
            self.trials_available += 1;
        }
    }

    /// Records the outcome of an admitted call that took `duration`.
    pub(crate) fn record(
        &mut self,
        admission: Admission,
        outcome: Outcome,
        duration: Duration,
        now: Instant,
    ) -> Option<Transition> {
        let generation = match admission {
            Admission::Unrecorded => return None,
            Admission::Counted { generation } | Admission::Trial { generation } => generation,
        };
        let slow = duration > self.slow_after;
        match outcome {
            Outcome::Ignored => {
                self.totals.ignored += 1;
                self.release(admission);
                return None;
            }
            Outcome::Success => self.totals.success += 1,
            Outcome::Failure => self.totals.failure += 1,
        }
        if slow {
            self.totals.slow += 1;
        }
        if generation != self.generation {
            self.totals.late += 1;
            return None;
        }
        let failed = outcome == Outcome::Failure;
        match self.state {
            BreakerState::Closed => {
                let now_second = self.second(now);
                if self.window.push(failed, slow, now_second, &self.rule) {
                    self.transition(BreakerState::Open, now)
                } else {
                    None
                }
            }
            BreakerState::HalfOpen => {
                if failed {
                    self.transition(BreakerState::Open, now)
                } else {
                    self.trial_successes += 1;
                    if self.trial_successes >= self.permits {
                        self.transition(BreakerState::Closed, now)
                    } else {
                        None
                    }
                }
            }
            BreakerState::Open | BreakerState::ForcedOpen | BreakerState::Disabled => None,
        }
    }

    /// Operator action: go to `to` (CLOSED means reset with fresh counts).
    /// Holds the breaker OPEN for `wait` from `now`, with no trial before then (another
    /// process sharing the vendor opened it, or holds the fleet's one probe). FORCED_OPEN and
    /// DISABLED are operator decisions and stay.
    pub(crate) fn hold_open(&mut self, wait: Duration, now: Instant) -> Option<Transition> {
        let transition = match self.state {
            BreakerState::ForcedOpen | BreakerState::Disabled => return None,
            BreakerState::Open => None,
            BreakerState::Closed | BreakerState::HalfOpen => {
                self.transition(BreakerState::Open, now)
            }
        };
        self.opened_at = now;
        self.current_wait = wait;
        transition
    }

    /// OPEN → HALF_OPEN now, whatever the wait left (this process was granted the fleet's
    /// probe).
    pub(crate) fn begin_trial(&mut self, now: Instant) -> Option<Transition> {
        if self.state == BreakerState::Open {
            self.transition(BreakerState::HalfOpen, now)
        } else {
            None
        }
    }

    pub(crate) fn set_state(&mut self, to: BreakerState, now: Instant) -> Option<Transition> {
        let transition = self.transition(to, now);
        if to == BreakerState::Closed {
            self.window.clear();
            self.not_permitted = 0;
        }
        transition
    }

    pub(crate) fn counts(&mut self, now: Instant) -> CoreCounts {
        let now_second = self.second(now);
        self.window.evict(now_second);
        let (buffered, failed, slow) = self.window.counts();
        let retry_in = match self.state {
            BreakerState::Open => {
                Some((self.opened_at + self.current_wait).saturating_duration_since(now))
            }
            BreakerState::HalfOpen => Some(Duration::ZERO),
            _ => None,
        };
        CoreCounts {
            state: self.state,
            buffered,
            failed,
            slow,
            not_permitted: self.not_permitted,
            retry_in,
            totals: self.totals,
            generation: self.generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consecutive(n: u32) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: n,
            ..BreakerConfig::default()
        }
    }

    #[test]
    fn next_state_is_a_pure_function_of_outcome_and_now() {
        let t0 = Instant::now();
        let mut core = Core::new(&consecutive(2), t0);
        for _ in 0..2 {
            let (admission, _) = core.acquire(t0);
            let admission = admission.expect("closed admits");
            core.record(admission, Outcome::Failure, Duration::ZERO, t0);
        }
        assert_eq!(core.state(), BreakerState::Open);
        let (rejected, _) = core.acquire(t0 + Duration::from_secs(59));
        assert_eq!(rejected, Err(Duration::from_secs(1)));
        let (trial, transition) = core.acquire(t0 + Duration::from_secs(60));
        assert!(matches!(trial, Ok(Admission::Trial { generation: 2 })));
        assert_eq!(
            transition,
            Some(Transition {
                from: BreakerState::Open,
                to: BreakerState::HalfOpen
            })
        );
    }

    #[test]
    fn growth_doubles_the_wait_up_to_the_cap() {
        let config = BreakerConfig {
            consecutive_failures: 1,
            half_open_permits: 1,
            open_wait_ms: 1_000,
            open_wait_growth: true,
            open_wait_max_ms: 3_000,
            ..BreakerConfig::default()
        };
        let mut now = Instant::now();
        let mut core = Core::new(&config, now);
        let (a, _) = core.acquire(now);
        core.record(a.expect("closed"), Outcome::Failure, Duration::ZERO, now);
        let mut waits = Vec::new();
        for _ in 0..4 {
            let wait = core.counts(now).retry_in.expect("open");
            waits.push(wait.as_millis());
            now += wait;
            let (a, _) = core.acquire(now);
            core.record(a.expect("trial"), Outcome::Failure, Duration::ZERO, now);
        }
        assert_eq!(waits, vec![1_000, 2_000, 3_000, 3_000]);
    }
}
