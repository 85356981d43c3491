//! The distributed scan's job queue (`ivcrush worker`, `ivcrush scan --distributed`): Redis
//! stream names, the visibility timeout after which a dead worker's job is claimed by another,
//! and how often a job may be delivered before it is dead-lettered.

use serde::{Deserialize, Serialize};

/// `[jobs]`: the scan job queue on Redis Streams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSettings {
    /// Prefix of the Redis keys (`ivcrush`: stream `ivcrush:scan:jobs`, dead letters
    /// `ivcrush:scan:dead`, consumer group `ivcrush-workers`). Instances sharing a Redis
    /// but not a database need prefixes of their own.
    pub prefix: String,
    /// A job delivered to a worker and not acknowledged for this long is claimed by another
    /// worker (60000 ms): longer than the slowest analysis of one ticker.
    pub visibility_timeout_ms: u64,
    /// Deliveries of a job before it goes to the dead-letter stream with its reason (5).
    pub max_deliveries: u32,
    /// How long a worker waits for a new job in one read (1000 ms); it checks for abandoned
    /// jobs and for shutdown between reads.
    pub block_ms: u64,
    /// How often the coordinator counts the run's stored results (500 ms).
    pub poll_interval_ms: u64,
    /// Longest a distributed run waits for its workers (3600 s): tickers without a result
    /// by then fail with the reason, so that a scheduled scan without workers still ends.
    pub run_timeout_secs: u64,
    /// Redis URL of the queue for `serve`'s distributed scans (`server.distributed_scans`)
    /// and the default of `scan --distributed` and `worker` when neither `--redis` nor
    /// `REDIS_URL` is given. Empty (default): none.
    pub redis: String,
}

impl Default for JobsSettings {
    fn default() -> Self {
        JobsSettings {
            prefix: "ivcrush".into(),
            visibility_timeout_ms: 60_000,
            max_deliveries: 5,
            block_ms: 1_000,
            poll_interval_ms: 500,
            run_timeout_secs: 3_600,
            redis: String::new(),
        }
    }
}

impl JobsSettings {
    /// Problems of the settings, one line each.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let valid_prefix = !self.prefix.is_empty()
            && self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
        if !valid_prefix {
            p.push(format!(
                "jobs.prefix must be non-empty letters, digits, '-', '_', ':' or '.' (got {:?})",
                self.prefix
            ));
        }
        if self.visibility_timeout_ms < 10 {
            p.push(format!(
                "jobs.visibility_timeout_ms must be >= 10 (got {})",
                self.visibility_timeout_ms
            ));
        }
        if self.max_deliveries == 0 {
            p.push("jobs.max_deliveries must be >= 1".into());
        }
        if !(1..=60_000).contains(&self.block_ms) {
            p.push(format!(
                "jobs.block_ms must be within 1..=60000 (got {})",
                self.block_ms
            ));
        }
        if !(1..=60_000).contains(&self.poll_interval_ms) {
            p.push(format!(
                "jobs.poll_interval_ms must be within 1..=60000 (got {})",
                self.poll_interval_ms
            ));
        }
        if !(1..=86_400).contains(&self.run_timeout_secs) {
            p.push(format!(
                "jobs.run_timeout_secs must be within 1..=86400 (got {})",
                self.run_timeout_secs
            ));
        }
        if !self.redis.is_empty()
            && !["redis://", "rediss://", "unix://", "redis+unix://"]
                .iter()
                .any(|s| self.redis.starts_with(s))
        {
            p.push("jobs.redis is not a redis:// URL".to_owned());
        }
        p
    }
}
