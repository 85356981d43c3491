//! The hand-off from a feed: number the update, store it, queue it for publishing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;

use crate::snapshot::Snapshot;
use crate::state::StateStore;
use crate::stats::{DropReason, Stats};

/// Unix epoch microseconds now (0 if the clock is before 1970).
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// What a feed pushes updates into. Never blocks: when the publisher is behind, the update is
/// still stored in the state map but dropped from publishing and counted
/// (`ivcrush_ticker_dropped_total{reason="channel_full"}`).
#[derive(Debug)]
pub struct Ingest {
    state: Arc<StateStore>,
    tx: mpsc::Sender<Arc<Snapshot>>,
    seq: AtomicU64,
    stats: Arc<Stats>,
}

impl Ingest {
    /// A hand-off into `state` and the publisher channel `tx`.
    pub fn new(
        state: Arc<StateStore>,
        tx: mpsc::Sender<Arc<Snapshot>>,
        stats: Arc<Stats>,
    ) -> Ingest {
        Ingest {
            state,
            tx,
            seq: AtomicU64::new(0),
            stats,
        }
    }

    /// The state map updates go into.
    pub fn state(&self) -> &Arc<StateStore> {
        &self.state
    }

    /// The service's counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// How many updates the publisher channel holds at most.
    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }

    /// Updates waiting for the publisher now (the channel's depth).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity().saturating_sub(self.tx.capacity())
    }

    /// Waits until at most `n` updates are queued for the publisher. Only for a synthetic source
    /// running flat out (the simulated feed at rate 0): generating updates that could only be
    /// dropped as `channel_full` would take the CPU the publisher and Redis need, and a full
    /// queue would only add latency. A live feed never waits here. While waiting, freed slots
    /// go to this waiter first (tokio's semaphore is FIFO), which is right for a service's
    /// single feed and would starve a second sender.
    pub async fn queued_at_most(&self, n: usize) {
        let room = self.tx.max_capacity().saturating_sub(n).max(1);
        // The permits are released at once; the caller's `push`es then find the room.
        let _ = self.tx.reserve_many(room).await;
    }

    /// Accepts one update: assigns the next sequence number (and the feed instant when unset),
    /// swaps it into the state map and offers it to the publisher without waiting.
    pub fn push(&self, mut snapshot: Snapshot) {
        snapshot.seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if snapshot.fed_at.is_none() {
            snapshot.fed_at = Some(Instant::now());
        }
        self.stats.add_ingested(1, now_us());
        let snapshot = Arc::new(snapshot);
        self.state.apply(Arc::clone(&snapshot));
        match self.tx.try_send(snapshot) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.add_dropped(DropReason::ChannelFull, 1);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.stats.add_dropped(DropReason::Shutdown, 1);
            }
        }
    }
}
