//! `[ticker]`: the streaming ticker of `ivcrush ticker` (same names and defaults as its flags;
//! the Tradier token and REST base URL are `tradier.api_key` and `tradier.base_url`).

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The ticker's market-data feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TickerFeed {
    /// The deterministic simulated market (default).
    #[default]
    Sim,
    /// Tradier streaming (session POST + websocket); needs `tradier.api_key`.
    Tradier,
}

/// Settings of the streaming ticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TickerSettings {
    /// Market-data feed (`sim`).
    pub feed: TickerFeed,
    /// Underlyings to stream (OCC option symbols are streamed as given). Empty with the `sim`
    /// feed: the first 10 tickers of the simulated universe.
    pub symbols: Vec<String>,
    /// File listing the underlyings (comma/space/newline separated, `#` comments); watched and
    /// reloaded on change. Excludes `symbols`.
    pub watchlist: Option<PathBuf>,
    /// Also reload the symbols from the Redis string key `{key_prefix}watchlist` (false).
    pub watch_redis_key: bool,
    /// Redis URL (`redis://127.0.0.1:6379`; also `REDIS_URL`).
    pub redis: String,
    /// Prefix of every Redis key and channel (`ivcrush:`).
    pub key_prefix: String,
    /// Serve `/metrics` and `/health/live|ready` on this address (none).
    pub metrics_bind: Option<SocketAddr>,
    /// Most instruments held in memory (5 000; least recently updated evicted first).
    pub max_instruments: usize,
    /// Approximate length bound of the quotes stream (100 000; `XADD … MAXLEN ~ N`).
    pub stream_maxlen: usize,
    /// Simulated updates per second (5 000; 0 = as fast as the publisher takes them).
    pub rate: u32,
    /// Seed of the simulated market and feed (42).
    pub seed: u64,
    /// As-of date of the simulated market (default: today in New York).
    pub as_of: Option<NaiveDate>,
    /// Stop after this many seconds (default: run until SIGTERM/SIGINT).
    pub duration_secs: Option<u64>,
    /// Near expirations subscribed per underlying (2).
    pub expiries: usize,
    /// Strikes below and above the money per expiration (5).
    pub strikes: usize,
    /// Capacity of the feed → publisher channel (16 384; updates beyond it are dropped and
    /// counted).
    pub channel_capacity: usize,
    /// Updates per pipelined Redis round trip, at most (2 048).
    pub batch_size: usize,
    /// Tradier websocket URL (`wss://ws.tradier.com/v1/markets/events`; also `TRADIER_WS_URL`).
    pub tradier_ws_url: String,
    /// How often instruments not updated for a while are swept, in seconds (300).
    pub sweep_interval_secs: u64,
    /// How often the watchlist file and Redis key are checked, in milliseconds (1 000).
    pub watch_interval_ms: u64,
    /// Compute the live implied move of every streamed underlying with an upcoming report and
    /// publish it to `{key_prefix}implied:{underlying}` (true).
    pub implied: bool,
    /// Least time between two computations of one underlying's implied move, in milliseconds
    /// (250).
    pub implied_interval_ms: u64,
}

impl Default for TickerSettings {
    fn default() -> Self {
        TickerSettings {
            feed: TickerFeed::Sim,
            symbols: Vec::new(),
            watchlist: None,
            watch_redis_key: false,
            redis: "redis://127.0.0.1:6379".to_owned(),
            key_prefix: "ivcrush:".to_owned(),
            metrics_bind: None,
            max_instruments: 5_000,
            stream_maxlen: 100_000,
            rate: 5_000,
            seed: 42,
            as_of: None,
            duration_secs: None,
            expiries: 2,
            strikes: 5,
            channel_capacity: 16_384,
            batch_size: 2_048,
            tradier_ws_url: "wss://ws.tradier.com/v1/markets/events".to_owned(),
            sweep_interval_secs: 300,
            watch_interval_ms: 1_000,
            implied: true,
            implied_interval_ms: 250,
        }
    }
}

impl TickerSettings {
    /// Every problem, each naming its key; `has_tradier_key` tells whether `tradier.api_key` is
    /// set.
    pub fn problems(&self, has_tradier_key: bool) -> Vec<String> {
        let mut p = Vec::new();
        for (key, value) in [
            ("max_instruments", self.max_instruments),
            ("stream_maxlen", self.stream_maxlen),
            ("channel_capacity", self.channel_capacity),
            ("batch_size", self.batch_size),
            ("sweep_interval_secs", self.sweep_interval_secs as usize),
            ("watch_interval_ms", self.watch_interval_ms as usize),
            ("implied_interval_ms", self.implied_interval_ms as usize),
        ] {
            if value == 0 {
                p.push(format!("ticker.{key} must be at least 1"));
            }
        }
        if self.rate > 1_000_000 {
            p.push("ticker.rate must be at most 1000000 updates/s (0 = flat out)".to_owned());
        }
        if self.expiries == 0 && self.feed == TickerFeed::Sim {
            p.push("ticker.expiries must be at least 1".to_owned());
        }
        if !["redis://", "rediss://", "unix://", "redis+unix://"]
            .iter()
            .any(|s| self.redis.starts_with(s))
        {
            p.push("ticker.redis (or REDIS_URL) is not a redis:// URL".to_owned());
        }
        if !self.symbols.is_empty() && self.watchlist.is_some() {
            p.push("ticker.symbols and ticker.watchlist exclude each other".to_owned());
        }
        if self.feed == TickerFeed::Tradier {
            if !has_tradier_key {
                p.push(
                    "ticker.feed = \"tradier\" needs tradier.api_key (or TRADIER_API_KEY)"
                        .to_owned(),
                );
            }
            if self.symbols.is_empty() && self.watchlist.is_none() {
                p.push(
                    "ticker.feed = \"tradier\" needs ticker.symbols or ticker.watchlist".to_owned(),
                );
            }
        }
        p
    }
}
