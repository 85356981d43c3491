//! # ivcrush-fuzzing — the bodies of the fuzz targets
//!
//! One function per target, each feeding bytes to the parsers of outside data and checking
//! that they never panic, plus the cheap invariants their results promise. The cargo-fuzz crate
//! (`fuzz/`, outside the workspace) calls these; so does this crate's `corpora` test, which
//! replays every committed corpus file under plain `cargo test` (no cargo-fuzz, no nightly).
//!
//! Most targets read their first byte as a selector (which parser) and the rest as the input.
//! Inputs that are not UTF-8 are dropped where the parser takes `&str` (the callers read text).

use std::str::from_utf8;

use chrono::NaiveDate;
use ivcrush_core::OptionQuote;
use ivcrush_market::{alphavantage, files, http, tradier};

mod http_request;

pub use http_request::http_request;

/// A target's body: one input.
pub type Target = fn(&[u8]);

/// Every target by name (the directory of its corpus under `fuzz/corpus/`).
pub const TARGETS: &[(&str, Target)] = &[
    ("tradier_json", tradier_json),
    ("tradier_stream", tradier_stream),
    ("alphavantage", alphavantage),
    ("import_files", import_files),
    ("config", config),
    ("batch_csv", batch_csv),
    ("http_request", http_request),
];

fn split(data: &[u8]) -> Option<(u8, &str)> {
    let (&selector, rest) = data.split_first()?;
    Some((selector, from_utf8(rest).ok()?))
}

fn check_quote(q: &OptionQuote) {
    assert!(
        q.strike.is_finite() && q.strike > 0.0,
        "strike {} kept",
        q.strike
    );
    assert!(q.bid.is_finite() && q.ask.is_finite(), "{q:?}");
    assert!(q.last.is_none_or(f64::is_finite), "{q:?}");
}

fn check_ascending<T: PartialOrd + std::fmt::Debug>(items: impl IntoIterator<Item = T>) {
    let items: Vec<T> = items.into_iter().collect();
    assert!(
        items.windows(2).all(|w| w[0] < w[1]),
        "not strictly ascending: {items:?}"
    );
}

fn check_bars(bars: &[ivcrush_core::Bar]) {
    check_ascending(bars.iter().map(|b| b.date));
    for b in bars {
        assert!(
            [b.open, b.high, b.low, b.close]
                .iter()
                .all(|p| p.is_finite()),
            "{b:?}"
        );
    }
}

/// Tradier REST bodies: chains (as contracts and as a chain), expirations (both forms),
/// quotes, history, clock, and the flexible numbers inside them.
pub fn tradier_json(data: &[u8]) {
    let Some((selector, body)) = split(data) else {
        return;
    };
    match selector % 8 {
        0 => {
            if let Ok(options) = tradier::parse_chain_options(body) {
                options.iter().filter_map(|o| o.to_quote()).for_each(|q| {
                    check_quote(&q);
                });
            }
        }
        1 => {
            // Ask for the chain the first contract names, so that Ok is reachable.
            let first = tradier::parse_chain_options(body)
                .ok()
                .and_then(|o| o.into_iter().next());
            let symbol = first
                .as_ref()
                .and_then(|o| o.underlying.clone())
                .unwrap_or_else(|| "AAPL".to_owned());
            let expiration = first
                .and_then(|o| o.expiration_date)
                .or(NaiveDate::from_ymd_opt(2026, 1, 30))
                .unwrap_or_default();
            if let Ok(chain) = tradier::parse_chain(body, &symbol, expiration) {
                assert_eq!(chain.expiration, expiration);
                chain.quotes.iter().for_each(check_quote);
                if let Some(p) = chain.vendor {
                    assert_eq!(
                        u32::try_from(chain.quotes.len()).unwrap_or(u32::MAX) + p.dropped,
                        p.contracts,
                        "every contract is either quoted or dropped"
                    );
                    assert!(p.greeks_missing <= p.contracts);
                }
            }
        }
        2 => {
            if let Ok(info) = tradier::parse_expiration_info(body) {
                check_ascending(info.iter().map(|e| e.date));
                for e in &info {
                    assert!(e.strikes.iter().all(|k| k.is_finite()), "{e:?}");
                }
            }
        }
        3 => {
            if let Ok(dates) = tradier::parse_expirations(body) {
                check_ascending(dates);
            }
        }
        4 => {
            if let Ok(q) = tradier::parse_quotes(body) {
                for q in &q.quotes {
                    assert!(q.last.is_finite(), "{q:?}");
                    assert!(q.bid.is_none_or(|b| b.is_finite() && b > 0.0), "{q:?}");
                    assert!(q.ask.is_none_or(|a| a.is_finite() && a > 0.0), "{q:?}");
                }
            }
        }
        5 => {
            if let Ok(bars) = tradier::parse_history(body) {
                check_bars(&bars);
            }
        }
        6 => {
            let _ = tradier::parse_clock(body);
        }
        _ => {
            if let Ok(Some(v)) = http::parse_flex(body) {
                assert!(v.is_finite(), "{body:?} -> {v}");
            }
        }
    }
}

/// Tradier streaming messages (one per line, each applied to the instrument's snapshot), OCC
/// option symbols and the ticker's symbol lists.
pub fn tradier_stream(data: &[u8]) {
    use ivcrush_ticker::feed::tradier::{apply_event, parse_event};
    let Some((selector, text)) = split(data) else {
        return;
    };
    match selector % 3 {
        0 => {
            let mut previous = None;
            for line in text.lines() {
                let Ok(event) = parse_event(line) else {
                    continue;
                };
                if let Some(s) = apply_event(&event, previous.as_ref(), |_| Some(250.0), 0.04) {
                    assert!(s.iv.is_none_or(f64::is_finite), "{s:?}");
                    assert!(s.delta.is_none_or(f64::is_finite), "{s:?}");
                    previous = Some(s);
                }
            }
        }
        1 => {
            if let Some(occ) = ivcrush_ticker::parse_occ(text) {
                assert!(occ.strike.is_finite() && occ.strike >= 0.0, "{occ:?}");
                let again =
                    ivcrush_ticker::format_occ(&occ.root, occ.expiration, occ.kind, occ.strike);
                assert_eq!(again, text, "an OCC symbol formats back to itself");
            }
        }
        _ => {
            if let Ok(list) = ivcrush_ticker::parse_symbol_list(text, "fuzz") {
                assert!(!list.is_empty());
                for s in &list {
                    assert!(
                        !s.is_empty() && !s.contains(|c: char| c == ',' || c.is_whitespace()),
                        "{s:?}"
                    );
                }
            }
        }
    }
}

/// The key given to [`alphavantage::classify_body`]: it must never show in an error.
const AV_KEY: &str = "k3yFUZZsecret";

/// Alpha Vantage bodies: the earnings calendar CSV, EARNINGS and TIME_SERIES_DAILY JSON, and
/// the classification of error bodies (with the key redacted).
pub fn alphavantage(data: &[u8]) {
    let Some((selector, body)) = split(data) else {
        return;
    };
    match selector % 4 {
        0 => {
            if let Ok(rows) = alphavantage::parse_calendar_csv(body) {
                assert!(rows.iter().all(|r| !r.symbol.is_empty()));
            }
        }
        1 => {
            if let Ok(events) = alphavantage::parse_earnings(body) {
                check_ascending(events.iter().map(|e| e.date));
            }
        }
        2 => {
            if let Ok(bars) = alphavantage::parse_daily(body) {
                check_bars(&bars);
            }
        }
        _ => {
            if let Some(e) = alphavantage::classify_body(body, AV_KEY) {
                assert!(!e.to_string().contains(AV_KEY), "key leaked: {e}");
            }
        }
    }
}

/// Import files: calendar, bars and chain-snapshot CSVs, Tradier-format JSON snapshots.
pub fn import_files(data: &[u8]) {
    let Some((selector, text)) = split(data) else {
        return;
    };
    let file = "fuzz.csv";
    match selector % 4 {
        0 => {
            let loaded = files::parse_calendar_csv(file, text);
            assert!(loaded.rows.iter().all(|r| !r.ticker.is_empty()));
        }
        1 => {
            let loaded = files::parse_bars_csv(file, text);
            for r in &loaded.rows {
                let b = &r.bar;
                assert!(b.low > 0.0 && b.low <= b.high, "{b:?}");
                assert!(b.open.is_finite() && b.close.is_finite(), "{b:?}");
            }
        }
        2 => {
            let loaded = files::parse_chains_csv(file, text);
            for r in &loaded.rows {
                check_quote(&r.quote);
                assert!(r.quote.bid >= 0.0 && r.quote.ask >= 0.0, "{r:?}");
                assert!(r.spot.is_none_or(f64::is_finite), "{r:?}");
            }
        }
        _ => {
            let loaded = files::parse_chain_json("fuzz.json", text);
            for c in &loaded.rows {
                assert!(!c.underlying.is_empty());
                c.chain.quotes.iter().for_each(check_quote);
            }
        }
    }
}

/// The configuration: TOML text, then (after a NUL byte) `NAME=value` lines of environment,
/// through the loader the binary uses (the process environment is not touched).
pub fn config(data: &[u8]) {
    let Ok(text) = from_utf8(data) else {
        return;
    };
    let (toml_text, env) = text.split_once('\0').unwrap_or((text, ""));
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if let Ok(loaded) =
        ivcrush_app::AppConfig::load_from_text(toml_text, serde_json::json!({}), vars)
    {
        let config = loaded.config;
        assert!(config.validate().is_ok(), "a loaded config is valid");
        let _ = config.show();
    }
}

/// `ivcrush batch` files and the comma-separated symbol lists of the commands.
pub fn batch_csv(data: &[u8]) {
    use ivcrush_app::symbols::{normalize_symbol, parse_symbol_list};
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            if let Ok(list) = ivcrush_app::batch_file::read_batch_list(rest) {
                for t in list.iter().filter(|t| t.problem.is_none()) {
                    assert_eq!(
                        normalize_symbol(&t.ticker).as_deref(),
                        Ok(t.ticker.as_str()),
                        "a listed ticker is normalised"
                    );
                }
            }
        }
        1 => {
            let Ok(text) = from_utf8(rest) else {
                return;
            };
            if let Ok(list) = parse_symbol_list(text) {
                for (i, s) in list.iter().enumerate() {
                    assert!(!list[..i].contains(s), "duplicate {s}");
                    assert_eq!(normalize_symbol(s).as_deref(), Ok(s.as_str()));
                }
            }
        }
        _ => {
            let Ok(text) = from_utf8(rest) else {
                return;
            };
            if let Ok(s) = ivcrush_core::Symbol::parse(text) {
                let again = ivcrush_core::Symbol::parse(s.as_str()).map(|s| s.into_string());
                assert_eq!(
                    again.as_deref(),
                    Ok(s.as_str()),
                    "normalising is idempotent"
                );
            }
        }
    }
}
