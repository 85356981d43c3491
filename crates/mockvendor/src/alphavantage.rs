//! Alpha Vantage `/query` functions (`spec/vendors.md` §2). Every answer is HTTP 200.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{Datelike, Duration, Months, NaiveDate};
use ivcrush_core::{EarningsEvent, Timing};
use ivcrush_market::sim::universe::{self, TickerParams};
use ivcrush_market::{EarningsCalendar, PriceHistory};
use serde_json::{Value, json};

use crate::{Params, Shared, json as json_reply, reply};

const INVALID_KEY: &str = "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.";
const DEMO_KEY: &str = "The **demo** API key is for demo purposes only. Please claim your free API key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than 20 seconds.";
const PREMIUM_ENDPOINT: &str = "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints";
const PREMIUM_FULL: &str = "Thank you for using Alpha Vantage! The outputsize=full parameter value is a premium feature for the TIME_SERIES_DAILY endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium features";

fn message(key: &str, text: &str) -> Response {
    json_reply(&json!({ key: text }))
}

fn invalid_call(function: &str) -> Response {
    message(
        "Error Message",
        &format!(
            "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for {function}."
        ),
    )
}

pub(crate) async fn handle(shared: &Shared, method: &Method, params: &Params) -> Response {
    if method != Method::GET {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "Method Not Allowed".to_owned(),
        );
    }
    if let Some(expected) = &shared.config.expected_api_key {
        match params.get("apikey") {
            Some(k) if k == expected => {}
            Some(k) if k.eq_ignore_ascii_case("demo") => return message("Information", DEMO_KEY),
            _ => return message("Error Message", INVALID_KEY),
        }
    }
    let function = params.get("function").unwrap_or("");
    match function {
        "EARNINGS_CALENDAR" => calendar(shared, params).await,
        "EARNINGS" => earnings(shared, params).await,
        "TIME_SERIES_DAILY" => daily(shared, params).await,
        "TIME_SERIES_DAILY_ADJUSTED" => message("Information", PREMIUM_ENDPOINT),
        _ => invalid_call(function),
    }
}

/// Stable unit-interval hash (FNV-1a) for invented EPS numbers.
fn unit(parts: &[&[u8]]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// The fiscal quarter end a report belongs to (the schedule reports a fixed offset after it).
fn fiscal_date_ending(p: &TickerParams, report: NaiveDate) -> NaiveDate {
    let anchor = report - Duration::days(i64::from(p.report_offset_days));
    let (y, m) = (anchor.year(), anchor.month());
    let quarter_end = |y: i32, m: u32| {
        let day = if m == 3 || m == 12 { 31 } else { 30 };
        NaiveDate::from_ymd_opt(y, m, day).expect("valid quarter end")
    };
    let q = quarter_end(y, m.div_ceil(3) * 3);
    if q <= anchor {
        q
    } else if m <= 3 {
        quarter_end(y - 1, 12)
    } else {
        quarter_end(y, (m.div_ceil(3) - 1) * 3)
    }
}

/// The invented consensus estimate of a report (`None` for about one report in ten).
fn estimate(symbol: &str, report: NaiveDate) -> Option<f64> {
    let d = report.to_string();
    let base = 0.1 + 3.0 * unit(&[b"eps", symbol.as_bytes()]);
    let wobble = 1.0 + 0.2 * (unit(&[b"qtr", symbol.as_bytes(), d.as_bytes()]) - 0.5);
    (unit(&[b"missing", symbol.as_bytes(), d.as_bytes()]) >= 0.1)
        .then(|| (base * wobble * 100.0).round() / 100.0)
}

fn time_of_day(t: Timing) -> &'static str {
    match t {
        Timing::Bmo => "pre-market",
        Timing::Amc => "post-market",
        Timing::Unknown => "",
    }
}

/// One RFC-4180 field.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

async fn calendar(shared: &Shared, params: &Params) -> Response {
    let months = match params.get("horizon").unwrap_or("3month") {
        "3month" => 3,
        "6month" => 6,
        "12month" => 12,
        _ => return invalid_call("EARNINGS_CALENDAR"),
    };
    let from = shared.config.as_of;
    let to = from.checked_add_months(Months::new(months)).unwrap_or(from);
    let only = params.get("symbol");
    let records = shared.sim.calendar(from, to).await.unwrap_or_default();
    let mut rows: Vec<(String, String, EarningsEvent)> = records
        .iter()
        .map(|r| {
            (
                r.ticker.clone(),
                r.name.clone().unwrap_or_default(),
                r.event,
            )
        })
        .collect();
    for name in shared
        .config
        .symbols()
        .into_iter()
        .skip(shared.universe.len())
    {
        let Some(p) = shared.resolve(&name) else {
            continue;
        };
        for r in records.iter().filter(|r| r.ticker == p.symbol) {
            rows.push((name.clone(), format!("{name} Corp ({})", p.sector), r.event));
        }
    }
    let mut body =
        String::from("symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\n");
    for (symbol, name, event) in rows {
        if only.is_some_and(|s| s != symbol) {
            continue;
        }
        let Some(p) = shared.resolve(&symbol) else {
            continue;
        };
        let est = estimate(&symbol, event.date).map_or(String::new(), |e| format!("{e:.2}"));
        let _ = write!(
            body,
            "{},{},{},{},{},USD,{}\r\n",
            csv_field(&symbol),
            csv_field(&name),
            event.date,
            fiscal_date_ending(&p, event.date),
            est,
            time_of_day(event.timing)
        );
    }
    reply(StatusCode::OK, "application/x-download", body)
}

fn text_or_none(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "None".to_owned(), |v| format!("{v:.decimals$}"))
}

async fn earnings(shared: &Shared, params: &Params) -> Response {
    let Some(symbol) = params.get("symbol") else {
        return invalid_call("EARNINGS");
    };
    let Some(p) = shared.resolve(symbol) else {
        return json_reply(&json!({}));
    };
    let mut reports = shared.sim.past_reports(p.symbol).await.unwrap_or_default();
    reports.reverse(); // newest first
    let oldest = reports.last().map(|e| e.date);
    let mut annual: BTreeMap<i32, f64> = BTreeMap::new();
    let quarterly: Vec<Value> = reports
        .iter()
        .map(|e| {
            let fiscal = fiscal_date_ending(&p, e.date);
            let d = e.date.to_string();
            let est = if Some(e.date) == oldest {
                None // the oldest row lacks an estimate, as archived rows do
            } else {
                estimate(symbol, e.date)
            };
            let surprise_unit = unit(&[b"surprise", symbol.as_bytes(), d.as_bytes()]);
            let base = estimate(symbol, e.date).unwrap_or(1.0);
            let reported = ((base * (0.9 + 0.25 * surprise_unit)) * 100.0).round() / 100.0;
            *annual.entry(fiscal.year()).or_default() += reported;
            let surprise = est.map(|x| ((reported - x) * 100.0).round() / 100.0);
            let surprise_pct = est
                .zip(surprise)
                .filter(|(x, _)| *x != 0.0)
                .map(|(x, s)| 100.0 * s / x.abs());
            json!({
                "fiscalDateEnding": fiscal.to_string(),
                "reportedDate": d,
                "reportedEPS": format!("{reported:.2}"),
                "estimatedEPS": text_or_none(est, 2),
                "surprise": text_or_none(surprise, 2),
                "surprisePercentage": text_or_none(surprise_pct, 4),
                "reportTime": time_of_day(e.timing),
            })
        })
        .collect();
    let annual: Vec<Value> = annual
        .iter()
        .rev()
        .map(|(y, eps)| {
            json!({
                "fiscalDateEnding": format!("{y}-12-31"),
                "reportedEPS": format!("{eps:.2}"),
            })
        })
        .collect();
    json_reply(&json!({
        "symbol": symbol,
        "annualEarnings": annual,
        "quarterlyEarnings": quarterly,
    }))
}

async fn daily(shared: &Shared, params: &Params) -> Response {
    let Some(symbol) = params.get("symbol") else {
        return invalid_call("TIME_SERIES_DAILY");
    };
    if params
        .get("outputsize")
        .is_some_and(|s| s.eq_ignore_ascii_case("full"))
    {
        return message("Information", PREMIUM_FULL);
    }
    let Some(p) = shared.resolve(symbol) else {
        return invalid_call("TIME_SERIES_DAILY");
    };
    let bars = shared
        .sim
        .daily_bars(p.symbol, universe::epoch(), shared.config.as_of)
        .await
        .unwrap_or_default();
    let compact = &bars[bars.len().saturating_sub(100)..];
    let last = compact
        .last()
        .map_or_else(String::new, |b| b.date.to_string());
    // Built by hand: the object is keyed by date, newest first, as the vendor sends it.
    let q = |s: &str| Value::from(s).to_string();
    let mut body = format!(
        "{{\n    \"Meta Data\": {{\n        \"1. Information\": \"Daily Prices (open, high, low, close) and Volumes\",\n        \"2. Symbol\": {},\n        \"3. Last Refreshed\": \"{last}\",\n        \"4. Output Size\": \"Compact\",\n        \"5. Time Zone\": \"US/Eastern\"\n    }},\n    \"Time Series (Daily)\": {{",
        q(symbol)
    );
    for (i, b) in compact.iter().rev().enumerate() {
        let _ = write!(
            body,
            "{}\n        \"{}\": {{\n            \"1. open\": \"{:.4}\",\n            \"2. high\": \"{:.4}\",\n            \"3. low\": \"{:.4}\",\n            \"4. close\": \"{:.4}\",\n            \"5. volume\": \"{}\"\n        }}",
            if i == 0 { "" } else { "," },
            b.date,
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume
        );
    }
    body.push_str("\n    }\n}");
    reply(StatusCode::OK, "application/json", body)
}
