//! Tradier REST v1 market-data endpoints (`spec/vendors.md` §1).

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use ivcrush_core::calendar::{calendar_years, is_trading_day};
use ivcrush_core::{OptionParams, OptionQuote, bsm_greeks, implied_vol};
use ivcrush_market::sim::{RATE, universe};
use ivcrush_market::{OptionsData, PriceHistory};
use serde_json::{Value, json};

use crate::{GreeksMode, NEAR_ATM_STRIKES, Params, QuoteDates, Shared, json as json_reply, reply};

/// The Apigee-style 401 body.
pub(crate) fn unauthorized() -> Response {
    let body = json!({
        "fault": {
            "faultstring": "Invalid Access Token",
            "detail": {"errorcode": "keymanagement.service.invalid_access_token"}
        }
    });
    reply(
        StatusCode::UNAUTHORIZED,
        "application/json",
        body.to_string(),
    )
}

/// A 400 with the `errors.error` body.
fn bad_request(message: &str) -> Response {
    let body = json!({"errors": {"error": message}});
    reply(
        StatusCode::BAD_REQUEST,
        "application/json",
        body.to_string(),
    )
}

/// The list-collapse quirk: `[]` → `None` (null wrapper), one item → the bare item, else a list.
fn collapse(mut items: Vec<Value>) -> Option<Value> {
    match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(Value::Array(items)),
    }
}

/// `{"<plural>": {"<singular>": X}}` or `{"<plural>": null}`.
fn wrap(plural: &str, singular: &str, items: Vec<Value>) -> Value {
    let inner = collapse(items).map(|x| json!({ singular: x }));
    json!({ plural: inner })
}

pub(crate) async fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    params: &Params,
) -> Response {
    let get = method == Method::GET;
    match path {
        "/v1/markets/quotes" if get || method == Method::POST => quotes(shared, params).await,
        "/v1/markets/options/expirations" if get => expirations(shared, params).await,
        "/v1/markets/options/chains" if get => chains(shared, params).await,
        "/v1/markets/history" if get => history(shared, params).await,
        "/v1/markets/clock" if get => clock(shared),
        "/v1/markets/events/session" if method == Method::POST => {
            crate::stream::create_session(shared)
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "Resource not found".to_owned(),
        ),
    }
}

/// The quote timestamp served: the as-of, minus `stale_quotes`.
fn quote_time(shared: &Shared) -> chrono::DateTime<chrono::Utc> {
    let stale = shared
        .config
        .stale_quotes
        .and_then(|d| Duration::from_std(d).ok())
        .unwrap_or(Duration::zero());
    shared.sim.as_of() - stale
}

/// The quote timestamp served, epoch ms.
pub(crate) fn epoch_ms(shared: &Shared) -> i64 {
    quote_time(shared).timestamp_millis()
}

/// Applies [`QuoteDates`] to a quote or contract object.
fn apply_quote_dates(shared: &Shared, o: &mut Value) {
    let Some(map) = o.as_object_mut() else {
        return;
    };
    for key in ["trade_date", "bid_date", "ask_date"] {
        match shared.config.quote_dates {
            QuoteDates::Present => {}
            QuoteDates::Missing => {
                map.remove(key);
            }
            QuoteDates::Zero => {
                map.insert(key.to_owned(), Value::from(0));
            }
        }
    }
}

async fn quotes(shared: &Shared, params: &Params) -> Response {
    let Some(list) = params.get("symbols") else {
        return bad_request("Missing required parameter: symbols");
    };
    let stamp = epoch_ms(shared);
    let mut matched = Vec::new();
    let mut unmatched = Vec::new();
    for symbol in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(p) = shared.resolve(symbol) else {
            unmatched.push(Value::from(symbol));
            continue;
        };
        let (Ok(path), Ok(q)) = (
            shared.sim.path(p.symbol),
            shared.sim.quotes(&[p.symbol.to_owned()]).await,
        ) else {
            unmatched.push(Value::from(symbol));
            continue;
        };
        let Some(mut q) = q.into_iter().next() else {
            unmatched.push(Value::from(symbol));
            continue;
        };
        let offset = shared.config.spot_offset_pct;
        if offset != 0.0 && offset.is_finite() {
            let f = 1.0 + offset / 100.0;
            q.last = round2(q.last * f);
            q.bid = q.bid.map(|b| round2(b * f));
            q.ask = q.ask.map(|a| round2(a * f));
        }
        let bars = &path.bars;
        let today = bars.last();
        let year = &bars[bars.len().saturating_sub(252)..];
        let recent = &bars[bars.len().saturating_sub(90)..];
        let avg_volume = if recent.is_empty() {
            0
        } else {
            recent.iter().map(|b| b.volume).sum::<u64>() / recent.len() as u64
        };
        let hi = year.iter().map(|b| b.high).fold(f64::NAN, f64::max);
        let lo = year.iter().map(|b| b.low).fold(f64::NAN, f64::min);
        let change = q.prev_close.map(|pc| round2(q.last - pc));
        let change_pct = q
            .prev_close
            .filter(|pc| *pc > 0.0)
            .map(|pc| round2(100.0 * (q.last - pc) / pc));
        let mut o = json!({
            "symbol": symbol,
            "description": format!("{symbol} Corp"),
            "exch": "Q",
            "type": "stock",
            "last": q.last,
            "change": change,
            "volume": q.volume,
            "open": today.map(|b| b.open),
            "high": today.map(|b| b.high),
            "low": today.map(|b| b.low),
            "close": Value::Null,
            "bid": q.bid.unwrap_or(0.0),
            "ask": q.ask.unwrap_or(0.0),
            "change_percentage": change_pct,
            "average_volume": avg_volume,
            "last_volume": 100,
            "trade_date": stamp,
            "prevclose": q.prev_close,
            "week_52_high": finite(hi),
            "week_52_low": finite(lo),
            "bidsize": 3,
            "bidexch": "Q",
            "bid_date": stamp,
            "asksize": 5,
            "askexch": "P",
            "ask_date": stamp,
            "root_symbols": occ_root(symbol),
        });
        apply_quote_dates(shared, &mut o);
        matched.push(o);
    }
    let mut inner = serde_json::Map::new();
    if let Some(q) = collapse(matched) {
        inner.insert("quote".to_owned(), q);
    }
    if let Some(u) = collapse(unmatched) {
        inner.insert("unmatched_symbols".to_owned(), json!({ "symbol": u }));
    }
    json_reply(&json!({ "quotes": inner }))
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// An OCC root: the symbol without punctuation (`ARGO.B` → `ARGOB`).
pub(crate) fn occ_root(symbol: &str) -> String {
    symbol.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// `standard` (third Friday, or the Thursday before it on a holiday) or `weeklys`.
fn expiration_type(d: NaiveDate) -> &'static str {
    let third = NaiveDate::from_weekday_of_month_opt(d.year(), d.month(), Weekday::Fri, 3);
    if third == Some(d)
        || (third == Some(d + Duration::days(1)) && !is_trading_day(d + Duration::days(1)))
    {
        "standard"
    } else {
        "weeklys"
    }
}

async fn expirations(shared: &Shared, params: &Params) -> Response {
    let Some(symbol) = params.get("symbol") else {
        return bad_request("Missing required parameter: symbol");
    };
    let Some(p) = shared.resolve(symbol) else {
        return json_reply(&json!({ "expirations": Value::Null }));
    };
    let dates = shared.sim.expirations(p.symbol).await.unwrap_or_default();
    let detailed =
        params.flag("strikes") || params.flag("contractSize") || params.flag("expirationType");
    if !detailed {
        let items = dates.iter().map(|d| Value::from(d.to_string())).collect();
        return json_reply(&wrap("expirations", "date", items));
    }
    let mut items = Vec::with_capacity(dates.len());
    for d in dates {
        let mut strikes: Vec<f64> = shared
            .sim
            .chain(p.symbol, d)
            .await
            .map(|c| c.quotes.iter().map(|q| q.strike).collect())
            .unwrap_or_default();
        strikes.sort_by(f64::total_cmp);
        strikes.dedup();
        let mut entry = serde_json::Map::new();
        entry.insert("date".to_owned(), Value::from(d.to_string()));
        if params.flag("contractSize") {
            entry.insert("contract_size".to_owned(), Value::from(100));
        }
        if params.flag("expirationType") {
            entry.insert("expiration_type".to_owned(), expiration_type(d).into());
        }
        if params.flag("strikes") {
            let s = strikes.into_iter().map(Value::from).collect();
            entry.insert(
                "strikes".to_owned(),
                wrap("strikes", "strike", s)["strikes"].clone(),
            );
        }
        items.push(Value::Object(entry));
    }
    json_reply(&wrap("expirations", "expiration", items))
}

/// `AXON260130C00250000`.
fn occ_symbol(root: &str, expiration: NaiveDate, call: bool, strike: f64) -> String {
    format!(
        "{root}{}{}{:08}",
        expiration.format("%y%m%d"),
        if call { 'C' } else { 'P' },
        (strike * 1000.0).round() as u64
    )
}

/// Vendor-style greeks "as supplied": IVs solved from the quotes, greeks at the smoothed vol
/// (theta per calendar day, vega per vol point, rho and phi per 1 % rate).
fn greeks(shared: &Shared, q: &OptionQuote, spot: f64, t: f64) -> Value {
    let updated_at = quote_time(shared).format("%Y-%m-%d %H:%M:%S").to_string();
    match shared.config.greeks {
        GreeksMode::Present => {}
        GreeksMode::Null => return Value::Null,
        GreeksMode::Zero => {
            return json!({
                "delta": 0.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0, "rho": 0.0, "phi": 0.0,
                "bid_iv": 0.0, "mid_iv": 0.0, "ask_iv": 0.0, "smv_vol": 0.0,
                "updated_at": updated_at,
            });
        }
    }
    let Ok(p) = OptionParams::new(q.kind, spot, q.strike, t, RATE, 0.0) else {
        return Value::Null;
    };
    let iv = |price: f64| {
        if price > 0.0 {
            implied_vol(&p, price).unwrap_or(0.0)
        } else {
            0.0
        }
    };
    let bid_iv = iv(q.bid);
    let ask_iv = iv(q.ask);
    let mid_iv = if q.bid > 0.0 && q.ask > 0.0 {
        iv(q.mid())
    } else {
        0.0
    };
    let smooth = if mid_iv > 0.0 { mid_iv } else { ask_iv };
    let smv_vol = (smooth * 1000.0).round() / 1000.0;
    let g = bsm_greeks(&p, smv_vol.max(0.0));
    let r6 = |x: f64| (x * 1e6).round() / 1e6;
    json!({
        "delta": r6(g.delta),
        "gamma": r6(g.gamma),
        "theta": r6(g.theta / 365.0),
        "vega": r6(g.vega / 100.0),
        "rho": r6(g.rho / 100.0),
        "phi": r6(-spot * t * g.delta / 100.0),
        "bid_iv": r6(bid_iv),
        "mid_iv": r6(mid_iv),
        "ask_iv": r6(ask_iv),
        "smv_vol": smv_vol,
        "updated_at": updated_at,
    })
}

async fn chains(shared: &Shared, params: &Params) -> Response {
    let (Some(symbol), Some(expiration)) = (params.get("symbol"), params.get("expiration")) else {
        return bad_request("Missing required parameter: symbol and expiration");
    };
    let null = || json_reply(&json!({ "options": Value::Null }));
    let (Some(p), Ok(mut expiration)) = (shared.resolve(symbol), expiration.parse::<NaiveDate>())
    else {
        return null();
    };
    if shared.config.wrong_expiration {
        let listed = shared.sim.expirations(p.symbol).await.unwrap_or_default();
        if let Some(i) = listed.iter().position(|d| *d == expiration) {
            match listed
                .get(i + 1)
                .or_else(|| i.checked_sub(1).map(|j| &listed[j]))
            {
                Some(other) => expiration = *other,
                None => return null(),
            }
        }
    }
    let Ok(chain) = shared.sim.chain(p.symbol, expiration).await else {
        return null();
    };
    let spot = match shared.sim.quotes(&[p.symbol.to_owned()]).await {
        Ok(q) if !q.is_empty() => q[0].last,
        _ => return null(),
    };
    let near = near_atm_strikes(&chain.quotes, spot);
    let with_greeks = params.flag("greeks");
    let t = calendar_years(shared.sim.as_of(), expiration);
    let stamp = epoch_ms(shared);
    let root = occ_root(symbol);
    let exp_type = expiration_type(expiration);
    let items = chain
        .quotes
        .iter()
        .map(|q| {
            let q = &hostile_quote(shared, q, &near);
            let call = q.kind.is_call();
            let kind = if call { "Call" } else { "Put" };
            let traded = q.volume > 0 && q.last.is_some();
            let mut o = json!({
                "symbol": occ_symbol(&root, expiration, call, q.strike),
                "description": format!(
                    "{symbol} {} ${:.2} {kind}",
                    expiration.format("%b %d %Y"),
                    q.strike
                ),
                "exch": "Z",
                "type": "option",
                "last": q.last,
                "change": Value::Null,
                "volume": q.volume,
                "open": q.last,
                "high": q.last,
                "low": q.last,
                "close": Value::Null,
                "bid": q.bid,
                "ask": q.ask,
                "underlying": symbol,
                "strike": q.strike,
                "change_percentage": Value::Null,
                "average_volume": 0,
                "last_volume": if traded { 1 } else { 0 },
                "trade_date": if traded { stamp } else { 0 },
                "prevclose": Value::Null,
                "week_52_high": 0.0,
                "week_52_low": 0.0,
                "bidsize": 10,
                "bidexch": "C",
                "bid_date": stamp,
                "asksize": 10,
                "askexch": "X",
                "ask_date": stamp,
                "open_interest": q.open_interest,
                "contract_size": 100,
                "expiration_date": expiration.to_string(),
                "expiration_type": exp_type,
                "option_type": q.kind.as_str(),
                "root_symbol": root,
            });
            apply_quote_dates(shared, &mut o);
            if with_greeks {
                o["greeks"] = greeks(shared, q, spot, t);
            }
            o
        })
        .collect();
    json_reply(&wrap("options", "option", items))
}

/// The [`NEAR_ATM_STRIKES`] distinct strikes nearest `spot`.
fn near_atm_strikes(quotes: &[OptionQuote], spot: f64) -> Vec<f64> {
    let mut strikes: Vec<f64> = quotes.iter().map(|q| q.strike).collect();
    strikes.sort_by(f64::total_cmp);
    strikes.dedup();
    strikes.sort_by(|a, b| (a - spot).abs().total_cmp(&(b - spot).abs()));
    strikes.truncate(NEAR_ATM_STRIKES);
    strikes
}

/// A contract with the hostile near-the-money variants applied (crossed, then one-sided).
fn hostile_quote(shared: &Shared, q: &OptionQuote, near: &[f64]) -> OptionQuote {
    let mut q = q.clone();
    if !near.contains(&q.strike) {
        return q;
    }
    if shared.config.crossed_near_atm {
        let (bid, ask) = (q.bid, q.ask);
        q.bid = if ask > bid { ask } else { round2(bid + 0.01) };
        q.ask = bid;
    }
    if shared.config.one_sided_near_atm {
        q.bid = 0.0;
    }
    q
}

async fn history(shared: &Shared, params: &Params) -> Response {
    let Some(symbol) = params.get("symbol") else {
        return bad_request("Missing required parameter: symbol");
    };
    let interval = params.get("interval").unwrap_or("daily");
    if !interval.eq_ignore_ascii_case("daily") {
        return bad_request("Only interval=daily is served by the mock");
    }
    let date = |name: &str| params.get(name).map(str::parse::<NaiveDate>).transpose();
    let (Ok(start), Ok(end)) = (date("start"), date("end")) else {
        return bad_request("Invalid date: expected YYYY-MM-DD");
    };
    let Some(p) = shared.resolve(symbol) else {
        return json_reply(&json!({ "history": Value::Null }));
    };
    let end = end.unwrap_or(shared.config.as_of);
    let start = start.unwrap_or(universe::epoch());
    let bars = shared
        .sim
        .daily_bars(p.symbol, start, end)
        .await
        .unwrap_or_default();
    let items = bars
        .iter()
        .map(|b| {
            json!({
                "date": b.date.to_string(),
                "open": b.open,
                "high": b.high,
                "low": b.low,
                "close": b.close,
                "volume": b.volume,
            })
        })
        .collect();
    json_reply(&wrap("history", "day", items))
}

fn clock(shared: &Shared) -> Response {
    let date = shared.config.as_of;
    let open = is_trading_day(date);
    let body = if open {
        json!({"clock": {
            "date": date.to_string(),
            "description": "Market is open from 09:30 to 16:00",
            "state": "open",
            "timestamp": shared.sim.as_of().timestamp(),
            "next_change": "16:00",
            "next_state": "postmarket",
        }})
    } else {
        json!({"clock": {
            "date": date.to_string(),
            "description": "Market is closed",
            "state": "closed",
            "timestamp": shared.sim.as_of().timestamp(),
            "next_change": "07:00",
            "next_state": "premarket",
        }})
    };
    json_reply(&body)
}
