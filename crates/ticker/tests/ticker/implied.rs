//! The live implied move through real Redis: what the ticker publishes equals `analyze` on the
//! same quotes, read back from the ticker's own `last:` hashes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures_util::StreamExt;
use ivcrush_core::moves::HistoricalMove;
use ivcrush_core::types::Pct;
use ivcrush_core::{
    AnalysisInput, AnalyticsConfig, EarningsEvent, OptionChain, OptionKind, OptionQuote, analyze,
};
use ivcrush_market::EarningsCalendar;
use ivcrush_market::sim::{RATE, SimMarket};
use ivcrush_ticker::feed::UpcomingReports;
use ivcrush_ticker::implied::{ImpliedFeed, ImpliedUpdate};
use ivcrush_ticker::{Keys, SymbolSource, TickerConfig, TickerService};

use crate::common::{cleanup, redis_url, unique_prefix};

const SEED: u64 = 42;

fn as_of_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 2).unwrap_or_default()
}

/// A universe ticker reporting 3–20 days after the as-of, and its report.
async fn reporting_soon(market: &SimMarket) -> (String, EarningsEvent) {
    let from = as_of_date() + Days::new(3);
    let records = market
        .calendar(from, as_of_date() + Days::new(20))
        .await
        .expect("the simulated calendar");
    let r = records.first().expect("a report in the window");
    (r.ticker.clone(), r.event)
}

/// Eight past reports, quarterly: `analyze` needs a history; the implied move does not use it.
fn history() -> Vec<HistoricalMove> {
    (1..=8u64)
        .rev()
        .map(|q| {
            let day = as_of_date() - Days::new(91 * q);
            HistoricalMove {
                report_date: day,
                timing: ivcrush_core::Timing::Amc,
                reaction_date: day + Days::new(1),
                reference_close: 100.0,
                close_move_pct: pct(3.0 + q as f64 * 0.5),
                gap_move_pct: pct(2.5),
                intraday_move_pct: pct(4.0),
                signed_close_pct: pct(-3.0),
            }
        })
        .collect()
}

fn pct(x: f64) -> Pct {
    Pct::new(x).expect("finite")
}

fn number(h: &HashMap<String, String>, field: &str) -> Option<f64> {
    h.get(field).filter(|v| !v.is_empty())?.parse().ok()
}

/// The quotes Redis holds for `underlying` (the `last:` hashes), as `analyze` takes them:
/// built here from the hash fields, not by the ticker's own code.
async fn quotes_in_redis(
    conn: &mut redis::aio::MultiplexedConnection,
    keys: &Keys,
    underlying: &str,
) -> (f64, Vec<OptionChain>, u64) {
    let pattern = format!("{}*", keys.last(underlying));
    let names: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(conn)
        .await
        .expect("KEYS");
    let mut spot = None;
    let mut chains: BTreeMap<NaiveDate, Vec<OptionQuote>> = BTreeMap::new();
    let mut newest = 0u64;
    for name in names {
        let h: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&name)
            .query_async(conn)
            .await
            .expect("HGETALL");
        if h.get("underlying").map(String::as_str) != Some(underlying) {
            continue; // another underlying sharing the prefix of this one's name
        }
        newest = newest.max(number(&h, "seq").unwrap_or(0.0) as u64);
        let (bid, ask) = (number(&h, "bid"), number(&h, "ask"));
        match h.get("type").map(String::as_str) {
            Some("stock") => spot = Some(0.5 * (bid.expect("bid") + ask.expect("ask"))),
            Some(kind @ ("call" | "put")) => {
                let Some(ask) = ask else { continue };
                let expiration: NaiveDate = h["expiration"].parse().expect("an expiration date");
                chains.entry(expiration).or_default().push(OptionQuote {
                    kind: if kind == "call" {
                        OptionKind::Call
                    } else {
                        OptionKind::Put
                    },
                    strike: number(&h, "strike").expect("a strike"),
                    bid: bid.unwrap_or(0.0),
                    ask,
                    last: number(&h, "last"),
                    volume: 0,
                    open_interest: 0,
                });
            }
            other => panic!("unexpected type {other:?} in {name}"),
        }
    }
    let chains = chains
        .into_iter()
        .map(|(expiration, quotes)| OptionChain {
            expiration,
            quotes,
            vendor: None,
        })
        .collect();
    (spot.expect("the underlying's quote"), chains, newest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_implied_move_equals_analyze_on_the_same_quotes() {
    let Some(url) = redis_url("the_published_implied_move_equals_analyze_on_the_same_quotes")
    else {
        return;
    };
    let market = SimMarket::new(SEED, as_of_date());
    let (underlying, event) = reporting_soon(&market).await;
    let prefix = unique_prefix("implied");
    let analytics = AnalyticsConfig::default();

    let mut config = TickerConfig::sim(url.clone(), 2_000);
    if let ivcrush_ticker::FeedConfig::Sim(sim) = &mut config.feed {
        sim.seed = SEED;
        sim.as_of = as_of_date();
    }
    config.symbols = SymbolSource::List(vec![underlying.clone()]);
    config.publisher.keys = Keys::new(prefix.clone());
    config.implied.reports = UpcomingReports {
        events: [(underlying.clone(), event)].into_iter().collect(),
        term: analytics.term.clone(),
    };
    config.implied.analytics = analytics.clone();
    config.implied.rate = RATE;
    config.implied.div = 0.0;
    config.implied.as_of = Some(market.as_of());
    config.implied.interval = Duration::from_millis(50);

    // Subscribed before the ticker starts: every update arrives on the channel too.
    let feed = ImpliedFeed::new(&url, &prefix).expect("a redis url");
    let mut updates = feed
        .subscribe(std::slice::from_ref(&underlying), Duration::from_secs(2))
        .await
        .expect("subscribes");

    let service = TickerService::start(config, None)
        .await
        .expect("the ticker starts");
    let mut received: Vec<ImpliedUpdate> = Vec::new();
    let got_two = tokio::time::timeout(Duration::from_secs(30), async {
        while received.len() < 2 {
            let Some(json) = updates.next().await else {
                break;
            };
            received.push(serde_json::from_str(&json).expect("an ImpliedUpdate"));
        }
    })
    .await;
    assert!(
        got_two.is_ok(),
        "two implied updates within 30 s: {received:?}"
    );
    assert!(
        received[1].seq > received[0].seq,
        "recomputed as quotes change"
    );
    let summary = service.shutdown().await;
    assert_eq!(summary.dropped, 0, "every quote reached Redis: {summary:?}");

    let client = redis::Client::open(url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let keys = Keys::new(prefix.clone());
    let json: String = redis::cmd("HGET")
        .arg(keys.implied_last(&underlying))
        .arg("json")
        .query_async(&mut conn)
        .await
        .expect("the latest implied move");
    let last: ImpliedUpdate = serde_json::from_str(&json).expect("an ImpliedUpdate");
    let live = last.live.clone().unwrap_or_else(|| {
        panic!("a figure, not an error: {:?}", last.error);
    });
    assert!(
        live.implied_move.event_pct.is_some(),
        "an event move: {live:?}"
    );

    let (spot, chains, newest) = quotes_in_redis(&mut conn, &keys, &underlying).await;
    assert_eq!(
        last.seq, newest,
        "the last implied move is computed from the last quotes"
    );
    assert_eq!(last.spot, Some(spot));
    let history = history();
    let as_of: DateTime<Utc> = last.as_of;
    let analysis = analyze(
        &AnalysisInput {
            ticker: &underlying,
            as_of,
            spot,
            rate: RATE,
            div: 0.0,
            event,
            chains: &chains,
            history: &history,
            bars: &[],
            expiration: None,
            quality: &[],
        },
        &analytics,
    )
    .expect("analyze");
    assert_eq!(live.implied_move, analysis.implied_move);
    assert_eq!(live.expiration, analysis.expiration);
    assert_eq!(last.earnings_date, analysis.earnings_date);
    cleanup(&url, &prefix).await;
}
