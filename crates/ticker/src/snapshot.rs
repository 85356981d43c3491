//! The published message: one immutable snapshot of one instrument.

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use ivcrush_core::OptionKind;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an instrument is: an underlying, or a call or put on one (core's [`OptionKind`]).
/// Serialised as the JSON `type`: `"stock"`, `"call"` or `"put"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// An underlying (stock or ETF).
    Stock,
    /// A call or a put option.
    Option(OptionKind),
}

impl InstrumentKind {
    /// A call option.
    pub const CALL: InstrumentKind = InstrumentKind::Option(OptionKind::Call);
    /// A put option.
    pub const PUT: InstrumentKind = InstrumentKind::Option(OptionKind::Put);

    /// `"stock"`, `"call"` or `"put"` (the JSON `type`).
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentKind::Stock => "stock",
            InstrumentKind::Option(kind) => kind.as_str(),
        }
    }

    /// The option kind; `None` for a stock.
    pub fn option(self) -> Option<OptionKind> {
        match self {
            InstrumentKind::Stock => None,
            InstrumentKind::Option(kind) => Some(kind),
        }
    }
}

impl From<OptionKind> for InstrumentKind {
    fn from(kind: OptionKind) -> Self {
        InstrumentKind::Option(kind)
    }
}

impl Serialize for InstrumentKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InstrumentKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match text.as_ref() {
            "stock" => Ok(InstrumentKind::Stock),
            "call" => Ok(InstrumentKind::CALL),
            "put" => Ok(InstrumentKind::PUT),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["stock", "call", "put"],
            )),
        }
    }
}

/// The latest state of one instrument, as published (see the crate docs for the JSON).
///
/// Snapshots are immutable once built: an update is a new `Arc<Snapshot>` swapped into the
/// state map, so a reader holding one never sees it change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Instrument symbol: the ticker for a stock, the OCC symbol for an option
    /// (`AAPL260130C00250000`).
    pub symbol: Arc<str>,
    /// The underlying ticker (equal to `symbol` for a stock).
    pub underlying: Arc<str>,
    /// `stock`, `call` or `put`.
    #[serde(rename = "type")]
    pub kind: InstrumentKind,
    /// Strike in dollars (options only).
    pub strike: Option<f64>,
    /// Expiration day, `YYYY-MM-DD` (options only).
    pub expiration: Option<NaiveDate>,
    /// Best bid in dollars.
    pub bid: Option<f64>,
    /// Best ask in dollars.
    pub ask: Option<f64>,
    /// Last trade price in dollars.
    pub last: Option<f64>,
    /// Bid size (shares or contracts).
    pub bid_size: Option<u64>,
    /// Ask size.
    pub ask_size: Option<u64>,
    /// Size of the last trade.
    pub last_size: Option<u64>,
    /// Implied volatility as a fraction (0.35 = 35 %), our own solve from the mid (options only).
    pub iv: Option<f64>,
    /// Black–Scholes delta from our own IV (options only).
    pub delta: Option<f64>,
    /// When the feed produced or received the update: Unix epoch microseconds.
    pub timestamp_us: i64,
    /// Process-wide sequence number, strictly increasing in feed order (1, 2, ...).
    pub seq: u64,
    /// Monotonic instant at the feed, for update-to-publish latency (not serialised).
    #[serde(skip)]
    pub fed_at: Option<Instant>,
}

impl Snapshot {
    /// The serialised field names, in order: the JSON keys and the `XADD`/`HSET` fields.
    pub const FIELDS: [&'static str; 15] = [
        "symbol",
        "underlying",
        "type",
        "strike",
        "expiration",
        "bid",
        "ask",
        "last",
        "bid_size",
        "ask_size",
        "last_size",
        "iv",
        "delta",
        "timestamp_us",
        "seq",
    ];

    /// An empty snapshot of `symbol`: an option when `symbol` is an OCC symbol, else a stock.
    pub fn empty(symbol: &str) -> Snapshot {
        let (underlying, kind, strike, expiration) = match parse_occ(symbol) {
            Some(o) => (
                Arc::from(o.root.as_str()),
                InstrumentKind::Option(o.kind),
                Some(o.strike),
                Some(o.expiration),
            ),
            None => (Arc::from(symbol), InstrumentKind::Stock, None, None),
        };
        Snapshot {
            symbol: Arc::from(symbol),
            underlying,
            kind,
            strike,
            expiration,
            bid: None,
            ask: None,
            last: None,
            bid_size: None,
            ask_size: None,
            last_size: None,
            iv: None,
            delta: None,
            timestamp_us: 0,
            seq: 0,
            fed_at: None,
        }
    }

    /// `(bid + ask) / 2` when both sides are present and positive.
    pub fn mid(&self) -> Option<f64> {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) if b > 0.0 && a >= b => Some(0.5 * (a + b)),
            _ => None,
        }
    }
}

/// A parsed OCC option symbol (`ROOT` + `YYMMDD` + `C|P` + strike × 1000 on 8 digits).
#[derive(Debug, Clone, PartialEq)]
pub struct OccSymbol {
    /// The underlying root (`AAPL`).
    pub root: String,
    /// Expiration day.
    pub expiration: NaiveDate,
    /// Call or put.
    pub kind: OptionKind,
    /// Strike in dollars.
    pub strike: f64,
}

/// Parses `AAPL260130C00250000`; `None` when `symbol` is not an OCC option symbol.
pub fn parse_occ(symbol: &str) -> Option<OccSymbol> {
    let bytes = symbol.as_bytes();
    if bytes.len() < 16 || !symbol.is_ascii() {
        return None;
    }
    let split = bytes.len() - 15;
    let (root, rest) = symbol.split_at(split);
    if root.is_empty() || !root.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
        return None;
    }
    let (date, rest) = rest.split_at(6);
    let (cp, strike) = rest.split_at(1);
    if !date.bytes().all(|b| b.is_ascii_digit()) || !strike.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kind = match cp {
        "C" => OptionKind::Call,
        "P" => OptionKind::Put,
        _ => return None,
    };
    let expiration = NaiveDate::parse_from_str(&format!("20{date}"), "%Y%m%d").ok()?;
    let strike = strike.parse::<u64>().ok()? as f64 / 1000.0;
    Some(OccSymbol {
        root: root.to_owned(),
        expiration,
        kind,
        strike,
    })
}

/// Formats an OCC symbol.
pub fn format_occ(root: &str, expiration: NaiveDate, kind: OptionKind, strike: f64) -> String {
    let cp = match kind {
        OptionKind::Call => 'C',
        OptionKind::Put => 'P',
    };
    let milli = (strike * 1000.0).round().clamp(0.0, 99_999_999.0) as u64;
    format!("{root}{}{cp}{milli:08}", expiration.format("%y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occ_symbols_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 30).expect("valid date");
        let s = format_occ("AAPL", d, OptionKind::Call, 250.0);
        assert_eq!(s, "AAPL260130C00250000");
        let p = parse_occ(&s).expect("an OCC symbol");
        assert_eq!(p.root, "AAPL");
        assert_eq!(p.expiration, d);
        assert_eq!(p.kind, OptionKind::Call);
        assert_eq!(p.strike, 250.0);
        assert_eq!(
            format_occ("KVLT", d, OptionKind::Put, 12.5),
            "KVLT260130P00012500"
        );
    }

    #[test]
    fn json_keys_are_the_documented_fields() {
        let json = serde_json::to_string(&Snapshot::empty("AAPL")).expect("serialises");
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let mut keys: Vec<&str> = value
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable(); // the map's order depends on serde_json's features
        let mut expected = Snapshot::FIELDS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        let back: Snapshot = serde_json::from_str(&json).expect("parses back");
        assert_eq!(back, Snapshot::empty("AAPL"));
    }

    #[test]
    fn the_type_is_stock_call_or_put() {
        for (kind, text) in [
            (InstrumentKind::Stock, "\"stock\""),
            (InstrumentKind::CALL, "\"call\""),
            (InstrumentKind::PUT, "\"put\""),
        ] {
            assert_eq!(serde_json::to_string(&kind).expect("serialises"), text);
            assert_eq!(
                serde_json::from_str::<InstrumentKind>(text).expect("parses"),
                kind
            );
        }
        assert!(serde_json::from_str::<InstrumentKind>("\"future\"").is_err());
    }

    #[test]
    fn plain_tickers_are_not_occ_symbols() {
        assert!(parse_occ("AAPL").is_none());
        assert!(parse_occ("AAPL260130X00250000").is_none());
        assert_eq!(Snapshot::empty("AAPL").kind, InstrumentKind::Stock);
        assert_eq!(
            Snapshot::empty("AAPL260130P00250000").kind,
            InstrumentKind::PUT
        );
    }
}
