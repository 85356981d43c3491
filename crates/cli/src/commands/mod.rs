//! The commands that use market data and the store. Each `run` receives a ready [`App`] inside
//! the run's correlation span and returns the exit status.

pub mod alerts;
pub mod analyze;
pub mod backfill;
pub mod backtest;
pub mod batch;
pub mod calendar;
pub mod config;
pub mod db;
pub mod health;
pub mod history;
pub mod import;
pub mod scan;
pub mod serve;
pub mod ticker;
pub mod worker;

use crate::cli::{CommonArgs, LogFormat};
use anyhow::Context;
use ivcrush_app::{App, AppConfig, new_correlation_id};
use std::future::Future;
use std::process::ExitCode;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// Installs the stderr log subscriber (text or JSON). `RUST_LOG` overrides the level.
pub fn init_logging(common: &CommonArgs) {
    init_logging_from(common, "warn");
}

/// Logging of the long-running services (`serve`, `ticker`): INFO by default, so that their
/// start, their requests and their stop are on record.
pub fn init_service_logging(common: &CommonArgs) {
    init_logging_from(common, "info");
}

fn init_logging_from(common: &CommonArgs, quiet_default: &str) {
    let default = match (common.quiet, common.verbose) {
        (true, _) => "error",
        (false, 0) => quiet_default,
        (false, 1) => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = match common.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(crate::output::colour_stderr())
            .try_init(),
        LogFormat::Json => {
            use tracing_subscriber::layer::SubscriberExt as _;
            use tracing_subscriber::util::SubscriberInitExt as _;
            JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing_subscriber::registry()
                .with(filter)
                .with(ivcrush_telemetry::FlatJsonLayer::new(std::io::stderr))
                .try_init()
                .map_err(Into::into)
        }
    };
}

/// Whether logs are JSON lines (`--log-format json`): a fatal error is then one more line.
static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether [`init_logging`] chose JSON lines.
pub fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The multi-threaded runtime every async command runs on.
///
/// # Errors
/// When the runtime cannot start (no threads, no I/O driver).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Loads the configuration for `common`'s flags.
///
/// # Errors
/// Every configuration problem at once.
pub fn load_config(common: &CommonArgs) -> anyhow::Result<AppConfig> {
    let config = AppConfig::load(common.config.as_deref(), common.overrides())?;
    config.apply_to_process();
    Ok(config)
}

/// Builds the runtime and the app, opens the run's correlation span (`cid`, on every log line)
/// and runs `f` with the app and the correlation ID (stored with the run's results).
pub fn run_async<F, Fut>(common: &CommonArgs, f: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(App, String) -> Fut,
    Fut: Future<Output = anyhow::Result<ExitCode>>,
{
    init_logging(common);
    let cid = new_correlation_id();
    let span = tracing::info_span!("run", cid = %cid);
    let run_id = cid.clone();
    let config = span.in_scope(|| load_config(common))?;
    runtime()?.block_on(
        async move {
            let app = App::open(config).await.context("opening the application")?;
            tracing::info!(provider = app.source(), as_of = %app.as_of(), "started");
            // The run's ID is its W3C trace: vendor requests carry it in `traceparent`.
            let trace = run_id.clone();
            let alerts = app.clone();
            let result = ivcrush_telemetry::trace::in_trace(&trace, f(app, run_id)).await;
            // What the command raised goes out before it exits, for a bounded time (a command
            // that raised nothing never waits on a webhook).
            let budget = std::time::Duration::from_secs(alerts.config().alerts.flush_secs);
            if alerts.alerts().raised_here()
                && let Some(round) = alerts.alerts().flush(budget).await
                && round.delivered + round.failed > 0
            {
                tracing::info!(
                    delivered = round.delivered,
                    failed = round.failed,
                    "alerts delivered"
                );
            }
            result
        }
        .instrument(span),
    )
}

/// A progress bar on stderr fed by a scan or a batch (hidden when not wanted).
#[derive(Clone)]
pub struct BarProgress(indicatif::ProgressBar);

impl BarProgress {
    /// A bar labelled `what`, its length set when the run starts.
    pub fn new(quiet: bool, what: &str) -> std::sync::Arc<BarProgress> {
        std::sync::Arc::new(BarProgress(crate::progress::bar(0, quiet, what)))
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ivcrush_app::ScanProgress for BarProgress {
    fn started(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn finished(&self, ticker: &str) {
        self.0.set_message(ticker.to_string());
        self.0.inc(1);
    }

    fn reached(&self, done: usize) {
        self.0.set_position(done as u64);
    }
}

/// Lists a run's failed rows on stderr; exit 3 when there are any, else 0.
pub fn report_failures(report: &ivcrush_app::ScanReport, what: &str) -> ExitCode {
    let failed: Vec<_> = report.failed().collect();
    if failed.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!("{} {what} failed (run {}):", failed.len(), report.run_id);
    for r in failed {
        eprintln!("  {}: {}", r.ticker(), r.error().unwrap_or_default());
    }
    ExitCode::from(3)
}
