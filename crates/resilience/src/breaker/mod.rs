//! Circuit breaker: a small state machine under a mutex, RAII permits, listeners, metrics.

pub(crate) mod config;
pub(crate) mod core;
pub(crate) mod registry;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use metrics::{Counter, Gauge};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use tokio::time::Instant;

use self::config::BreakerConfig;
use self::core::{Admission, BreakerState, BreakerTotals, Core, Transition};
use crate::classify::Outcome;
use crate::error::ConfigError;

/// The breaker refused a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker `{name}` is open; it tries again in {retry_in:?}")]
pub struct BreakerOpen {
    /// The breaker's name.
    pub name: Arc<str>,
    /// Time until a trial call may pass: zero in HALF_OPEN without free permits,
    /// `Duration::MAX` while forced open.
    pub retry_in: Duration,
}

/// A state change, as given to listeners.
#[derive(Debug, Clone)]
pub struct BreakerEvent {
    /// The breaker's name.
    pub name: Arc<str>,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// When it happened (tokio clock).
    pub at: Instant,
}

/// A breaker's state and counts at one moment (for the registry, health and the HTTP API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerSnapshot {
    /// The breaker's name.
    pub name: String,
    /// Current state.
    pub state: BreakerState,
    /// Calls in the sliding window (0 in consecutive mode).
    pub buffered_calls: u32,
    /// Failures in the window, or the current run of consecutive failures.
    pub failed_calls: u32,
    /// Slow calls in the window.
    pub slow_calls: u32,
    /// Calls rejected since the last transition.
    pub not_permitted_calls: u64,
    /// Milliseconds until the breaker tries again (OPEN; 0 in HALF_OPEN), else `None`.
    pub retry_in_ms: Option<u64>,
    /// Lifetime totals.
    pub totals: BreakerTotals,
    /// Bumped on every transition; permits from older generations cause no transition.
    pub generation: u64,
}

type Listener = Arc<dyn Fn(&BreakerEvent) + Send + Sync>;

struct BreakerMetrics {
    /// A Prometheus state set: one series per state, 1 for the current one, 0 for the others
    /// (a numeric code would need a legend and invites arithmetic on states).
    state: Vec<Gauge>,
    success: Counter,
    failure: Counter,
    slow: Counter,
    ignored: Counter,
    rejected: Counter,
    transitions: Vec<Counter>,
}

impl BreakerMetrics {
    fn new(name: &Arc<str>) -> BreakerMetrics {
        let calls = |outcome: &'static str| metrics::counter!("ivcrush_circuit_breaker_calls_total", "name" => name.to_string(), "outcome" => outcome);
        let mut transitions = Vec::with_capacity(25);
        for from in BreakerState::ALL {
            for to in BreakerState::ALL {
                transitions.push(metrics::counter!(
                    "ivcrush_circuit_breaker_transitions_total",
                    "name" => name.to_string(),
                    "from" => from.as_str(),
                    "to" => to.as_str()
                ));
            }
        }
        BreakerMetrics {
            state: BreakerState::ALL
                .iter()
                .map(|state| {
                    metrics::gauge!(
                        "ivcrush_circuit_breaker_state",
                        "name" => name.to_string(),
                        "state" => state.as_str()
                    )
                })
                .collect(),
            success: calls("success"),
            failure: calls("failure"),
            slow: calls("slow"),
            ignored: calls("ignored"),
            rejected: calls("rejected"),
            transitions,
        }
    }

    fn transition(&self, transition: Transition) {
        let index = transition.from.index() * BreakerState::ALL.len() + transition.to.index();
        self.transitions[index].increment(1);
        self.set_state(transition.to);
    }

    fn set_state(&self, current: BreakerState) {
        for (state, gauge) in BreakerState::ALL.iter().zip(&self.state) {
            gauge.set(if *state == current { 1.0 } else { 0.0 });
        }
    }
}

struct Shared {
    name: Arc<str>,
    config: BreakerConfig,
    core: Mutex<Core>,
    listeners: RwLock<Vec<Listener>>,
    /// Transitions not yet reported, in the order they happened.
    pending: Mutex<VecDeque<(Transition, Instant)>>,
    /// Held by the one caller delivering `pending`, so listeners see transitions in order.
    events: Mutex<()>,
    metrics: BreakerMetrics,
}

/// A named circuit breaker. Cloning gives another handle to the same breaker.
///
/// Metric handles are resolved when the breaker is built: install the metrics recorder first.
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .finish()
    }
}

impl CircuitBreaker {
    /// Builds a CLOSED breaker named `name`.
    ///
    /// # Errors
    /// Every problem [`BreakerConfig::validate`] finds.
    pub fn new(name: &str, config: BreakerConfig) -> Result<CircuitBreaker, ConfigError> {
        config.validate()?;
        let name: Arc<str> = Arc::from(name);
        let metrics = BreakerMetrics::new(&name);
        metrics.set_state(BreakerState::Closed);
        Ok(CircuitBreaker {
            shared: Arc::new(Shared {
                core: Mutex::new(Core::new(&config, Instant::now())),
                name,
                config,
                listeners: RwLock::new(Vec::new()),
                pending: Mutex::new(VecDeque::new()),
                events: Mutex::new(()),
                metrics,
            }),
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The settings it was built with.
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.shared.core.lock().state()
    }

    /// Calls `listener` on every transition, in order. Listeners run on a calling task; they
    /// may read the breaker (state, snapshot) and even change it.
    pub fn add_listener(&self, listener: impl Fn(&BreakerEvent) + Send + Sync + 'static) {
        self.shared.listeners.write().push(Arc::new(listener));
    }

    /// Asks to make one call now.
    ///
    /// # Errors
    /// [`BreakerOpen`] when OPEN (before the wait ends), FORCED_OPEN, or HALF_OPEN without a
    /// free trial permit. The inner call must then not be made.
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, BreakerOpen> {
        let now = Instant::now();
        let mut core = self.shared.core.lock();
        let (admitted, transition) = core.acquire(now);
        self.finish(core, transition, now);
        match admitted {
            Ok(admission) => Ok(BreakerPermit {
                breaker: self,
                admission,
                settled: false,
            }),
            Err(retry_in) => {
                self.shared.metrics.rejected.increment(1);
                Err(BreakerOpen {
                    name: Arc::clone(&self.shared.name),
                    retry_in,
                })
            }
        }
    }

    /// Queues `transition` (still under the core lock, so the queue is in transition order),
    /// unlocks `core`, and delivers what is queued.
    fn finish(
        &self,
        core: parking_lot::MutexGuard<'_, Core>,
        transition: Option<Transition>,
        now: Instant,
    ) {
        let Some(transition) = transition else {
            return;
        };
        self.shared.pending.lock().push_back((transition, now));
        drop(core);
        self.deliver();
    }

    /// Reports queued transitions (log line, metrics, listeners) one deliverer at a time.
    ///
    /// The core lock is never held here, so listeners may read the breaker; a listener that
    /// changes the state only queues its transition, which this loop then delivers.
    fn deliver(&self) {
        loop {
            let Some(delivering) = self.shared.events.try_lock() else {
                return; // another caller is delivering and will see our transition
            };
            loop {
                let next = self.shared.pending.lock().pop_front();
                let Some((transition, at)) = next else {
                    break;
                };
                self.report(transition, at);
            }
            drop(delivering);
            if self.shared.pending.lock().is_empty() {
                return;
            }
        }
    }

    fn report(&self, transition: Transition, at: Instant) {
        self.shared.metrics.transition(transition);
        match transition.to {
            BreakerState::Open | BreakerState::ForcedOpen => tracing::warn!(
                breaker = %self.shared.name,
                from = transition.from.as_str(),
                to = transition.to.as_str(),
                "circuit breaker transition"
            ),
            _ => tracing::info!(
                breaker = %self.shared.name,
                from = transition.from.as_str(),
                to = transition.to.as_str(),
                "circuit breaker transition"
            ),
        }
        let listeners = self.shared.listeners.read().clone();
        if !listeners.is_empty() {
            let event = BreakerEvent {
                name: Arc::clone(&self.shared.name),
                from: transition.from,
                to: transition.to,
                at,
            };
            for listener in &listeners {
                listener(&event);
            }
        }
    }

    fn record(&self, admission: Admission, outcome: Outcome, duration: Duration) {
        let now = Instant::now();
        let mut core = self.shared.core.lock();
        let transition = core.record(admission, outcome, duration, now);
        self.finish(core, transition, now);
        if admission == Admission::Unrecorded {
            return;
        }
        let metrics = &self.shared.metrics;
        match outcome {
            Outcome::Success => metrics.success.increment(1),
            Outcome::Failure => metrics.failure.increment(1),
            Outcome::Ignored => {
                metrics.ignored.increment(1);
                return;
            }
        }
        if duration > self.shared.config.slow_after() {
            metrics.slow.increment(1);
        }
    }

    fn release(&self, admission: Admission) {
        self.shared.core.lock().release(admission);
    }

    fn set_state(&self, to: BreakerState) {
        let now = Instant::now();
        let mut core = self.shared.core.lock();
        let transition = core.set_state(to, now);
        self.finish(core, transition, now);
    }

    /// Holds the breaker OPEN for `wait` from now: no call and no trial before then. For
    /// state shared by several processes (another one opened it, or holds the one probe);
    /// FORCED_OPEN and DISABLED stay as they are.
    pub fn hold_open(&self, wait: Duration) {
        let now = Instant::now();
        let mut core = self.shared.core.lock();
        let transition = core.hold_open(wait, now);
        self.finish(core, transition, now);
    }

    /// OPEN → HALF_OPEN now, before the wait ends (this process was granted the probe of
    /// several processes sharing the breaker). No effect in any other state.
    pub fn begin_trial(&self) {
        let now = Instant::now();
        let mut core = self.shared.core.lock();
        let transition = core.begin_trial(now);
        self.finish(core, transition, now);
    }

    /// Operator action: back to CLOSED with fresh counts (no event if already CLOSED).
    pub fn reset(&self) {
        self.set_state(BreakerState::Closed);
    }

    /// Operator action: FORCED_OPEN rejects everything until [`reset`](Self::reset).
    pub fn force_open(&self) {
        self.set_state(BreakerState::ForcedOpen);
    }

    /// Operator action: DISABLED admits everything and records nothing until reset.
    pub fn disable(&self) {
        self.set_state(BreakerState::Disabled);
    }

    /// State and counts now.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let counts = self.shared.core.lock().counts(Instant::now());
        BreakerSnapshot {
            name: self.shared.name.to_string(),
            state: counts.state,
            buffered_calls: counts.buffered,
            failed_calls: counts.failed,
            slow_calls: counts.slow,
            not_permitted_calls: counts.not_permitted,
            retry_in_ms: counts
                .retry_in
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            totals: counts.totals,
            generation: counts.generation,
        }
    }
}

/// Permission to make one call. Record its outcome with [`record`](Self::record); dropping it
/// unrecorded (cancellation, timeout of the caller) returns a half-open trial permit.
#[must_use = "dropping a permit unrecorded records nothing"]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    admission: Admission,
    settled: bool,
}

impl fmt::Debug for BreakerPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerPermit")
            .field("breaker", &self.breaker.name())
            .field("admission", &self.admission)
            .finish()
    }
}

impl BreakerPermit<'_> {
    /// Whether this permit is one of the HALF_OPEN trial permits.
    pub fn is_trial(&self) -> bool {
        matches!(self.admission, Admission::Trial { .. })
    }

    /// The breaker generation this permit was issued in (`None` when disabled).
    pub fn generation(&self) -> Option<u64> {
        match self.admission {
            Admission::Counted { generation } | Admission::Trial { generation } => Some(generation),
            Admission::Unrecorded => None,
        }
    }

    /// Records the call's outcome and how long it took (slow when `duration` is strictly above
    /// the slow-call threshold).
    pub fn record(mut self, outcome: Outcome, duration: Duration) {
        self.settled = true;
        self.breaker.record(self.admission, outcome, duration);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.release(self.admission);
        }
    }
}
