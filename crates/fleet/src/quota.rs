//! The vendor quota shared in Redis: the limiter's windows counted by one atomic script for
//! every process that uses the same vendor key.
//!
//! The script reads Redis's clock (`TIME`), so the processes need no common clock of their
//! own. Both window models of [`ivcrush_resilience::WindowModel`] are kept as the in-process
//! limiter keeps them:
//! - fixed windows (Tradier): a sorted set of spent tokens scored by the time each comes
//!   back (`sent + window + guard`); a token is free when fewer than `limit` are held;
//! - GCRA windows (Alpha Vantage): the theoretical arrival time, period
//!   `T = W / (L − b + 1)`, tolerance `T·(b − 1)`.
//!
//! Every window is checked before any is charged, so a refusal spends nothing.

use std::sync::Arc;
use std::time::Duration;

use ivcrush_resilience::{QuotaFuture, SharedQuota, SharedQuotaError, WindowConfig, WindowModel};
use redis::aio::ConnectionManager;

/// Keys: one per window, then the pause key. ARGV: six numbers per window (model 1 = fixed,
/// 2 = GCRA; limit; length in µs: `window + guard` for fixed, the period for GCRA; burst;
/// guard in µs; pause_at_available). Returns the wait in µs (0 = granted).
const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS - 1
local pause = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
if pause > now then return pause - now end
local wait = 0
local tats = {}
for i = 1, n do
  local a = (i - 1) * 6
  local model, limit, len, burst = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  if model == 1 then
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local held = redis.call('ZCARD', KEYS[i])
    if held >= limit then
      local first = redis.call('ZRANGE', KEYS[i], held - limit, held - limit, 'WITHSCORES')
      wait = math.max(wait, tonumber(first[2]) - now)
    end
  else
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    tats[i] = tat
    local allowed_at = tat - len * (burst - 1)
    if allowed_at > now then wait = math.max(wait, allowed_at - now) end
  end
end
if wait > 0 then return math.ceil(wait) end
for i = 1, n do
  local a = (i - 1) * 6
  local model, len = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 3])
  if model == 1 then
    local id = redis.call('INCR', KEYS[i] .. ':seq')
    redis.call('ZADD', KEYS[i], now + len, id)
    redis.call('PEXPIRE', KEYS[i], math.ceil(len / 1000) + 1000)
    redis.call('PEXPIRE', KEYS[i] .. ':seq', math.ceil(len / 1000) + 1000)
  else
    local tat = math.max(tats[i], now) + len
    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
  end
end
return 0
";

/// What the vendor said (see `Limiter::observe` of the in-process limiter): ARGV after the
/// windows' numbers: available, reset_in µs. Tokens the vendor counted beyond those held
/// until its window ends are held until its end + guard; at or under `pause_at_available`,
/// or with nothing available and no fixed window, everything waits for the reset.
const OBSERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS - 1
local available = tonumber(ARGV[n * 6 + 1])
local vendor_end = now + tonumber(ARGV[n * 6 + 2])
local pause = 0
local fixed = 0
for i = 1, n do
  local a = (i - 1) * 6
  local model, limit, len, guard, pause_at = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  if model == 1 then
    fixed = fixed + 1
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local counted = limit - available
    local held = redis.call('ZCOUNT', KEYS[i], vendor_end, '+inf')
    local untl = vendor_end + guard
    if counted > held then
      for _ = 1, counted - held do
        local id = redis.call('INCR', KEYS[i] .. ':seq')
        redis.call('ZADD', KEYS[i], untl, id)
      end
      redis.call('PEXPIRE', KEYS[i], math.ceil(len / 1000) + math.ceil((untl - now) / 1000) + 1000)
      redis.call('PEXPIRE', KEYS[i] .. ':seq', math.ceil(len / 1000) + math.ceil((untl - now) / 1000) + 1000)
    end
    if available <= pause_at then pause = math.max(pause, untl) end
  end
end
if fixed == 0 and available == 0 then pause = vendor_end end
if pause > now then
  local old = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
  if pause > old then
    redis.call('SET', KEYS[n + 1], string.format('%d', pause), 'PX', math.ceil((pause - now) / 1000) + 1000)
  end
end
return 0
";

/// ARGV: the pause in µs. The pause only ever grows.
const PAUSE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untl = now + tonumber(ARGV[1])
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > old then
  redis.call('SET', KEYS[1], string.format('%d', untl), 'PX', math.ceil((untl - now) / 1000) + 1000)
end
return 0
";

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One vendor quota (all its windows) shared in Redis.
#[derive(Clone)]
pub struct RedisQuota {
    connection: ConnectionManager,
    /// One key per window, then the pause key.
    keys: Arc<[String]>,
    /// Six numbers per window (see [`TAKE`]).
    window_args: Arc<[u64]>,
    take: Arc<redis::Script>,
    observe: Arc<redis::Script>,
    pause: Arc<redis::Script>,
    status: Option<Arc<crate::FleetStatus>>,
}

impl std::fmt::Debug for RedisQuota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQuota")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl RedisQuota {
    /// The quota of `windows` under `prefix` (namespace, vendor and key fingerprint). Each
    /// window's key carries its settings, so processes configured differently never mix their
    /// counts.
    pub fn new(
        connection: ConnectionManager,
        prefix: &str,
        windows: &[WindowConfig],
    ) -> RedisQuota {
        let mut keys = Vec::with_capacity(windows.len() + 1);
        let mut args = Vec::with_capacity(windows.len() * 6);
        for w in windows {
            let window = Duration::from_millis(w.window_ms);
            let guard = Duration::from_millis(w.guard_ms);
            let (model, length) = match w.model {
                WindowModel::Fixed => (1, micros(window.saturating_add(guard))),
                WindowModel::Gcra => {
                    // As the in-process limiter: T = W / (L − b + 1), rounded up.
                    let slots = u64::from(w.limit.saturating_sub(w.burst).saturating_add(1)).max(1);
                    (2, micros(window).div_ceil(slots))
                }
            };
            let name = if model == 1 { "fixed" } else { "gcra" };
            keys.push(format!(
                "{prefix}:{name}:{}:{}:{}",
                w.limit, w.window_ms, w.burst
            ));
            args.extend([
                model,
                u64::from(w.limit),
                length,
                u64::from(w.burst.max(1)),
                micros(guard),
                u64::from(w.pause_at_available),
            ]);
        }
        keys.push(format!("{prefix}:pause"));
        RedisQuota {
            connection,
            keys: keys.into(),
            window_args: args.into(),
            take: Arc::new(redis::Script::new(TAKE)),
            observe: Arc::new(redis::Script::new(OBSERVE)),
            pause: Arc::new(redis::Script::new(PAUSE)),
            status: None,
        }
    }

    /// The same quota recording whether Redis answered in `status`.
    pub(crate) fn reporting_to(self, status: Arc<crate::FleetStatus>) -> RedisQuota {
        RedisQuota {
            status: Some(status),
            ..self
        }
    }

    fn answered<T>(&self, result: redis::RedisResult<T>) -> Result<T, SharedQuotaError> {
        if let Some(status) = &self.status {
            status.quota_answered(result.is_ok());
        }
        result.map_err(|e| SharedQuotaError(format!("redis: {e}")))
    }

    fn invocation<'a>(&'a self, script: &'a redis::Script) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        for key in self.keys.iter() {
            invocation.key(key.as_str());
        }
        for arg in self.window_args.iter() {
            invocation.arg(*arg);
        }
        invocation
    }
}

impl SharedQuota for RedisQuota {
    fn try_take(&self) -> QuotaFuture<'_, Option<Duration>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let wait_us: u64 = self.answered(
                self.invocation(&self.take)
                    .invoke_async(&mut connection)
                    .await,
            )?;
            Ok((wait_us > 0).then(|| Duration::from_micros(wait_us)))
        })
    }

    fn observe(&self, available: u64, reset_in: Duration) -> QuotaFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let mut invocation = self.invocation(&self.observe);
            invocation.arg(available).arg(micros(reset_in));
            let _: i64 = self.answered(invocation.invoke_async(&mut connection).await)?;
            Ok(())
        })
    }

    fn pause(&self, wait: Duration) -> QuotaFuture<'_, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let Some(pause_key) = self.keys.last() else {
                return Ok(());
            };
            let paused = self
                .pause
                .key(pause_key.as_str())
                .arg(micros(wait))
                .invoke_async::<i64>(&mut connection)
                .await;
            self.answered(paused)?;
            Ok(())
        })
    }
}
