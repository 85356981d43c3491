//! The distributed scan's two sides, for every surface that runs one (`ivcrush scan
//! --distributed`, `serve` with `server.distributed_scans`, `ivcrush worker`): the
//! coordinator enqueues one job per ticker and gathers the results its workers stored; a
//! worker analyses the ticker of each job as the local scan would and stores the row.

use crate::config::JobsSettings;
use crate::scanner::{Progress, ScanPlan, ScanReport, ScanRequest, TickerTask};
use crate::{App, AppError, AsOf};
use chrono::{DateTime, Utc};
use ivcrush_jobs::{Delivery, Job, Queue, QueueConfig};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// What a job carries besides its run and ticker: the provider and as-of of the run (a worker
/// analyses as of the run's instant) and the ticker's task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanJobBody {
    /// Provider of the run (`sim`, `files`, `tradier`): a worker on another refuses the job.
    pub source: String,
    /// As-of instant of the run.
    pub as_of: DateTime<Utc>,
    /// The ticker, its report and the run's window.
    pub task: TickerTask,
}

/// The queue's settings from `[jobs]`.
pub fn queue_config(s: &JobsSettings) -> QueueConfig {
    QueueConfig {
        prefix: s.prefix.clone(),
        visibility_timeout: Duration::from_millis(s.visibility_timeout_ms),
        max_deliveries: s.max_deliveries,
        block: Duration::from_millis(s.block_ms),
    }
}

/// How long the coordinator waits without any progress before it says so (and again after as
/// long): workers may not be running.
const STALL_WARNING: Duration = Duration::from_secs(60);

/// Runs a scan through the workers: plans it, enqueues one job per ticker, waits (polling the
/// store every `jobs.poll_interval_ms`) until every ticker has a stored row or a dead letter,
/// or `jobs.run_timeout_secs` passed, stores the dead-lettered and timed-out tickers as failed
/// rows with their reason, and reports the run from the store, ranked as the local scan ranks
/// it.
///
/// # Errors
/// When the calendar, the store or Redis fail (a ticker's failure is a row).
pub async fn coordinate(
    app: &App,
    req: &ScanRequest,
    run_id: &str,
    redis: &str,
    progress: Option<Progress>,
) -> Result<ScanReport, AppError> {
    let scanner = app.scanner();
    let plan = scanner.plan(req).await?;
    let total = plan.tasks.len();
    if let Some(p) = &progress {
        p.started(total);
    }
    if total > 0 {
        let mut queue = Queue::connect(redis, queue_config(&app.config().jobs)).await?;
        let jobs: Vec<Job<ScanJobBody>> = plan
            .tasks
            .iter()
            .map(|t| Job {
                run_id: run_id.to_string(),
                ticker: t.ticker.clone(),
                body: ScanJobBody {
                    source: app.source().to_string(),
                    as_of: plan.as_of,
                    task: t.clone(),
                },
            })
            .collect();
        let ids = queue.enqueue(&jobs).await?;
        tracing::info!(run_id, jobs = ids.len(), stream = %queue.config().jobs_key(), "jobs enqueued");
        let failures = wait_for_results(app, &plan, run_id, &mut queue, &ids, progress).await?;
        scanner
            .store_failures(run_id, plan.as_of, &failures)
            .await?;
    }
    let report = scanner.stored_report(&plan, run_id).await?;
    app.purge_cache().await;
    Ok(report)
}

/// Waits until every task of the plan has a stored row or a dead letter, or the run's time is
/// up; returns the tickers without a stored row and why (dead-lettered, or no result in time).
async fn wait_for_results(
    app: &App,
    plan: &ScanPlan,
    run_id: &str,
    queue: &mut Queue,
    ids: &[String],
    progress: Option<Progress>,
) -> Result<Vec<(String, String)>, AppError> {
    let scanner = app.scanner();
    let total = plan.tasks.len();
    let settings = &app.config().jobs;
    let interval = Duration::from_millis(settings.poll_interval_ms);
    let run_timeout = Duration::from_secs(settings.run_timeout_secs);
    // Dead letters of this run are added after its first job: read from just before it.
    let mut cursor = ids
        .first()
        .and_then(|id| id.split('-').next())
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(|ms| format!("{}-0", ms.saturating_sub(1)));
    let mut dead: HashMap<String, (String, u32)> = HashMap::new();
    let mut done = 0usize;
    let started = Instant::now();
    let mut last_change = started;
    loop {
        let (letters, next) = queue.dead_letters(run_id, cursor.as_deref()).await?;
        cursor = next;
        for l in letters {
            dead.insert(l.ticker, (l.reason, l.deliveries));
        }
        let stored = usize::try_from(scanner.stored_count(run_id).await?).unwrap_or(usize::MAX);
        let now_done = stored.saturating_add(dead.len()).min(total);
        if now_done != done {
            done = now_done;
            last_change = Instant::now();
            if let Some(p) = &progress {
                p.reached(done);
            }
            tracing::info!(
                run_id,
                stored,
                dead_letters = dead.len(),
                total,
                "distributed scan progress"
            );
        }
        let timed_out = started.elapsed() >= run_timeout;
        if stored + dead.len() >= total || timed_out {
            // The counts say done; the rows say which tickers (a dead-lettered ticker may also
            // have been stored late by a worker that had lost the job).
            let have: HashSet<String> = scanner
                .stored_run(run_id)
                .await?
                .into_iter()
                .map(|r| r.ticker)
                .collect();
            let missing: Vec<&TickerTask> = plan
                .tasks
                .iter()
                .filter(|t| !have.contains(&t.ticker) && !dead.contains_key(&t.ticker))
                .collect();
            if missing.is_empty() || timed_out {
                if !missing.is_empty() {
                    tracing::warn!(
                        run_id,
                        missing = missing.len(),
                        total,
                        timeout_secs = run_timeout.as_secs(),
                        "the run's time is up: tickers without a result fail"
                    );
                }
                let late = missing.into_iter().map(|t| {
                    (
                        t.ticker.clone(),
                        format!(
                            "no worker stored a result within jobs.run_timeout_secs ({} s): \
                             are workers (`ivcrush worker`) running on queue {}?",
                            run_timeout.as_secs(),
                            queue.config().jobs_key()
                        ),
                    )
                });
                let given_up = dead
                    .into_iter()
                    .filter(|(ticker, _)| !have.contains(ticker))
                    .map(|(ticker, (reason, deliveries))| {
                        (
                            ticker,
                            format!("given up after {deliveries} attempt(s): {reason}"),
                        )
                    });
                return Ok(given_up.chain(late).collect());
            }
        }
        if last_change.elapsed() >= STALL_WARNING {
            last_change = Instant::now();
            let waiting = queue.waiting().await.unwrap_or(0);
            let pending = queue.pending().await.unwrap_or(0);
            tracing::warn!(
                run_id,
                done,
                total,
                waiting,
                pending,
                "no result for {} s: are workers running (`ivcrush worker`) on this queue?",
                STALL_WARNING.as_secs()
            );
        }
        tokio::time::sleep(interval).await;
    }
}

/// The apps a worker analyses with: its own, and the same over the market at a run's as-of
/// (the simulated market and files replay it; a live vendor is always now).
pub struct RunApps {
    base: App,
    at: Option<(DateTime<Utc>, App)>,
}

impl RunApps {
    /// Around the worker's app.
    pub fn new(base: App) -> RunApps {
        RunApps { base, at: None }
    }

    /// The worker's own app.
    pub fn base(&self) -> &App {
        &self.base
    }

    /// The app as of `as_of` (the last one is kept: the jobs of a run share it).
    fn at(&mut self, as_of: DateTime<Utc>) -> Result<&App, AppError> {
        if self.base.as_of() == as_of || self.base.is_live() {
            return Ok(&self.base);
        }
        if self.at.as_ref().is_none_or(|(t, _)| *t != as_of) {
            self.at = Some((as_of, self.base.at(AsOf::At(as_of))?));
        }
        match &self.at {
            Some((_, app)) => Ok(app),
            None => Ok(&self.base),
        }
    }
}

/// Processes one job: decodes it, analyses its ticker as of its run's instant and stores the
/// row. `Err` carries the reason the job failed (it is then retried, and dead-lettered after
/// the last delivery).
pub async fn process(apps: &mut RunApps, d: &Delivery) -> Result<(), String> {
    let body: ScanJobBody = d.decode().map_err(|e| e.to_string())?;
    if body.source != apps.base().source() {
        return Err(format!(
            "the run's provider is {} but this worker's is {}",
            body.source,
            apps.base().source()
        ));
    }
    let app = apps.at(body.as_of).map_err(|e| crate::error_report(&e))?;
    app.scanner()
        .analyze_task(&body.task, &d.run_id)
        .await
        .map_err(|e| crate::error_report(&e))?;
    Ok(())
}
