//! Supervision: every background task runs under [`supervise`], which restarts it with backoff
//! after an error, a panic or an unexpected return, and logs and counts each restart
//! (`ivcrush_ticker_task_restarts_total{task}`). Nothing fails silently.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ivcrush_resilience::Backoff;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::error::TickerError;
use crate::stats::Stats;

/// Restart backoff: `base · 2^n` capped at `max`; the count resets once a run lasted `healthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// First delay. Default 100 ms.
    pub base: Duration,
    /// Largest delay. Default 5 s.
    pub max: Duration,
    /// A run at least this long resets the backoff. Default 30 s.
    pub healthy: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(5),
            healthy: Duration::from_secs(30),
        }
    }
}

impl RestartPolicy {
    /// The delay before restart number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        Backoff::doubling(self.base, self.max).ceiling(n)
    }
}

/// Spawns a supervisor for task `name`: `make()` builds one run of the task; the supervisor
/// restarts it (after logging and counting) until `cancel` fires, then waits for the current
/// run to finish (tasks observe `cancel` themselves, so they can flush). The supervisor and
/// every run carry the caller's span (the run's correlation ID) plus `task = name`, so their
/// log lines say which run and which task they come from.
pub fn supervise<F, Fut>(
    name: &'static str,
    stats: Arc<Stats>,
    policy: RestartPolicy,
    cancel: CancellationToken,
    mut make: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), TickerError>> + Send + 'static,
{
    let span = tracing::info_span!("task", task = name);
    let supervisor = async move {
        let mut restarts_in_a_row = 0u32;
        loop {
            if cancel.is_cancelled() {
                break;
            }
            let started = Instant::now();
            let run = tokio::spawn(make().in_current_span());
            let reason = match run.await {
                Ok(Ok(())) if cancel.is_cancelled() => break,
                Ok(Ok(())) => {
                    tracing::error!(task = name, "task returned unexpectedly; restarting");
                    "returned"
                }
                Ok(Err(e)) => {
                    tracing::error!(
                        task = name,
                        error = &e as &dyn std::error::Error,
                        "task failed; restarting"
                    );
                    "error"
                }
                Err(join) if join.is_panic() => {
                    let panic = join.into_panic();
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "non-string panic payload".to_owned());
                    tracing::error!(task = name, panic = %message, "task panicked; restarting");
                    "panic"
                }
                Err(_) => {
                    tracing::error!(task = name, "task was cancelled by the runtime");
                    break;
                }
            };
            if started.elapsed() >= policy.healthy {
                restarts_in_a_row = 0;
            }
            stats.add_restart(name);
            let delay = policy.delay(restarts_in_a_row);
            restarts_in_a_row = restarts_in_a_row.saturating_add(1);
            tracing::info!(
                task = name,
                reason,
                delay_ms = delay.as_millis() as u64,
                "restarting task"
            );
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(delay) => {}
            }
        }
    };
    tokio::spawn(supervisor.instrument(span))
}
