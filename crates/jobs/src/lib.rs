//! The distributed scan's job queue: one job per ticker of a run on a Redis Streams consumer
//! group.
//!
//! - A coordinator [`Queue::enqueue`]s the jobs of a run; workers each hold a [`Consumer`]
//!   (one name per process and loop: host, PID and random bits) and read them with
//!   `XREADGROUP … BLOCK`, so that every job goes to one worker at a time.
//! - A job stays pending until its worker [`Consumer::ack`]s it, which it does only after the
//!   result is stored. A worker that dies leaves its job pending; once the job has been idle
//!   longer than the visibility timeout another worker claims it with `XAUTOCLAIM`. A job may
//!   therefore be processed twice (a worker died after storing, before acknowledging): results
//!   must be idempotent (the store upserts by run and ticker).
//! - A job that fails ([`Consumer::fail`], with its reason) is retried after the visibility
//!   timeout; once it has been delivered [`QueueConfig::max_deliveries`] times it goes to the
//!   dead-letter stream with the reason (or, when its workers died each time, a reason saying
//!   so) and is acknowledged. [`Queue::dead_letters`] reads them back for the coordinator.
//!
//! Keys are namespaced by [`QueueConfig::prefix`]: `{prefix}:scan:jobs` (the jobs),
//! `{prefix}:scan:dead` (dead letters), `{prefix}:scan:errors` (the last failure of each
//! pending job) and the group `{prefix}-workers`. Acknowledged jobs are deleted from the stream,
//! so that it holds only work not yet done.

#![forbid(unsafe_code)]

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, FromRedisValue, RedisError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Jobs written to Redis in one round trip.
const ENQUEUE_CHUNK: usize = 1_000;
/// Dead letters kept (approximately): the oldest are trimmed beyond this.
const DEAD_LETTERS_KEPT: usize = 100_000;

/// Where the queue lives and how it treats slow and failing jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Prefix of the Redis keys (`ivcrush`).
    pub prefix: String,
    /// A job delivered and not acknowledged for this long is claimed by another worker.
    pub visibility_timeout: Duration,
    /// Deliveries of a job before it is dead-lettered (at least 1).
    pub max_deliveries: u32,
    /// How long one read waits for a new job.
    pub block: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            prefix: "ivcrush".into(),
            visibility_timeout: Duration::from_secs(60),
            max_deliveries: 5,
            block: Duration::from_secs(1),
        }
    }
}

impl QueueConfig {
    /// The stream of jobs (`{prefix}:scan:jobs`).
    pub fn jobs_key(&self) -> String {
        format!("{}:scan:jobs", self.prefix)
    }

    /// The dead-letter stream (`{prefix}:scan:dead`).
    pub fn dead_key(&self) -> String {
        format!("{}:scan:dead", self.prefix)
    }

    /// The hash of the last failure of each pending job (`{prefix}:scan:errors`).
    pub fn errors_key(&self) -> String {
        format!("{}:scan:errors", self.prefix)
    }

    /// The workers' consumer group (`{prefix}-workers`).
    pub fn group(&self) -> String {
        format!("{}-workers", self.prefix)
    }

    /// How often a consumer looks for abandoned jobs: half the visibility timeout, within
    /// 10 ms … 5 s (a dead worker's job is taken over within 1.5 timeouts).
    fn claim_interval(&self) -> Duration {
        (self.visibility_timeout / 2).clamp(Duration::from_millis(10), Duration::from_secs(5))
    }
}

/// What went wrong with the queue.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Redis could not be reached or refused the connection.
    #[error("cannot connect to Redis at {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// Why.
        #[source]
        source: RedisError,
    },
    /// A Redis command failed.
    #[error("Redis {op} on {key} failed: {source}")]
    Redis {
        /// The command.
        op: &'static str,
        /// The key it worked on.
        key: String,
        /// Why.
        #[source]
        source: RedisError,
    },
    /// A job's body could not be encoded.
    #[error("cannot encode the job of {ticker} (run {run_id}): {source}")]
    Encode {
        /// Run of the job.
        run_id: String,
        /// Ticker of the job.
        ticker: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A delivered job's body does not decode into what the worker expects.
    #[error("job {id} ({ticker} of run {run_id}) does not decode: {source}")]
    Decode {
        /// Stream entry ID.
        id: String,
        /// Run of the job (empty when the entry has none).
        run_id: String,
        /// Ticker of the job (empty when the entry has none).
        ticker: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// One job: a ticker of a run, and what the worker needs to process it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job<T> {
    /// The run it belongs to.
    pub run_id: String,
    /// The ticker.
    pub ticker: String,
    /// The rest, JSON in the stream.
    pub body: T,
}

/// A job handed to a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stream entry ID.
    pub id: String,
    /// The run it belongs to (empty when the entry has none).
    pub run_id: String,
    /// The ticker (empty when the entry has none).
    pub ticker: String,
    /// The body as stored (JSON).
    pub body: String,
    /// Which delivery this is (1 for the first).
    pub attempt: u32,
}

impl Delivery {
    /// The body decoded.
    ///
    /// # Errors
    /// [`JobError::Decode`] when it is not the JSON of a `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_str(&self.body).map_err(|source| JobError::Decode {
            id: self.id.clone(),
            run_id: self.run_id.clone(),
            ticker: self.ticker.clone(),
            source,
        })
    }
}

/// A job that was given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Entry ID in the dead-letter stream.
    pub id: String,
    /// Entry ID the job had in the job stream.
    pub job_id: String,
    /// The run it belonged to.
    pub run_id: String,
    /// The ticker.
    pub ticker: String,
    /// Why it was given up on.
    pub reason: String,
    /// How often it was delivered.
    pub deliveries: u32,
    /// The body as stored.
    pub body: String,
}

/// What [`Consumer::fail`] did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Left pending: another delivery follows after the visibility timeout.
    WillRetry,
    /// Its last delivery: moved to the dead-letter stream and acknowledged.
    DeadLettered,
}

/// A Redis connection that is opened again on the next command after it failed.
struct Conn {
    client: Client,
    url: String,
    config: AsyncConnectionConfig,
    conn: Option<MultiplexedConnection>,
}

impl Conn {
    async fn open(url: &str, response_timeout: Duration) -> Result<Conn, JobError> {
        let shown = redact(url);
        let client = Client::open(url).map_err(|source| JobError::Connect {
            url: shown.clone(),
            source,
        })?;
        let mut conn = Conn {
            client,
            url: shown,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(5)))
                .set_response_timeout(Some(response_timeout)),
            conn: None,
        };
        conn.connection().await?;
        Ok(conn)
    }

    async fn connection(&mut self) -> Result<MultiplexedConnection, JobError> {
        if let Some(c) = &self.conn {
            return Ok(c.clone());
        }
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
            .map_err(|source| JobError::Connect {
                url: self.url.clone(),
                source,
            })?;
        self.conn = Some(c.clone());
        Ok(c)
    }

    /// Runs `cmd`; a connection-level failure drops the connection (reopened next time).
    async fn query<T: FromRedisValue>(
        &mut self,
        op: &'static str,
        key: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, JobError> {
        let mut c = self.connection().await?;
        let out = cmd.query_async(&mut c).await;
        self.check(op, key, out)
    }

    /// Runs `pipe` (atomic when built so).
    async fn pipe<T: FromRedisValue>(
        &mut self,
        op: &'static str,
        key: &str,
        pipe: &redis::Pipeline,
    ) -> Result<T, JobError> {
        let mut c = self.connection().await?;
        let out = pipe.query_async(&mut c).await;
        self.check(op, key, out)
    }

    fn check<T>(
        &mut self,
        op: &'static str,
        key: &str,
        out: Result<T, RedisError>,
    ) -> Result<T, JobError> {
        out.map_err(|source| {
            if source.is_io_error()
                || source.is_connection_dropped()
                || source.is_unrecoverable_error()
                || source.is_timeout()
            {
                self.conn = None;
            }
            JobError::Redis {
                op,
                key: key.to_string(),
                source,
            }
        })
    }

    /// Creates the consumer group (and the stream) unless it exists.
    async fn ensure_group(&mut self, config: &QueueConfig) -> Result<(), JobError> {
        let key = config.jobs_key();
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(&key)
            .arg(config.group())
            .arg("0")
            .arg("MKSTREAM");
        match self.query::<()>("XGROUP CREATE", &key, &cmd).await {
            Err(JobError::Redis { source, .. }) if source.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }
}

/// `redis://user:secret@host` shown as `redis://user:***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// The coordinator's side: enqueue jobs, read dead letters.
pub struct Queue {
    config: QueueConfig,
    conn: Conn,
}

impl Queue {
    /// Connects and creates the consumer group when missing.
    ///
    /// # Errors
    /// [`JobError`] when Redis cannot be reached or refuses.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Queue, JobError> {
        let mut conn = Conn::open(url, Duration::from_secs(10)).await?;
        conn.ensure_group(&config).await?;
        Ok(Queue { config, conn })
    }

    /// The configuration.
    pub fn config(&self) -> &QueueConfig {
        &self.config
    }

    /// Adds the jobs (a thousand per round trip); returns their entry IDs in order.
    ///
    /// # Errors
    /// [`JobError::Encode`] for a body that cannot be encoded (nothing is sent then),
    /// [`JobError::Redis`] when Redis fails (the chunks before it are enqueued).
    pub async fn enqueue<T: Serialize>(
        &mut self,
        jobs: &[Job<T>],
    ) -> Result<Vec<String>, JobError> {
        let key = self.config.jobs_key();
        let bodies = jobs
            .iter()
            .map(|j| {
                serde_json::to_string(&j.body).map_err(|source| JobError::Encode {
                    run_id: j.run_id.clone(),
                    ticker: j.ticker.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut ids = Vec::with_capacity(jobs.len());
        for (chunk, bodies) in jobs.chunks(ENQUEUE_CHUNK).zip(bodies.chunks(ENQUEUE_CHUNK)) {
            let mut pipe = redis::pipe();
            for (job, body) in chunk.iter().zip(bodies) {
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("*")
                    .arg("run")
                    .arg(&job.run_id)
                    .arg("ticker")
                    .arg(&job.ticker)
                    .arg("body")
                    .arg(body);
            }
            let chunk_ids: Vec<String> = self.conn.pipe("XADD", &key, &pipe).await?;
            ids.extend(chunk_ids);
        }
        Ok(ids)
    }

    /// Dead letters of `run_id` added after the dead-letter entry `after` (`None`: from the
    /// start of the stream), oldest first, and the last entry ID read (the cursor of the next
    /// call; `after` again when nothing new was there).
    ///
    /// # Errors
    /// [`JobError::Redis`] when Redis fails.
    pub async fn dead_letters(
        &mut self,
        run_id: &str,
        after: Option<&str>,
    ) -> Result<(Vec<DeadLetter>, Option<String>), JobError> {
        let key = self.config.dead_key();
        let start = after.map_or_else(|| "-".to_string(), |id| format!("({id}"));
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&key).arg(start).arg("+");
        let entries: redis::streams::StreamRangeReply =
            self.conn.query("XRANGE", &key, &cmd).await?;
        let last = entries
            .ids
            .last()
            .map(|e| e.id.clone())
            .or_else(|| after.map(str::to_string));
        let letters = entries
            .ids
            .iter()
            .map(dead_letter_of)
            .filter(|d| d.run_id == run_id)
            .collect();
        Ok((letters, last))
    }

    /// Jobs delivered and not yet acknowledged (being worked on, or abandoned).
    ///
    /// # Errors
    /// [`JobError::Redis`] when Redis fails.
    pub async fn pending(&mut self) -> Result<u64, JobError> {
        let key = self.config.jobs_key();
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&key).arg(self.config.group());
        let summary: redis::Value = self.conn.query("XPENDING", &key, &cmd).await?;
        Ok(match summary {
            redis::Value::Array(items) => items
                .first()
                .and_then(|v| u64::from_redis_value(v.clone()).ok())
                .unwrap_or(0),
            _ => 0,
        })
    }

    /// Jobs in the stream: not yet acknowledged (waiting or pending).
    ///
    /// # Errors
    /// [`JobError::Redis`] when Redis fails.
    pub async fn waiting(&mut self) -> Result<u64, JobError> {
        let key = self.config.jobs_key();
        let mut cmd = redis::cmd("XLEN");
        cmd.arg(&key);
        self.conn.query("XLEN", &key, &cmd).await
    }
}

fn field(entry: &StreamId, name: &str) -> String {
    entry.get::<String>(name).unwrap_or_default()
}

fn dead_letter_of(entry: &StreamId) -> DeadLetter {
    DeadLetter {
        id: entry.id.clone(),
        job_id: field(entry, "job_id"),
        run_id: field(entry, "run"),
        ticker: field(entry, "ticker"),
        reason: field(entry, "reason"),
        deliveries: entry.get::<u32>("deliveries").unwrap_or(0),
        body: field(entry, "body"),
    }
}

/// A unique consumer name: host, process ID and random bits (two workers never share one,
/// even after a PID is reused).
pub fn consumer_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!(
        "{host}-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// A worker's side: receive jobs, acknowledge or fail them.
pub struct Consumer {
    config: QueueConfig,
    conn: Conn,
    name: String,
    /// Where the next `XAUTOCLAIM` scan starts.
    claim_cursor: String,
    /// When abandoned jobs were last looked for.
    last_claim: Option<Instant>,
}

impl Consumer {
    /// Connects as consumer `name` (see [`consumer_name`]) and creates the group when missing.
    ///
    /// # Errors
    /// [`JobError`] when Redis cannot be reached or refuses.
    pub async fn connect(
        url: &str,
        config: QueueConfig,
        name: String,
    ) -> Result<Consumer, JobError> {
        // A blocked read answers after `block`; the timeout leaves it room.
        let mut conn = Conn::open(url, config.block + Duration::from_secs(10)).await?;
        conn.ensure_group(&config).await?;
        Ok(Consumer {
            config,
            conn,
            name,
            claim_cursor: "0-0".into(),
            last_claim: None,
        })
    }

    /// This consumer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next job: an abandoned one (idle beyond the visibility timeout; looked for every
    /// half timeout) first, else a new one, waiting up to the block time; `None` when none
    /// came. Abandoned jobs delivered too often are dead-lettered on the way.
    ///
    /// # Errors
    /// [`JobError::Redis`] when Redis fails.
    pub async fn next(&mut self) -> Result<Option<Delivery>, JobError> {
        let due = self
            .last_claim
            .is_none_or(|t| t.elapsed() >= self.config.claim_interval());
        if due {
            self.last_claim = Some(Instant::now());
            if let Some(d) = self.claim_abandoned().await? {
                return Ok(Some(d));
            }
        }
        let key = self.config.jobs_key();
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(self.config.group())
            .arg(&self.name)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(
                u64::try_from(self.config.block.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            )
            .arg("STREAMS")
            .arg(&key)
            .arg(">");
        let reply: Option<StreamReadReply> = self.conn.query("XREADGROUP", &key, &cmd).await?;
        Ok(reply
            .and_then(|r| r.keys.into_iter().next())
            .and_then(|k| k.ids.into_iter().next())
            .map(|entry| delivery_of(&entry, 1)))
    }

    /// Claims one job idle beyond the visibility timeout, dead-lettering those already
    /// delivered `max_deliveries` times.
    async fn claim_abandoned(&mut self) -> Result<Option<Delivery>, JobError> {
        let key = self.config.jobs_key();
        let min_idle =
            u64::try_from(self.config.visibility_timeout.as_millis()).unwrap_or(u64::MAX);
        // Bounded: each pass either claims, dead-letters or ends the scan.
        for _ in 0..1_000 {
            let mut cmd = redis::cmd("XAUTOCLAIM");
            cmd.arg(&key)
                .arg(self.config.group())
                .arg(&self.name)
                .arg(min_idle)
                .arg(&self.claim_cursor)
                .arg("COUNT")
                .arg(1);
            let reply: StreamAutoClaimReply = self.conn.query("XAUTOCLAIM", &key, &cmd).await?;
            let scanned_all = reply.next_stream_id == "0-0";
            self.claim_cursor = reply.next_stream_id;
            let Some(entry) = reply.claimed.into_iter().next() else {
                if scanned_all {
                    return Ok(None);
                }
                continue;
            };
            let attempt = self.deliveries(&entry.id).await?;
            let delivery = delivery_of(&entry, attempt);
            if attempt > self.config.max_deliveries {
                let last_error: Option<String> = {
                    let errors = self.config.errors_key();
                    let mut cmd = redis::cmd("HGET");
                    cmd.arg(&errors).arg(&entry.id);
                    self.conn.query("HGET", &errors, &cmd).await?
                };
                let reason = match last_error {
                    Some(e) => e,
                    None => format!(
                        "delivered {} times and never acknowledged: its workers died or ran past \
                         the visibility timeout of {} ms",
                        attempt - 1,
                        min_idle
                    ),
                };
                tracing::warn!(job = %entry.id, ticker = %delivery.ticker, run_id = %delivery.run_id,
                    attempts = attempt - 1, %reason, "job dead-lettered");
                self.dead_letter(&delivery, attempt - 1, &reason).await?;
                continue;
            }
            tracing::info!(job = %entry.id, ticker = %delivery.ticker, attempt,
                "claimed an abandoned job");
            return Ok(Some(delivery));
        }
        Ok(None)
    }

    /// How often the pending job `id` has been delivered.
    async fn deliveries(&mut self, id: &str) -> Result<u32, JobError> {
        let key = self.config.jobs_key();
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(&key)
            .arg(self.config.group())
            .arg(id)
            .arg(id)
            .arg(1);
        let reply: StreamPendingCountReply = self.conn.query("XPENDING", &key, &cmd).await?;
        Ok(reply
            .ids
            .first()
            .map_or(1, |p| u32::try_from(p.times_delivered).unwrap_or(u32::MAX)))
    }

    /// Acknowledges a processed job (its result is stored) and deletes it from the stream.
    ///
    /// # Errors
    /// [`JobError::Redis`] when Redis fails (the job is then delivered again after the
    /// visibility timeout; its result is idempotent).
    pub async fn ack(&mut self, d: &Delivery) -> Result<(), JobError> {
        let key = self.config.jobs_key();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XACK")
            .arg(&key)
            .arg(self.config.group())
            .arg(&d.id)
            .ignore()
            .cmd("XDEL")
            .arg(&key)
            .arg(&d.id)
            .ignore()
            .cmd("HDEL")
            .arg(self.config.errors_key())
            .arg(&d.id)
            .ignore();
        self.conn.pipe("XACK", &key, &pipe).await
    }

    /// Records that processing `d` failed with `reason`: on its last delivery it goes to the
    /// dead-letter stream (and is acknowledged), otherwise it stays pending and is delivered
    /// again after the visibility timeout.
    ///
    /// # Errors
    /// [`JobError::Redis`] when Redis fails.
    pub async fn fail(&mut self, d: &Delivery, reason: &str) -> Result<Failure, JobError> {
        if d.attempt >= self.config.max_deliveries {
            tracing::warn!(job = %d.id, ticker = %d.ticker, run_id = %d.run_id,
                attempts = d.attempt, reason, "job dead-lettered");
            self.dead_letter(d, d.attempt, reason).await?;
            return Ok(Failure::DeadLettered);
        }
        let errors = self.config.errors_key();
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&errors).arg(&d.id).arg(reason);
        self.conn.query::<()>("HSET", &errors, &cmd).await?;
        Ok(Failure::WillRetry)
    }

    /// Moves `d` to the dead-letter stream with `reason` and acknowledges it, atomically.
    async fn dead_letter(
        &mut self,
        d: &Delivery,
        deliveries: u32,
        reason: &str,
    ) -> Result<(), JobError> {
        let key = self.config.jobs_key();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(self.config.dead_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(DEAD_LETTERS_KEPT)
            .arg("*")
            .arg("run")
            .arg(&d.run_id)
            .arg("ticker")
            .arg(&d.ticker)
            .arg("reason")
            .arg(reason)
            .arg("deliveries")
            .arg(deliveries)
            .arg("job_id")
            .arg(&d.id)
            .arg("consumer")
            .arg(&self.name)
            .arg("body")
            .arg(&d.body)
            .ignore()
            .cmd("XACK")
            .arg(&key)
            .arg(self.config.group())
            .arg(&d.id)
            .ignore()
            .cmd("XDEL")
            .arg(&key)
            .arg(&d.id)
            .ignore()
            .cmd("HDEL")
            .arg(self.config.errors_key())
            .arg(&d.id)
            .ignore();
        self.conn.pipe("dead-letter", &key, &pipe).await
    }
}

fn delivery_of(entry: &StreamId, attempt: u32) -> Delivery {
    Delivery {
        id: entry.id.clone(),
        run_id: field(entry, "run"),
        ticker: field(entry, "ticker"),
        body: field(entry, "body"),
        attempt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_by_the_prefix() {
        let c = QueueConfig {
            prefix: "t1".into(),
            ..QueueConfig::default()
        };
        assert_eq!(c.jobs_key(), "t1:scan:jobs");
        assert_eq!(c.dead_key(), "t1:scan:dead");
        assert_eq!(c.errors_key(), "t1:scan:errors");
        assert_eq!(c.group(), "t1-workers");
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("redis://u:pw@h"), "redis://u:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
    }

    #[test]
    fn consumer_names_differ_within_a_process() {
        assert_ne!(consumer_name(), consumer_name());
    }

    #[test]
    fn claims_are_looked_for_every_half_timeout_within_bounds() {
        let with = |ms| QueueConfig {
            visibility_timeout: Duration::from_millis(ms),
            ..QueueConfig::default()
        };
        assert_eq!(with(400).claim_interval(), Duration::from_millis(200));
        assert_eq!(with(4).claim_interval(), Duration::from_millis(10));
        assert_eq!(with(60_000).claim_interval(), Duration::from_secs(5));
    }
}
