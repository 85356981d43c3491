//! Retry decisions: backoff with jitter (pure), server hints, and a retry budget.

use std::time::Duration;

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::error::ConfigError;

/// Jitter applied to the exponential backoff (see the AWS "Exponential Backoff And Jitter"
/// analysis). `t = min(cap, base · factor^i)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Uniform in `[0, t]` (default).
    #[default]
    Full,
    /// Uniform in `[t/2, t]`.
    Equal,
    /// Uniform in `[base, min(cap, 3 · previous)]`.
    Decorrelated,
    /// Exactly `t`.
    None,
}

/// Retry settings. Durations in whole milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts including the first; 1 disables retries; 0 sets no cap: retries go on until
    /// the deadline, the retry budget or the circuit breaker stops them. Default 3.
    pub max_attempts: u32,
    /// Backoff base in milliseconds. Default 1 000.
    pub base_ms: u64,
    /// Growth factor per attempt. Default 2.0.
    pub factor: f64,
    /// Largest delay in milliseconds. Default 30 000.
    pub cap_ms: u64,
    /// Jitter mode. Default `full`.
    pub jitter: Jitter,
    /// Retries may add at most this percentage to the request rate. Default 20.0.
    pub budget_ratio_pct: f64,
    /// Retries always allowed per second regardless of traffic. Default 1.0.
    pub budget_floor_per_sec: f64,
    /// How long deposits and withdrawals are remembered, in milliseconds. Default 10 000.
    pub budget_ttl_ms: u64,
    /// Seed of the jitter RNG (tests); `None` seeds from the OS. Default `None`.
    pub seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            base_ms: 1_000,
            factor: 2.0,
            cap_ms: 30_000,
            jitter: Jitter::Full,
            budget_ratio_pct: 20.0,
            budget_floor_per_sec: 1.0,
            budget_ttl_ms: 10_000,
            seed: None,
        }
    }
}

impl RetryConfig {
    /// Every problem with these settings.
    ///
    /// # Errors
    /// [`ConfigError`] listing every problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            problems.push(format!("retry.factor must be >= 1, got {}", self.factor));
        }
        if self.cap_ms < self.base_ms {
            problems.push("retry.cap_ms must be >= base_ms".to_owned());
        }
        if !(self.budget_ratio_pct.is_finite() && self.budget_ratio_pct >= 0.0) {
            problems.push("retry.budget_ratio_pct must be >= 0".to_owned());
        }
        if !(self.budget_floor_per_sec.is_finite() && self.budget_floor_per_sec >= 0.0) {
            problems.push("retry.budget_floor_per_sec must be >= 0".to_owned());
        }
        if self.budget_ttl_ms < 1_000 {
            problems.push("retry.budget_ttl_ms must be at least 1000".to_owned());
        }
        ConfigError::check(problems)
    }

    /// The backoff schedule these settings describe.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: Duration::from_millis(self.base_ms),
            factor: self.factor,
            cap: Duration::from_millis(self.cap_ms),
            jitter: self.jitter,
        }
    }
}

/// An exponential backoff schedule with jitter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first retry, before jitter.
    pub base: Duration,
    /// Growth per retry.
    pub factor: f64,
    /// No delay exceeds this.
    pub cap: Duration,
    /// Jitter mode.
    pub jitter: Jitter,
}

impl Backoff {
    /// `min(cap, base · 2^retry)` without jitter: reconnect and restart loops of one process,
    /// whose timing is part of their contract and which have no herd of callers to spread out.
    pub fn doubling(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            factor: 2.0,
            cap,
            jitter: Jitter::None,
        }
    }

    /// `min(cap, base · factor^retry)` without jitter; saturates instead of overflowing.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let secs = self.base.as_secs_f64() * self.factor.powi(exponent);
        if !secs.is_finite() || secs >= self.cap.as_secs_f64() {
            self.cap
        } else {
            Duration::from_secs_f64(secs.max(0.0)).min(self.cap)
        }
    }

    /// The delay before retry number `retry` (0 for the first retry), given the previous
    /// delay (decorrelated jitter only; pass `base` at first). Pure apart from `rng`.
    pub fn delay(&self, retry: u32, previous: Duration, rng: &mut impl Rng) -> Duration {
        match self.jitter {
            Jitter::None => self.ceiling(retry),
            Jitter::Full => uniform(rng, Duration::ZERO, self.ceiling(retry)),
            Jitter::Equal => {
                let t = self.ceiling(retry);
                uniform(rng, t / 2, t)
            }
            Jitter::Decorrelated => {
                let high = previous.saturating_mul(3).min(self.cap).max(self.base);
                uniform(rng, self.base, high).min(self.cap)
            }
        }
    }
}

fn uniform(rng: &mut impl Rng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let low_ns = u64::try_from(low.as_nanos()).unwrap_or(u64::MAX);
    let high_ns = u64::try_from(high.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(low_ns..=high_ns))
}

/// The jitter RNG: seeded for tests, from the OS otherwise. Only touched when a retry sleeps.
#[derive(Debug)]
pub(crate) struct JitterRng(Mutex<SmallRng>);

impl JitterRng {
    pub(crate) fn new(seed: Option<u64>) -> JitterRng {
        JitterRng(Mutex::new(match seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        }))
    }

    pub(crate) fn delay(&self, backoff: &Backoff, retry: u32, previous: Duration) -> Duration {
        backoff.delay(retry, previous, &mut *self.0.lock())
    }
}

/// What the retry loop knows after a failed attempt: the input of [`decide_retry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryInputs {
    /// Whether the error is worth another attempt (and the call is idempotent).
    pub retryable: bool,
    /// Attempts made so far.
    pub attempts: u32,
    /// Attempt cap; 0 = none.
    pub max_attempts: u32,
    pub now: Instant,
    /// The delay before the next attempt (server hint or jittered backoff).
    pub delay: Duration,
    pub deadline: Instant,
    /// The server told us when to come back (a 429 with `Retry-After`/`X-Ratelimit-Expiry`):
    /// an instruction, not a failure.
    pub instructed: bool,
    /// The limiter's spare tokens in its current window ([`Limiter::spare`](crate::Limiter::spare)).
    pub spare: Option<u32>,
}

/// Why the retry loop stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    NotRetryable,
    Attempts,
    Deadline,
    Budget,
}

/// What pays for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charge {
    /// Nothing: the server asked for the retry.
    Instructed,
    /// The vendor's window has room for it.
    Spare,
    /// The ratio budget; a refusal stops the loop ([`StopReason::Budget`]).
    Budget,
}

/// The retry loop's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryDecision {
    Stop(StopReason),
    Retry { delay: Duration, charge: Charge },
}

/// Whether to retry after a failed attempt, and what pays for it. Pure; the caller withdraws
/// from the budget for [`Charge::Budget`] (only then, so a stop for another reason spends
/// nothing).
pub(crate) fn decide_retry(input: &RetryInputs) -> RetryDecision {
    if !input.retryable {
        return RetryDecision::Stop(StopReason::NotRetryable);
    }
    if input.max_attempts != 0 && input.attempts >= input.max_attempts {
        return RetryDecision::Stop(StopReason::Attempts);
    }
    if input
        .now
        .checked_add(input.delay)
        .is_none_or(|at| at >= input.deadline)
    {
        return RetryDecision::Stop(StopReason::Deadline);
    }
    let charge = if input.instructed {
        Charge::Instructed
    } else if input.spare.is_some_and(|n| n > 0) {
        Charge::Spare
    } else {
        Charge::Budget
    };
    RetryDecision::Retry {
        delay: input.delay,
        charge,
    }
}

const BUDGET_SLOTS: usize = 10;

#[derive(Debug)]
struct BudgetSlots {
    /// Index of the newest slot, counted in slot lengths since `origin`.
    newest: u64,
    deposits: [u64; BUDGET_SLOTS],
    withdrawals: [u64; BUDGET_SLOTS],
}

/// A retry budget (token bucket in the spirit of tower's `TpsBudget`): over the last `ttl`,
/// retries may not exceed `floor_per_sec · ttl + ratio · requests`.
///
/// It stops retry storms during an outage: with 1,000 failing callers, at most
/// 200 + floor · ttl retries happen per ttl.
#[derive(Debug)]
pub struct RetryBudget {
    origin: Instant,
    slot: Duration,
    ratio: f64,
    floor: f64,
    slots: Mutex<BudgetSlots>,
}

impl RetryBudget {
    /// A budget letting retries add `ratio_pct` percent to the request rate, plus
    /// `floor_per_sec` retries per second, remembered for `ttl` (split into 10 slots).
    pub fn new(ratio_pct: f64, floor_per_sec: f64, ttl: Duration) -> RetryBudget {
        let ttl = ttl.max(Duration::from_millis(10));
        RetryBudget {
            origin: Instant::now(),
            slot: ttl / BUDGET_SLOTS as u32,
            ratio: ratio_pct.max(0.0) / 100.0,
            floor: floor_per_sec.max(0.0) * ttl.as_secs_f64(),
            slots: Mutex::new(BudgetSlots {
                newest: 0,
                deposits: [0; BUDGET_SLOTS],
                withdrawals: [0; BUDGET_SLOTS],
            }),
        }
    }

    fn rotate(&self, slots: &mut BudgetSlots) -> usize {
        let elapsed = Instant::now().saturating_duration_since(self.origin);
        let index =
            u64::try_from(elapsed.as_nanos() / self.slot.as_nanos().max(1)).unwrap_or(u64::MAX);
        if index > slots.newest {
            let stale = (index - slots.newest).min(BUDGET_SLOTS as u64);
            for step in 1..=stale {
                let i = ((slots.newest + step) % BUDGET_SLOTS as u64) as usize;
                slots.deposits[i] = 0;
                slots.withdrawals[i] = 0;
            }
            slots.newest = index;
        }
        (slots.newest % BUDGET_SLOTS as u64) as usize
    }

    /// Records one first attempt (a request).
    pub fn deposit(&self) {
        let mut slots = self.slots.lock();
        let i = self.rotate(&mut slots);
        slots.deposits[i] += 1;
    }

    /// Takes one retry from the budget; `false` when it is exhausted.
    pub fn try_withdraw(&self) -> bool {
        let mut slots = self.slots.lock();
        let i = self.rotate(&mut slots);
        let deposits: u64 = slots.deposits.iter().sum();
        let withdrawals: u64 = slots.withdrawals.iter().sum();
        let allowed = self.floor + self.ratio * deposits as f64;
        if (withdrawals + 1) as f64 <= allowed {
            slots.withdrawals[i] += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_saturates_at_the_cap() {
        let backoff = RetryConfig::default().backoff();
        assert_eq!(backoff.ceiling(0), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(3), Duration::from_secs(8));
        assert_eq!(backoff.ceiling(5), Duration::from_secs(30));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(30));
        let doubling = Backoff::doubling(Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(doubling.ceiling(0), Duration::from_millis(100));
        assert_eq!(doubling.ceiling(4), Duration::from_millis(1_600));
        assert_eq!(doubling.ceiling(6), Duration::from_secs(5));
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            doubling.delay(3, doubling.base, &mut rng),
            Duration::from_millis(800)
        );
    }

    fn inputs() -> RetryInputs {
        let now = Instant::now();
        RetryInputs {
            retryable: true,
            attempts: 1,
            max_attempts: 3,
            now,
            delay: Duration::from_secs(1),
            deadline: now + Duration::from_secs(60),
            instructed: false,
            spare: None,
        }
    }

    fn retry(charge: Charge) -> RetryDecision {
        RetryDecision::Retry {
            delay: Duration::from_secs(1),
            charge,
        }
    }

    #[test]
    fn a_retryable_failure_with_time_left_retries_on_the_budget() {
        assert_eq!(decide_retry(&inputs()), retry(Charge::Budget));
    }

    #[test]
    fn non_retryable_errors_stop_first() {
        let input = RetryInputs {
            retryable: false,
            instructed: true,
            spare: Some(10),
            ..inputs()
        };
        assert_eq!(
            decide_retry(&input),
            RetryDecision::Stop(StopReason::NotRetryable)
        );
    }

    #[test]
    fn the_attempt_cap_stops_unless_it_is_zero() {
        let capped = RetryInputs {
            attempts: 3,
            ..inputs()
        };
        assert_eq!(
            decide_retry(&capped),
            RetryDecision::Stop(StopReason::Attempts)
        );
        let uncapped = RetryInputs {
            attempts: 1_000,
            max_attempts: 0,
            ..inputs()
        };
        assert_eq!(decide_retry(&uncapped), retry(Charge::Budget));
        let at_u32_max = RetryInputs {
            attempts: u32::MAX,
            max_attempts: 0,
            ..inputs()
        };
        assert_eq!(decide_retry(&at_u32_max), retry(Charge::Budget));
    }

    #[test]
    fn a_delay_reaching_the_deadline_stops() {
        let base = inputs();
        let reaching = RetryInputs {
            delay: Duration::from_secs(60),
            ..base
        };
        assert_eq!(
            decide_retry(&reaching),
            RetryDecision::Stop(StopReason::Deadline)
        );
        let just_before = RetryInputs {
            delay: Duration::from_secs(60) - Duration::from_nanos(1),
            ..base
        };
        assert!(matches!(
            decide_retry(&just_before),
            RetryDecision::Retry { .. }
        ));
        let overflowing = RetryInputs {
            delay: Duration::MAX,
            instructed: true,
            ..base
        };
        assert_eq!(
            decide_retry(&overflowing),
            RetryDecision::Stop(StopReason::Deadline)
        );
    }

    #[test]
    fn server_instructions_and_spare_capacity_do_not_touch_the_budget() {
        let instructed = RetryInputs {
            instructed: true,
            spare: Some(0),
            ..inputs()
        };
        assert_eq!(decide_retry(&instructed), retry(Charge::Instructed));
        let spare = RetryInputs {
            spare: Some(1),
            ..inputs()
        };
        assert_eq!(decide_retry(&spare), retry(Charge::Spare));
        let spent = RetryInputs {
            spare: Some(0),
            ..inputs()
        };
        assert_eq!(decide_retry(&spent), retry(Charge::Budget));
    }

    #[tokio::test(start_paused = true)]
    async fn budget_allows_floor_plus_ratio_and_forgets_after_ttl() {
        let budget = RetryBudget::new(20.0, 1.0, Duration::from_secs(10));
        for _ in 0..100 {
            budget.deposit();
        }
        let granted = (0..100).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 30, "floor 1/s x 10 s + 20 % of 100");
        tokio::time::advance(Duration::from_secs(11)).await;
        let granted = (0..100).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 10, "only the floor after the ttl");
    }
}
