//! The Tradier streaming feed (vendors.md §1.8): `POST /v1/markets/events/session`, then a
//! websocket to `…/v1/markets/events`, send the subscribe payload, read events.
//!
//! One [`TradierClient`] (one quota limiter, one breaker, retries) serves the whole feed: chain
//! discovery and every session POST go through it. Every connection uses a NEW session (a
//! session id is single-use and expires after 5 minutes); on a close or an error the feed
//! reconnects after 100 ms · 2^n (capped at 5 s, reset once a connection delivered events). A
//! changed symbol set is re-sent on the same connection, as the vendor documents. Numeric
//! fields are parsed as "number or numeric string". Options are priced at the configured
//! risk-free rate.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use ivcrush_core::calendar::calendar_years;
use ivcrush_core::{OptionKind, OptionParams, bsm_greeks, implied_vol};
use ivcrush_market::{TradierClient, TradierConfig};
use ivcrush_resilience::Backoff;
use serde::{Deserialize, Deserializer};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::error::TickerError;
use crate::feed::{ChainSelection, UpcomingReports, discover};
use crate::ingest::{Ingest, now_us};
use crate::reload::SymbolSet;
use crate::snapshot::{Snapshot, format_occ, parse_occ};

const FEED: &str = "tradier";

/// Default risk-free rate (continuous), the same as the app's `risk_free_rate`.
pub const DEFAULT_RISK_FREE_RATE: f64 = 0.043;

/// Tradier streaming settings.
#[derive(Clone)]
pub struct TradierSettings {
    /// REST base URL (session POST). Default `https://api.tradier.com`.
    pub base_url: String,
    /// Websocket URL. Default `wss://ws.tradier.com/v1/markets/events`.
    pub ws_url: String,
    /// Access token (never logged).
    pub token: String,
    /// Event types requested. Default quote, trade, summary, timesale, tradex.
    pub filter: Vec<String>,
    /// Cap of the reconnect backoff. Default 5 s.
    pub reconnect_max: Duration,
    /// Expand each underlying into its near option chain through the Tradier REST API
    /// (expirations, chains, quotes) before subscribing; `None` subscribes to the symbols as
    /// given. Default: the default [`ChainSelection`].
    pub chains: Option<ChainSelection>,
    /// Continuous risk-free rate used to solve the IV and delta of streamed options. Default
    /// [`DEFAULT_RISK_FREE_RATE`].
    pub risk_free_rate: f64,
}

impl std::fmt::Debug for TradierSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TradierSettings")
            .field("base_url", &self.base_url)
            .field("ws_url", &self.ws_url)
            .field("token", &"<redacted>")
            .field("filter", &self.filter)
            .field("chains", &self.chains)
            .field("risk_free_rate", &self.risk_free_rate)
            .finish()
    }
}

impl TradierSettings {
    /// Production URLs and the default filter, with `token`.
    pub fn new(token: impl Into<String>) -> TradierSettings {
        TradierSettings {
            base_url: "https://api.tradier.com".to_owned(),
            ws_url: "wss://ws.tradier.com/v1/markets/events".to_owned(),
            token: token.into(),
            filter: ["quote", "trade", "summary", "timesale", "tradex"]
                .map(str::to_owned)
                .to_vec(),
            reconnect_max: Duration::from_secs(5),
            chains: Some(ChainSelection::default()),
            risk_free_rate: DEFAULT_RISK_FREE_RATE,
        }
    }
}

/// The Tradier feed: its settings and the one REST client (quota limiter, breaker, retries)
/// that every chain discovery and session POST of the feed goes through, whatever the symbol
/// set and however often the feed reconnects or restarts.
#[derive(Debug)]
pub struct TradierFeed {
    settings: TradierSettings,
    client: TradierClient,
    reports: Arc<UpcomingReports>,
}

impl TradierFeed {
    /// Builds the feed and its REST client.
    ///
    /// # Errors
    /// [`TickerError::Feed`] when the client cannot be built (empty token, bad HTTP settings).
    pub fn new(settings: TradierSettings) -> Result<TradierFeed, TickerError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = TradierConfig::new(settings.token.clone());
        config.base_url = settings.base_url.clone();
        let client = TradierClient::new(config).map_err(|e| feed_error(e.to_string()))?;
        Ok(TradierFeed {
            settings,
            client,
            reports: Arc::default(),
        })
    }

    /// Also subscribes each underlying with a known report on the expiries its implied move
    /// needs ([`UpcomingReports::expiries`]).
    #[must_use]
    pub fn with_reports(mut self, reports: Arc<UpcomingReports>) -> TradierFeed {
        self.reports = reports;
        self
    }

    /// The REST client (its breaker for the health registry).
    pub fn client(&self) -> &TradierClient {
        &self.client
    }

    /// The settings.
    pub fn settings(&self) -> &TradierSettings {
        &self.settings
    }

    /// The symbols to subscribe: each underlying plus, when `settings.chains` is set, the OCC
    /// symbols of its near expiries and strikes around the money (found through the Tradier
    /// REST API). An underlying whose chain cannot be found is subscribed alone (logged).
    pub async fn expand_symbols(&self, symbols: &[String]) -> Vec<String> {
        let Some(selection) = self.settings.chains else {
            return symbols.to_vec();
        };
        let mut out = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            out.push(symbol.clone());
            if parse_occ(symbol).is_some() {
                continue;
            }
            match discover(&self.client, symbol, Utc::now(), selection, &self.reports).await {
                Ok(found) => out.extend(
                    found
                        .contracts
                        .iter()
                        .map(|c| format_occ(symbol, c.expiration, c.kind, c.strike)),
                ),
                Err(e) => {
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "no option chain; streaming the underlying only"
                    );
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Creates a streaming session through the client's pipeline; returns its id.
    ///
    /// # Errors
    /// [`TickerError::Feed`] once the pipeline gave up (the message never holds the token).
    pub async fn create_session(&self) -> Result<String, TickerError> {
        self.client
            .create_stream_session()
            .await
            .map_err(|e| feed_error(format!("session request: {e}")))
    }

    /// Runs the feed until `cancel` fires, reconnecting with a new session after every close
    /// or error.
    ///
    /// # Errors
    /// None today: connection trouble is retried here (the `Result` is the supervisor's).
    pub async fn run(
        &self,
        mut symbols: watch::Receiver<SymbolSet>,
        ingest: Arc<Ingest>,
        cancel: CancellationToken,
    ) -> Result<(), TickerError> {
        let backoff = Backoff::doubling(Duration::from_millis(100), self.settings.reconnect_max);
        let mut failures: u32 = 0;
        let mut cache = Expanded::default();
        loop {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let result = self
                .connect_once(&mut symbols, &mut cache, &ingest, &cancel)
                .await;
            ingest.stats().set_feed_connected(false);
            match result {
                Ok(Session::Cancelled) => return Ok(()),
                Ok(Session::Closed { events }) => {
                    tracing::info!(events, "tradier stream closed by the server; reconnecting");
                    if events > 0 {
                        failures = 0;
                    }
                }
                Err(e) => tracing::warn!(
                    error = &e as &dyn std::error::Error,
                    "tradier stream failed; reconnecting"
                ),
            }
            let delay = backoff.ceiling(failures);
            failures = failures.saturating_add(1);
            metrics::counter!("ivcrush_ticker_feed_reconnects_total", "feed" => FEED).increment(1);
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// One parsed streaming message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// Best bid/ask.
    Quote {
        /// Symbol.
        symbol: String,
        /// Bid.
        bid: Option<f64>,
        /// Bid size.
        bid_size: Option<u64>,
        /// Ask.
        ask: Option<f64>,
        /// Ask size.
        ask_size: Option<u64>,
        /// Epoch ms of the later side.
        date_ms: Option<i64>,
    },
    /// A trade (`trade` or `tradex`) or a time-and-sale print.
    Trade {
        /// Symbol.
        symbol: String,
        /// Price.
        price: Option<f64>,
        /// Size.
        size: Option<u64>,
        /// Epoch ms.
        date_ms: Option<i64>,
        /// Bid at the print (`timesale` only).
        bid: Option<f64>,
        /// Ask at the print (`timesale` only).
        ask: Option<f64>,
    },
    /// The day's summary (not republished; it carries no quote).
    Summary {
        /// Symbol.
        symbol: String,
        /// Open.
        open: Option<f64>,
        /// High.
        high: Option<f64>,
        /// Low.
        low: Option<f64>,
        /// Previous close.
        prev_close: Option<f64>,
    },
    /// `{"error": "..."}` from the vendor (e.g. an invalid symbol).
    Error(String),
    /// An event type we do not use.
    Other(String),
}

/// A JSON number, a numeric string, `"None"`, `""` or null → `Option<f64>`.
fn num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        F(f64),
        S(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::F(x)) => Some(x),
        Some(N::S(s)) => s.trim().parse::<f64>().ok(),
        None => None,
    }
    .filter(|x| x.is_finite()))
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: Option<String>,
    symbol: Option<String>,
    error: Option<String>,
    #[serde(default, deserialize_with = "num")]
    bid: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    bidsz: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    biddate: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    ask: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    asksz: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    askdate: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    price: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    last: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    size: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    date: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    open: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    high: Option<f64>,
    #[serde(default, deserialize_with = "num")]
    low: Option<f64>,
    #[serde(default, rename = "prevClose", deserialize_with = "num")]
    prev_close: Option<f64>,
}

fn whole(x: Option<f64>) -> Option<u64> {
    x.filter(|v| *v >= 0.0).map(|v| v as u64)
}

fn ms(x: Option<f64>) -> Option<i64> {
    x.map(|v| v as i64)
}

/// Parses one streaming message (one JSON object).
///
/// # Errors
/// [`TickerError::Parse`] when it is not JSON or an event has no symbol.
pub fn parse_event(line: &str) -> Result<StreamEvent, TickerError> {
    let raw: RawEvent =
        serde_json::from_str(line).map_err(|e| TickerError::Parse(e.to_string()))?;
    if let Some(error) = raw.error {
        return Ok(StreamEvent::Error(error));
    }
    let kind = raw.kind.unwrap_or_default();
    let symbol = || {
        raw.symbol
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| TickerError::Parse(format!("{kind} event without a symbol")))
    };
    Ok(match kind.as_str() {
        "quote" => StreamEvent::Quote {
            symbol: symbol()?,
            bid: raw.bid,
            bid_size: whole(raw.bidsz),
            ask: raw.ask,
            ask_size: whole(raw.asksz),
            date_ms: ms(match (raw.biddate, raw.askdate) {
                (Some(b), Some(a)) => Some(b.max(a)),
                (b, a) => b.or(a),
            }),
        },
        "trade" | "tradex" | "timesale" => StreamEvent::Trade {
            symbol: symbol()?,
            price: raw.price.or(raw.last),
            size: whole(raw.size),
            date_ms: ms(raw.date),
            bid: if kind == "timesale" { raw.bid } else { None },
            ask: if kind == "timesale" { raw.ask } else { None },
        },
        "summary" => StreamEvent::Summary {
            symbol: symbol()?,
            open: raw.open,
            high: raw.high,
            low: raw.low,
            prev_close: raw.prev_close,
        },
        _ => StreamEvent::Other(kind),
    })
}

/// The websocket subscribe payload (vendors.md §1.8).
pub fn subscribe_payload(symbols: &[String], session_id: &str, filter: &[String]) -> String {
    serde_json::json!({
        "symbols": symbols,
        "sessionid": session_id,
        "filter": filter,
        "linebreak": true,
        "validOnly": true,
        "advancedDetails": false,
    })
    .to_string()
}

/// Applies an event to the instrument's previous snapshot; `None` for events that carry no
/// quote. Options get our own IV (from the mid) and delta when the underlying has a price.
pub fn apply_event(
    event: &StreamEvent,
    previous: Option<&Snapshot>,
    underlying_price: impl Fn(&str) -> Option<f64>,
    risk_free_rate: f64,
) -> Option<Snapshot> {
    let (symbol, date_ms) = match event {
        StreamEvent::Quote {
            symbol, date_ms, ..
        }
        | StreamEvent::Trade {
            symbol, date_ms, ..
        } => (symbol, *date_ms),
        _ => return None,
    };
    let mut s = previous.cloned().unwrap_or_else(|| Snapshot::empty(symbol));
    s.fed_at = None;
    s.timestamp_us = date_ms.map_or_else(now_us, |m| m.saturating_mul(1000));
    match event {
        StreamEvent::Quote {
            bid,
            bid_size,
            ask,
            ask_size,
            ..
        } => {
            s.bid = *bid;
            s.ask = *ask;
            s.bid_size = *bid_size;
            s.ask_size = *ask_size;
        }
        StreamEvent::Trade {
            price,
            size,
            bid,
            ask,
            ..
        } => {
            s.last = *price;
            s.last_size = *size;
            if bid.is_some() {
                s.bid = *bid;
            }
            if ask.is_some() {
                s.ask = *ask;
            }
        }
        _ => {}
    }
    if let Some(kind) = s.kind.option() {
        let spot = underlying_price(&s.underlying);
        let (iv, delta) = greeks(&s, kind, spot, risk_free_rate).unzip();
        s.iv = iv;
        s.delta = delta;
    }
    Some(s)
}

fn greeks(s: &Snapshot, kind: OptionKind, spot: Option<f64>, rate: f64) -> Option<(f64, f64)> {
    let t = calendar_years(Utc::now(), s.expiration?);
    let p = OptionParams::new(kind, spot?, s.strike?, t, rate, 0.0).ok()?;
    let iv = implied_vol(&p, s.mid()?).ok()?;
    Some((iv, bsm_greeks(&p, iv).delta))
}

fn feed_error(message: impl Into<String>) -> TickerError {
    TickerError::Feed {
        feed: FEED,
        message: message.into(),
    }
}

/// The expansion of the last symbol set, so reconnects do not spend the REST quota again.
#[derive(Default)]
struct Expanded {
    set: Option<SymbolSet>,
    symbols: Vec<String>,
}

impl Expanded {
    async fn get(&mut self, feed: &TradierFeed, set: &SymbolSet) -> &[String] {
        if self.set.as_ref() != Some(set) {
            self.symbols = feed.expand_symbols(set).await;
            self.set = Some(Arc::clone(set));
        }
        &self.symbols
    }
}

enum Session {
    Cancelled,
    Closed { events: u64 },
}

impl TradierFeed {
    async fn connect_once(
        &self,
        symbols: &mut watch::Receiver<SymbolSet>,
        cache: &mut Expanded,
        ingest: &Ingest,
        cancel: &CancellationToken,
    ) -> Result<Session, TickerError> {
        // Expand first: a session must be used within 5 minutes of its creation.
        let set = symbols.borrow_and_update().clone();
        let expanded = cache.get(self, &set).await.to_vec();
        let expanded = expanded.as_slice();
        let session_id = self.create_session().await?;
        let settings = &self.settings;
        let (mut ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(settings.ws_url.as_str()),
        )
        .await
        .map_err(|_| feed_error("websocket connect timed out"))?
        .map_err(|e| feed_error(format!("websocket connect: {e}")))?;
        ws.send(Message::text(subscribe_payload(
            expanded,
            &session_id,
            &settings.filter,
        )))
        .await
        .map_err(|e| feed_error(format!("subscribe: {e}")))?;
        ingest.stats().set_feed_connected(true);
        tracing::info!(
            underlyings = set.len(),
            symbols = expanded.len(),
            "tradier stream subscribed"
        );
        let mut events: u64 = 0;
        let mut subscribed = true; // false once the symbol sender is gone: no more changes
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    let _ = ws.close(None).await;
                    return Ok(Session::Cancelled);
                }
                changed = symbols.changed(), if subscribed => {
                    if changed.is_err() {
                        subscribed = false;
                        continue;
                    }
                    let set = symbols.borrow_and_update().clone();
                    let expanded = cache.get(self, &set).await;
                    ws.send(Message::text(subscribe_payload(expanded, &session_id, &settings.filter)))
                        .await
                        .map_err(|e| feed_error(format!("resubscribe: {e}")))?;
                    tracing::info!(symbols = expanded.len(), "tradier stream resubscribed");
                }
                message = ws.next() => match message {
                    None | Some(Ok(Message::Close(_))) => return Ok(Session::Closed { events }),
                    Some(Err(e)) => return Err(feed_error(format!("websocket: {e}"))),
                    Some(Ok(Message::Text(text))) => {
                        events += handle_text(text.as_str(), ingest, settings.risk_free_rate);
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        if let Ok(text) = std::str::from_utf8(&bytes) {
                            events += handle_text(text, ingest, settings.risk_free_rate);
                        }
                    }
                    Some(Ok(_)) => {} // ping/pong/frame: tungstenite answers pings itself
                }
            }
        }
    }
}

/// Handles one websocket message (one or more newline-separated events); returns the number
/// of events that updated an instrument.
fn handle_text(text: &str, ingest: &Ingest, risk_free_rate: f64) -> u64 {
    let mut n = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_event(line) {
            Ok(StreamEvent::Error(message)) => {
                tracing::warn!(%message, "tradier stream reported an error");
            }
            Ok(event) => {
                let state = ingest.state();
                let symbol = match &event {
                    StreamEvent::Quote { symbol, .. } | StreamEvent::Trade { symbol, .. } => {
                        symbol.as_str()
                    }
                    _ => continue,
                };
                let previous = state.get(symbol);
                let spot = |u: &str| state.get(u).and_then(|s| s.mid().or(s.last));
                if let Some(s) = apply_event(&event, previous.as_deref(), spot, risk_free_rate) {
                    ingest.push(s);
                    n += 1;
                }
            }
            Err(e) => {
                metrics::counter!("ivcrush_ticker_parse_errors_total", "feed" => FEED).increment(1);
                tracing::debug!(
                    error = &e as &dyn std::error::Error,
                    "unparsable tradier event skipped"
                );
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_numeric_strings_both_parse() {
        let e = parse_event(
            r#"{"type":"trade","symbol":"AAPL","exch":"Q","price":"251.37","size":"100","cvol":"41877411","date":"1769630400040","last":"251.37"}"#,
        )
        .expect("parses");
        assert_eq!(
            e,
            StreamEvent::Trade {
                symbol: "AAPL".into(),
                price: Some(251.37),
                size: Some(100),
                date_ms: Some(1_769_630_400_040),
                bid: None,
                ask: None,
            }
        );
        let q = parse_event(
            r#"{"type":"quote","symbol":"AAPL","bid":251.36,"bidsz":3,"biddate":"1769630400012","ask":251.38,"asksz":5,"askdate":"1769630400015"}"#,
        )
        .expect("parses");
        assert!(
            matches!(q, StreamEvent::Quote { bid: Some(b), ask_size: Some(5), date_ms: Some(1_769_630_400_015), .. } if b == 251.36)
        );
        assert_eq!(
            parse_event(r#"{"error":"ZZZZQ is not a valid symbol"}"#).expect("parses"),
            StreamEvent::Error("ZZZZQ is not a valid symbol".into())
        );
        assert!(parse_event("not json").is_err());
        assert!(parse_event(r#"{"type":"quote","bid":"None"}"#).is_err());
    }
}
