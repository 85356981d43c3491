//! `ivcrush ticker`: the streaming quote service (option quotes to Redis). The flags live here;
//! the service takes the plain [`TickerConfig`] they build.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use ivcrush_app::AppConfig;
use ivcrush_app::config::{ConfigSources, ExposeSecret, TickerFeed};
use ivcrush_ticker::feed::sim::SimSettings;
use ivcrush_ticker::feed::tradier::TradierSettings;
use ivcrush_ticker::feed::{ChainSelection, UpcomingReports};
use ivcrush_ticker::implied::ImpliedSettings;
use ivcrush_ticker::{
    DropAlarm, FeedConfig, Keys, PublisherConfig, ReloadPolicy, RestartPolicy, SymbolSource,
    TickerConfig, TickerError, TickerService, parse_symbol_list,
};
use serde::Serialize;
use tracing::Instrument;

use crate::cli::{CommonArgs, LogFormat};
use crate::runtime::{install_metrics_recorder, shutdown_signal};

/// Flags of the streaming service: each overrides its key of the `[ticker]` section (the
/// file and the environment, e.g. `REDIS_URL`, come first; see `ivcrush config show`).
#[derive(Debug, Clone, Default, Args, Serialize)]
pub struct TickerArgs {
    /// Market-data feed (default sim, or ticker.feed).
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<TickerFeedArg>,
    /// Underlyings to stream, comma separated (OCC option symbols are streamed as given).
    /// Default with the sim feed: the first 10 tickers of the simulated universe.
    #[arg(long, value_delimiter = ',', conflicts_with = "watchlist")]
    #[serde(skip)]
    pub symbols: Vec<String>,
    /// File listing the underlyings (comma/space/newline separated, `#` comments); watched and
    /// reloaded on change.
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub watchlist: Option<PathBuf>,
    /// Also reload the symbols from the Redis string key `{key-prefix}watchlist` when it changes.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub watch_redis_key: bool,
    /// Redis URL (default redis://127.0.0.1:6379, or ticker.redis, or REDIS_URL).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// Prefix of every Redis key and channel (default "ivcrush:").
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Serve `/metrics` and `/health/live|ready` on this address (e.g. 127.0.0.1:9187).
    #[arg(long, value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_bind: Option<SocketAddr>,
    /// Most instruments held in memory (default 5000; least recently updated evicted first).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instruments: Option<usize>,
    /// Approximate length bound of the quotes stream (default 100000; `XADD … MAXLEN ~ N`).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_maxlen: Option<usize>,
    /// Simulated updates per second (default 5000; 0 = as fast as the publisher takes them).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<u32>,
    /// Seed of the simulated market and feed (default 42).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// As-of date of the simulated market (default: today in New York).
    #[arg(long, value_name = "YYYY-MM-DD")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<NaiveDate>,
    /// Stop after this long (`30s`, `500ms`, `5m`); default: run until SIGTERM/SIGINT.
    #[arg(long, value_parser = parse_duration)]
    #[serde(skip)]
    pub duration: Option<Duration>,
    /// Near expirations subscribed per underlying (default 2).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiries: Option<usize>,
    /// Strikes below and above the money per expiration (default 5).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strikes: Option<usize>,
    /// Capacity of the feed → publisher channel (default 16384; updates beyond it are dropped
    /// and counted).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_capacity: Option<usize>,
    /// Updates per pipelined Redis round trip, at most (default 2048).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Tradier websocket URL (default wss://ws.tradier.com/v1/markets/events, or
    /// TRADIER_WS_URL).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tradier_ws_url: Option<String>,
    /// Continuous risk-free rate for the IV and delta of streamed Tradier options (default:
    /// the configuration's risk_free_rate, 0.043).
    #[arg(long)]
    #[serde(skip)]
    pub risk_free_rate: Option<f64>,
    /// Tradier REST base URL (default: tradier.base_url, or TRADIER_BASE_URL).
    #[arg(long)]
    #[serde(skip)]
    pub tradier_base_url: Option<String>,
}

/// `--feed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TickerFeedArg {
    /// The deterministic simulated market.
    Sim,
    /// Tradier streaming (session POST + websocket); needs `TRADIER_API_KEY`.
    Tradier,
}

/// The flags as a layer over the configuration: `{ticker: {...}, ...}` with only the keys
/// given.
#[derive(Serialize)]
struct Overrides<'a> {
    ticker: TickerLayer<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    risk_free_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tradier: Option<TradierLayer<'a>>,
}

#[derive(Serialize)]
struct TickerLayer<'a> {
    #[serde(flatten)]
    flags: &'a TickerArgs,
    #[serde(skip_serializing_if = "Option::is_none")]
    symbols: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watchlist: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration_secs: Option<u64>,
}

#[derive(Serialize)]
struct TradierLayer<'a> {
    base_url: &'a str,
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
    /// The flags as a configuration layer. A symbol list given here replaces the configured
    /// watchlist and the other way round (the two exclude each other).
    fn overrides(&self) -> Overrides<'_> {
        let symbols = (!self.symbols.is_empty()).then_some(self.symbols.as_slice());
        let (symbols, watchlist) = match (&self.watchlist, symbols) {
            (Some(w), _) => (Some(&[][..]), Some(w)),
            (None, Some(s)) => (Some(s), None),
            (None, None) => (None, None),
        };
        Overrides {
            ticker: TickerLayer {
                flags: self,
                symbols,
                watchlist,
                duration_secs: self.duration.map(|d| d.as_secs().max(1)),
            },
            risk_free_rate: self.risk_free_rate,
            tradier: self
                .tradier_base_url
                .as_deref()
                .map(|base_url| TradierLayer { base_url }),
        }
    }

    /// The configuration these flags override: defaults < `ivcrush.toml` < environment <
    /// flags; every problem of the whole tree is listed at once.
    fn load(&self, file: Option<PathBuf>) -> anyhow::Result<AppConfig> {
        let sources = ConfigSources {
            file,
            legacy_server_file: None,
        };
        let loaded = AppConfig::load_from(&sources, self.overrides(), std::env::vars())?;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        Ok(loaded.config)
    }
}

/// The service configuration of the `[ticker]` section (with the Tradier key, base URL and
/// risk-free rate of the same configuration), checked: every problem is listed at once.
///
/// # Errors
/// [`TickerError::Config`] listing every problem.
pub fn ticker_config(config: &AppConfig) -> Result<TickerConfig, TickerError> {
    let t = &config.ticker;
    let mut problems = Vec::new();
    let symbols = match &t.watchlist {
        Some(path) => SymbolSource::File(path.clone()),
        None => {
            let mut list = Vec::new();
            for s in &t.symbols {
                match parse_symbol_list(s, "ticker.symbols") {
                    Ok(mut v) => list.append(&mut v),
                    Err(e) => problems.push(e.to_string()),
                }
            }
            SymbolSource::List(list)
        }
    };
    let mut publisher = PublisherConfig::new(t.redis.clone());
    publisher.keys = Keys::new(t.key_prefix.clone());
    publisher.stream_maxlen = t.stream_maxlen;
    publisher.batch_size = t.batch_size;
    let selection = ChainSelection {
        expiries: t.expiries,
        strikes_per_side: t.strikes,
    };
    let feed = match t.feed {
        TickerFeed::Sim => FeedConfig::Sim(SimSettings {
            seed: t.seed,
            as_of: t
                .as_of
                .unwrap_or_else(|| ivcrush_core::calendar::new_york_date(chrono::Utc::now())),
            selection,
            rate: t.rate,
        }),
        TickerFeed::Tradier => {
            let mut s = TradierSettings::new(config.tradier.api_key.expose_secret().to_owned());
            s.base_url = config.tradier.base_url.clone();
            s.ws_url = t.tradier_ws_url.clone();
            s.chains = Some(selection);
            s.risk_free_rate = config.risk_free_rate;
            FeedConfig::Tradier(s)
        }
    };
    let implied = ImpliedSettings {
        enabled: t.implied,
        reports: UpcomingReports {
            events: Default::default(),
            term: config.analytics.term.clone(),
        },
        analytics: config.analytics.clone(),
        rate: config.risk_free_rate,
        div: config.dividend_yield,
        interval: Duration::from_millis(t.implied_interval_ms),
        // The simulated feed prices its options at its market's as-of instant.
        as_of: match &feed {
            FeedConfig::Sim(sim) => Some(sim.market_as_of()),
            _ => None,
        },
    };
    let service = TickerConfig {
        implied,
        feed,
        symbols,
        watch_redis_key: t.watch_redis_key,
        publisher,
        max_instruments: t.max_instruments,
        channel_capacity: t.channel_capacity,
        metrics_bind: t.metrics_bind,
        sweep_interval: Duration::from_secs(t.sweep_interval_secs),
        watch_interval: Duration::from_millis(t.watch_interval_ms),
        reload: ReloadPolicy::default(),
        restart: RestartPolicy::default(),
        drop_alarm: None,
    };
    problems.extend(service.problems());
    if problems.is_empty() {
        Ok(service)
    } else {
        Err(TickerError::Config(problems))
    }
}

/// Arguments of `ivcrush ticker`: the service's own flags, the configuration file and logging.
#[derive(Debug, Args)]
pub struct TickerCliArgs {
    /// Service options.
    #[command(flatten)]
    pub ticker: TickerArgs,
    /// Configuration file (default: ./ivcrush.toml when present); its `[ticker]` section
    /// under these flags.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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

/// Runs the service until SIGTERM/SIGINT (or the configured duration), then flushes pending
/// writes.
pub fn run(a: TickerCliArgs) -> anyhow::Result<ExitCode> {
    super::init_service_logging(&CommonArgs {
        log_format: a.log_format,
        quiet: a.quiet,
        verbose: a.verbose,
        ..CommonArgs::default()
    });
    let config = a.ticker.load(a.config.clone())?;
    let service = ticker_config(&config)?;
    tracing::info!(
        version = crate::runtime::VERSION,
        git_sha = crate::runtime::GIT_SHA,
        feed = ?config.ticker.feed,
        redis = %ivcrush_app::config::redact_url(&config.ticker.redis),
        metrics_bind = ?config.ticker.metrics_bind,
        "ivcrush ticker starting"
    );
    if config.ticker.feed == TickerFeed::Sim {
        tracing::warn!(
            "ticker.feed = \"sim\": streaming the simulated market, not real quotes \
             (set ticker.feed = \"tradier\" for production)"
        );
    }
    let duration = config.ticker.duration_secs.map(Duration::from_secs);
    let rt = super::runtime()?;
    let cid = ivcrush_app::new_correlation_id();
    let mut service = service;
    rt.block_on(
        async {
            // The database: the configured calendar (Tradier feed, as `analyze` opens it) and
            // the drop alerts (an existing database only: the simulated ticker never creates
            // one just to hold alerts).
            let tradier = config.ticker.feed == TickerFeed::Tradier;
            let app = if tradier || config.alerts.ticker_drops_per_sec > 0.0 {
                let opened = if tradier {
                    ivcrush_app::App::open(config.clone()).await
                } else {
                    ivcrush_app::App::open_existing(config.clone()).await
                };
                match opened {
                    Ok(app) => Some(app),
                    Err(e) => {
                        tracing::warn!(
                            error = &e as &dyn std::error::Error,
                            "no database: no calendar for the Tradier feed, no alerts"
                        );
                        None
                    }
                }
            } else {
                None
            };
            if service.implied.enabled {
                service.implied.reports.events =
                    upcoming_reports(&config, app.as_ref(), &service.feed).await;
            }
            service.drop_alarm = app.as_ref().and_then(drop_alarm);
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let delivery = app.as_ref().and_then(|app| {
                let dispatcher = app.alert_dispatcher()?;
                Some(tokio::spawn(dispatcher.run(
                    app.alert_wakeup(),
                    async move {
                        let _ = stop_rx.await;
                    },
                )))
            });
            let served = serve(service, duration).await;
            let _ = stop_tx.send(());
            if let Some(d) = delivery {
                let _ = tokio::time::timeout(Duration::from_secs(5), d).await;
            }
            served
        }
        .instrument(tracing::info_span!("ticker", cid = %cid)),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// An alert whenever updates are dropped faster than `alerts.ticker_drops_per_sec` (over
/// 10 s); `None` when that is 0.
fn drop_alarm(app: &ivcrush_app::App) -> Option<DropAlarm> {
    const WINDOW: Duration = Duration::from_secs(10);
    let threshold = app.config().alerts.ticker_drops_per_sec;
    if threshold <= 0.0 {
        return None;
    }
    let app = app.clone();
    let runtime = tokio::runtime::Handle::current();
    Some(DropAlarm {
        per_sec: threshold,
        window: WINDOW,
        notify: std::sync::Arc::new(move |rate| {
            let app = app.clone();
            let alert = ivcrush_app::alerts::ticker_drops(
                rate,
                threshold,
                WINDOW.as_secs(),
                chrono::Utc::now(),
            );
            runtime.spawn(async move { app.alerts().record_quietly(&[alert]).await });
        }),
    })
}

/// Each underlying's next report, for the live implied move: the simulated feed's own market,
/// else the configured calendar (as `analyze` reads it). Without a calendar the service still
/// streams quotes; it says why there is no implied move.
async fn upcoming_reports(
    config: &AppConfig,
    app: Option<&ivcrush_app::App>,
    feed: &FeedConfig,
) -> std::collections::BTreeMap<String, ivcrush_core::EarningsEvent> {
    let horizon = ivcrush_app::EVENT_HORIZON_DAYS;
    let term = config.analytics.term.clone();
    let reports = match feed {
        FeedConfig::Sim(sim) => sim
            .upcoming_reports(horizon, term)
            .await
            .map_err(|e| e.to_string()),
        _ => match app {
            Some(app) => {
                let from = app.as_of_date();
                app.calendar()
                    .window(from, from + chrono::Duration::days(horizon))
                    .await
                    .map(|records| UpcomingReports::from_calendar(&records, from, term))
                    .map_err(|e| e.to_string())
            }
            None => Err("the database could not be opened".to_owned()),
        },
    };
    match reports {
        Ok(reports) => {
            tracing::info!(
                underlyings = reports.events.len(),
                "upcoming reports loaded for the live implied move"
            );
            reports.events
        }
        Err(error) => {
            tracing::warn!(%error, "no earnings calendar: no live implied move");
            Default::default()
        }
    }
}

/// Starts the service, waits for `duration` or a signal, then stops the feed and flushes.
async fn serve(config: TickerConfig, duration: Option<Duration>) -> anyhow::Result<()> {
    let prometheus =
        install_metrics_recorder(ivcrush_ticker::http::new_recorder()).map(|r| r.handle());
    let service = TickerService::start(config, prometheus)
        .await
        .context("starting the ticker service")?;
    if let Some(addr) = service.http_addr() {
        tracing::info!(%addr, "serving /metrics and /health");
    }
    crate::runtime::notify_ready("streaming");
    let stop = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    let hangup = crate::runtime::on_hangup(|| {
        tracing::info!("SIGHUP: reloading the subscriptions");
        service.request_reload();
    });
    tokio::select! {
        () = stop => tracing::info!("run duration reached; stopping"),
        signal = shutdown_signal() => tracing::info!(signal, "signal received; stopping"),
        () = hangup => {}
    }
    crate::runtime::notify_stopping();
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

    /// The configuration of `file` (TOML text) under `flags`, with `env`.
    fn load(file: &str, flags: &[&str], env: &[(&str, &str)]) -> anyhow::Result<AppConfig> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("ivcrush.toml");
        std::fs::write(&path, file)?;
        let sources = ConfigSources {
            file: Some(path),
            legacy_server_file: None,
        };
        let vars = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Ok(AppConfig::load_from(&sources, parse(flags).overrides(), vars)?.config)
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
    fn flags_override_the_ticker_section_which_overrides_the_defaults() {
        let file = "[ticker]\nkey_prefix = \"prod:\"\nrate = 100\nsymbols = [\"msft\"]\n";
        let c = load(file, &["--rate", "7", "--duration", "30s"], &[]).expect("loads");
        assert_eq!(c.ticker.key_prefix, "prod:", "from the file");
        assert_eq!(c.ticker.rate, 7, "the flag wins");
        assert_eq!(c.ticker.duration_secs, Some(30));
        assert_eq!(c.ticker.batch_size, 2_048, "the default");
        let t = ticker_config(&c).expect("valid");
        assert_eq!(t.symbols, SymbolSource::List(vec!["MSFT".to_owned()]));
        // A watchlist flag replaces the configured symbols (the two exclude each other).
        let c = load(file, &["--watchlist", "/tmp/w.txt"], &[]).expect("loads");
        assert!(c.ticker.symbols.is_empty());
        assert_eq!(
            ticker_config(&c).expect("valid").symbols,
            SymbolSource::File(PathBuf::from("/tmp/w.txt"))
        );
    }

    #[test]
    fn the_environment_fills_what_the_flags_leave() {
        let c = load("", &[], &[("REDIS_URL", "redis://cache:6380")]).expect("loads");
        assert_eq!(c.ticker.redis, "redis://cache:6380");
        let c = load(
            "",
            &["--redis", "redis://flag:1"],
            &[("REDIS_URL", "redis://cache:6380")],
        )
        .expect("loads");
        assert_eq!(c.ticker.redis, "redis://flag:1");
    }

    #[test]
    fn invalid_settings_are_reported_all_at_once() {
        let error = load(
            "",
            &[
                "--max-instruments",
                "0",
                "--stream-maxlen",
                "0",
                "--feed",
                "tradier",
            ],
            &[],
        )
        .expect_err("invalid")
        .to_string();
        for expected in ["max_instruments", "stream_maxlen", "TRADIER_API_KEY"] {
            assert!(error.contains(expected), "{expected}: {error}");
        }
        let c = load("", &["--symbols", "AAPL,A$"], &[]).expect("loads");
        let error = ticker_config(&c).expect_err("bad symbol").to_string();
        assert!(error.contains("\"A$\""), "{error}");
    }

    #[test]
    fn class_shares_are_named_as_in_scan() {
        let c = load("", &["--symbols", "brk-b,aapl"], &[]).expect("loads");
        assert_eq!(
            ticker_config(&c).expect("valid").symbols,
            SymbolSource::List(vec!["BRK.B".to_owned(), "AAPL".to_owned()])
        );
    }

    #[test]
    fn the_risk_free_rate_and_tradier_settings_reach_the_tradier_feed() {
        let flags = [
            "--feed",
            "tradier",
            "--symbols",
            "AAPL",
            "--risk-free-rate",
            "0.05",
        ];
        let env = [
            ("TRADIER_API_KEY", "k-123"),
            ("TRADIER_BASE_URL", "http://127.0.0.1:9"),
        ];
        let c = load("", &flags, &env).expect("loads");
        let FeedConfig::Tradier(t) = ticker_config(&c).expect("valid").feed else {
            panic!("a tradier feed");
        };
        assert_eq!(t.risk_free_rate, 0.05);
        assert_eq!(t.base_url, "http://127.0.0.1:9");
        let c = load("risk_free_rate = 0.031\n", &flags[..4], &env).expect("loads");
        let FeedConfig::Tradier(t) = ticker_config(&c).expect("valid").feed else {
            panic!("a tradier feed");
        };
        assert_eq!(t.risk_free_rate, 0.031, "the configured rate");
    }
}
