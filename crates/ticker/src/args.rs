//! `ivcrush ticker` flags and their one-time check into a [`TickerConfig`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;

use crate::error::TickerError;
use crate::feed::ChainSelection;
use crate::feed::FeedKind;
use crate::feed::sim::SimSettings;
use crate::feed::tradier::TradierSettings;
use crate::publisher::{Keys, PublisherConfig};
use crate::reload::ReloadPolicy;
use crate::service::{FeedConfig, SymbolSource, TickerConfig};
use crate::supervisor::RestartPolicy;

/// Flags of `ivcrush ticker`.
#[derive(Debug, Clone, clap::Args)]
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
    /// Tradier REST base URL (session POST).
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
    /// Checks every flag at once and builds the service configuration.
    ///
    /// # Errors
    /// [`TickerError::Config`] listing every problem.
    pub fn to_config(&self) -> Result<TickerConfig, TickerError> {
        let mut problems = Vec::new();
        if self.max_instruments == 0 {
            problems.push("--max-instruments must be at least 1".to_owned());
        }
        if self.stream_maxlen == 0 {
            problems.push("--stream-maxlen must be at least 1".to_owned());
        }
        if self.rate > 1_000_000 {
            problems.push("--rate must be at most 1000000 updates/s (0 = flat out)".to_owned());
        }
        if self.channel_capacity == 0 {
            problems.push("--channel-capacity must be at least 1".to_owned());
        }
        if self.batch_size == 0 {
            problems.push("--batch-size must be at least 1".to_owned());
        }
        if self.expiries == 0 && self.feed == FeedKind::Sim {
            problems.push("--expiries must be at least 1".to_owned());
        }
        if redis::Client::open(self.redis.as_str()).is_err() {
            problems.push("--redis / REDIS_URL is not a valid redis:// URL".to_owned());
        }
        let token = self
            .tradier_api_key
            .clone()
            .filter(|t| !t.trim().is_empty());
        if self.feed == FeedKind::Tradier {
            if token.is_none() {
                problems.push("--feed tradier needs TRADIER_API_KEY".to_owned());
            }
            if self.symbols.is_empty() && self.watchlist.is_none() {
                problems.push("--feed tradier needs --symbols or --watchlist".to_owned());
            }
        }
        let symbols = match &self.watchlist {
            Some(path) => SymbolSource::File(path.clone()),
            None => {
                let mut list = Vec::new();
                for s in &self.symbols {
                    match crate::reload::parse_symbol_list(s, "--symbols") {
                        Ok(mut v) => list.append(&mut v),
                        Err(e) => problems.push(e.to_string()),
                    }
                }
                SymbolSource::List(list)
            }
        };
        if !problems.is_empty() {
            return Err(TickerError::Config(problems));
        }
        let selection = ChainSelection {
            expiries: self.expiries,
            strikes_per_side: self.strikes,
        };
        let feed = match self.feed {
            FeedKind::Sim => FeedConfig::Sim(SimSettings {
                seed: self.seed,
                as_of: self
                    .as_of
                    .unwrap_or_else(|| ivcrush_core::calendar::new_york_date(chrono::Utc::now())),
                selection,
                rate: self.rate,
            }),
            FeedKind::Tradier => {
                let mut t = TradierSettings::new(token.unwrap_or_default());
                t.base_url = self.tradier_base_url.clone();
                t.ws_url = self.tradier_ws_url.clone();
                t.chains = Some(selection);
                FeedConfig::Tradier(t)
            }
        };
        let mut publisher = PublisherConfig::new(self.redis.clone());
        publisher.keys = Keys::new(self.key_prefix.clone());
        publisher.stream_maxlen = self.stream_maxlen;
        publisher.batch_size = self.batch_size;
        Ok(TickerConfig {
            feed,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10 parsecs").is_err());
    }
}
