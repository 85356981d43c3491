//! Circuit breakers shared by the fleet: a breaker opened in one process is held open in
//! every other within one sync interval, and when its wait ends one process at a time probes
//! the vendor.
//!
//! One Redis key per breaker (and vendor key fingerprint), read every `breaker_sync_ms` (a GET
//! and a PTTL) and at once when another process announces a transition on the channel
//! `{namespace}:breakers:changed`: the key is the state (a process that starts or reconnects
//! while a breaker is open reads it), the message only makes the others read it now rather
//! than at their next poll (a lost message costs one interval):
//! - `open:{owner}` with a TTL of the owner's wait: the others hold theirs open until the key
//!   expires plus the probe lease, so only the owner makes the first trial;
//! - no key while a process still holds its breaker open (the owner died or its wait ended):
//!   the processes race for `…:probe` (`SET NX PX lease`); the winner begins its trial, the
//!   others wait another lease;
//! - `forced:{owner}` (an operator forced it open): forced open everywhere, no TTL;
//! - `closed:{owner}` for a short while after a trial succeeds or an operator resets it:
//!   closed everywhere.
//!
//! A process publishes its own transitions (told by the breaker's listener, and by the
//! generation it sees changed), never those it adopted from the key.

use std::sync::Arc;
use std::time::Duration;

use ivcrush_resilience::{BreakerState, CircuitBreaker};
use redis::aio::ConnectionManager;
use tokio::sync::Notify;

/// How long `closed:{owner}` stays, so that every process polling sees it.
const CLOSED_NOTICE: Duration = Duration::from_secs(10);

/// What the key says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FleetState {
    Open { owner: String },
    Forced { owner: String },
    Closed { owner: String },
}

impl FleetState {
    fn parse(value: &str) -> Option<FleetState> {
        let (state, owner) = value.split_once(':')?;
        let owner = owner.to_owned();
        match state {
            "open" => Some(FleetState::Open { owner }),
            "forced" => Some(FleetState::Forced { owner }),
            "closed" => Some(FleetState::Closed { owner }),
            _ => None,
        }
    }

    fn owner(&self) -> &str {
        match self {
            FleetState::Open { owner }
            | FleetState::Forced { owner }
            | FleetState::Closed { owner } => owner,
        }
    }
}

/// One breaker kept in step with the fleet.
#[derive(Debug)]
pub(crate) struct SyncedBreaker {
    pub(crate) breaker: CircuitBreaker,
    pub(crate) key: String,
    /// The generation this process last published or adopted.
    generation: u64,
}

impl SyncedBreaker {
    pub(crate) fn new(breaker: CircuitBreaker, key: String) -> SyncedBreaker {
        let generation = breaker.snapshot().generation;
        SyncedBreaker {
            breaker,
            key,
            generation,
        }
    }
}

/// The sync loop's settings.
#[derive(Debug, Clone)]
pub(crate) struct BreakerSync {
    pub(crate) connection: ConnectionManager,
    /// For the subscription to `channel`.
    pub(crate) client: redis::Client,
    /// Where transitions are announced.
    pub(crate) channel: String,
    pub(crate) instance: String,
    pub(crate) interval: Duration,
    pub(crate) lease: Duration,
    pub(crate) answer_timeout: Duration,
    pub(crate) status: Arc<crate::FleetStatus>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl BreakerSync {
    /// Runs until the task is aborted.
    pub(crate) async fn run(self, mut breakers: Vec<SyncedBreaker>) {
        let wake = Arc::new(Notify::new());
        for synced in &breakers {
            let wake = Arc::clone(&wake);
            synced.breaker.add_listener(move |_| wake.notify_one());
        }
        let _announcements = crate::AbortOnDrop(tokio::spawn(listen(
            self.client.clone(),
            self.channel.clone(),
            self.answer_timeout,
            Arc::clone(&wake),
        )));
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = wake.notified() => {}
            }
            let mut failure = None;
            for synced in &mut breakers {
                let step = tokio::time::timeout(self.answer_timeout, self.step(synced)).await;
                match step {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => failure = Some(format!("redis: {e}")),
                    Err(_) => failure = Some("no answer in time".to_owned()),
                }
            }
            match failure {
                None => self.status.breakers_reachable(),
                Some(reason) => self.status.breakers_unreachable(&reason),
            }
        }
    }

    /// Publishes this process's transition, or adopts the fleet's state.
    async fn step(&self, synced: &mut SyncedBreaker) -> redis::RedisResult<()> {
        let mut connection = self.connection.clone();
        let snapshot = synced.breaker.snapshot();
        if snapshot.generation != synced.generation {
            let me = &self.instance;
            let key = synced.key.as_str();
            match snapshot.state {
                BreakerState::Open => {
                    let wait = Duration::from_millis(snapshot.retry_in_ms.unwrap_or(0));
                    let _: () = redis::cmd("SET")
                        .arg(key)
                        .arg(format!("open:{me}"))
                        .arg("PX")
                        .arg(millis(wait))
                        .query_async(&mut connection)
                        .await?;
                }
                BreakerState::ForcedOpen => {
                    let _: () = redis::cmd("SET")
                        .arg(key)
                        .arg(format!("forced:{me}"))
                        .query_async(&mut connection)
                        .await?;
                }
                BreakerState::Closed => {
                    let _: () = redis::cmd("SET")
                        .arg(key)
                        .arg(format!("closed:{me}"))
                        .arg("PX")
                        .arg(millis(CLOSED_NOTICE))
                        .query_async(&mut connection)
                        .await?;
                }
                BreakerState::HalfOpen => {
                    // Its own wait ended first: it holds the fleet's probe.
                    let _: Option<String> = redis::cmd("SET")
                        .arg(format!("{key}:probe"))
                        .arg(me)
                        .arg("NX")
                        .arg("PX")
                        .arg(millis(self.lease))
                        .query_async(&mut connection)
                        .await?;
                }
                BreakerState::Disabled => {}
            }
            let _: i64 = redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(key)
                .query_async(&mut connection)
                .await?;
            tracing::debug!(instance = %self.instance, breaker = synced.breaker.name(), state = snapshot.state.as_str(), "published to the fleet");
            synced.generation = snapshot.generation;
            return Ok(());
        }
        let (value, ttl_ms): (Option<String>, i64) = redis::pipe()
            .get(&synced.key)
            .pttl(&synced.key)
            .query_async(&mut connection)
            .await?;
        let fleet = value.as_deref().and_then(FleetState::parse);
        let mine = fleet.as_ref().is_some_and(|f| f.owner() == self.instance);
        let breaker = &synced.breaker;
        tracing::trace!(instance = %self.instance, breaker = breaker.name(), fleet = ?value, local = snapshot.state.as_str(), "fleet state read");
        // Only what this step itself did to the breaker counts as adopted: a transition of its
        // own that happened while the step awaited Redis must still be published next round.
        let adopted = match (fleet, snapshot.state) {
            (Some(_), _) if mine => false,
            (_, BreakerState::Disabled) => false,
            (Some(FleetState::Open { .. }), BreakerState::Closed | BreakerState::Open) => {
                let left = Duration::from_millis(u64::try_from(ttl_ms).unwrap_or(0));
                breaker.hold_open(left + self.lease);
                true
            }
            (Some(FleetState::Forced { .. }), state) if state != BreakerState::ForcedOpen => {
                breaker.force_open();
                true
            }
            (
                Some(FleetState::Closed { .. }),
                BreakerState::Open | BreakerState::HalfOpen | BreakerState::ForcedOpen,
            ) => {
                breaker.reset();
                true
            }
            (None, BreakerState::Open) => {
                let won: Option<String> = redis::cmd("SET")
                    .arg(format!("{}:probe", synced.key))
                    .arg(&self.instance)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(self.lease))
                    .query_async(&mut connection)
                    .await?;
                if won.is_some() {
                    tracing::info!(
                        breaker = breaker.name(),
                        "this process probes the vendor for the fleet"
                    );
                    breaker.begin_trial();
                } else {
                    breaker.hold_open(self.lease);
                }
                true
            }
            _ => false,
        };
        if adopted {
            synced.generation = breaker.snapshot().generation;
        }
        Ok(())
    }
}

/// Wakes the sync loop on every announcement on `channel`, resubscribing after a lost
/// connection (the poll covers the gap).
async fn listen(
    client: redis::Client,
    channel: String,
    connect_within: Duration,
    wake: Arc<Notify>,
) {
    use futures_util::StreamExt;
    loop {
        let subscribed = async {
            let mut pubsub = tokio::time::timeout(connect_within, client.get_async_pubsub())
                .await
                .map_err(|_| "no answer in time".to_owned())?
                .map_err(|e| e.to_string())?;
            pubsub
                .subscribe(&channel)
                .await
                .map_err(|e| e.to_string())?;
            let mut messages = pubsub.on_message();
            while messages.next().await.is_some() {
                wake.notify_one();
            }
            Ok::<(), String>(())
        };
        if let Err(e) = subscribed.await {
            tracing::debug!(error = %e, "breaker announcements unavailable; polling only");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_parse_with_their_owner() {
        assert_eq!(
            FleetState::parse("open:host-1-ab"),
            Some(FleetState::Open {
                owner: "host-1-ab".into()
            })
        );
        assert_eq!(
            FleetState::parse("forced:x").map(|f| f.owner().to_owned()),
            Some("x".into())
        );
        assert!(FleetState::parse("closed:y").is_some());
        assert_eq!(FleetState::parse("weird"), None);
        assert_eq!(FleetState::parse("half:z"), None);
    }
}
