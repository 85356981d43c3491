//! Multi-window rate limiting driven by the tokio clock: GCRA windows on `governor`, and
//! hand-written windows for vendors that count a fixed window (Tradier).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use metrics::{Counter, Histogram};
use parking_lot::Mutex;
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

/// How a [`WindowConfig`] counts requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowModel {
    /// GCRA (`governor`): at most `limit` in any sliding window of `window_ms`, bursts of
    /// `burst`, the rest paced evenly. Default (what existing configurations mean).
    #[default]
    Gcra,
    /// The vendor counts a fixed window that starts at the first request *arriving* (Tradier).
    /// Up to `limit` requests go out at once; a token comes back `window_ms + guard_ms` after
    /// it was spent, so a spent window resets `window + guard` after its first request.
    /// Follows the vendor's headers through [`Limiter::observe`].
    ///
    /// Why a log of sends over `window + guard` rather than a counter reset at our window's
    /// end: the vendor's window `[a, a + W)` receives requests sent in `[a − Lmax, a + W −
    /// Lmin)`, shorter than `W + guard` when the latency's spread is under the guard, so no
    /// vendor window ever gets more than `limit`, whatever its phase. A counter of our own
    /// windows does not bound it: requests sent in our window's last second land in the
    /// vendor's next window, uncounted there.
    Fixed,
}

/// Default of [`WindowConfig::guard_ms`].
pub const DEFAULT_GUARD_MS: u64 = 1_000;

/// One quota window: at most `limit` requests per `window_ms`, counted by `model`.
///
/// TOML: `{ limit = 5, window_ms = 60000 }` (GCRA, burst 1) or
/// `{ limit = 120, window_ms = 60000, model = "fixed", guard_ms = 1000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Requests allowed per window (L).
    pub limit: u32,
    /// Window length in milliseconds (W).
    pub window_ms: u64,
    /// GCRA burst size (b), `1..=limit`. Default 1. Ignored by fixed windows (their burst is
    /// the whole `limit`).
    #[serde(default = "one")]
    pub burst: u32,
    /// How requests are counted. Default `gcra`.
    #[serde(default)]
    pub model: WindowModel,
    /// Fixed windows: added to the window's length, in ms. Default 1 000.
    ///
    /// The vendor's window starts when our first request *arrives*, later than we sent it by
    /// the network latency; without a guard the first requests of our next window could land
    /// in the vendor's previous one. The guard must exceed the latency's spread.
    #[serde(default = "default_guard_ms")]
    pub guard_ms: u64,
    /// Fixed windows: when the vendor reports at most this many requests available
    /// ([`Limiter::observe`]), send nothing more until its window resets. Default 0.
    #[serde(default)]
    pub pause_at_available: u32,
}

fn one() -> u32 {
    1
}

fn default_guard_ms() -> u64 {
    DEFAULT_GUARD_MS
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl WindowConfig {
    /// `limit` requests per `window`, GCRA with burst 1.
    pub fn new(limit: u32, window: Duration) -> WindowConfig {
        WindowConfig {
            limit,
            window_ms: millis(window),
            burst: 1,
            model: WindowModel::Gcra,
            guard_ms: DEFAULT_GUARD_MS,
            pause_at_available: 0,
        }
    }

    /// A fixed window of `limit` requests per `window`, as the vendor counts it, with `guard`
    /// added to our side of it (see [`WindowConfig::guard_ms`]). Tradier:
    /// `WindowConfig::fixed(120, Duration::from_secs(60), Duration::from_secs(1))`.
    pub fn fixed(limit: u32, window: Duration, guard: Duration) -> WindowConfig {
        WindowConfig {
            model: WindowModel::Fixed,
            guard_ms: millis(guard),
            ..WindowConfig::new(limit, window)
        }
    }

    /// The same window with GCRA burst `burst`.
    pub fn with_burst(self, burst: u32) -> WindowConfig {
        WindowConfig { burst, ..self }
    }

    /// The same window pausing when the vendor reports at most `available` requests left.
    pub fn with_pause_at_available(self, available: u32) -> WindowConfig {
        WindowConfig {
            pause_at_available: available,
            ..self
        }
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

    fn fixed_window(&self) -> Result<FixedWindow, String> {
        if self.limit == 0 || self.window_ms == 0 {
            return Err(format!(
                "rate window {self:?}: limit and window_ms must be > 0"
            ));
        }
        let guard = Duration::from_millis(self.guard_ms);
        Ok(FixedWindow {
            limit: self.limit,
            length: Duration::from_millis(self.window_ms).saturating_add(guard),
            guard,
            pause_at_available: self.pause_at_available,
        })
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

    /// What the vendor said about its quota after a response: requests `available` in its
    /// current window (`X-Ratelimit-Available`) and the time until that window resets
    /// (`X-Ratelimit-Expiry` as a delay from now). Call it after every response.
    ///
    /// Default: pause until the reset when nothing is available.
    fn observe(&self, available: Option<u64>, reset_in: Option<Duration>) {
        if available == Some(0)
            && let Some(wait) = reset_in.filter(|w| !w.is_zero())
        {
            self.pause_until(Instant::now() + wait);
        }
    }

    /// Requests left in the current window that nobody waits for, when the limiter models a
    /// window (fixed windows); `None` when it does not know. The retry loop lets retries
    /// spend this spare capacity without touching its ratio budget. Default `None`.
    fn spare(&self) -> Option<u32> {
        None
    }
}

/// A shared quota could not answer: its store is unreachable, slow or refused the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("shared quota unavailable: {0}")]
pub struct SharedQuotaError(pub String);

/// What a [`SharedQuota`] returns.
pub type QuotaFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, SharedQuotaError>> + Send + 'a>>;

/// The windows of one vendor quota counted for every process that uses the same vendor key
/// (e.g. in Redis), attached to a [`RateLimiter`] with [`RateLimiter::share`]. It counts the
/// same windows as the limiter, with the same models.
///
/// Used through `dyn` (once per request, next to a network call, so the box costs nothing
/// that matters) so that the pipeline's type does not change with the deployment.
pub trait SharedQuota: Send + Sync + fmt::Debug {
    /// Takes one token of every window now: `None` when granted, else how long until one may
    /// be (nothing is taken then).
    fn try_take(&self) -> QuotaFuture<'_, Option<Duration>>;

    /// The vendor's report after a response (see [`Limiter::observe`]): `available` requests
    /// in its window that resets in `reset_in`.
    fn observe(&self, available: u64, reset_in: Duration) -> QuotaFuture<'_, ()>;

    /// Grants nothing to anyone for `wait` (a vendor said its quota is spent).
    fn pause(&self, wait: Duration) -> QuotaFuture<'_, ()>;
}

/// A [`RateLimiter`]'s shared mode: the fleet's quota, and this process's share of it for
/// when the shared quota cannot answer.
struct SharedMode {
    quota: Arc<dyn SharedQuota>,
    /// `limit / instances` of each window: what this process may spend on its own.
    fallback: RateLimiter,
    /// The longest the shared quota may take to answer before this process falls back.
    answer_timeout: Duration,
    /// Limiter clock (ns) before which the shared quota is not asked again after a failure.
    retry_at: AtomicU64,
    /// The shared quota failed and the fallback is in use.
    degraded: AtomicBool,
}

/// A report for the shared quota, sent in the background.
#[derive(Debug, Clone, Copy)]
enum SharedReport {
    Observe { available: u64, reset_in: Duration },
    Pause(Duration),
}

/// Counts a caller in [`RateLimiter`]'s `waiting` while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A caller's turn in a limiter's queue (fields drop in order: the turn, then the count).
struct QueueTurn<'a> {
    _turn: tokio::sync::MutexGuard<'a, ()>,
    _waiting: Waiting<'a>,
}

/// After the shared quota failed, how long this process uses its own share before asking it
/// again.
const SHARED_RETRY: Duration = Duration::from_secs(5);

impl fmt::Debug for SharedMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMode")
            .field("quota", &self.quota)
            .field("degraded", &self.degraded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A fixed window's settings. Governor has no fixed-window model (only GCRA), so this one is
/// hand-written: a log of sends (see [`WindowModel::Fixed`]).
#[derive(Debug, Clone, Copy)]
struct FixedWindow {
    limit: u32,
    /// `window + guard`: how long a spent token stays spent.
    length: Duration,
    guard: Duration,
    pause_at_available: u32,
}

/// When spent tokens come back: `(expiry, count)` sorted by expiry (limiter clock readings),
/// bursts sharing one entry; `alive` is the sum of the counts.
#[derive(Debug, Clone, Default)]
struct SendLog {
    entries: VecDeque<(Duration, u32)>,
    alive: u64,
}

impl SendLog {
    fn prune(&mut self, now: Duration) {
        while let Some(&(expiry, count)) = self.entries.front()
            && expiry <= now
        {
            self.entries.pop_front();
            self.alive -= u64::from(count);
        }
    }

    /// Tokens left (after [`SendLog::prune`]).
    fn remaining(&self, limit: u32) -> u32 {
        u32::try_from(u64::from(limit).saturating_sub(self.alive)).unwrap_or(0)
    }

    /// The wait until a token comes back (zero when one is left).
    fn wait(&self, limit: u32, now: Duration) -> Duration {
        let mut alive = self.alive;
        for &(expiry, count) in &self.entries {
            if alive < u64::from(limit) {
                break;
            }
            alive -= u64::from(count);
            if alive < u64::from(limit) {
                return expiry.saturating_sub(now);
            }
        }
        Duration::ZERO
    }

    fn push(&mut self, expiry: Duration, count: u32) {
        self.alive += u64::from(count);
        match self.entries.back_mut() {
            Some(back) if back.0 == expiry => back.1 = back.1.saturating_add(count),
            Some(back) if back.0 > expiry => {
                let at = self.entries.partition_point(|e| e.0 < expiry);
                match self.entries.get_mut(at) {
                    Some(entry) if entry.0 == expiry => entry.1 = entry.1.saturating_add(count),
                    _ => self.entries.insert(at, (expiry, count)),
                }
            }
            _ => self.entries.push_back((expiry, count)),
        }
    }

    /// Tokens held until at least `at`.
    fn held_until(&self, at: Duration) -> u64 {
        self.entries
            .iter()
            .rev()
            .take_while(|e| e.0 >= at)
            .map(|e| u64::from(e.1))
            .sum()
    }
}

/// Several windows combined (all must allow) plus a pause gate. Waiters are served in
/// arrival order (tokio's fair mutex).
///
/// Fixed windows are checked first and only charged once every window allows, under one lock,
/// so a refusal spends none of their tokens. GCRA windows follow, shortest window first; since
/// governor consumes a token when it allows, a refusal by a longer GCRA window has already
/// spent a token of the shorter ones: the limiter errs on the side of fewer requests, never
/// more.
#[derive(Debug)]
pub struct RateLimiter {
    name: Arc<str>,
    clock: TokioClock,
    gcra: Vec<Gcra>,
    fixed: Vec<FixedWindow>,
    /// One lock for every fixed window, so check-then-charge is atomic across them.
    fixed_logs: Mutex<Vec<SendLog>>,
    /// Nanoseconds since `clock.origin` before which nothing is granted; 0 = no pause.
    paused_until: AtomicU64,
    queue: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    wait_seconds: Histogram,
    rejected: Counter,
    /// The windows as configured, sorted by length (to build a share of them).
    windows: Vec<WindowConfig>,
    /// Set once when the quota is shared with other processes ([`RateLimiter::share`]).
    shared: OnceLock<Box<SharedMode>>,
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
        let mut gcra = Vec::new();
        let mut fixed = Vec::new();
        for window in &sorted {
            let built = match window.model {
                WindowModel::Gcra => window
                    .quota()
                    .map(|quota| gcra.push(governor::RateLimiter::direct_with_clock(quota, clock))),
                WindowModel::Fixed => window.fixed_window().map(|w| fixed.push(w)),
            };
            if let Err(problem) = built {
                problems.push(problem);
            }
        }
        ConfigError::check(problems)?;
        Ok(RateLimiter {
            wait_seconds: metrics::histogram!("ivcrush_rate_limiter_wait_seconds", "name" => name.to_owned()),
            rejected: metrics::counter!("ivcrush_rate_limiter_rejected_total", "name" => name.to_owned()),
            name: Arc::from(name),
            clock,
            gcra,
            fixed_logs: Mutex::new(vec![SendLog::default(); fixed.len()]),
            fixed,
            paused_until: AtomicU64::new(0),
            queue: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            windows: sorted,
            shared: OnceLock::new(),
        })
    }

    /// The windows, sorted by length.
    pub fn windows(&self) -> &[WindowConfig] {
        &self.windows
    }

    /// Counts this limiter's windows in `quota`, shared with the other processes that use
    /// the same vendor key. When `quota` does not answer within `answer_timeout`, this
    /// process falls back to its share of every window (`limit / instances`, at least 1),
    /// logs it once, reports [`RateLimiter::shared_degraded`], and asks the shared quota
    /// again every few seconds.
    ///
    /// The fallback's fixed windows follow the vendor's reports, forwarded to it all along;
    /// a window without any starts with one token, whose answer tells the vendor's count (see
    /// `spend_unknown_fixed_windows`): the fleet may have spent the vendor's window before
    /// the outage, and only the vendor knows how much.
    ///
    /// # Errors
    /// When the limiter is shared already, or `instances` is 0.
    pub fn share(
        &self,
        quota: Arc<dyn SharedQuota>,
        instances: u32,
        answer_timeout: Duration,
    ) -> Result<(), ConfigError> {
        if instances == 0 {
            return Err(ConfigError {
                problems: vec![format!("limiter `{}`: instances must be ≥ 1", self.name)],
            });
        }
        let share: Vec<WindowConfig> = self
            .windows
            .iter()
            .map(|w| {
                let limit = (w.limit / instances).max(1);
                WindowConfig {
                    limit,
                    burst: w.burst.min(limit),
                    pause_at_available: w.pause_at_available.min(limit.saturating_sub(1)),
                    ..*w
                }
            })
            .collect();
        let fallback = RateLimiter::new(&format!("{}_local_share", self.name), &share)?;
        self.shared
            .set(Box::new(SharedMode {
                quota,
                fallback,
                answer_timeout,
                retry_at: AtomicU64::new(0),
                degraded: AtomicBool::new(false),
            }))
            .map_err(|_| ConfigError {
                problems: vec![format!("limiter `{}` is shared already", self.name)],
            })
    }

    /// `None` for a limiter of this process only; `Some(true)` while the shared quota cannot
    /// answer and this process spends its own share.
    pub fn shared_degraded(&self) -> Option<bool> {
        self.shared
            .get()
            .map(|s| s.degraded.load(Ordering::Acquire))
    }

    /// Before falling back: a fixed window that knows nothing of the vendor's count (no
    /// report held any token) keeps one token and holds the rest for one window. That one
    /// request's answer tells the vendor's count ([`Limiter::observe`]), which then holds what
    /// the fleet spent; without it, every process would spend its whole share on top of what
    /// the fleet spent in the vendor's current window. Windows already following the vendor's
    /// reports are left as they are.
    fn spend_unknown_fixed_windows(&self) {
        let now = self.clock.now();
        let mut logs = self.fixed_logs.lock();
        for (window, log) in self.fixed.iter().zip(logs.iter_mut()) {
            log.prune(now);
            if log.alive > 0 {
                continue;
            }
            let hold = window.limit.saturating_sub(1);
            if hold > 0 {
                log.push(now.saturating_add(window.length), hold);
            }
        }
    }

    fn nanos(at: Duration) -> u64 {
        u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)
    }

    /// The shared quota answered.
    fn shared_up(&self, shared: &SharedMode) {
        if shared.degraded.swap(false, Ordering::AcqRel) {
            tracing::info!(limiter = %self.name, "shared quota reachable again; this process draws from it");
        }
    }

    /// The shared quota failed: this process uses its share for a while.
    fn shared_down(&self, shared: &SharedMode, reason: &str) {
        let now = self.clock.now();
        shared
            .retry_at
            .store(Self::nanos(now + SHARED_RETRY), Ordering::Release);
        if !shared.degraded.swap(true, Ordering::AcqRel) {
            shared.fallback.spend_unknown_fixed_windows();
            tracing::warn!(limiter = %self.name, reason, "shared quota unavailable; this process spends only its own share of the quota until it answers again");
        }
    }

    /// Counts this caller as waiting and takes its turn in arrival order (tokio's fair mutex),
    /// giving up at `deadline`. The turn ends, and the caller stops counting as waiting,
    /// when the returned guard is dropped.
    async fn queue_turn(&self, deadline: Option<Instant>) -> Result<QueueTurn<'_>, RateLimited> {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let waiting = Waiting(&self.waiting);
        let turn = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.queue.lock())
                .await
                .map_err(|_| self.refuse(Duration::ZERO))?,
            None => self.queue.lock().await,
        };
        Ok(QueueTurn {
            _turn: turn,
            _waiting: waiting,
        })
    }

    /// Takes a token from the shared quota, in this process's arrival order. `Ok(None)`: the
    /// shared quota could not answer.
    async fn acquire_shared(
        &self,
        shared: &SharedMode,
        deadline: Option<Instant>,
    ) -> Result<Option<()>, RateLimited> {
        let started = Instant::now();
        let _turn = self.queue_turn(deadline).await?;
        loop {
            let wait = match self.pause_wait(self.clock.now()) {
                Some(wait) => wait,
                None => match tokio::time::timeout(shared.answer_timeout, shared.quota.try_take())
                    .await
                {
                    Ok(Ok(None)) => {
                        self.shared_up(shared);
                        self.wait_seconds.record(started.elapsed().as_secs_f64());
                        return Ok(Some(()));
                    }
                    Ok(Ok(Some(wait))) => {
                        self.shared_up(shared);
                        wait
                    }
                    Ok(Err(e)) => {
                        self.shared_down(shared, &e.0);
                        return Ok(None);
                    }
                    Err(_) => {
                        self.shared_down(shared, "no answer in time");
                        return Ok(None);
                    }
                },
            };
            if deadline.is_some_and(|d| Instant::now() + wait > d) {
                return Err(self.refuse(wait));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The time left in a server-ordered pause.
    fn pause_wait(&self, now: Duration) -> Option<Duration> {
        let paused = self.paused_until.load(Ordering::Acquire);
        let until = Duration::from_nanos(paused);
        (paused != 0 && now < until).then(|| until - now)
    }

    fn check_gcra(&self) -> Result<(), Duration> {
        for window in &self.gcra {
            if let Err(not_until) = window.check() {
                return Err(not_until.wait_time_from(self.clock.now()));
            }
        }
        Ok(())
    }

    /// One try now: `Err(wait)` says how long until a token may be granted.
    fn try_now(&self) -> Result<(), Duration> {
        let now = self.clock.now();
        if let Some(wait) = self.pause_wait(now) {
            return Err(wait);
        }
        if self.fixed.is_empty() {
            return self.check_gcra();
        }
        let mut logs = self.fixed_logs.lock();
        let wait = Self::fixed_wait(&self.fixed, &mut logs, now);
        if !wait.is_zero() {
            return Err(wait);
        }
        // Still under the lock: nobody can take the fixed windows' last tokens meanwhile.
        self.check_gcra()?;
        for (window, log) in self.fixed.iter().zip(logs.iter_mut()) {
            log.push(now.saturating_add(window.length), 1);
        }
        Ok(())
    }

    /// The longest wait of the fixed windows (zero: all have a token).
    fn fixed_wait(fixed: &[FixedWindow], logs: &mut [SendLog], now: Duration) -> Duration {
        let mut wait = Duration::ZERO;
        for (window, log) in fixed.iter().zip(logs.iter_mut()) {
            log.prune(now);
            wait = wait.max(log.wait(window.limit, now));
        }
        wait
    }

    /// A lower bound of the wait, taking nothing: the pause and spent fixed windows.
    fn least_wait(&self) -> Duration {
        let now = self.clock.now();
        let mut wait = self.pause_wait(now).unwrap_or_default();
        if !self.fixed.is_empty() {
            let mut logs = self.fixed_logs.lock();
            wait = wait.max(Self::fixed_wait(&self.fixed, &mut logs, now));
        }
        wait
    }

    /// Pauses until `until` (a clock reading); a pause only ever grows.
    fn pause_at(&self, until: Duration) {
        let nanos = u64::try_from(until.as_nanos().max(1)).unwrap_or(u64::MAX);
        self.paused_until.fetch_max(nanos, Ordering::AcqRel);
        tracing::info!(limiter = %self.name, pause_ms = millis(until.saturating_sub(self.clock.now())), "rate limiter paused by server");
    }

    /// Sends a report to the shared quota in the background (reports are advisory: the
    /// response they come from is not held up, and a lost one only leaves the quota counted
    /// by sends).
    fn tell_shared(&self, shared: &SharedMode, report: SharedReport) {
        let retry_at = Duration::from_nanos(shared.retry_at.load(Ordering::Acquire));
        if self.clock.now() < retry_at {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let quota = Arc::clone(&shared.quota);
        let timeout = shared.answer_timeout;
        let name = Arc::clone(&self.name);
        runtime.spawn(async move {
            let sent = match report {
                SharedReport::Observe {
                    available,
                    reset_in,
                } => tokio::time::timeout(timeout, quota.observe(available, reset_in)).await,
                SharedReport::Pause(wait) => tokio::time::timeout(timeout, quota.pause(wait)).await,
            };
            if let Ok(Err(e)) = sent {
                tracing::debug!(limiter = %name, error = %e, "shared quota report lost");
            }
        });
    }

    fn refuse(&self, wait: Duration) -> RateLimited {
        self.rejected.increment(1);
        RateLimited {
            name: Arc::clone(&self.name),
            wait,
        }
    }

    /// Takes a token of this process's windows.
    async fn acquire_local(&self, deadline: Option<Instant>) -> Result<(), RateLimited> {
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
        } else if let Some(deadline) = deadline {
            // Behind other waiters: no need to queue when even the known part of the wait
            // (pause, spent fixed window) passes the deadline.
            let wait = self.least_wait();
            if Instant::now() + wait > deadline {
                return Err(self.refuse(wait));
            }
        }
        self.acquire_queued(deadline).await
    }

    async fn acquire_queued(&self, deadline: Option<Instant>) -> Result<(), RateLimited> {
        let started = Instant::now();
        let _turn = self.queue_turn(deadline).await?;
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
                    // Woken at the reset; a re-aligned (later) reset makes the loop wait again.
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
        if let Some(shared) = self.shared.get() {
            let retry_at = Duration::from_nanos(shared.retry_at.load(Ordering::Acquire));
            if self.clock.now() >= retry_at
                && self.acquire_shared(shared, deadline).await?.is_some()
            {
                return Ok(());
            }
            return shared.fallback.acquire_local(deadline).await;
        }
        self.acquire_local(deadline).await
    }

    fn pause_until(&self, until: Instant) {
        self.pause_at(until.saturating_duration_since(self.clock.origin));
        if let Some(shared) = self.shared.get() {
            shared.fallback.pause_until(until);
            let wait = until.saturating_duration_since(Instant::now());
            self.tell_shared(shared, SharedReport::Pause(wait));
        }
    }

    /// Follows the vendor's view of its window, for every fixed window of this limiter. The
    /// vendor counted `limit − available` requests in its window ending `reset_in` from now;
    /// when fewer of our tokens are held until then (the vendor's window started later than
    /// we modelled: latency beyond the guard, a restart, another client on the same quota),
    /// the difference is held until the vendor's end + guard. So `available` only ever
    /// lowers what is left, and a vendor window ending later than ours moves our reset to
    /// its end + guard. When `available ≤ pause_at_available`, nothing more goes out until
    /// then.
    ///
    /// Without a reset time, or with a reset in the past, the report cannot be tied to a
    /// window (it may be a late answer from the previous one), so it is ignored. A limiter
    /// without fixed windows pauses until the reset when `available` is 0.
    fn observe(&self, available: Option<u64>, reset_in: Option<Duration>) {
        let (Some(available), Some(reset_in)) = (available, reset_in.filter(|d| !d.is_zero()))
        else {
            return;
        };
        if let Some(shared) = self.shared.get() {
            shared.fallback.observe(Some(available), Some(reset_in));
            self.tell_shared(
                shared,
                SharedReport::Observe {
                    available,
                    reset_in,
                },
            );
            return;
        }
        let now = self.clock.now();
        let vendor_end = now.saturating_add(reset_in);
        if self.fixed.is_empty() {
            if available == 0 {
                self.pause_at(vendor_end);
            }
            return;
        }
        let mut pause: Option<Duration> = None;
        {
            let mut logs = self.fixed_logs.lock();
            for (window, log) in self.fixed.iter().zip(logs.iter_mut()) {
                log.prune(now);
                let until = vendor_end.saturating_add(window.guard);
                let counted = u64::from(window.limit).saturating_sub(available);
                let held = log.held_until(vendor_end);
                if counted > held {
                    let missing = u32::try_from(counted - held).unwrap_or(u32::MAX);
                    tracing::debug!(limiter = %self.name, missing, until_ms = millis(until.saturating_sub(now)), "holding tokens the vendor counted until its window ends");
                    log.push(until, missing);
                }
                if available <= u64::from(window.pause_at_available) {
                    pause = Some(pause.map_or(until, |p| p.max(until)));
                }
            }
        }
        // The gate also holds back any GCRA windows of this limiter.
        if let Some(until) = pause {
            self.pause_at(until);
        }
    }

    fn spare(&self) -> Option<u32> {
        // A shared quota's spare capacity belongs to the whole fleet.
        if self.fixed.is_empty() || self.shared.get().is_some() {
            return None;
        }
        let now = self.clock.now();
        if self.pause_wait(now).is_some() {
            return Some(0);
        }
        let left = {
            let mut logs = self.fixed_logs.lock();
            self.fixed
                .iter()
                .zip(logs.iter_mut())
                .map(|(window, log)| {
                    log.prune(now);
                    log.remaining(window.limit)
                })
                .min()
                .unwrap_or(0)
        };
        let waiting = u32::try_from(self.waiting.load(Ordering::Acquire)).unwrap_or(u32::MAX);
        Some(left.saturating_sub(waiting))
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
        assert_eq!(limiter.gcra.len(), 2);
        limiter.gcra[0].check().expect("first grant");
        // The first window is the minute one (period 60 s / 5 = 12 s).
        let refusal = limiter.gcra[0].check().expect_err("minute window spent");
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
                WindowConfig::fixed(5, Duration::ZERO, Duration::from_secs(1)),
            ],
        )
        .expect_err("invalid");
        assert_eq!(error.problems.len(), 3);
    }

    #[test]
    fn the_send_log_keeps_expiries_sorted_and_merges_bursts() {
        let s = Duration::from_secs;
        let mut log = SendLog::default();
        log.push(s(61), 1);
        log.push(s(61), 1);
        log.push(s(70), 3);
        log.push(s(64), 5); // a vendor-counted hold, earlier than later sends
        log.push(s(70), 1);
        assert_eq!(
            log.entries.iter().copied().collect::<Vec<_>>(),
            vec![(s(61), 2), (s(64), 5), (s(70), 4)]
        );
        assert_eq!(log.alive, 11);
        assert_eq!(log.held_until(s(64)), 9);
        assert_eq!(log.remaining(12), 1);
        assert_eq!(log.wait(12, s(1)), Duration::ZERO);
        assert_eq!(log.wait(11, s(1)), s(60), "one back at 61 s");
        assert_eq!(log.wait(8, s(1)), s(63), "four back by 64 s");
        log.prune(s(64));
        assert_eq!((log.alive, log.entries.len()), (4, 1));
    }

    #[test]
    fn fixed_and_gcra_windows_are_kept_apart() {
        let limiter = RateLimiter::new(
            "mixed",
            &[
                WindowConfig::fixed(120, Duration::from_secs(60), Duration::from_secs(1)),
                WindowConfig::new(10, Duration::from_secs(1)),
            ],
        )
        .expect("valid");
        assert_eq!((limiter.gcra.len(), limiter.fixed.len()), (1, 1));
        assert_eq!(limiter.fixed[0].length, Duration::from_secs(61));
    }
}
