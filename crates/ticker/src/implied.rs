//! The live implied move: every underlying with a known report gets its straddle and event
//! moves recomputed from its latest snapshots whenever they changed (debounced: at most once
//! per `interval`), with the same steps as `ivcrush analyze`
//! ([`ivcrush_core::live_implied_move`]), and published to Redis:
//! - `PUBLISH {prefix}implied:{underlying}` the JSON [`ImpliedUpdate`];
//! - `HSET {prefix}implied:last:{underlying}` `json` (the same JSON) and the headline fields
//!   (`as_of`, `seq`, `spot`, `straddle_pct`, `interpolated_pct`, `event_pct`, `expiration`,
//!   `error`; absent values as empty strings).
//!
//! [`subscribe`] is the reading side (`serve` relays it to the dashboard): the latest value of
//! each underlying, then every update.
//!
//! Why polling the state map rather than a notification from [`Ingest`](crate::Ingest): the
//! ingest path runs at up to ~300,000 updates/s and must not take a lock per update; one scan
//! of at most `max_instruments` snapshots every `interval` (250 ms) costs microseconds.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use ivcrush_core::{
    AnalysisInput, AnalyticsConfig, EarningsEvent, LiveImpliedMove, OptionChain, OptionQuote,
    Timing, live_implied_move,
};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::TickerError;
use crate::feed::UpcomingReports;
use crate::publisher::Keys;
use crate::snapshot::{InstrumentKind, Snapshot};
use crate::state::StateStore;

/// Settings of the live implied move.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpliedSettings {
    /// Compute and publish it (default true; it needs `reports` to know anything).
    pub enabled: bool,
    /// Upcoming reports: the underlyings it is computed for.
    pub reports: UpcomingReports,
    /// The analysis settings (gates, term-structure window, forward).
    pub analytics: AnalyticsConfig,
    /// Continuous risk-free rate (as `risk_free_rate` of `analyze`).
    pub rate: f64,
    /// Continuous dividend yield (as `dividend_yield` of `analyze`).
    pub div: f64,
    /// Least time between two computations of one underlying. Default 250 ms.
    pub interval: Duration,
    /// The instant the quotes are as of: `None` (live feeds) is the wall clock; the simulated
    /// feed prices its options at its market's as-of instant, so it sets that.
    pub as_of: Option<DateTime<Utc>>,
}

impl Default for ImpliedSettings {
    fn default() -> Self {
        ImpliedSettings {
            enabled: true,
            reports: UpcomingReports::default(),
            analytics: AnalyticsConfig::default(),
            rate: crate::feed::tradier::DEFAULT_RISK_FREE_RATE,
            div: 0.0,
            interval: Duration::from_millis(250),
            as_of: None,
        }
    }
}

/// One published implied move (JSON, version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImpliedUpdate {
    /// The underlying.
    pub underlying: String,
    /// The instant the quotes are as of.
    pub as_of: DateTime<Utc>,
    /// The newest snapshot's sequence number among those used.
    pub seq: u64,
    /// The underlying's price (mid, else last); `None` when it has no quote yet.
    pub spot: Option<f64>,
    /// The report.
    pub earnings_date: NaiveDate,
    /// Its timing.
    pub timing: Timing,
    /// Options quoted in the chains used.
    pub options: usize,
    /// The figures, as the `implied_move` block (and expiry, caveats) of `analyze`.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveImpliedMove>,
    /// Why there are no figures (the analysis step that failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The quotes of one underlying as `analyze` takes them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UnderlyingQuotes {
    /// Mid of the underlying, else its last trade.
    pub spot: Option<f64>,
    /// One chain per expiration, ascending.
    pub chains: Vec<OptionChain>,
    /// Newest sequence number.
    pub seq: u64,
    /// Options in the chains.
    pub options: usize,
}

/// Groups one underlying's snapshots into its spot and chains. An option without an ask is
/// left out (nothing to price); a missing bid is a zero bid, which is what `analyze` reads as
/// "no bid" (one-sided quotes are noted, never priced).
pub fn underlying_quotes<'a>(
    snapshots: impl IntoIterator<Item = &'a Snapshot>,
) -> UnderlyingQuotes {
    let mut out = UnderlyingQuotes::default();
    let mut chains: BTreeMap<NaiveDate, Vec<OptionQuote>> = BTreeMap::new();
    for s in snapshots {
        out.seq = out.seq.max(s.seq);
        match s.kind {
            InstrumentKind::Stock => {
                out.spot = s.mid().or(s.last).filter(|p| p.is_finite() && *p > 0.0);
            }
            InstrumentKind::Option(kind) => {
                let (Some(strike), Some(expiration), Some(ask)) = (s.strike, s.expiration, s.ask)
                else {
                    continue;
                };
                chains.entry(expiration).or_default().push(OptionQuote {
                    kind,
                    strike,
                    bid: s.bid.unwrap_or(0.0),
                    ask,
                    last: s.last,
                    volume: 0,
                    open_interest: 0,
                });
                out.options += 1;
            }
        }
    }
    out.chains = chains
        .into_iter()
        .map(|(expiration, quotes)| OptionChain {
            expiration,
            quotes,
            vendor: None,
        })
        .collect();
    out
}

/// The implied move of `underlying` from its snapshots.
pub fn compute(
    underlying: &str,
    snapshots: &[Arc<Snapshot>],
    event: EarningsEvent,
    settings: &ImpliedSettings,
    as_of: DateTime<Utc>,
) -> ImpliedUpdate {
    let quotes = underlying_quotes(snapshots.iter().map(|s| &**s));
    let mut update = ImpliedUpdate {
        underlying: underlying.to_owned(),
        as_of,
        seq: quotes.seq,
        spot: quotes.spot,
        earnings_date: event.date,
        timing: event.timing,
        options: quotes.options,
        live: None,
        error: None,
    };
    let Some(spot) = quotes.spot else {
        update.error = Some(format!("no quote of {underlying} yet"));
        return update;
    };
    let input = AnalysisInput {
        ticker: underlying,
        as_of,
        spot,
        rate: settings.rate,
        div: settings.div,
        event,
        chains: &quotes.chains,
        history: &[],
        bars: &[],
        expiration: None,
        quality: &[],
    };
    match live_implied_move(&input, &settings.analytics) {
        Ok(live) => update.live = Some(live),
        Err(e) => update.error = Some(e.to_string()),
    }
    update
}

/// The `HSET` field/value pairs of an update (see the module docs).
fn hash_fields(update: &ImpliedUpdate, json: &str) -> Vec<(&'static str, String)> {
    let num = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let implied = update.live.as_ref().map(|l| l.implied_move);
    vec![
        ("json", json.to_owned()),
        ("as_of", update.as_of.to_rfc3339()),
        ("seq", update.seq.to_string()),
        ("spot", num(update.spot)),
        ("straddle_pct", num(implied.map(|i| i.straddle_pct))),
        ("interpolated_pct", num(implied.map(|i| i.interpolated_pct))),
        ("event_pct", num(implied.and_then(|i| i.event_pct))),
        (
            "expiration",
            update
                .live
                .as_ref()
                .map(|l| l.expiration.to_string())
                .unwrap_or_default(),
        ),
        ("error", update.error.clone().unwrap_or_default()),
    ]
}

/// Recomputes and publishes the implied move of every underlying whose snapshots changed,
/// every `settings.interval`, until `cancel`; then once more, so that the last figure
/// published is that of the last quotes.
///
/// # Errors
/// None in practice: a Redis failure is logged and counted, and the next round retries.
pub async fn run(
    state: Arc<StateStore>,
    settings: Arc<ImpliedSettings>,
    client: redis::Client,
    keys: Keys,
    cancel: CancellationToken,
) -> Result<(), TickerError> {
    let mut publisher = ImpliedPublisher {
        client,
        keys,
        connection: None,
        published: HashMap::new(),
    };
    let mut tick = tokio::time::interval(settings.interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => {
                publisher.round(&state, &settings).await;
                return Ok(());
            }
            _ = tick.tick() => publisher.round(&state, &settings).await,
        }
    }
}

struct ImpliedPublisher {
    client: redis::Client,
    keys: Keys,
    connection: Option<redis::aio::MultiplexedConnection>,
    /// The newest sequence number each underlying was computed from.
    published: HashMap<Arc<str>, u64>,
}

/// How long one Redis write of an implied move may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

impl ImpliedPublisher {
    async fn round(&mut self, state: &StateStore, settings: &ImpliedSettings) {
        let mut by_underlying: HashMap<Arc<str>, Vec<Arc<Snapshot>>> = HashMap::new();
        for s in state.snapshots() {
            if settings.reports.event(&s.underlying).is_some() {
                by_underlying
                    .entry(Arc::clone(&s.underlying))
                    .or_default()
                    .push(s);
            }
        }
        let as_of = settings.as_of.unwrap_or_else(Utc::now);
        for (underlying, snapshots) in by_underlying {
            let newest = snapshots.iter().map(|s| s.seq).max().unwrap_or(0);
            if self.published.get(&underlying) == Some(&newest) {
                continue;
            }
            let Some(event) = settings.reports.event(&underlying).copied() else {
                continue;
            };
            let update = compute(&underlying, &snapshots, event, settings, as_of);
            let outcome = if update.live.is_some() { "ok" } else { "error" };
            metrics::counter!("ivcrush_ticker_implied_total", "outcome" => outcome).increment(1);
            if let Some(e) = &update.error {
                tracing::debug!(underlying = %underlying, error = %e, "no live implied move");
            }
            match self.write(&update).await {
                Ok(()) => {
                    self.published.insert(underlying, newest);
                }
                Err(e) => {
                    self.connection = None;
                    metrics::counter!("ivcrush_ticker_implied_write_errors_total").increment(1);
                    tracing::warn!(
                        underlying = %underlying,
                        error = &e as &dyn std::error::Error,
                        "implied move not published; retried next round"
                    );
                    return;
                }
            }
        }
    }

    async fn write(&mut self, update: &ImpliedUpdate) -> Result<(), TickerError> {
        let json = serde_json::to_string(update)
            .map_err(|e| TickerError::Parse(format!("encoding the implied move: {e}")))?;
        let conn = match self.connection.clone() {
            Some(c) => c,
            None => {
                let c = tokio::time::timeout(
                    WRITE_TIMEOUT,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                .map_err(|_| TickerError::RedisTimeout(WRITE_TIMEOUT))?
                .map_err(TickerError::Redis)?;
                self.connection = Some(c.clone());
                c
            }
        };
        let last = self.keys.implied_last(&update.underlying);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("PUBLISH")
            .arg(self.keys.implied(&update.underlying))
            .arg(&json)
            .ignore()
            .cmd("DEL")
            .arg(&last)
            .ignore()
            .cmd("HSET")
            .arg(&last)
            .arg(hash_fields(update, &json))
            .ignore();
        let mut conn = conn;
        tokio::time::timeout(WRITE_TIMEOUT, pipe.query_async::<()>(&mut conn))
            .await
            .map_err(|_| TickerError::RedisTimeout(WRITE_TIMEOUT))?
            .map_err(TickerError::Redis)
    }
}

/// Most underlyings one [`ImpliedFeed::subscribe`] may follow.
pub const MAX_SUBSCRIBED: usize = 50;

/// The reading side of the live implied moves: a Redis client and the ticker's key prefix.
#[derive(Debug, Clone)]
pub struct ImpliedFeed {
    client: redis::Client,
    keys: Keys,
}

impl ImpliedFeed {
    /// The implied moves a ticker publishes to `redis_url` under `prefix` (no connection yet).
    ///
    /// # Errors
    /// [`TickerError::Config`] when `redis_url` is not a Redis URL.
    pub fn new(redis_url: &str, prefix: &str) -> Result<ImpliedFeed, TickerError> {
        let client = redis::Client::open(redis_url)
            .map_err(|e| TickerError::Config(vec![format!("redis url: {}", e.category())]))?;
        Ok(ImpliedFeed {
            client,
            keys: Keys::new(prefix),
        })
    }

    /// See [`subscribe`].
    ///
    /// # Errors
    /// As [`subscribe`].
    pub async fn subscribe(
        &self,
        underlyings: &[String],
        timeout: Duration,
    ) -> Result<BoxStream<'static, String>, TickerError> {
        subscribe(&self.client, &self.keys, underlyings, timeout).await
    }
}

/// The live implied moves of `underlyings`: first the latest published value of each (those
/// that have one), then every update as it is published, as the JSON of [`ImpliedUpdate`].
/// Subscribes before reading the latest values, so that nothing published in between is
/// missed (an update may then arrive twice; its `seq` tells).
///
/// # Errors
/// [`TickerError::Redis`] / [`TickerError::RedisTimeout`] when Redis cannot be reached within
/// `timeout`; [`TickerError::Config`] for more than [`MAX_SUBSCRIBED`] underlyings.
pub async fn subscribe(
    client: &redis::Client,
    keys: &Keys,
    underlyings: &[String],
    timeout: Duration,
) -> Result<BoxStream<'static, String>, TickerError> {
    if underlyings.len() > MAX_SUBSCRIBED {
        return Err(TickerError::Config(vec![format!(
            "at most {MAX_SUBSCRIBED} underlyings per subscription (got {})",
            underlyings.len()
        )]));
    }
    let within = |what: &'static str| {
        move |_| {
            tracing::debug!(what, "redis did not answer in time");
            TickerError::RedisTimeout(timeout)
        }
    };
    let mut pubsub = tokio::time::timeout(timeout, client.get_async_pubsub())
        .await
        .map_err(within("pubsub connect"))?
        .map_err(TickerError::Redis)?;
    let channels: Vec<String> = underlyings.iter().map(|u| keys.implied(u)).collect();
    tokio::time::timeout(timeout, pubsub.subscribe(&channels))
        .await
        .map_err(within("subscribe"))?
        .map_err(TickerError::Redis)?;
    let mut conn = tokio::time::timeout(timeout, client.get_multiplexed_async_connection())
        .await
        .map_err(within("connect"))?
        .map_err(TickerError::Redis)?;
    let mut latest = Vec::new();
    for u in underlyings {
        let json: Option<String> = tokio::time::timeout(
            timeout,
            redis::cmd("HGET")
                .arg(keys.implied_last(u))
                .arg("json")
                .query_async(&mut conn),
        )
        .await
        .map_err(within("HGET"))?
        .map_err(TickerError::Redis)?;
        latest.extend(json);
    }
    let updates = pubsub
        .into_on_message()
        .filter_map(|msg| async move { msg.get_payload::<String>().ok() });
    Ok(futures_util::stream::iter(latest).chain(updates).boxed())
}
