//! `ivcrush serve`: the HTTP API, dashboard, metrics and the scheduled scan.

use crate::cli::CommonArgs;
use anyhow::Context;
use clap::Args;
use ivcrush_app::App;
use std::process::ExitCode;
use tracing::Instrument;

/// Arguments of `ivcrush serve`.
#[derive(Debug, Args)]
pub struct ServeCliArgs {
    /// Server options.
    #[command(flatten)]
    pub serve: ivcrush_server::ServeArgs,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Installs the metrics recorder before anything builds a policy (their handles are resolved
/// at construction), opens the app and serves until SIGTERM/SIGINT.
pub fn run(a: ServeCliArgs) -> anyhow::Result<ExitCode> {
    super::init_logging(&a.common);
    let config = super::load_config(&a.common)?;
    let rt = super::runtime()?;
    rt.block_on(
        async move {
            ivcrush_server::install_metrics_recorder();
            let app = App::open(config).await.context("opening the application")?;
            ivcrush_server::run(app, a.serve).await?;
            Ok(ExitCode::SUCCESS)
        }
        .instrument(tracing::info_span!("serve")),
    )
}
