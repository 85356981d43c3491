//! Tradier market data (REST v1): expirations, chains, batched quotes, daily history and the
//! clock (health ping), spoken as `spec/vendors.md` §1 says.
//!
//! Every collection goes through one [`OneOrMany`]; null wrappers are "no data" (empty list or
//! empty chain), never an error. Vendor greeks are kept only "as supplied" ([`TradierOption`]);
//! the [`OptionChain`] handed to the analytics carries quotes only.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ivcrush_market::{AlphaVantageClient, AlphaVantageConfig, TradierClient, TradierConfig};
//! # fn main() -> Result<(), ivcrush_market::MarketError> {
//! let tradier = Arc::new(TradierClient::new(TradierConfig::new("token"))?);
//! let av = Arc::new(AlphaVantageClient::new(AlphaVantageConfig::new("key"))?);
//! let market = tradier.market_data(av); // source "tradier", calendar from Alpha Vantage
//! # let _ = market; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_core::{Bar, ChainProvenance, OptionChain, OptionKind, OptionQuote};
use ivcrush_resilience::{
    CallOptions, HttpClassifier, Limiter, Pipeline, PipelineConfig, WindowConfig,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use tracing::{Instrument, debug, instrument, warn};

use crate::error::MarketError;
use crate::http::{self, HttpSettings, RateHeaders, flex_f64, flex_u64};
use crate::source::{EarningsCalendar, MarketData, OptionsData, PriceHistory, StockQuote};

const VENDOR: &str = "tradier";

/// Production host.
pub const PRODUCTION_URL: &str = "https://api.tradier.com";
/// Paper/sandbox host.
pub const SANDBOX_URL: &str = "https://sandbox.tradier.com";

/// A Tradier collection member: `null`, one bare element, or a list (the list-collapse quirk).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    /// The items.
    pub fn into_vec(self) -> Vec<T> {
        self.0
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Option::<Repr<T>>::deserialize(deserializer)? {
            None => OneOrMany(Vec::new()),
            Some(Repr::Many(v)) => OneOrMany(v),
            Some(Repr::One(t)) => OneOrMany(vec![t]),
        })
    }
}

/// Tradier client settings (`[market.tradier]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TradierConfig {
    /// Base URL. Default `https://api.tradier.com` (sandbox `https://sandbox.tradier.com`).
    pub base_url: String,
    /// Access token (sent as `Authorization: Bearer …`; never logged).
    #[serde(serialize_with = "crate::secret::serialize_redacted")]
    pub api_key: SecretString,
    /// Batched quotes use `POST` (form field `symbols`) above this many symbols. Default 20.
    pub post_quotes_above: usize,
    /// HTTP client settings.
    pub http: HttpSettings,
    /// Attempt timeout per endpoint: a hung socket costs one of these, then the call retries.
    /// Capped by `resilience.attempt_timeout_ms`.
    pub timeouts: EndpointTimeouts,
    /// Resilience pipeline; default [`TradierConfig::production_resilience`].
    pub resilience: PipelineConfig,
}

/// Per-endpoint attempt timeouts in ms (`[tradier.timeouts]`): an answer that has not come by
/// then is a hung socket, not a slow vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EndpointTimeouts {
    /// Quotes (one symbol or a batch). Default 1 500.
    pub quotes_ms: u64,
    /// Expirations. Default 1 500.
    pub expirations_ms: u64,
    /// One chain with greeks. Default 2 500.
    pub chains_ms: u64,
    /// Daily history (years of bars). Default 3 000.
    pub history_ms: u64,
    /// The clock (health ping) and the streaming-session POST. Default 2 000.
    pub clock_ms: u64,
}

impl Default for EndpointTimeouts {
    fn default() -> Self {
        EndpointTimeouts {
            quotes_ms: 1_500,
            expirations_ms: 1_500,
            chains_ms: 2_500,
            history_ms: 3_000,
            clock_ms: 2_000,
        }
    }
}

impl EndpointTimeouts {
    /// The same timeout for every endpoint (tests).
    pub fn uniform(ms: u64) -> EndpointTimeouts {
        EndpointTimeouts {
            quotes_ms: ms,
            expirations_ms: ms,
            chains_ms: ms,
            history_ms: ms,
            clock_ms: ms,
        }
    }

    fn for_endpoint(&self, endpoint: &str) -> u64 {
        match endpoint {
            "quotes" => self.quotes_ms,
            "expirations" => self.expirations_ms,
            "chains" => self.chains_ms,
            "history" => self.history_ms,
            _ => self.clock_ms,
        }
    }
}

/// Production quota: Tradier's market-data window, 120 requests per minute.
const PRODUCTION_QUOTA: u32 = 120;
/// Sandbox quota: 60 requests per minute.
const SANDBOX_QUOTA: u32 = 60;

fn tradier_window(limit: u32) -> WindowConfig {
    // A fixed window as Tradier counts it (from the first request to arrive), with a 1-s guard
    // for the latency between our send and its arrival: bursts go out at once, and 120 per
    // 61 s sustains 98.4 % of the quota.
    WindowConfig::fixed(limit, Duration::from_secs(60), Duration::from_secs(1))
}

impl Default for TradierConfig {
    fn default() -> Self {
        TradierConfig {
            base_url: PRODUCTION_URL.to_owned(),
            api_key: SecretString::from(String::new()),
            post_quotes_above: 20,
            http: HttpSettings::default(),
            timeouts: EndpointTimeouts::default(),
            resilience: TradierConfig::production_resilience(),
        }
    }
}

impl TradierConfig {
    /// Production settings with this token.
    pub fn new(api_key: impl Into<String>) -> TradierConfig {
        TradierConfig {
            api_key: SecretString::from(api_key.into()),
            ..TradierConfig::default()
        }
    }

    /// Sandbox settings (60 requests/min) with this token.
    pub fn sandbox(api_key: impl Into<String>) -> TradierConfig {
        let mut c = TradierConfig::new(api_key);
        c.base_url = SANDBOX_URL.to_owned();
        c.resilience.rate_limits = vec![tradier_window(SANDBOX_QUOTA)];
        c
    }

    /// The default pipeline ([`http::vendor_pipeline`]) on the vendor's fixed window (120 per
    /// minute, bursts allowed), jitter from 100 ms (capped at 2 s), 16 requests in flight (a
    /// scan runs 8 tickers at once, each with up to 5 requests).
    pub fn production_resilience() -> PipelineConfig {
        let mut p = http::vendor_pipeline(vec![tradier_window(PRODUCTION_QUOTA)], 100);
        p.bulkhead.max_concurrent = 16;
        p
    }

    /// The rate-limit windows in force: the configured ones, except that the production
    /// default pointed at the sandbox host becomes the sandbox's quota (60 per minute).
    pub fn effective_rate_limits(&self) -> Vec<WindowConfig> {
        let production = TradierConfig::production_resilience().rate_limits;
        if self.base_url.contains("sandbox.tradier.com")
            && self.resilience.rate_limits == production
        {
            vec![tradier_window(SANDBOX_QUOTA)]
        } else {
            self.resilience.rate_limits.clone()
        }
    }
}

/// Tradier REST client: one pooled HTTP client and one resilience pipeline.
/// Implements [`OptionsData`] and [`PriceHistory`].
pub struct TradierClient {
    http: reqwest::Client,
    base_url: String,
    token: String,
    post_quotes_above: usize,
    timeouts: EndpointTimeouts,
    attempt_timeout_cap_ms: u64,
    /// [`HttpSettings::max_body_bytes`].
    max_body_bytes: u64,
    pipeline: Arc<Pipeline<HttpClassifier>>,
}

impl fmt::Debug for TradierClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TradierClient")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/markets/clock`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarketClock {
    /// Session date.
    pub date: Option<NaiveDate>,
    /// Description.
    pub description: String,
    /// `premarket|open|postmarket|closed`.
    pub state: String,
    /// Server time (epoch seconds on the wire).
    pub timestamp: Option<DateTime<Utc>>,
    /// Next change `HH:MM` (Eastern).
    pub next_change: Option<String>,
    /// Next state.
    pub next_state: Option<String>,
}

/// Vendor greeks and IVs "as supplied" (hourly ORATS values, undocumented units): display only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SuppliedGreeks {
    /// Delta.
    #[serde(default, deserialize_with = "flex_f64")]
    pub delta: Option<f64>,
    /// Gamma.
    #[serde(default, deserialize_with = "flex_f64")]
    pub gamma: Option<f64>,
    /// Theta (units undocumented).
    #[serde(default, deserialize_with = "flex_f64")]
    pub theta: Option<f64>,
    /// Vega (units undocumented).
    #[serde(default, deserialize_with = "flex_f64")]
    pub vega: Option<f64>,
    /// Rho.
    #[serde(default, deserialize_with = "flex_f64")]
    pub rho: Option<f64>,
    /// Phi.
    #[serde(default, deserialize_with = "flex_f64")]
    pub phi: Option<f64>,
    /// Bid IV (fraction; 0 without a bid).
    #[serde(default, deserialize_with = "flex_f64")]
    pub bid_iv: Option<f64>,
    /// Mid IV.
    #[serde(default, deserialize_with = "flex_f64")]
    pub mid_iv: Option<f64>,
    /// Ask IV.
    #[serde(default, deserialize_with = "flex_f64")]
    pub ask_iv: Option<f64>,
    /// ORATS smoothed vol.
    #[serde(default, deserialize_with = "flex_f64")]
    pub smv_vol: Option<f64>,
    /// `YYYY-MM-DD HH:MM:SS` (UTC assumed).
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// One option contract as Tradier sends it (the fields we keep).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TradierOption {
    /// OCC symbol.
    #[serde(default)]
    pub symbol: String,
    /// Underlying.
    #[serde(default)]
    pub underlying: Option<String>,
    /// `call` or `put`.
    #[serde(default)]
    pub option_type: Option<String>,
    /// Strike.
    #[serde(default, deserialize_with = "flex_f64")]
    pub strike: Option<f64>,
    /// Bid (0.0 = no bid).
    #[serde(default, deserialize_with = "flex_f64")]
    pub bid: Option<f64>,
    /// Ask.
    #[serde(default, deserialize_with = "flex_f64")]
    pub ask: Option<f64>,
    /// Last trade (null when never traded).
    #[serde(default, deserialize_with = "flex_f64")]
    pub last: Option<f64>,
    /// Volume.
    #[serde(default, deserialize_with = "flex_u64")]
    pub volume: Option<u64>,
    /// Open interest.
    #[serde(default, deserialize_with = "flex_u64")]
    pub open_interest: Option<u64>,
    /// Expiration.
    #[serde(default)]
    pub expiration_date: Option<NaiveDate>,
    /// `standard|weeklys|…`.
    #[serde(default)]
    pub expiration_type: Option<String>,
    /// Last trade time, epoch ms (0 = never).
    #[serde(default, deserialize_with = "flex_u64")]
    pub trade_date: Option<u64>,
    /// Bid time, epoch ms (0 or absent when unknown).
    #[serde(default, deserialize_with = "flex_u64")]
    pub bid_date: Option<u64>,
    /// Ask time, epoch ms (0 or absent when unknown).
    #[serde(default, deserialize_with = "flex_u64")]
    pub ask_date: Option<u64>,
    /// Greeks as supplied (may be null or absent).
    #[serde(default)]
    pub greeks: Option<SuppliedGreeks>,
}

impl TradierOption {
    /// `true` when the vendor's greeks are absent, null, or zero throughout (Tradier sends zeros
    /// for contracts ORATS has not computed yet).
    pub fn greeks_missing(&self) -> bool {
        self.greeks.as_ref().is_none_or(|g| {
            [g.delta, g.gamma, g.vega, g.mid_iv, g.smv_vol]
                .iter()
                .all(|v| v.is_none_or(|x| x == 0.0))
        })
    }

    /// The newest of the contract's trade, bid and ask times (`None` when all are 0 or absent).
    pub fn quoted_at(&self) -> Option<DateTime<Utc>> {
        [self.trade_date, self.bid_date, self.ask_date]
            .into_iter()
            .flatten()
            .max()
            .and_then(epoch_ms)
    }

    /// The vendor-neutral quote, or `None` without a strike or a known option type.
    pub fn to_quote(&self) -> Option<OptionQuote> {
        let kind: OptionKind = self.option_type.as_deref()?.parse().ok()?;
        let strike = self.strike.filter(|k| *k > 0.0)?;
        Some(OptionQuote {
            kind,
            strike,
            bid: self.bid.unwrap_or(0.0),
            ask: self.ask.unwrap_or(0.0),
            last: self.last,
            volume: self.volume.unwrap_or(0),
            open_interest: self.open_interest.unwrap_or(0),
        })
    }
}

/// One entry of the expirations answer (plain dates have only `date`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExpirationInfo {
    /// Expiration day.
    pub date: NaiveDate,
    /// Contract size.
    #[serde(default, deserialize_with = "flex_u64")]
    pub contract_size: Option<u64>,
    /// `standard|weeklys|…`.
    #[serde(default)]
    pub expiration_type: Option<String>,
    /// Listed strikes (empty for the plain form).
    #[serde(default)]
    pub strikes: Vec<f64>,
}

#[derive(Deserialize)]
struct ChainsBody {
    #[serde(default)]
    options: Option<OptionsWrapper>,
}
#[derive(Deserialize)]
struct OptionsWrapper {
    #[serde(default)]
    option: OneOrMany<TradierOption>,
}

#[derive(Deserialize)]
struct ExpirationsBody {
    #[serde(default)]
    expirations: Option<ExpirationsWrapper>,
}
#[derive(Deserialize)]
struct ExpirationsWrapper {
    #[serde(default)]
    date: OneOrMany<NaiveDate>,
    #[serde(default)]
    expiration: OneOrMany<RawExpiration>,
}
#[derive(Deserialize)]
struct RawExpiration {
    date: NaiveDate,
    #[serde(default, deserialize_with = "flex_u64")]
    contract_size: Option<u64>,
    #[serde(default)]
    expiration_type: Option<String>,
    #[serde(default)]
    strikes: Option<StrikesWrapper>,
}
#[derive(Deserialize)]
struct StrikesWrapper {
    #[serde(default)]
    strike: OneOrMany<FlexNum>,
}

/// A number or numeric string, inside collections.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct FlexNum(Option<f64>);
impl<'de> Deserialize<'de> for FlexNum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        flex_f64(d).map(FlexNum)
    }
}

#[derive(Deserialize)]
struct QuotesBody {
    #[serde(default)]
    quotes: Option<QuotesWrapper>,
}
#[derive(Deserialize)]
struct QuotesWrapper {
    #[serde(default)]
    quote: OneOrMany<RawQuote>,
    #[serde(default)]
    unmatched_symbols: Option<UnmatchedWrapper>,
}
#[derive(Deserialize)]
struct UnmatchedWrapper {
    #[serde(default)]
    symbol: OneOrMany<String>,
}
#[derive(Deserialize)]
struct RawQuote {
    symbol: String,
    #[serde(default, deserialize_with = "flex_f64")]
    last: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    bid: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    ask: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    prevclose: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    close: Option<f64>,
    #[serde(default, deserialize_with = "flex_u64")]
    volume: Option<u64>,
    #[serde(default, deserialize_with = "flex_u64")]
    trade_date: Option<u64>,
    #[serde(default, deserialize_with = "flex_u64")]
    bid_date: Option<u64>,
    #[serde(default, deserialize_with = "flex_u64")]
    ask_date: Option<u64>,
}

#[derive(Deserialize)]
struct HistoryBody {
    #[serde(default)]
    history: Option<HistoryWrapper>,
}
#[derive(Deserialize)]
struct HistoryWrapper {
    #[serde(default)]
    day: OneOrMany<RawDay>,
}
#[derive(Deserialize)]
struct RawDay {
    date: NaiveDate,
    #[serde(default, deserialize_with = "flex_f64")]
    open: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    high: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    low: Option<f64>,
    #[serde(default, deserialize_with = "flex_f64")]
    close: Option<f64>,
    #[serde(default, deserialize_with = "flex_u64")]
    volume: Option<u64>,
}

#[derive(Deserialize)]
struct SessionBody {
    stream: SessionStream,
}
#[derive(Deserialize)]
struct SessionStream {
    sessionid: String,
}

#[derive(Deserialize)]
struct ClockBody {
    clock: RawClock,
}
#[derive(Deserialize)]
struct RawClock {
    #[serde(default)]
    date: Option<NaiveDate>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    state: String,
    #[serde(default, deserialize_with = "flex_u64")]
    timestamp: Option<u64>,
    #[serde(default)]
    next_change: Option<String>,
    #[serde(default)]
    next_state: Option<String>,
}

fn decode<T: DeserializeOwned>(endpoint: &'static str, body: &str) -> Result<T, MarketError> {
    serde_json::from_str(body).map_err(|e| MarketError::Decode {
        vendor: VENDOR,
        endpoint,
        message: e.to_string(),
    })
}

/// Epoch milliseconds to UTC (`None` for 0 or out of range).
pub fn epoch_ms(ms: u64) -> Option<DateTime<Utc>> {
    (ms > 0)
        .then(|| DateTime::from_timestamp_millis(i64::try_from(ms).ok()?))
        .flatten()
}

/// Parses a chains body into the contracts as supplied (`{"options": null}` → empty).
///
/// # Errors
/// [`MarketError::Decode`] when the body is not the chains shape.
pub fn parse_chain_options(body: &str) -> Result<Vec<TradierOption>, MarketError> {
    let parsed: ChainsBody = decode("chains", body)?;
    Ok(parsed
        .options
        .map(|o| o.option.into_vec())
        .unwrap_or_default())
}

/// Parses a chains body into an [`OptionChain`] of `expiration` for `symbol` (see [`to_chain`]).
///
/// # Errors
/// [`MarketError::Decode`], or [`MarketError::Unexpected`] when no contract is of the chain
/// asked for.
pub fn parse_chain(
    body: &str,
    symbol: &str,
    expiration: NaiveDate,
) -> Result<OptionChain, MarketError> {
    to_chain(symbol, expiration, &parse_chain_options(body)?)
}

/// Maps contracts to an [`OptionChain`] of `symbol` expiring `expiration`, with the vendor's
/// metadata (newest timestamp, missing greeks, dropped contracts). Contracts of another
/// expiration or underlying, or without a strike or type, are dropped and counted.
///
/// # Errors
/// [`MarketError::Unexpected`] when contracts came but none is of the chain asked for (the
/// vendor answered another question: using it would price the wrong expiry).
pub fn to_chain(
    symbol: &str,
    expiration: NaiveDate,
    options: &[TradierOption],
) -> Result<OptionChain, MarketError> {
    let mut dropped = 0u32;
    let mut greeks_missing = 0u32;
    let mut quoted_at: Option<DateTime<Utc>> = None;
    let mut other_expirations: Vec<NaiveDate> = Vec::new();
    let mut quotes = Vec::with_capacity(options.len());
    for o in options {
        let wrong_expiry = o.expiration_date.is_some_and(|d| d != expiration);
        let wrong_underlying = o
            .underlying
            .as_deref()
            .is_some_and(|u| !u.trim().eq_ignore_ascii_case(symbol));
        if wrong_expiry || wrong_underlying {
            if let Some(d) = o.expiration_date.filter(|_| wrong_expiry)
                && !other_expirations.contains(&d)
            {
                other_expirations.push(d);
            }
            dropped += 1;
            continue;
        }
        let Some(q) = o.to_quote() else {
            warn!(vendor = VENDOR, contract = %o.symbol, "contract without strike or type dropped");
            dropped += 1;
            continue;
        };
        if o.greeks_missing() {
            greeks_missing += 1;
        }
        quoted_at = quoted_at.max(o.quoted_at());
        quotes.push(q);
    }
    let contracts = u32::try_from(options.len()).unwrap_or(u32::MAX);
    if quotes.is_empty() && dropped > 0 {
        other_expirations.sort();
        return Err(MarketError::Unexpected {
            vendor: VENDOR,
            endpoint: "chains",
            message: format!(
                "asked for {symbol} {expiration}, got {contracts} contracts of none of it{}",
                if other_expirations.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (expirations {})",
                        other_expirations
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ),
        });
    }
    Ok(OptionChain {
        expiration,
        quotes,
        vendor: Some(ChainProvenance {
            quoted_at,
            contracts,
            greeks_missing,
            dropped,
        }),
    })
}

/// Parses an expirations body, either form (plain dates or objects with strikes).
///
/// # Errors
/// [`MarketError::Decode`].
pub fn parse_expiration_info(body: &str) -> Result<Vec<ExpirationInfo>, MarketError> {
    let parsed: ExpirationsBody = decode("expirations", body)?;
    let Some(w) = parsed.expirations else {
        return Ok(Vec::new());
    };
    let mut out: Vec<ExpirationInfo> = w
        .date
        .into_vec()
        .into_iter()
        .map(|date| ExpirationInfo {
            date,
            ..ExpirationInfo::default()
        })
        .collect();
    out.extend(w.expiration.into_vec().into_iter().map(|e| {
        ExpirationInfo {
            date: e.date,
            contract_size: e.contract_size,
            expiration_type: e.expiration_type,
            strikes: e
                .strikes
                .map(|s| {
                    s.strike
                        .into_vec()
                        .into_iter()
                        .filter_map(|k| k.0)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }));
    out.sort_by_key(|e| e.date);
    out.dedup_by_key(|e| e.date);
    Ok(out)
}

/// Parses an expirations body into ascending dates (`{"expirations": null}` → empty).
///
/// # Errors
/// [`MarketError::Decode`].
pub fn parse_expirations(body: &str) -> Result<Vec<NaiveDate>, MarketError> {
    Ok(parse_expiration_info(body)?
        .into_iter()
        .map(|e| e.date)
        .collect())
}

/// Quotes and the symbols the vendor did not know.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedQuotes {
    /// Matched quotes.
    pub quotes: Vec<StockQuote>,
    /// `unmatched_symbols.symbol`.
    pub unmatched: Vec<String>,
}

/// Parses a quotes body (one quote, many, or none at all). `quoted_at` is the latest of
/// `trade_date/bid_date/ask_date` (`None` when none is set or all are 0: the vendor's clock never
/// becomes ours); a 0.0 bid or ask is `None`; `last` falls back to `close`, then `prevclose`.
///
/// # Errors
/// [`MarketError::Decode`].
pub fn parse_quotes(body: &str) -> Result<ParsedQuotes, MarketError> {
    let parsed: QuotesBody = decode("quotes", body)?;
    let Some(w) = parsed.quotes else {
        return Ok(ParsedQuotes::default());
    };
    let quotes = w
        .quote
        .into_vec()
        .into_iter()
        .map(|q| {
            let stamp = [q.trade_date, q.bid_date, q.ask_date]
                .into_iter()
                .flatten()
                .max()
                .and_then(epoch_ms);
            StockQuote {
                last: q.last.or(q.close).or(q.prevclose).unwrap_or(0.0),
                bid: q.bid.filter(|b| *b > 0.0),
                ask: q.ask.filter(|a| *a > 0.0),
                prev_close: q.prevclose,
                volume: q.volume.unwrap_or(0),
                quoted_at: stamp,
                symbol: q.symbol,
            }
        })
        .collect();
    let unmatched = w
        .unmatched_symbols
        .map(|u| u.symbol.into_vec())
        .unwrap_or_default();
    Ok(ParsedQuotes { quotes, unmatched })
}

/// Parses a history body into bars, oldest first (`{"history": null}` → empty; bars missing a
/// price are dropped).
///
/// # Errors
/// [`MarketError::Decode`].
pub fn parse_history(body: &str) -> Result<Vec<Bar>, MarketError> {
    let parsed: HistoryBody = decode("history", body)?;
    let mut bars: Vec<Bar> = parsed
        .history
        .map(|h| h.day.into_vec())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| {
            Some(Bar {
                date: d.date,
                open: d.open?,
                high: d.high?,
                low: d.low?,
                close: d.close?,
                volume: d.volume.unwrap_or(0),
            })
        })
        .collect();
    bars.sort_by_key(|b| b.date);
    bars.dedup_by_key(|b| b.date);
    Ok(bars)
}

/// Parses a clock body.
///
/// # Errors
/// [`MarketError::Decode`].
pub fn parse_clock(body: &str) -> Result<MarketClock, MarketError> {
    let c: ClockBody = decode("clock", body)?;
    let c = c.clock;
    Ok(MarketClock {
        date: c.date,
        description: c.description,
        state: c.state,
        timestamp: c
            .timestamp
            .and_then(|s| DateTime::from_timestamp(i64::try_from(s).ok()?, 0)),
        next_change: c.next_change,
        next_state: c.next_state,
    })
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    PostForm,
}

impl TradierClient {
    /// Builds the client (pooled HTTP client + pipeline named `tradier`).
    ///
    /// # Errors
    /// [`MarketError::Config`] for an invalid pipeline or HTTP setting, or an empty token.
    pub fn new(config: TradierConfig) -> Result<TradierClient, MarketError> {
        if crate::secret::is_blank(&config.api_key) {
            return Err(MarketError::Config("tradier: api_key is empty".to_owned()));
        }
        http::register_vendor_series(
            VENDOR,
            &[
                "clock",
                "quotes",
                "expirations",
                "chains",
                "history",
                "session",
            ],
        );
        let resilience = PipelineConfig {
            rate_limits: config.effective_rate_limits(),
            ..config.resilience.clone()
        };
        if resilience.rate_limits != config.resilience.rate_limits {
            tracing::info!(
                vendor = VENDOR,
                "sandbox host: using the sandbox quota of {SANDBOX_QUOTA} requests per minute"
            );
        }
        let pipeline = Pipeline::new(VENDOR, &resilience, HttpClassifier)
            .map_err(|e| MarketError::Config(format!("tradier: {e}")))?;
        Ok(TradierClient {
            http: http::build_client(VENDOR, &config.http)?,
            max_body_bytes: config.http.max_body_bytes,
            base_url: http::base(&config.base_url),
            token: config.api_key.expose_secret().to_owned(),
            post_quotes_above: config.post_quotes_above.max(1),
            timeouts: config.timeouts,
            attempt_timeout_cap_ms: config.resilience.attempt_timeout_ms,
            pipeline: Arc::new(pipeline),
        })
    }

    /// The resilience pipeline (its breaker for a registry, its limiter).
    pub fn pipeline(&self) -> &Arc<Pipeline<HttpClassifier>> {
        &self.pipeline
    }

    /// A [`MarketData`] bundle named `tradier`: options and history from Tradier, the earnings
    /// calendar from `calendar` (Tradier has none; usually an [`AlphaVantageClient`] or a
    /// [`FileMarket`](crate::FileMarket)).
    ///
    /// [`AlphaVantageClient`]: crate::AlphaVantageClient
    pub fn market_data(self: Arc<Self>, calendar: Arc<dyn EarningsCalendar>) -> MarketData {
        MarketData {
            source: VENDOR,
            options: self.clone(),
            history: self,
            calendar,
        }
    }

    /// One call through the pipeline; returns the 2xx body.
    async fn request(
        &self,
        endpoint: &'static str,
        method: Method,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<String, MarketError> {
        let url = format!("{}{}", self.base_url, path);
        let options = CallOptions {
            attempt_timeout: Some(Duration::from_millis(
                self.timeouts
                    .for_endpoint(endpoint)
                    .min(self.attempt_timeout_cap_ms),
            )),
            ..CallOptions::default()
        };
        let result = self
            .pipeline
            .call_with(options, || {
                let builder = match method {
                    Method::Get => self.http.get(&url).query(params),
                    Method::PostForm => self.http.post(&url).form(params),
                };
                let builder = builder
                    .header(reqwest::header::ACCEPT, "application/json")
                    .bearer_auth(&self.token);
                self.attempt(endpoint, builder)
            })
            .await;
        result
            .map_err(|e| MarketError::from_resilience(VENDOR, e))
            .map_err(|e| http::redact_error(e, &self.token))
    }

    async fn attempt(
        &self,
        endpoint: &'static str,
        builder: reqwest::RequestBuilder,
    ) -> Result<String, MarketError> {
        let received = http::send(VENDOR, endpoint, builder, self.max_body_bytes).await?;
        // The vendor's own count of its window: the limiter follows it (pauses when it is
        // spent, re-aligns its window to the vendor's).
        // A 429 is left to the pipeline: it pauses the limiter for exactly the hint.
        let rate = RateHeaders::from_headers(&received.headers);
        http::record_quota(VENDOR, &rate);
        if rate.available.is_some() && received.status != 429 {
            let reset_in = rate.reset_in(SystemTime::now());
            debug!(
                vendor = VENDOR,
                endpoint,
                available = rate.available,
                reset_ms = reset_in.map(|d| d.as_millis() as u64),
                "quota reported"
            );
            self.pipeline.limiter().observe(rate.available, reset_in);
        }
        if received.status == 429 {
            crate::notes::record(
                crate::notes::VendorNoteKind::RateLimited,
                VENDOR,
                format!("{endpoint}: HTTP 429, waited as the vendor asked"),
            );
        }
        match http::error_for_status(VENDOR, received.status, &received.headers, &received.body) {
            Some(e) => {
                debug!(
                    vendor = VENDOR,
                    endpoint,
                    status = received.status,
                    "vendor error"
                );
                Err(e)
            }
            None => Ok(received.body),
        }
    }

    /// `GET /v1/markets/clock` (the health ping).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    pub async fn clock(&self) -> Result<MarketClock, MarketError> {
        let body = self
            .request("clock", Method::Get, "/v1/markets/clock", &[])
            .await?;
        parse_clock(&body)
    }

    /// The health ping: `GET /v1/markets/clock` sent directly, outside the pipeline. A health
    /// check has its own budget (one request per check interval) and must neither wait for
    /// the request limiter nor record outcomes in the production breaker; one attempt, cut at
    /// the clock endpoint's timeout. Counted in the vendor request metrics like every request.
    ///
    /// # Errors
    /// Transport, status, timeout or decode errors.
    pub async fn ping(&self) -> Result<MarketClock, MarketError> {
        let url = format!("{}/v1/markets/clock", self.base_url);
        let builder = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json")
            .bearer_auth(&self.token)
            .timeout(Duration::from_millis(
                self.timeouts
                    .for_endpoint("clock")
                    .min(self.attempt_timeout_cap_ms),
            ));
        let received = http::send(VENDOR, "clock", builder, self.max_body_bytes)
            .await
            .map_err(|e| http::redact_error(e, &self.token))?;
        if let Some(e) =
            http::error_for_status(VENDOR, received.status, &received.headers, &received.body)
        {
            return Err(http::redact_error(e, &self.token));
        }
        parse_clock(&received.body)
    }

    /// `POST /v1/markets/events/session`: a new streaming session id (single use, valid for 5
    /// minutes), through the same pipeline as every other call (quota, breaker, retries).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    pub async fn create_stream_session(&self) -> Result<String, MarketError> {
        let body = self
            .request(
                "session",
                Method::PostForm,
                "/v1/markets/events/session",
                &[],
            )
            .await?;
        let parsed: SessionBody = decode("session", &body)?;
        Ok(parsed.stream.sessionid)
    }

    /// The chain's contracts as supplied, greeks included (`greeks=true`).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    pub async fn chain_as_supplied(
        &self,
        symbol: &str,
        expiration: NaiveDate,
    ) -> Result<Vec<TradierOption>, MarketError> {
        let params = [
            ("symbol", symbol.to_owned()),
            ("expiration", expiration.to_string()),
            ("greeks", "true".to_owned()),
        ];
        let body = self
            .request("chains", Method::Get, "/v1/markets/options/chains", &params)
            .await?;
        parse_chain_options(&body)
    }

    /// Expirations with strikes, contract size and type.
    ///
    /// # Errors
    /// Transport, status or decode errors.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    pub async fn expirations_with_strikes(
        &self,
        symbol: &str,
    ) -> Result<Vec<ExpirationInfo>, MarketError> {
        let params = [
            ("symbol", symbol.to_owned()),
            ("strikes", "true".to_owned()),
            ("contractSize", "true".to_owned()),
            ("expirationType", "true".to_owned()),
        ];
        let body = self
            .request(
                "expirations",
                Method::Get,
                "/v1/markets/options/expirations",
                &params,
            )
            .await?;
        parse_expiration_info(&body)
    }

    /// Quotes plus the unmatched symbols, one request (GET up to `post_quotes_above`
    /// symbols, else POST form).
    ///
    /// # Errors
    /// Transport, status or decode errors.
    pub async fn quotes_detailed(&self, symbols: &[String]) -> Result<ParsedQuotes, MarketError> {
        if symbols.is_empty() {
            return Ok(ParsedQuotes::default());
        }
        let method = if symbols.len() > self.post_quotes_above {
            Method::PostForm
        } else {
            Method::Get
        };
        let params = [("symbols", symbols.join(","))];
        let span = tracing::info_span!("quotes", vendor = VENDOR, count = symbols.len());
        let body = self
            .request("quotes", method, "/v1/markets/quotes", &params)
            .instrument(span)
            .await?;
        parse_quotes(&body)
    }
}

#[async_trait]
impl OptionsData for TradierClient {
    /// Tradier answers `{"expirations": null}` for an unknown symbol as for one without
    /// options: both are an empty list here.
    #[instrument(skip(self), fields(vendor = VENDOR))]
    async fn expirations(&self, symbol: &str) -> Result<Vec<NaiveDate>, MarketError> {
        let params = [("symbol", symbol.to_owned())];
        let body = self
            .request(
                "expirations",
                Method::Get,
                "/v1/markets/options/expirations",
                &params,
            )
            .await?;
        parse_expirations(&body)
    }

    #[instrument(skip(self), fields(vendor = VENDOR))]
    async fn chain(&self, symbol: &str, expiration: NaiveDate) -> Result<OptionChain, MarketError> {
        let options = self.chain_as_supplied(symbol, expiration).await?;
        to_chain(symbol, expiration, &options)
    }

    async fn quotes(&self, symbols: &[String]) -> Result<Vec<StockQuote>, MarketError> {
        Ok(self.quotes_detailed(symbols).await?.quotes)
    }
}

#[async_trait]
impl PriceHistory for TradierClient {
    #[instrument(skip(self), fields(vendor = VENDOR))]
    async fn daily_bars(
        &self,
        symbol: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Bar>, MarketError> {
        let params = [
            ("symbol", symbol.to_owned()),
            ("interval", "daily".to_owned()),
            ("start", from.to_string()),
            ("end", to.to_string()),
        ];
        let body = self
            .request("history", Method::Get, "/v1/markets/history", &params)
            .await?;
        let mut bars = parse_history(&body)?;
        bars.retain(|b| b.date >= from && b.date <= to);
        Ok(bars)
    }
}
