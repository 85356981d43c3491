//! `ivcrush worker`: processes the jobs of distributed scans (`ivcrush scan --distributed`)
//! from the Redis Streams consumer group until SIGTERM/SIGINT, which lets the jobs in hand
//! finish (their results stored and acknowledged) before it exits.

use crate::cli::CommonArgs;
use crate::runtime::shutdown_signal;
use anyhow::Context;
use clap::Args;
use ivcrush_app::App;
use ivcrush_app::distributed::{RunApps, process, queue_config};
use ivcrush_jobs::{Consumer, Failure, consumer_name};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tracing::Instrument;

/// Arguments of `ivcrush worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Redis URL of the job queue (also REDIS_URL; else `jobs.redis`).
    #[arg(long, env = "REDIS_URL", value_name = "URL")]
    pub redis: Option<String>,
    /// Jobs processed at once, one consumer each (default 1; run more workers to use more
    /// cores or machines).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Shared options (the database with --database-url or DATABASE_URL).
    #[command(flatten)]
    pub common: CommonArgs,
}

/// What a worker did, for its last log line.
#[derive(Default)]
struct Tally {
    done: AtomicU64,
    failed: AtomicU64,
}

/// Opens the app, connects its consumers and processes jobs until told to stop.
pub fn run(a: WorkerArgs) -> anyhow::Result<ExitCode> {
    super::init_service_logging(&a.common);
    let config = super::load_config(&a.common)?;
    let queue = queue_config(&config.jobs);
    let redis = match a.redis.clone() {
        Some(url) => url,
        None if !config.jobs.redis.is_empty() => config.jobs.redis.clone(),
        None => anyhow::bail!("worker needs the job queue: --redis URL, REDIS_URL or jobs.redis"),
    };
    let rt = super::runtime()?;
    rt.block_on(
        async move {
            tokio::spawn(crate::runtime::on_hangup(|| {
                tracing::info!(
                    "SIGHUP received: the configuration is read at start; restart the worker \
                     to apply a change (it keeps processing jobs)"
                );
            }));
            let app = App::open(config).await.context("opening the application")?;
            let base = consumer_name();
            let mut consumers = Vec::new();
            for i in 0..a.concurrency {
                let name = if a.concurrency == 1 {
                    base.clone()
                } else {
                    format!("{base}-{i}")
                };
                consumers.push(
                    Consumer::connect(&redis, queue.clone(), name)
                        .await
                        .context("connecting to the job queue")?,
                );
            }
            let stop = Arc::new(AtomicBool::new(false));
            let tally = Arc::new(Tally::default());
            tracing::info!(
                consumer = %base,
                concurrency = a.concurrency,
                stream = %queue.jobs_key(),
                group = %queue.group(),
                "worker started"
            );
            crate::runtime::notify_ready(&format!("processing scan jobs as {base}"));
            let loops: Vec<_> = consumers
                .into_iter()
                .map(|c| tokio::spawn(consume(c, app.clone(), stop.clone(), tally.clone())))
                .collect();
            let signal_stop = stop.clone();
            tokio::spawn(async move {
                let signal = shutdown_signal().await;
                crate::runtime::notify_stopping();
                tracing::info!(signal, "shutdown requested: finishing the jobs in hand");
                signal_stop.store(true, Ordering::Relaxed);
            });
            for l in loops {
                l.await.context("a consumer loop panicked")?;
            }
            tracing::info!(
                done = tally.done.load(Ordering::Relaxed),
                failed = tally.failed.load(Ordering::Relaxed),
                "worker stopped"
            );
            Ok(ExitCode::SUCCESS)
        }
        .instrument(tracing::info_span!("worker")),
    )
}

/// One consumer's loop: next job, process, acknowledge (or fail); checks `stop` between jobs
/// (a read waits at most `jobs.block_ms`).
async fn consume(mut consumer: Consumer, app: App, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut apps = RunApps::new(app);
    while !stop.load(Ordering::Relaxed) {
        let delivery = match consumer.next().await {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(
                    error = %ivcrush_app::error_report(&e),
                    "cannot read the job queue; retrying in 1 s"
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let span = tracing::info_span!("job", run_id = %delivery.run_id, ticker = %delivery.ticker,
            attempt = delivery.attempt);
        async {
            match process(&mut apps, &delivery).await {
                Ok(()) => {
                    tally.done.fetch_add(1, Ordering::Relaxed);
                    // Not acknowledged: delivered again after the visibility timeout, and
                    // stored again in place (idempotent).
                    if let Err(e) = consumer.ack(&delivery).await {
                        tracing::warn!(error = %ivcrush_app::error_report(&e), "job not acknowledged");
                    }
                }
                Err(reason) => {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                    match consumer.fail(&delivery, &reason).await {
                        Ok(Failure::WillRetry) => {
                            tracing::warn!(%reason, "job failed; it will be retried");
                        }
                        Ok(Failure::DeadLettered) => {}
                        Err(e) => tracing::warn!(
                            %reason,
                            error = %ivcrush_app::error_report(&e),
                            "job failed and its failure not recorded"
                        ),
                    }
                }
            }
        }
        .instrument(span)
        .await;
    }
}
