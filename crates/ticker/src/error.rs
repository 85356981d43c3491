//! The crate's one error type.

use std::time::Duration;

/// Everything that can go wrong inside the ticker service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TickerError {
    /// Invalid settings; every problem is listed.
    #[error("invalid ticker settings: {}", .0.join("; "))]
    Config(Vec<String>),
    /// A symbol list (flag, watchlist file or Redis key) could not be used.
    #[error("symbol list {source_name}: {message}")]
    Symbols {
        /// Where the list came from (`--symbols`, a file path, a Redis key).
        source_name: String,
        /// What is wrong with it.
        message: String,
    },
    /// Building the simulated or vendor instrument universe failed.
    #[error("instrument discovery for {symbol}: {message}")]
    Discovery {
        /// The underlying being discovered.
        symbol: String,
        /// Why it failed.
        message: String,
    },
    /// Redis answered with an error or the connection failed.
    #[error("redis: {0}")]
    Redis(redis::RedisError),
    /// Redis did not answer in time.
    #[error("redis: no answer within {0:?}")]
    RedisTimeout(Duration),
    /// The streaming vendor session or websocket failed.
    #[error("feed {feed}: {message}")]
    Feed {
        /// The feed's name (`tradier`, `sim`).
        feed: &'static str,
        /// What happened (never contains the access token).
        message: String,
    },
    /// A streaming event could not be parsed.
    #[error("cannot parse stream event: {0}")]
    Parse(String),
    /// Local I/O (watchlist file, listening socket).
    #[error("{context}: {error}")]
    Io {
        /// What we were doing.
        context: String,
        /// The underlying error (shown in `Display`, so not also a `source()`).
        error: std::io::Error,
    },
}

impl From<redis::RedisError> for TickerError {
    fn from(e: redis::RedisError) -> Self {
        TickerError::Redis(e)
    }
}
