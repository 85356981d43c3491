//! File import: bad rows reported with file, line and reason; good rows load; FileMarket works.

use ivcrush_core::{OptionKind, Timing};
use ivcrush_market::MarketError;
use ivcrush_market::files::{self, FileMarket};

use crate::tradier::{d, fixture};

const CALENDAR: &str = "ticker,date,timing,name\n\
AAPL,2026-01-29,AMC,APPLE INC\n\
msft,2026-01-28,post-market,\"MICROSOFT, CORP\"\n\
BAD,2026-13-01,BMO,\n\
CAT,2026-01-29,sometime,\n\
AAPL,2025-10-30,AMC,APPLE INC\n\
,2026-01-29,BMO,\n\
XOM,2026-01-30,,\n";

const BARS: &str = "ticker,date,open,high,low,close,volume\n\
AAPL,2026-01-26,251.31,251.53,246.72,251.12,47083645\n\
AAPL,2026-01-27,251.87,252.37,249.43,249.88,53070121\n\
AAPL,2026-01-23,abc,251.64,250.37,251.43,60813304\n\
AAPL,2026-01-22,250.0,249.0,251.0,250.5,1\n";

const CHAINS: &str = "as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta\n\
2026-01-28T20:00:00Z,KVLT,101.5,2026-02-20,100,call,3.10,3.30,3.2,10,200,0.45,0.55\n\
2026-01-28T20:00:00Z,KVLT,101.5,2026-02-20,100,put,1.90,2.05,,4,150,0.47,-0.45\n\
2026-01-28T20:00:00Z,KVLT,101.5,2026-02-20,105,straddle,1.0,1.1,,,,,\n\
2026-01-27T20:00:00Z,KVLT,99.0,2026-02-20,100,call,2.10,2.30,2.2,10,200,0.45,0.55\n\
2026-01-28T20:00:00Z,KVLT,101.5,2026-03-20,-5,call,1.0,1.1,,,,,\n";

#[test]
fn bad_rows_are_reported_with_file_line_and_reason() {
    let cal = files::parse_calendar_csv("calendar.csv", CALENDAR);
    assert_eq!(cal.rows.len(), 4);
    let lines: Vec<u64> = cal.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 5, 7]);
    assert!(cal.errors.iter().all(|e| e.file == "calendar.csv"));
    assert!(cal.errors[0].reason.contains("date"), "{}", cal.errors[0]);
    assert!(cal.errors[1].reason.contains("timing"), "{}", cal.errors[1]);
    assert_eq!(cal.rows[1].ticker, "MSFT");
    assert_eq!(cal.rows[1].name.as_deref(), Some("MICROSOFT, CORP"));
    assert_eq!(cal.rows[3].event.timing, Timing::Unknown);

    let bars = files::parse_bars_csv("bars.csv", BARS);
    assert_eq!(bars.rows.len(), 2);
    let lines: Vec<u64> = bars.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 5]);
    assert!(bars.errors[0].reason.contains("open"));
    assert!(bars.errors[1].to_string().starts_with("bars.csv:5: "));

    let chains = files::parse_chains_csv("chains.csv", CHAINS);
    assert_eq!(chains.rows.len(), 3);
    let lines: Vec<u64> = chains.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [4, 6]);
    assert!(chains.errors[0].reason.contains("option type"));

    let missing = files::parse_bars_csv("x.csv", "ticker,date,close\nA,2026-01-01,1\n");
    assert!(missing.rows.is_empty());
    assert_eq!(missing.errors[0].line, 1);
    assert!(missing.errors[0].reason.contains("open"));
}

#[test]
fn tradier_json_snapshots_use_the_client_parser() {
    let l = files::parse_chain_json("a.json", &fixture("tradier_chain_AAPL_2026-01-30.json"));
    assert!(l.errors.is_empty());
    assert_eq!(l.rows.len(), 1);
    assert_eq!(l.rows[0].underlying, "AAPL");
    assert_eq!(l.rows[0].chain.expiration, d("2026-01-30"));
    assert_eq!(l.rows[0].chain.quotes.len(), 30);
    let empty = files::parse_chain_json("e.json", &fixture("tradier_chain_empty_null.json"));
    assert!(empty.rows.is_empty() && empty.errors.is_empty());
    let bad = files::parse_chain_json("b.json", "[1,2");
    assert_eq!(bad.errors.len(), 1);
    assert_eq!(bad.errors[0].file, "b.json");
}

#[tokio::test]
async fn file_market_loads_a_directory_and_serves_the_traits() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("calendar.csv"), CALENDAR).expect("write");
    std::fs::write(dir.path().join("bars.csv"), BARS).expect("write");
    std::fs::write(dir.path().join("chains.csv"), CHAINS).expect("write");
    std::fs::create_dir(dir.path().join("chains")).expect("mkdir");
    std::fs::write(
        dir.path().join("chains/AAPL_2026-01-30.json"),
        fixture("tradier_chain_AAPL_2026-01-30.json"),
    )
    .expect("write");
    let (market, errors) = FileMarket::load(dir.path()).expect("load");
    assert_eq!(errors.len(), 3 + 2 + 2);
    assert!(
        errors
            .iter()
            .any(|e| e.file.ends_with("bars.csv") && e.line == 4)
    );
    let market = market.with_today(d("2026-01-28"));
    let data = market.market_data();
    assert_eq!(data.source, "files");

    assert_eq!(
        data.options.expirations("AAPL").await.expect(""),
        [d("2026-01-30")]
    );
    assert_eq!(
        data.options
            .chain("AAPL", d("2026-01-30"))
            .await
            .expect("")
            .quotes
            .len(),
        30
    );
    // the latest snapshot wins
    let kvlt = data.options.chain("KVLT", d("2026-02-20")).await.expect("");
    assert_eq!(kvlt.quotes.len(), 2);
    assert_eq!(
        kvlt.quote(OptionKind::Call, 100.0).map(|q| q.bid),
        Some(3.10)
    );
    let quotes = data
        .options
        .quotes(&["KVLT".into(), "AAPL".into(), "NONE".into()])
        .await
        .expect("");
    assert_eq!(quotes.len(), 2);
    assert_eq!(quotes[0].last, 101.5);
    assert_eq!(quotes[1].last, 249.88);
    assert!(matches!(
        data.options.expirations("NONE").await,
        Err(MarketError::UnknownSymbol(_))
    ));

    let bars = data
        .history
        .daily_bars("AAPL", d("2026-01-01"), d("2026-12-31"))
        .await
        .expect("");
    assert_eq!(bars.len(), 2);
    assert!(bars[0].date < bars[1].date);

    let cal = data
        .calendar
        .calendar(d("2026-01-28"), d("2026-01-31"))
        .await
        .expect("");
    let tickers: Vec<&str> = cal.iter().map(|r| r.ticker.as_str()).collect();
    assert_eq!(tickers, ["MSFT", "AAPL", "XOM"]);
    let past = data.calendar.past_reports("AAPL").await.expect("");
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].date, d("2025-10-30"));
    assert!(FileMarket::load(dir.path().join("missing")).is_err());
}

/// Replayed at an as-of, the files are what was known then: that day's latest snapshot at or
/// before the as-of (never a later one, never an older day's), and closed sessions' bars.
#[tokio::test]
async fn a_replay_sees_only_the_snapshots_and_bars_known_at_its_as_of() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bars.csv"), BARS).expect("write");
    std::fs::write(dir.path().join("chains.csv"), CHAINS).expect("write");
    let at = |s: &str| -> chrono::DateTime<chrono::Utc> { s.parse().expect("instant") };
    let replay = |t: &str| {
        let (market, _) = FileMarket::load(dir.path()).expect("load");
        market.with_as_of(at(t)).market_data()
    };
    let call_bid =
        |chain: &ivcrush_core::OptionChain| chain.quote(OptionKind::Call, 100.0).map(|q| q.bid);

    // The evening of the 27th: the 27th's snapshot, not the 28th's.
    let day1 = replay("2026-01-27T21:00:00Z");
    let chain = day1.options.chain("KVLT", d("2026-02-20")).await.expect("");
    assert_eq!(call_bid(&chain), Some(2.10));
    let spot = day1.options.quotes(&["KVLT".into()]).await.expect("");
    assert_eq!(spot[0].last, 99.0);
    assert_eq!(
        day1.options.expirations("KVLT").await.expect(""),
        [d("2026-02-20")],
        "the March chain was first seen on the 28th"
    );

    // The 28th after its snapshot: the 28th's.
    let day2 = replay("2026-01-28T21:00:00Z");
    let chain = day2.options.chain("KVLT", d("2026-02-20")).await.expect("");
    assert_eq!(call_bid(&chain), Some(3.10));

    // The 29th: no snapshot that day, so no chain (a two-day-old chain is not served).
    let day3 = replay("2026-01-29T21:00:00Z");
    let chain = day3.options.chain("KVLT", d("2026-02-20")).await.expect("");
    assert!(chain.quotes.is_empty());
    assert!(day3.options.expirations("KVLT").await.expect("").is_empty());

    // Bars: the 27th's session is not closed at 15:00 New York on the 27th.
    let morning = replay("2026-01-27T20:00:00Z");
    let bars = morning
        .history
        .daily_bars("AAPL", d("2026-01-01"), d("2026-12-31"))
        .await
        .expect("");
    assert_eq!(
        bars.iter().map(|b| b.date).collect::<Vec<_>>(),
        [d("2026-01-26")],
        "the 27th's bar is not there yet (the 22nd's row is a bad row)"
    );
    let quotes = morning.options.quotes(&["AAPL".into()]).await.expect("");
    assert_eq!(quotes[0].last, 251.12, "the last closed session's close");
}

/// What `ivcrush import chains` writes reads back as the same rows, and snapshots in
/// `chains/*.csv` are served like those of `chains.csv`.
#[tokio::test]
async fn imported_chain_files_round_trip_and_are_served() {
    let loaded = files::parse_chains_csv("chains.csv", CHAINS);
    let text = files::chains_csv_text(&loaded.rows);
    let again = files::parse_chains_csv("again.csv", &text);
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(again.rows, loaded.rows);

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("chains")).expect("mkdir");
    std::fs::write(dir.path().join("chains/imported.csv"), text).expect("write");
    let (market, errors) = FileMarket::load(dir.path()).expect("load");
    assert!(errors.is_empty(), "{errors:?}");
    let chain = market
        .market_data()
        .options
        .chain("KVLT", d("2026-02-20"))
        .await
        .expect("chain");
    assert_eq!(
        chain.quote(OptionKind::Call, 100.0).map(|q| q.bid),
        Some(3.10),
        "the latest snapshot"
    );
}
