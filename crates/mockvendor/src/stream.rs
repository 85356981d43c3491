//! Tradier streaming (`spec/vendors.md` §1.8): the session POST and the websocket.
//!
//! A session id is issued by `POST /v1/markets/events/session` and is good for one websocket
//! connection, within 5 minutes, as Tradier documents; the connection then sends the
//! subscribe payload (and may resend it, with the same id, to change symbols). Events are
//! built from the simulated market: the first round at once, then one round every
//! `stream_interval`, each round's dates `stream_interval` later than the previous one.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures_util::{SinkExt, StreamExt};
use ivcrush_market::OptionsData;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::tradier::{epoch_ms, occ_root, round2};
use crate::{Shared, json as json_reply};

/// The websocket path (Tradier's `wss://ws.tradier.com/v1/markets/events`).
pub(crate) const WS_PATH: &str = "/v1/markets/events";

/// How long an issued session id may wait for its connection (Tradier: 5 minutes).
const SESSION_TTL: Duration = Duration::from_secs(300);

/// A session id issued by the session POST.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) id: String,
    at: Instant,
    used: bool,
}

/// What a subscribe payload asked, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The `sessionid` sent.
    pub session_id: String,
    /// The `symbols` sent, in order.
    pub symbols: Vec<String>,
    /// The `filter` sent (empty when absent: every event type).
    pub filter: Vec<String>,
}

/// `POST /v1/markets/events/session`: a fresh single-use session id (the bearer key was
/// checked by the caller, as for every Tradier route).
pub(crate) fn create_session(shared: &Shared) -> axum::response::Response {
    let n = shared.session_draws.fetch_add(1, Ordering::Relaxed);
    let id = session_id(shared.config.seed, n);
    shared
        .sessions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Issued {
            id: id.clone(),
            at: Instant::now(),
            used: false,
        });
    // Tradier answers its HTTP-streaming URL here; the mock serves the websocket only.
    json_reply(&json!({"stream": {
        "url": format!("http://{}{WS_PATH}", shared.http_addr),
        "sessionid": id,
    }}))
}

/// A UUID-shaped id, distinct for every `n` of a seed (SplitMix64 is a bijection).
fn session_id(seed: u64, n: u64) -> String {
    let a = crate::mix64(crate::mix64(seed) ^ n);
    let b = crate::mix64(a);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Marks `id` used when it was issued, unused and younger than [`SESSION_TTL`].
fn take_session(shared: &Shared, id: &str) -> bool {
    let mut sessions = shared.sessions.lock().unwrap_or_else(|e| e.into_inner());
    match sessions.iter_mut().find(|s| s.id == id) {
        Some(s) if !s.used && s.at.elapsed() < SESSION_TTL => {
            s.used = true;
            true
        }
        _ => false,
    }
}

/// Accepts websocket connections until `stop` changes; then tells every open connection to
/// close and waits for them (the caller bounds the wait).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    connections.spawn(connection(tcp, Arc::clone(&shared), stop.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Refuses a handshake on another path than [`WS_PATH`] with a 404.
#[allow(clippy::result_large_err)] // the handshake callback's signature
fn check_path(request: &Request, response: Response) -> Result<Response, ErrorResponse> {
    if request.uri().path() == WS_PATH {
        return Ok(response);
    }
    let mut refusal = ErrorResponse::new(Some("Resource not found".to_owned()));
    *refusal.status_mut() = StatusCode::NOT_FOUND;
    Err(refusal)
}

async fn connection(tcp: TcpStream, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, check_path).await else {
        return;
    };
    shared.stream_connections.fetch_add(1, Ordering::Relaxed);
    let mut session: Option<String> = None;
    let mut round: Vec<Instrument> = Vec::new();
    let mut filter: Vec<String> = Vec::new();
    let mut n: u64 = 0;
    let interval = shared.config.stream_interval.max(Duration::from_millis(1));
    let mut next = tokio::time::Instant::now();
    loop {
        let streaming = session.is_some();
        tokio::select! {
            _ = stop.changed() => {
                let _ = ws.close(None).await;
                return;
            }
            message = ws.next() => {
                let text = match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(_)) => continue,
                };
                let Some(sub) = parse_subscription(&text) else {
                    let _ = send_error(&mut ws, "invalid payload: expected a JSON subscription").await;
                    continue;
                };
                let accepted = match &session {
                    Some(current) => *current == sub.session_id,
                    None => take_session(&shared, &sub.session_id),
                };
                if !accepted {
                    let _ = send_error(&mut ws, "invalid or expired session").await;
                    let _ = ws.close(None).await;
                    return;
                }
                shared
                    .subscriptions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sub.clone());
                session = Some(sub.session_id);
                filter = sub.filter;
                round = instruments(&shared, &sub.symbols).await;
                for symbol in round.iter().filter_map(Instrument::invalid) {
                    if send_error(&mut ws, &format!("{symbol} is not a valid symbol")).await.is_err() {
                        return;
                    }
                }
                round.retain(|i| i.invalid().is_none());
                next = tokio::time::Instant::now();
            }
            () = tokio::time::sleep_until(next), if streaming => {
                let stamp = epoch_ms(&shared)
                    + i64::try_from(interval.as_millis().saturating_mul(u128::from(n)))
                        .unwrap_or(i64::MAX / 2);
                for instrument in &round {
                    for event in instrument.events(stamp, &filter) {
                        if ws.feed(Message::text(event.to_string())).await.is_err() {
                            return;
                        }
                        shared.stream_events.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
                n += 1;
                next += interval;
            }
        }
    }
}

async fn send_error(
    ws: &mut WebSocketStream<TcpStream>,
    message: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    ws.send(Message::text(json!({ "error": message }).to_string()))
        .await
}

fn parse_subscription(text: &str) -> Option<Subscription> {
    let v: Value = serde_json::from_str(text).ok()?;
    let strings = |key: &str| -> Vec<String> {
        match &v[key] {
            Value::Array(items) => items
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            // The HTTP stream's comma list, accepted here too.
            Value::String(s) => s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    Some(Subscription {
        session_id: v["sessionid"].as_str()?.to_owned(),
        symbols: strings("symbols"),
        filter: strings("filter"),
    })
}

/// One subscribed symbol with the prices of the simulated market.
#[derive(Debug)]
enum Instrument {
    Stock {
        symbol: String,
        bid: f64,
        ask: f64,
        last: f64,
        volume: u64,
    },
    Option {
        symbol: String,
        bid: f64,
        ask: f64,
    },
    Invalid(String),
}

impl Instrument {
    fn invalid(&self) -> Option<&str> {
        match self {
            Instrument::Invalid(s) => Some(s),
            _ => None,
        }
    }

    /// This round's events: a `quote` (numbers, dates as strings) and, for a stock, a `trade`
    /// (all strings), as Tradier sends them.
    fn events(&self, stamp: i64, filter: &[String]) -> Vec<Value> {
        let wants = |kind: &str| filter.is_empty() || filter.iter().any(|f| f == kind);
        let mut out = Vec::new();
        let date = stamp.to_string();
        match self {
            Instrument::Stock {
                symbol,
                bid,
                ask,
                last,
                volume,
            } => {
                if wants("quote") {
                    out.push(json!({
                        "type": "quote", "symbol": symbol,
                        "bid": bid, "bidsz": 3, "bidexch": "Q", "biddate": date,
                        "ask": ask, "asksz": 5, "askexch": "P", "askdate": date,
                    }));
                }
                if wants("trade") {
                    let price = format!("{last:.2}");
                    out.push(json!({
                        "type": "trade", "symbol": symbol, "exch": "Q",
                        "price": price, "size": "100", "cvol": volume.to_string(),
                        "date": date, "last": price,
                    }));
                }
            }
            Instrument::Option { symbol, bid, ask } => {
                if wants("quote") {
                    out.push(json!({
                        "type": "quote", "symbol": symbol,
                        "bid": bid, "bidsz": 10, "bidexch": "C", "biddate": date,
                        "ask": ask, "asksz": 10, "askexch": "X", "askdate": date,
                    }));
                }
            }
            Instrument::Invalid(_) => {}
        }
        out
    }
}

/// The subscribed symbols priced from the simulated market, in order (duplicates dropped).
async fn instruments(shared: &Shared, symbols: &[String]) -> Vec<Instrument> {
    let mut out: Vec<Instrument> = Vec::with_capacity(symbols.len());
    let mut seen = std::collections::BTreeSet::new();
    for symbol in symbols {
        if !seen.insert(symbol.as_str()) {
            continue;
        }
        let found = match parse_occ(symbol) {
            Some(occ) => option(shared, symbol, &occ).await,
            None => stock(shared, symbol).await,
        };
        out.push(found.unwrap_or_else(|| Instrument::Invalid(symbol.clone())));
    }
    out
}

async fn stock(shared: &Shared, symbol: &str) -> Option<Instrument> {
    let p = shared.resolve(symbol)?;
    let q = shared
        .sim
        .quotes(&[p.symbol.to_owned()])
        .await
        .ok()?
        .into_iter()
        .next()?;
    let offset = shared.config.spot_offset_pct;
    let f = if offset != 0.0 && offset.is_finite() {
        1.0 + offset / 100.0
    } else {
        1.0
    };
    Some(Instrument::Stock {
        symbol: symbol.to_owned(),
        bid: round2(q.bid.unwrap_or(0.0) * f),
        ask: round2(q.ask.unwrap_or(0.0) * f),
        last: round2(q.last * f),
        volume: q.volume,
    })
}

async fn option(shared: &Shared, symbol: &str, occ: &Occ) -> Option<Instrument> {
    let underlying = served_symbol_of_root(shared, &occ.root)?;
    let p = shared.resolve(&underlying)?;
    let chain = shared.sim.chain(p.symbol, occ.expiration).await.ok()?;
    let q = chain.quotes.iter().find(|q| {
        q.kind.is_call() == occ.call && (q.strike * 1000.0).round() as u64 == occ.strike_milli
    })?;
    Some(Instrument::Option {
        symbol: symbol.to_owned(),
        bid: q.bid,
        ask: q.ask,
    })
}

/// The served symbol whose OCC root is `root` (`ARGOB` → `ARGO.B`).
fn served_symbol_of_root(shared: &Shared, root: &str) -> Option<String> {
    if shared.resolve(root).is_some() {
        return Some(root.to_owned());
    }
    shared
        .universe
        .iter()
        .find(|p| occ_root(p.symbol) == root)
        .map(|p| p.symbol.to_owned())
}

/// A parsed OCC option symbol (`AXON260130C00250000`).
struct Occ {
    root: String,
    expiration: NaiveDate,
    call: bool,
    strike_milli: u64,
}

fn parse_occ(symbol: &str) -> Option<Occ> {
    let n = symbol.len();
    if n < 16 || !symbol.is_ascii() {
        return None;
    }
    let (root, rest) = symbol.split_at(n - 15);
    let (date, rest) = rest.split_at(6);
    let (kind, strike) = rest.split_at(1);
    if root.is_empty()
        || !root.bytes().all(|b| b.is_ascii_alphanumeric())
        || !date.bytes().all(|b| b.is_ascii_digit())
        || !strike.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let call = match kind {
        "C" => true,
        "P" => false,
        _ => return None,
    };
    Some(Occ {
        root: root.to_owned(),
        expiration: NaiveDate::parse_from_str(date, "%y%m%d").ok()?,
        call,
        strike_milli: strike.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occ_symbols_parse_and_others_do_not() {
        let o = parse_occ("AXON260130C00250000").expect("an OCC symbol");
        assert_eq!(o.root, "AXON");
        assert_eq!(
            o.expiration,
            NaiveDate::from_ymd_opt(2026, 1, 30).expect("date")
        );
        assert!(o.call);
        assert_eq!(o.strike_milli, 250_000);
        let p = parse_occ("A260130P00012500").expect("a one-letter root");
        assert_eq!(
            (p.root.as_str(), p.call, p.strike_milli),
            ("A", false, 12_500)
        );
        for not in [
            "AAPL",
            "AXON261330C00250000",
            "AXON260130X00250000",
            "260130C00250000",
        ] {
            assert!(parse_occ(not).is_none(), "{not}");
        }
    }

    #[test]
    fn session_ids_are_distinct_and_uuid_shaped() {
        let a = session_id(42, 0);
        let b = session_id(42, 1);
        assert_ne!(a, b);
        assert_eq!(a, session_id(42, 0), "deterministic");
        assert_eq!(a.len(), 36, "{a}");
        assert_eq!(a.matches('-').count(), 4, "{a}");
    }
}
