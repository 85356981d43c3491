//! The vendor-data cache shared by the fleet in Redis, between each process's memory and its
//! database (see `ivcrush_store::cache`): one process's chain is every process's chain until
//! it expires. One hash per entry (`v` the JSON value, `f` and `e` the fetched and expiry
//! instants in ms since the epoch), kept by Redis for the TTL plus the grace of stale reads.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ivcrush_store::{CacheEntry, SharedCacheTier};
use redis::aio::ConnectionManager;

/// The shared cache under `{namespace}:cache:`.
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
    status: Arc<crate::FleetStatus>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    pub(crate) fn new(
        connection: ConnectionManager,
        namespace: &str,
        status: Arc<crate::FleetStatus>,
    ) -> RedisCache {
        RedisCache {
            connection,
            prefix: format!("{namespace}:cache:"),
            status,
        }
    }

    fn answered<T>(&self, result: redis::RedisResult<T>) -> Result<T, String> {
        self.status.cache_answered(result.as_ref().err());
        result.map_err(|e| format!("redis: {e}"))
    }
}

fn instant(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

#[async_trait::async_trait]
impl SharedCacheTier for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<CacheEntry>, String> {
        let mut connection = self.connection.clone();
        let (value, fetched, expires): (Option<Vec<u8>>, Option<i64>, Option<i64>) = self
            .answered(
                redis::cmd("HMGET")
                    .arg(format!("{}{key}", self.prefix))
                    .arg("v")
                    .arg("f")
                    .arg("e")
                    .query_async(&mut connection)
                    .await,
            )?;
        // A partial entry (written by an older build, or cut short) is a miss.
        Ok(
            match (value, fetched.and_then(instant), expires.and_then(instant)) {
                (Some(value), Some(fetched_at), Some(expires_at)) => Some(CacheEntry {
                    value,
                    fetched_at,
                    expires_at,
                }),
                _ => None,
            },
        )
    }

    async fn put(&self, key: &str, entry: &CacheEntry, keep_for: Duration) -> Result<(), String> {
        let mut connection = self.connection.clone();
        let name = format!("{}{key}", self.prefix);
        let keep_ms = u64::try_from(keep_for.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.answered(
            redis::pipe()
                .atomic()
                .cmd("HSET")
                .arg(&name)
                .arg("v")
                .arg(entry.value.as_slice())
                .arg("f")
                .arg(entry.fetched_at.timestamp_millis())
                .arg("e")
                .arg(entry.expires_at.timestamp_millis())
                .ignore()
                .cmd("PEXPIRE")
                .arg(&name)
                .arg(keep_ms)
                .ignore()
                .query_async::<()>(&mut connection)
                .await,
        )
    }
}
