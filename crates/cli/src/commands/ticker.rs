//! `ivcrush ticker`: the streaming quote service (option quotes to Redis). The flags live here;
//! the service takes the plain [`TickerConfig`] they build.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use ivcrush_ticker::feed::ChainSelection;
use ivcrush_ticker::feed::sim::SimSettings;
use ivcrush_ticker::feed::tradier::{DEFAULT_RISK_FREE_RATE, TradierSettings};
use ivcrush_ticker::{
    FeedConfig, Keys, PublisherConfig, ReloadPolicy, RestartPolicy, SymbolSource, TickerConfig,
    TickerError, TickerService, parse_symbol_list,
};
use tracing::Instrument;

use crate::cli::{CommonArgs, LogFormat};
use crate::runtime::{install_metrics_recorder, shutdown_signal};

/// Which feed to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum FeedKind {
    /// The deterministic simulated market (default).
    #[default]
    Sim,
    /// Tradier streaming (session POST + websocket); needs `TRADIER_API_KEY`.
    Tradier,
}

/// Flags of the streaming service.
#[derive(Debug, Clone, Args)]
pub struct TickerArgs {
    /// Market-data feed.
    #[arg(long, value_enum, default_value_t = FeedKind::Sim)]
    pub feed: FeedKind,
    /// Underlyings to stream, comma separated (OCC option symbols are streamed as given).
    /// Default with `--feed sim`: the first 10 tickers of the simulated universe.
    #[arg(long, value_delimiter = ',', conflicts_with = "watchlist")]
    pub symbols: Vec<String>,
    /// File listing the underlyings (comma/space/newline separated, `#` comments); watched and
    /// reloaded on change.
    #[arg(long, value_name = "FILE")]
    pub watchlist: Option<PathBuf>,
    /// Also reload the symbols from the Redis string key `{key-prefix}watchlist` when it changes.
    #[arg(long)]
    pub watch_redis_key: bool,
    /// Redis URL.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    pub redis: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, default_value = "ivcrush:")]
    pub key_prefix: String,
    /// Serve `/metrics` and `/health/live|ready` on this address (e.g. 127.0.0.1:9187).
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<SocketAddr>,
    /// Most instruments held in memory (least recently updated evicted first).
    #[arg(long, default_value_t = 5_000)]
    pub max_instruments: usize,
    /// Approximate length bound of the quotes stream (`XADD … MAXLEN ~ N`).
    #[arg(long, default_value_t = 100_000)]
    pub stream_maxlen: usize,
    /// Simulated updates per second (0 = as fast as the publisher takes them).
    #[arg(long, default_value_t = 5_000)]
    pub rate: u32,
    /// Seed of the simulated market and feed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// As-of date of the simulated market (default: today in New York).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
    /// Stop after this long (`30s`, `500ms`, `5m`); default: run until SIGTERM/SIGINT.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Near expirations subscribed per underlying.
    #[arg(long, default_value_t = 2)]
    pub expiries: usize,
    /// Strikes below and above the money per expiration.
    #[arg(long, default_value_t = 5)]
    pub strikes: usize,
    /// Capacity of the feed → publisher channel (updates beyond it are dropped and counted).
    #[arg(long, default_value_t = 16_384)]
    pub channel_capacity: usize,
    /// Updates per pipelined Redis round trip, at most.
    #[arg(long, default_value_t = 2_048)]
    pub batch_size: usize,
    /// Continuous risk-free rate for the IV and delta of streamed Tradier options (the app's
    /// `risk_free_rate`).
    #[arg(long, env = "IVCRUSH_RISK_FREE_RATE", default_value_t = DEFAULT_RISK_FREE_RATE)]
    pub risk_free_rate: f64,
    /// Tradier REST base URL (chains and the session POST).
    #[arg(
        long,
        env = "TRADIER_BASE_URL",
        default_value = "https://api.tradier.com"
    )]
    pub tradier_base_url: String,
    /// Tradier websocket URL.
    #[arg(
        long,
        env = "TRADIER_WS_URL",
        default_value = "wss://ws.tradier.com/v1/markets/events"
    )]
    pub tradier_ws_url: String,
    /// Tradier access token (from the environment only; never logged).
    #[arg(long, env = "TRADIER_API_KEY", hide = true, hide_env_values = true)]
    pub tradier_api_key: Option<String>,
}

/// Parses `250ms`, `10s`, `5m`, `1h` or plain seconds (`2.5`).
///
/// # Errors
/// A message naming the accepted forms.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (use 250ms, 10s, 5m or 1h)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("invalid duration unit in {text:?} (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("invalid duration {text:?}"))
}

impl TickerArgs {
    /// The service configuration these flags describe, checked: every problem (the symbol
    /// lists' and the settings') is listed at once.
    ///
    /// # Errors
    /// [`TickerError::Config`] listing every problem.
    pub fn to_config(&self) -> Result<TickerConfig, TickerError> {
        let mut problems = Vec::new();
        let symbols = match &self.watchlist {
            Some(path) => SymbolSource::File(path.clone()),
            None => {
                let mut list = Vec::new();
                for s in &self.symbols {
                    match parse_symbol_list(s, "--symbols") {
                        Ok(mut v) => list.append(&mut v),
                        Err(e) => problems.push(e.to_string()),
                    }
                }
                SymbolSource::List(list)
            }
        };
        let mut publisher = PublisherConfig::new(self.redis.clone());
        publisher.keys = Keys::new(self.key_prefix.clone());
        publisher.stream_maxlen = self.stream_maxlen;
        publisher.batch_size = self.batch_size;
        let config = TickerConfig {
            feed: self.feed_config(),
            symbols,
            watch_redis_key: self.watch_redis_key,
            publisher,
            max_instruments: self.max_instruments,
            channel_capacity: self.channel_capacity,
            metrics_bind: self.metrics_bind,
            sweep_interval: Duration::from_secs(300),
            watch_interval: Duration::from_secs(1),
            reload: ReloadPolicy::default(),
            restart: RestartPolicy::default(),
        };
        problems.extend(config.problems());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(TickerError::Config(problems))
        }
    }

    fn feed_config(&self) -> FeedConfig {
        let selection = ChainSelection {
            expiries: self.expiries,
            strikes_per_side: self.strikes,
        };
        match self.feed {
            FeedKind::Sim => FeedConfig::Sim(SimSettings {
                seed: self.seed,
                as_of: self
                    .as_of
                    .unwrap_or_else(|| ivcrush_core::calendar::new_york_date(chrono::Utc::now())),
                selection,
                rate: self.rate,
            }),
            FeedKind::Tradier => {
                let mut t = TradierSettings::new(self.tradier_api_key.clone().unwrap_or_default());
                t.base_url = self.tradier_base_url.clone();
                t.ws_url = self.tradier_ws_url.clone();
                t.chains = Some(selection);
                t.risk_free_rate = self.risk_free_rate;
                FeedConfig::Tradier(t)
            }
        }
    }
}

/// Arguments of `ivcrush ticker`: the service's own flags plus logging.
#[derive(Debug, Args)]
pub struct TickerCliArgs {
    /// Service options.
    #[command(flatten)]
    pub ticker: TickerArgs,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t)]
    pub log_format: LogFormat,
    /// Only errors in the log.
    #[arg(long, short)]
    pub quiet: bool,
    /// More logging (-v info, -vv debug).
    #[arg(long, short, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Runs the service until SIGTERM/SIGINT (or `--duration`), then flushes pending writes.
pub fn run(a: TickerCliArgs) -> anyhow::Result<ExitCode> {
    super::init_logging(&CommonArgs {
        log_format: a.log_format,
        quiet: a.quiet,
        verbose: a.verbose,
        ..CommonArgs::default()
    });
    let rt = super::runtime()?;
    let cid = ivcrush_app::new_correlation_id();
    rt.block_on(serve(a.ticker).instrument(tracing::info_span!("ticker", cid = %cid)))?;
    Ok(ExitCode::SUCCESS)
}

/// Starts the service, waits for `--duration` or a signal, then stops the feed and flushes.
async fn serve(args: TickerArgs) -> anyhow::Result<()> {
    let config = args.to_config()?;
    let prometheus = install_metrics_recorder(ivcrush_ticker::http::LATENCY_BUCKETS);
    let service = TickerService::start(config, prometheus)
        .await
        .context("starting the ticker service")?;
    if let Some(addr) = service.http_addr() {
        tracing::info!(%addr, "serving /metrics and /health");
    }
    let stop = async {
        match args.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = stop => tracing::info!("run duration reached; stopping"),
        signal = shutdown_signal() => tracing::info!(signal, "signal received; stopping"),
    }
    let summary = service.shutdown().await;
    tracing::info!(
        ingested = summary.ingested,
        published = summary.published,
        dropped = summary.dropped,
        "ticker stopped"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TickerArgs,
    }

    fn parse(flags: &[&str]) -> TickerArgs {
        let argv = std::iter::once("ticker").chain(flags.iter().copied());
        Cli::try_parse_from(argv).expect("flags parse").args
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
    }

    #[test]
    fn invalid_flags_are_reported_all_at_once() {
        let error = parse(&[
            "--max-instruments",
            "0",
            "--stream-maxlen",
            "0",
            "--feed",
            "tradier",
            "--symbols",
            "AAPL,A$",
        ])
        .to_config()
        .expect_err("invalid")
        .to_string();
        for expected in [
            "max_instruments",
            "stream_maxlen",
            "TRADIER_API_KEY",
            "\"A$\"",
        ] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
    }

    #[test]
    fn class_shares_are_named_as_in_scan() {
        let config = parse(&["--symbols", "brk-b,aapl"])
            .to_config()
            .expect("valid");
        assert_eq!(
            config.symbols,
            SymbolSource::List(vec!["BRK.B".to_owned(), "AAPL".to_owned()])
        );
    }

    #[test]
    fn the_risk_free_rate_reaches_the_tradier_feed() {
        let args = parse(&[
            "--feed",
            "tradier",
            "--symbols",
            "AAPL",
            "--risk-free-rate",
            "0.05",
        ]);
        let FeedConfig::Tradier(t) = args.feed_config() else {
            panic!("a tradier feed");
        };
        assert_eq!(t.risk_free_rate, 0.05);
        let default = parse(&[]);
        assert_eq!(default.risk_free_rate, DEFAULT_RISK_FREE_RATE);
    }
}
