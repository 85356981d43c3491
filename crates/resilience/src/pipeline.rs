//! The pipeline: deadline → retry → breaker → limiter → bulkhead → attempt timeout → call.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use metrics::Counter;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::breaker::CircuitBreaker;
use crate::breaker::config::BreakerConfig;
use crate::bulkhead::{Bulkhead, BulkheadConfig, BulkheadRefusal};
use crate::classify::{Classifier, Outcome};
use crate::error::{ConfigError, ResilienceError};
use crate::limiter::{Limiter, RateLimiter, WindowConfig};
use crate::retry::{
    Backoff, Charge, JitterRng, RetryBudget, RetryConfig, RetryDecision, RetryInputs, StopReason,
    decide_retry,
};

/// Per-dependency settings (e.g. one `[resilience.tradier]` table). Every field has the
/// spec's default; durations are whole milliseconds (`*_ms`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Overall deadline of one call, retries included, in ms. Default 60 000.
    pub deadline_ms: u64,
    /// Per-attempt timeout in ms. Default 10 000.
    pub attempt_timeout_ms: u64,
    /// Circuit breaker settings.
    pub breaker: BreakerConfig,
    /// Retry settings.
    pub retry: RetryConfig,
    /// Rate-limit windows, all enforced (GCRA and fixed windows may be mixed). Default none
    /// (unlimited).
    pub rate_limits: Vec<WindowConfig>,
    /// Bulkhead settings.
    pub bulkhead: BulkheadConfig,
    /// How long a call may queue for its first token of quota, in ms, before its deadline
    /// starts; 0 (default) = the deadline covers the wait. A long scan is bound by the vendor's
    /// quota: its requests wait for the next window (up to a minute for Tradier), which is
    /// not a failure of the call, while the deadline still bounds the work and the retries.
    pub quota_wait_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            deadline_ms: 60_000,
            attempt_timeout_ms: 10_000,
            breaker: BreakerConfig::default(),
            retry: RetryConfig::default(),
            rate_limits: Vec::new(),
            bulkhead: BulkheadConfig::default(),
            quota_wait_ms: 0,
        }
    }
}

/// The policies of a pipeline, in stacking order (outer first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// The overall deadline.
    Deadline,
    /// The retry loop with its budget.
    Retry,
    /// The circuit breaker.
    CircuitBreaker,
    /// The rate limiter.
    RateLimiter,
    /// The bulkhead.
    Bulkhead,
    /// The per-attempt timeout.
    AttemptTimeout,
}

/// One layer of a [`PipelineDescriptor`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyDescription {
    /// Which policy.
    pub kind: PolicyKind,
    /// Its settings in words.
    pub detail: String,
}

/// What a pipeline is made of, outer first (in the spirit of Polly.Testing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PipelineDescriptor {
    /// Dependency name.
    pub name: String,
    /// Layers, outer first.
    pub layers: Vec<PolicyDescription>,
}

impl PipelineDescriptor {
    /// The kinds of the layers, outer first.
    pub fn order(&self) -> Vec<PolicyKind> {
        self.layers.iter().map(|l| l.kind).collect()
    }
}

/// Whether an operation may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idempotency {
    /// Safe to retry (reads). Default.
    #[default]
    Idempotent,
    /// Never retried (writes).
    NonIdempotent,
}

/// Per-call options.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    /// Overall deadline; default now + `deadline_ms`.
    pub deadline: Option<Instant>,
    /// Whether the call may be retried; default idempotent.
    pub idempotency: Idempotency,
    /// Timeout of each attempt, sized for this endpoint; `None` (or zero) = the pipeline's
    /// `attempt_timeout_ms`. Still cut by the deadline.
    pub attempt_timeout: Option<Duration>,
}

struct AttemptMetrics {
    success: Counter,
    retry: Counter,
    failure: Counter,
}

/// A dependency's policies around any async closure, in the fixed order
/// deadline → retry → breaker → limiter → bulkhead → attempt timeout → call.
///
/// `K` classifies the closure's error; `L` is the limiter (a Redis-backed one can replace the
/// in-process [`RateLimiter`] through [`Pipeline::with_limiter`]).
pub struct Pipeline<K, L = RateLimiter> {
    name: Arc<str>,
    classifier: K,
    deadline: Duration,
    quota_wait: Duration,
    attempt_timeout: Duration,
    max_attempts: u32,
    backoff: Backoff,
    rng: JitterRng,
    budget: RetryBudget,
    breaker: CircuitBreaker,
    limiter: L,
    bulkhead: Bulkhead,
    attempts: AttemptMetrics,
}

impl<K, L: Limiter> fmt::Debug for Pipeline<K, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("name", &self.name)
            .field("breaker", &self.breaker)
            .field("limiter", &self.limiter.name())
            .field("bulkhead", &self.bulkhead.name())
            .finish()
    }
}

impl<K> Pipeline<K, RateLimiter> {
    /// Builds the policies for dependency `name` (the name of its breaker, limiter and
    /// bulkhead too). Build once per dependency and share (`Arc`).
    ///
    /// # Errors
    /// [`ConfigError`] listing every invalid setting.
    pub fn new(name: &str, config: &PipelineConfig, classifier: K) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        if config.deadline_ms == 0 {
            problems.push("deadline_ms must be > 0".to_owned());
        }
        if config.attempt_timeout_ms == 0 {
            problems.push("attempt_timeout_ms must be > 0".to_owned());
        }
        for result in [config.breaker.validate(), config.retry.validate()] {
            if let Err(e) = result {
                problems.extend(e.problems);
            }
        }
        let limiter = RateLimiter::new(name, &config.rate_limits)
            .map_err(|e| problems.extend(e.problems))
            .ok();
        let bulkhead = Bulkhead::new(name, config.bulkhead)
            .map_err(|e| problems.extend(e.problems))
            .ok();
        let breaker = CircuitBreaker::new(name, config.breaker.clone()).ok();
        ConfigError::check(problems)?;
        let (Some(limiter), Some(bulkhead), Some(breaker)) = (limiter, bulkhead, breaker) else {
            unreachable!("every constructor error was reported above")
        };
        let attempt = |outcome: &'static str| metrics::counter!("ivcrush_retry_attempts_total", "name" => name.to_owned(), "outcome" => outcome);
        Ok(Pipeline {
            name: Arc::from(name),
            classifier,
            deadline: Duration::from_millis(config.deadline_ms),
            quota_wait: Duration::from_millis(config.quota_wait_ms),
            attempt_timeout: Duration::from_millis(config.attempt_timeout_ms),
            max_attempts: config.retry.max_attempts,
            backoff: config.retry.backoff(),
            rng: JitterRng::new(config.retry.seed),
            budget: RetryBudget::new(
                config.retry.budget_ratio_pct,
                config.retry.budget_floor_per_sec,
                Duration::from_millis(config.retry.budget_ttl_ms),
            ),
            breaker,
            limiter,
            bulkhead,
            attempts: AttemptMetrics {
                success: attempt("success"),
                retry: attempt("retry"),
                failure: attempt("failure"),
            },
        })
    }
}

enum AttemptError<E> {
    Inner(E),
    Timeout,
}

impl<K, L: Limiter> Pipeline<K, L> {
    /// The same pipeline with another limiter (e.g. a Redis-backed shared quota).
    pub fn with_limiter<M: Limiter>(self, limiter: M) -> Pipeline<K, M> {
        Pipeline {
            name: self.name,
            classifier: self.classifier,
            deadline: self.deadline,
            quota_wait: self.quota_wait,
            attempt_timeout: self.attempt_timeout,
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            rng: self.rng,
            budget: self.budget,
            breaker: self.breaker,
            limiter,
            bulkhead: self.bulkhead,
            attempts: self.attempts,
        }
    }

    /// The dependency's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The circuit breaker (register it in a [`BreakerRegistry`](crate::BreakerRegistry)).
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    /// The limiter (call [`Limiter::pause_until`] on server-reported exhaustion).
    pub fn limiter(&self) -> &L {
        &self.limiter
    }

    /// The bulkhead.
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }

    /// The layers, outer first.
    pub fn descriptor(&self) -> PipelineDescriptor {
        let layer = |kind, detail: String| PolicyDescription { kind, detail };
        PipelineDescriptor {
            name: self.name.to_string(),
            layers: vec![
                layer(
                    PolicyKind::Deadline,
                    format!("{:?} per call", self.deadline),
                ),
                layer(
                    PolicyKind::Retry,
                    match self.max_attempts {
                        0 => format!("attempts until the deadline, {:?}", self.backoff),
                        n => format!("{n} attempts, {:?}", self.backoff),
                    },
                ),
                layer(
                    PolicyKind::CircuitBreaker,
                    format!("{:?}", self.breaker.config().mode),
                ),
                layer(PolicyKind::RateLimiter, self.limiter.name().to_owned()),
                layer(PolicyKind::Bulkhead, self.bulkhead.name().to_owned()),
                layer(
                    PolicyKind::AttemptTimeout,
                    format!("{:?}", self.attempt_timeout),
                ),
            ],
        }
    }

    /// Runs `op` through every policy with the default deadline; retries idempotent calls.
    ///
    /// # Errors
    /// [`ResilienceError`] naming the policy that refused, or the inner error with the
    /// attempt count.
    pub async fn call<T, E, F, Fut>(&self, op: F) -> Result<T, ResilienceError<E>>
    where
        K: Classifier<E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.call_with(CallOptions::default(), op).await
    }

    /// Runs `op` through every policy with explicit options.
    ///
    /// Each attempt passes the breaker, takes a limiter token and a bulkhead slot, and runs
    /// under `min(attempt timeout, time left)`. Between attempts: the server hint or the
    /// jittered backoff, unless the attempt cap is reached (`max_attempts`, 0 = none), the
    /// delay would reach the deadline, or the retry is not paid for (then the last error).
    /// What pays: nothing when the server asked for the retry (an error classified
    /// [`Outcome::Ignored`], i.e. HTTP 429, with a hint); else the limiter's spare capacity in
    /// its current window ([`Limiter::spare`]) when it has some; else the retry budget.
    /// A breaker rejection during retries waits for the breaker if that fits the deadline,
    /// without spending an attempt or budget; on the first attempt it fails fast. A 429 with a
    /// hint also pauses the limiter until the hint, so the whole quota waits, not just this
    /// caller. Non-idempotent calls are never retried.
    ///
    /// # Errors
    /// See [`ResilienceError`].
    pub async fn call_with<T, E, F, Fut>(
        &self,
        options: CallOptions,
        mut op: F,
    ) -> Result<T, ResilienceError<E>>
    where
        K: Classifier<E>,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = Instant::now();
        let mut deadline = options.deadline.unwrap_or(started + self.deadline);
        // The first token may be queued for longer than the deadline (a scan waiting for the
        // vendor's next window); the deadline then starts when it is granted.
        let queue_for_quota = options.deadline.is_none() && !self.quota_wait.is_zero();
        let quota_deadline = (started + self.quota_wait).max(deadline);
        let max_attempts = match options.idempotency {
            Idempotency::Idempotent => self.max_attempts,
            Idempotency::NonIdempotent => 1,
        };
        if max_attempts != 1 {
            self.budget.deposit();
        }
        let attempt_timeout = options
            .attempt_timeout
            .filter(|t| !t.is_zero())
            .unwrap_or(self.attempt_timeout);
        let mut attempts = 0u32;
        let mut previous_delay = self.backoff.base;
        loop {
            let permit = match self.breaker.try_acquire() {
                Ok(permit) => permit,
                Err(open) => {
                    let fits = Instant::now()
                        .checked_add(open.retry_in)
                        .is_some_and(|at| at < deadline);
                    if attempts > 0 && !open.retry_in.is_zero() && fits {
                        tokio::time::sleep(open.retry_in).await;
                        continue;
                    }
                    return Err(ResilienceError::CircuitOpen {
                        name: open.name,
                        retry_in: open.retry_in,
                        attempts,
                    });
                }
            };
            // A refusal below drops the permit unrecorded: our own rejections are ignored.
            let first_token = queue_for_quota && attempts == 0;
            let token_deadline = if first_token {
                quota_deadline
            } else {
                deadline
            };
            if let Err(limited) = self.limiter.acquire(Some(token_deadline)).await {
                return Err(ResilienceError::RateLimited {
                    name: limited.name,
                    wait: limited.wait,
                    attempts,
                });
            }
            if first_token {
                deadline = deadline.max(Instant::now() + self.deadline);
            }
            let slot = match self.bulkhead.acquire(Some(deadline)).await {
                Ok(slot) => slot,
                Err(BulkheadRefusal::Full) => {
                    return Err(ResilienceError::BulkheadFull {
                        name: Arc::clone(self.bulkhead.name_arc()),
                        attempts,
                    });
                }
                Err(BulkheadRefusal::Deadline) => {
                    return Err(self.deadline_exceeded(attempts));
                }
            };
            attempts = attempts.saturating_add(1);
            let started = Instant::now();
            let left = deadline.saturating_duration_since(started);
            let (limit, cut_by_deadline) = if attempt_timeout <= left {
                (attempt_timeout, false)
            } else {
                (left, true)
            };
            let result = tokio::time::timeout(limit, op()).await;
            let elapsed = started.elapsed();
            drop(slot);
            let error = match result {
                Ok(Ok(value)) => {
                    permit.record(Outcome::Success, elapsed);
                    self.attempts.success.increment(1);
                    return Ok(value);
                }
                Ok(Err(error)) => {
                    permit.record(self.classifier.classify(&error), elapsed);
                    AttemptError::Inner(error)
                }
                Err(_) if cut_by_deadline => {
                    drop(permit);
                    self.attempts.failure.increment(1);
                    return Err(self.deadline_exceeded(attempts));
                }
                Err(_) => {
                    permit.record(Outcome::Failure, elapsed);
                    AttemptError::Timeout
                }
            };
            let now = Instant::now();
            let (retryable, hint, instructed) = match &error {
                AttemptError::Inner(e) => {
                    let hint = self.classifier.retry_hint(e);
                    let instructed =
                        hint.is_some() && self.classifier.classify(e) == Outcome::Ignored;
                    if let Some(hint) = hint
                        && instructed
                    {
                        // A 429 with a hint: the whole quota waits, not just this caller.
                        self.limiter.pause_until(now + hint.delay_from(now));
                    }
                    (self.classifier.retryable(e), hint, instructed)
                }
                AttemptError::Timeout => (true, None, false),
            };
            let delay = match hint {
                Some(hint) => hint.delay_from(now),
                None => self.rng.delay(&self.backoff, attempts - 1, previous_delay),
            };
            let decision = decide_retry(&RetryInputs {
                retryable,
                attempts,
                max_attempts,
                now,
                delay,
                deadline,
                instructed,
                spare: if retryable {
                    self.limiter.spare()
                } else {
                    None
                },
            });
            let stop = match decision {
                RetryDecision::Stop(reason) => Some(reason),
                RetryDecision::Retry {
                    charge: Charge::Budget,
                    ..
                } if !self.budget.try_withdraw() => Some(StopReason::Budget),
                RetryDecision::Retry { .. } => None,
            };
            if let Some(reason) = stop {
                self.attempts.failure.increment(1);
                tracing::debug!(dependency = %self.name, attempt = attempts, ?reason, "attempt failed; giving up");
                return Err(match error {
                    AttemptError::Inner(source) => ResilienceError::Inner { source, attempts },
                    AttemptError::Timeout => ResilienceError::AttemptTimeout {
                        name: Arc::clone(&self.name),
                        timeout: attempt_timeout,
                        attempts,
                    },
                });
            }
            self.attempts.retry.increment(1);
            tracing::debug!(dependency = %self.name, attempt = attempts, delay_ms = delay.as_millis() as u64, ?decision, "attempt failed; retrying");
            tokio::time::sleep(delay).await;
            previous_delay = delay;
        }
    }

    fn deadline_exceeded<E>(&self, attempts: u32) -> ResilienceError<E> {
        ResilienceError::DeadlineExceeded {
            name: Arc::clone(&self.name),
            attempts,
        }
    }
}
