//! Bulkhead: at most `max_concurrent` calls in flight, `max_queued` waiting, the rest rejected.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use metrics::Counter;
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::error::ConfigError;

/// Bulkhead settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Calls in flight at once. Default 8.
    pub max_concurrent: u32,
    /// Callers waiting for a slot; beyond that, rejected at once. Default 8.
    pub max_queued: u32,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig {
            max_concurrent: 8,
            max_queued: 8,
        }
    }
}

/// Why the bulkhead refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkheadRefusal {
    /// All slots and the queue are taken.
    Full,
    /// The caller's deadline passed while queued.
    Deadline,
}

/// Limits concurrent calls. Slots are served in arrival order (tokio's fair semaphore).
#[derive(Debug)]
pub struct Bulkhead {
    name: Arc<str>,
    slots: Semaphore,
    queued: AtomicU32,
    max_queued: u32,
    rejected: Counter,
}

/// A held slot; released on drop, whatever ends the call (success, error, panic, cancel).
#[derive(Debug)]
pub struct BulkheadPermit<'a> {
    _slot: SemaphorePermit<'a>,
}

impl Bulkhead {
    /// A bulkhead named `name`.
    ///
    /// # Errors
    /// A message when `max_concurrent` is zero.
    pub fn new(name: &str, config: BulkheadConfig) -> Result<Bulkhead, ConfigError> {
        if config.max_concurrent == 0 {
            return Err(ConfigError {
                problems: vec!["bulkhead.max_concurrent must be at least 1".to_owned()],
            });
        }
        Ok(Bulkhead {
            rejected: metrics::counter!("ivcrush_bulkhead_rejected_total", "name" => name.to_owned()),
            name: Arc::from(name),
            slots: Semaphore::new(config.max_concurrent as usize),
            queued: AtomicU32::new(0),
            max_queued: config.max_queued,
        })
    }

    /// The bulkhead's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// Free slots now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Callers queued now.
    pub fn queued(&self) -> u32 {
        self.queued.load(Ordering::Acquire)
    }

    /// Takes a slot, queueing (bounded) until one frees or `deadline` passes.
    ///
    /// # Errors
    /// `Full` at once when slots and queue are taken; `Deadline` when the deadline passes
    /// while queued.
    pub async fn acquire(
        &self,
        deadline: Option<Instant>,
    ) -> Result<BulkheadPermit<'_>, BulkheadRefusal> {
        if let Ok(slot) = self.slots.try_acquire() {
            return Ok(BulkheadPermit { _slot: slot });
        }
        let queued = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q < self.max_queued).then_some(q + 1)
            });
        if queued.is_err() {
            self.rejected.increment(1);
            return Err(BulkheadRefusal::Full);
        }
        struct Queued<'a>(&'a AtomicU32);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _queued = Queued(&self.queued);
        let slot = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.slots.acquire())
                .await
                .map_err(|_| BulkheadRefusal::Deadline)?,
            None => self.slots.acquire().await,
        };
        let slot = slot.expect("the bulkhead semaphore is never closed");
        Ok(BulkheadPermit { _slot: slot })
    }
}
