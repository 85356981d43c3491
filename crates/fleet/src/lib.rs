//! Several ivcrush processes as one: the vendor quota and the circuit breakers shared through
//! Redis, so that every process using the same vendor key draws from one quota and sees one
//! breaker per vendor.
//!
//! Keys are namespaced by `namespace`, vendor and a fingerprint of the vendor key (the first
//! 16 hex digits of its SHA-256), never the key itself. When Redis cannot answer, each
//! process falls back to its own share of the quota and its own breakers, logs it once and
//! reports it ([`Fleet::status`]), and rejoins when Redis answers again.

mod breakers;
mod cache;
mod quota;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ivcrush_resilience::{CircuitBreaker, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::cache::RedisCache;
pub use crate::quota::RedisQuota;

/// `[fleet]`: how this process coordinates with the others sharing its vendor keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetConfig {
    /// Redis shared by the processes (`redis://host:6379`); empty (default): this process
    /// alone.
    pub redis: String,
    /// Prefix of every shared key, and of the scheduled scans' lead in the database: the
    /// processes of one deployment share it. Default `ivcrush`.
    pub namespace: String,
    /// How many processes share the quota: while Redis cannot answer, each spends
    /// `limit / instances` of every window. Default 1.
    pub instances: u32,
    /// The longest Redis may take to answer before a process falls back, in ms. Default 250.
    pub answer_timeout_ms: u64,
    /// How often a process reads the fleet's breakers, in ms. Default 250.
    pub breaker_sync_ms: u64,
    /// How long one process holds the fleet's probe of a vendor whose breaker's wait ended,
    /// in ms. Default 10 000.
    pub probe_lease_ms: u64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            redis: String::new(),
            namespace: "ivcrush".to_owned(),
            instances: 1,
            answer_timeout_ms: 250,
            breaker_sync_ms: 250,
            probe_lease_ms: 10_000,
        }
    }
}

impl FleetConfig {
    /// Every problem of these settings.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.redis.is_empty() && redis::Client::open(self.redis.as_str()).is_err() {
            problems.push("fleet.redis: not a redis:// URL".to_owned());
        }
        if self.namespace.is_empty() || self.namespace.contains(char::is_whitespace) {
            problems.push("fleet.namespace: must be a non-empty word".to_owned());
        }
        if self.instances == 0 {
            problems.push("fleet.instances: must be ≥ 1".to_owned());
        }
        for (name, value) in [
            ("answer_timeout_ms", self.answer_timeout_ms),
            ("breaker_sync_ms", self.breaker_sync_ms),
            ("probe_lease_ms", self.probe_lease_ms),
        ] {
            if value == 0 {
                problems.push(format!("fleet.{name}: must be > 0"));
            }
        }
        problems
    }
}

/// Why the fleet could not be joined.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// Invalid settings.
    #[error("invalid [fleet] settings: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The Redis client could not be built.
    #[error("fleet redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A limiter could not be shared.
    #[error("fleet: {0}")]
    Limiter(#[from] ivcrush_resilience::ConfigError),
}

/// Whether the fleet's Redis answered the last calls (for health).
#[derive(Debug, Default)]
pub(crate) struct FleetStatus {
    breakers_down: AtomicBool,
    quota_down: AtomicBool,
    cache_down: AtomicBool,
}

impl FleetStatus {
    fn breakers_reachable(&self) {
        if self.breakers_down.swap(false, Ordering::AcqRel) {
            tracing::info!("fleet redis reachable again: breakers shared with the fleet");
        }
    }

    fn breakers_unreachable(&self, reason: &str) {
        if !self.breakers_down.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                reason,
                "fleet redis unavailable: breakers are this process's own until it answers"
            );
        }
    }

    /// The shared cache's last call failed with `error`, or succeeded. Logged once per
    /// outage: a read that fails is a miss, and the database's cache answers.
    fn cache_answered(&self, error: Option<&redis::RedisError>) {
        match error {
            Some(e) => {
                if !self.cache_down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "fleet redis unavailable: vendor data cached in this process's database only until it answers");
                }
            }
            None => {
                if self.cache_down.swap(false, Ordering::AcqRel) {
                    tracing::info!("fleet redis reachable again: vendor data cached for the fleet");
                }
            }
        }
    }

    /// The shared quota's last call succeeded (`true`) or failed; the limiter logs the
    /// fallback itself.
    fn quota_answered(&self, answered: bool) {
        self.quota_down.store(!answered, Ordering::Release);
    }
}

/// The first 16 hex digits of the SHA-256 of a vendor key: names its shared state without
/// revealing it.
pub fn key_fingerprint(api_key: &str) -> String {
    let digest = Sha256::digest(api_key.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// This process's name in the fleet: host, pid and a random part (a restarted process is a
/// new member).
fn instance_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "host".to_owned());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        hasher.finish() as u32
    )
}

/// This process's membership of the fleet. Dropping the last clone stops the breaker sync.
#[derive(Clone)]
pub struct Fleet {
    /// For the breaker sync's subscription (a connection of its own).
    client: redis::Client,
    connection: ConnectionManager,
    config: FleetConfig,
    instance: Arc<str>,
    status: Arc<FleetStatus>,
    sync: Arc<std::sync::Mutex<Option<AbortOnDrop>>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("instance", &self.instance)
            .field("namespace", &self.config.namespace)
            .finish_non_exhaustive()
    }
}

/// Aborts the task when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What health reports of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetHealth {
    /// Redis answered the last ping.
    pub redis: Result<(), String>,
    /// The last call to a shared quota failed: its limiter spends this process's own share.
    pub quota_fallback: bool,
    /// The breaker sync could not reach Redis at its last attempt.
    pub breakers_fallback: bool,
    /// The last call to the shared cache failed: this process caches in its database only.
    pub cache_fallback: bool,
}

impl Fleet {
    /// Joins the fleet of `config` (no connection yet: Redis may be down now and come back),
    /// or `None` when `config.redis` is empty. Call it within a tokio runtime.
    ///
    /// # Errors
    /// [`FleetError`] for invalid settings.
    pub fn join(config: &FleetConfig) -> Result<Option<Fleet>, FleetError> {
        if config.redis.is_empty() {
            return Ok(None);
        }
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(FleetError::Config(problems));
        }
        let timeout = Duration::from_millis(config.answer_timeout_ms);
        let client = redis::Client::open(config.redis.as_str())?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        let fleet = Fleet {
            client,
            connection,
            config: config.clone(),
            instance: Arc::from(instance_name()),
            status: Arc::default(),
            sync: Arc::default(),
        };
        tracing::info!(instance = %fleet.instance, namespace = %config.namespace, "joined the fleet: vendor quotas and breakers shared through redis");
        Ok(Some(fleet))
    }

    /// This process's name in the fleet.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn prefix(&self, kind: &str, vendor: &str, api_key: &str) -> String {
        format!(
            "{}:{kind}:{vendor}:{}",
            self.config.namespace,
            key_fingerprint(api_key)
        )
    }

    /// Counts `limiter`'s windows for every process using `api_key` at `vendor`.
    ///
    /// # Errors
    /// [`FleetError::Limiter`] when the limiter is shared already.
    pub fn share_quota(
        &self,
        limiter: &RateLimiter,
        vendor: &str,
        api_key: &str,
    ) -> Result<(), FleetError> {
        let quota = RedisQuota::new(
            self.connection.clone(),
            &self.prefix("quota", vendor, api_key),
            limiter.windows(),
        )
        .reporting_to(Arc::clone(&self.status));
        limiter.share(
            Arc::new(quota),
            self.config.instances,
            Duration::from_millis(self.config.answer_timeout_ms),
        )?;
        Ok(())
    }

    /// Keeps `breakers` (each with the vendor key it guards) in step with the fleet's, in the
    /// background until the last clone of this fleet is dropped. Replaces an earlier sync.
    pub fn sync_breakers(&self, breakers: Vec<(CircuitBreaker, String)>) {
        let synced = breakers
            .into_iter()
            .map(|(breaker, api_key)| {
                let key = self.prefix("breaker", breaker.name(), &api_key);
                breakers::SyncedBreaker::new(breaker, key)
            })
            .collect();
        let sync = breakers::BreakerSync {
            connection: self.connection.clone(),
            client: self.client.clone(),
            channel: format!("{}:breakers:changed", self.config.namespace),
            instance: self.instance.to_string(),
            interval: Duration::from_millis(self.config.breaker_sync_ms),
            lease: Duration::from_millis(self.config.probe_lease_ms),
            answer_timeout: Duration::from_millis(self.config.answer_timeout_ms),
            status: Arc::clone(&self.status),
        };
        let task = tokio::spawn(sync.run(synced));
        if let Ok(mut slot) = self.sync.lock() {
            *slot = Some(AbortOnDrop(task));
        }
    }

    /// The vendor-data cache shared by the fleet (a tier of the app's read-through cache).
    pub fn cache(&self) -> Arc<RedisCache> {
        Arc::new(RedisCache::new(
            self.connection.clone(),
            &self.config.namespace,
            Arc::clone(&self.status),
        ))
    }

    /// Pings Redis and reports the fallbacks in use.
    pub async fn health(&self) -> FleetHealth {
        let mut connection = self.connection.clone();
        let ping = tokio::time::timeout(
            Duration::from_millis(self.config.answer_timeout_ms),
            redis::cmd("PING").query_async::<String>(&mut connection),
        )
        .await;
        let redis = match ping {
            Ok(Ok(_)) => {
                // The limiters ask the shared quota again within seconds of their next call.
                self.status.quota_answered(true);
                self.status.cache_answered(None);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("redis: {e}")),
            Err(_) => Err("redis: no answer in time".to_owned()),
        };
        FleetHealth {
            redis,
            quota_fallback: self.status.quota_down.load(Ordering::Acquire),
            breakers_fallback: self.status.breakers_down.load(Ordering::Acquire),
            cache_fallback: self.status.cache_down.load(Ordering::Acquire),
        }
    }
}
