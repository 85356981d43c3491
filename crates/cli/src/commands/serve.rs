//! `ivcrush serve`: the HTTP API, dashboard, metrics and the scheduled scan.

use crate::cli::CommonArgs;
use crate::runtime::{install_metrics_recorder, shutdown_signal};
use anyhow::Context;
use clap::Args;
use ivcrush_app::config::{ConfigSources, CronSchedule, ServerSettings};
use ivcrush_app::{App, AppConfig, ProviderKind};
use ivcrush_server::Server;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing::Instrument;

/// Flags of `ivcrush serve`, over the `[server]` section of the configuration.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Listen address (default 127.0.0.1:8080, or server.bind).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// Serve /health/* and /metrics on this address only (a private port for probes and
    /// scrapes; default: on --bind, or server.admin_bind).
    #[arg(long, value_name = "ADDR")]
    pub admin_bind: Option<SocketAddr>,
    /// Deprecated: a former ivcrush-server.toml, read as the [server] section (default
    /// ./ivcrush-server.toml when present). Move its keys into [server] of ivcrush.toml.
    /// API keys also come from IVCRUSH_API_KEYS (comma-separated).
    #[arg(long, value_name = "FILE")]
    pub server_config: Option<PathBuf>,
    /// Allow this CORS origin (repeatable; added to server.cors_origins; CORS is off by default).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Requests per minute per client on /api/* (default 600).
    #[arg(long, value_name = "N")]
    pub rate_limit_per_minute: Option<u32>,
    /// Cron expression of the scheduled scan, with seconds (default "0 45 9 * * Mon-Fri",
    /// in server.scan_timezone, America/New_York).
    #[arg(long, value_name = "CRON", value_parser = parse_cron)]
    pub scan_cron: Option<CronSchedule>,
    /// Do not run the in-process scan scheduler.
    #[arg(long)]
    pub no_scheduler: bool,
}

fn parse_cron(s: &str) -> Result<CronSchedule, String> {
    s.parse()
}

impl ServeArgs {
    /// Applies the flags over the configured `settings` (checked when the server binds).
    pub fn apply(&self, settings: &mut ServerSettings) {
        if let Some(b) = self.bind {
            settings.bind = b;
        }
        if let Some(b) = self.admin_bind {
            settings.admin_bind = Some(b);
        }
        settings
            .cors_origins
            .extend(self.cors_origins.iter().cloned());
        if let Some(n) = self.rate_limit_per_minute {
            settings.rate_limit_per_minute = n;
        }
        if let Some(c) = &self.scan_cron {
            settings.scan_cron = c.clone();
        }
        if self.no_scheduler {
            settings.scheduler = false;
        }
    }
}

/// Arguments of `ivcrush serve`.
#[derive(Debug, Args)]
pub struct ServeCliArgs {
    /// Server options.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The configuration with a former server file as `[server]`; warnings logged.
fn load_config(a: &ServeCliArgs) -> anyhow::Result<AppConfig> {
    let sources = ConfigSources {
        file: a.common.config.clone(),
        legacy_server_file: a.serve.server_config.clone(),
    };
    let loaded = AppConfig::load_from(&sources, a.common.overrides(), std::env::vars())?;
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    loaded.config.apply_to_process();
    Ok(loaded.config)
}

/// Installs the metrics recorder before anything builds a policy (their handles are resolved
/// at construction), opens the app and serves until SIGTERM/SIGINT.
pub fn run(a: ServeCliArgs) -> anyhow::Result<ExitCode> {
    super::init_service_logging(&a.common);
    let mut config = load_config(&a)?;
    a.serve.apply(&mut config.server);
    let settings = config.server.clone();
    tracing::info!(
        version = crate::runtime::VERSION,
        git_sha = crate::runtime::GIT_SHA,
        provider = ?config.provider,
        database = %ivcrush_app::config::redact_url(&config.database()),
        bind = %settings.bind,
        admin_bind = ?settings.admin_bind,
        scheduler = settings.scheduler,
        "ivcrush serve starting"
    );
    if config.provider == ProviderKind::Sim {
        tracing::warn!(
            "provider = \"sim\": serving the simulated market, not real quotes \
             (set provider = \"tradier\" for production)"
        );
    }
    // A vendor call made for a request ends before the request's own timeout (the client gets
    // the vendor's error, not a generic timeout) and before the shutdown grace (a stop never
    // cuts a call that would still have answered in time).
    let ceiling = settings
        .request_timeout_ms
        .min(settings.shutdown_grace_secs.saturating_mul(1_000))
        .saturating_sub(1_000)
        .max(1_000);
    for (vendor, resilience) in [
        ("tradier", &mut config.tradier.resilience),
        ("alphavantage", &mut config.alphavantage.resilience),
    ] {
        if resilience.deadline_ms > ceiling {
            tracing::info!(
                vendor,
                from_ms = resilience.deadline_ms,
                to_ms = ceiling,
                "vendor call deadline lowered below the request timeout and the shutdown grace"
            );
            resilience.deadline_ms = ceiling;
        }
    }
    // The flags' settings are checked before anything opens the database or binds.
    let problems = settings.problems();
    if !problems.is_empty() {
        return Err(ivcrush_server::ServeError::Config(problems).into());
    }
    let quiet = a.common.quiet;
    let rt = super::runtime()?;
    rt.block_on(
        async move {
            tokio::spawn(crate::runtime::on_hangup(|| {
                tracing::info!(
                    "SIGHUP received: the configuration is read at start; restart the service \
                     to apply a change (the process keeps serving)"
                );
            }));
            let recorder = install_metrics_recorder(ivcrush_server::new_recorder());
            let app = App::open(config).await.context("opening the application")?;
            let server = Server::bind(app, settings, recorder).await?;
            let addr = server.local_addr()?;
            let admin = server.admin_addr()?;
            tracing::info!(address = %addr, admin_address = ?admin, "listening");
            crate::runtime::notify_ready(&format!("serving on {addr}"));
            if !quiet && !super::json_logs() {
                // On stderr for a person at a terminal (JSON lines carry it in "listening").
                eprintln!("listening on http://{addr}");
                if let Some(admin) = admin {
                    eprintln!("health and metrics on http://{admin}");
                }
            }
            server
                .run(async {
                    let signal = shutdown_signal().await;
                    crate::runtime::notify_stopping();
                    tracing::info!(
                        signal,
                        "shutdown requested: no new connections, finishing in-flight requests"
                    );
                })
                .await?;
            Ok(ExitCode::SUCCESS)
        }
        .instrument(tracing::info_span!("serve")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    #[test]
    fn flags_override_the_configured_settings() {
        let cli = Cli::parse_from([
            "serve",
            "--bind",
            "127.0.0.1:9999",
            "--cors-origin",
            "https://ops.example",
            "--rate-limit-per-minute",
            "30",
            "--scan-cron",
            "0 0 10 * * Mon-Fri",
            "--no-scheduler",
        ]);
        let mut s: ServerSettings = ServerSettings {
            rate_limit_per_minute: 5,
            cors_origins: vec!["https://a.example".into()],
            ..ServerSettings::default()
        };
        cli.serve.apply(&mut s);
        assert_eq!(s.bind.port(), 9999);
        assert_eq!(s.rate_limit_per_minute, 30);
        assert_eq!(s.cors_origins, ["https://a.example", "https://ops.example"]);
        assert_eq!(format!("{:?}", s.scan_cron), "0 0 10 * * Mon-Fri");
        assert!(!s.scheduler);
    }

    #[test]
    fn a_bad_cron_flag_is_a_usage_error() {
        assert!(Cli::try_parse_from(["serve", "--scan-cron", "nonsense"]).is_err());
    }
}
