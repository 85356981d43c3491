//! Publishing to the real Redis: channel, stream, hash.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use ivcrush_ticker::{Keys, Snapshot, SymbolSource, TickerConfig, TickerService};

use crate::common::{cleanup, redis_url, unique_prefix, wait_until};

fn config(url: &str, prefix: &str, rate: u32, maxlen: usize) -> TickerConfig {
    let mut c = TickerConfig::sim(url, rate);
    c.symbols = SymbolSource::List(vec!["KVLT".to_owned(), "ARGO.B".to_owned()]);
    c.publisher.keys = Keys::new(prefix);
    c.publisher.stream_maxlen = maxlen;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_arrive_on_the_channel_and_the_stream_and_parse() {
    let Some(url) = redis_url("updates_arrive_on_the_channel_and_the_stream_and_parse") else {
        return;
    };
    let prefix = unique_prefix("publish");
    let keys = Keys::new(prefix.as_str());
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut pubsub = client.get_async_pubsub().await.expect("pubsub connection");
    pubsub
        .subscribe(keys.channel("KVLT"))
        .await
        .expect("subscribe");
    let service = TickerService::start(config(&url, &prefix, 2_000, 100_000), None)
        .await
        .expect("service starts");

    let mut messages = pubsub.on_message();
    let mut received = Vec::new();
    let collect = async {
        while received.len() < 20 {
            let Some(m) = messages.next().await else {
                break;
            };
            let payload: String = m.get_payload().expect("text payload");
            received.push(serde_json::from_str::<Snapshot>(&payload).expect("message parses"));
        }
    };
    tokio::time::timeout(Duration::from_secs(5), collect)
        .await
        .expect("20 messages within 5 s");
    drop(messages);
    assert!(received.iter().all(|s| &*s.underlying == "KVLT"));
    assert!(
        received.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq increases"
    );
    assert!(
        received
            .iter()
            .any(|s| s.kind != ivcrush_ticker::InstrumentKind::Stock)
    );

    let summary = service.shutdown().await;
    assert!(summary.published > 0);
    assert_eq!(summary.dropped, 0, "nothing dropped with Redis up");

    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let len: usize = redis::cmd("XLEN")
        .arg(keys.stream())
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    assert_eq!(len as u64, summary.published, "one stream entry per update");
    let entries: redis::Value = redis::cmd("XREVRANGE")
        .arg(keys.stream())
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .expect("XREVRANGE");
    let text = format!("{entries:?}");
    for field in [
        "symbol",
        "underlying",
        "type",
        "bid",
        "ask",
        "iv",
        "delta",
        "timestamp_us",
        "seq",
    ] {
        assert!(text.contains(field), "stream entry has {field}: {text}");
    }
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_stays_trimmed_and_the_hash_holds_the_latest_value() {
    let Some(url) = redis_url("the_stream_stays_trimmed_and_the_hash_holds_the_latest_value")
    else {
        return;
    };
    let prefix = unique_prefix("trim");
    let keys = Keys::new(prefix.as_str());
    let service = TickerService::start(config(&url, &prefix, 20_000, 50), None)
        .await
        .expect("service starts");
    let stats = std::sync::Arc::clone(service.stats());
    assert!(
        wait_until(Duration::from_secs(5), || stats.published() >= 5_000).await,
        "5,000 updates published within 5 s"
    );
    let state = std::sync::Arc::clone(service.state());
    let summary = service.shutdown().await;
    assert_eq!(summary.dropped, 0);

    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let len: u64 = redis::cmd("XLEN")
        .arg(keys.stream())
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    // `MAXLEN ~ 50` trims whole macro nodes (100 entries by default): a few hundred at most.
    assert!(
        len < 400 && len < summary.published / 10,
        "stream trimmed: {len} entries after {} writes",
        summary.published
    );
    let snapshots = state.snapshots();
    assert!(!snapshots.is_empty());
    for s in snapshots.iter().take(50) {
        let hash: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys.last(&s.symbol))
            .query_async(&mut conn)
            .await
            .expect("HGETALL");
        assert_eq!(hash.get("seq"), Some(&s.seq.to_string()), "{}", s.symbol);
        assert_eq!(hash.get("symbol").map(String::as_str), Some(&*s.symbol));
        assert_eq!(
            hash.get("bid").and_then(|b| b.parse::<f64>().ok()),
            s.bid,
            "{}",
            s.symbol
        );
    }
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_out_every_update_is_published_in_order_with_several_batches_in_flight() {
    let Some(url) = redis_url("flat_out_every_update_is_published_in_order") else {
        return;
    };
    let prefix = unique_prefix("flatout");
    let keys = Keys::new(prefix.as_str());
    // Rate 0 = flat out; small batches so that many are on the wire at once.
    let mut config = config(&url, &prefix, 0, 1_000_000);
    config.publisher.batch_size = 64;
    config.publisher.max_in_flight = 8;
    let service = TickerService::start(config, None)
        .await
        .expect("service starts");
    let stats = std::sync::Arc::clone(service.stats());
    assert!(
        wait_until(Duration::from_secs(10), || stats.published() >= 10_000).await,
        "10,000 updates published within 10 s"
    );
    let summary = service.shutdown().await;
    // The flat-out simulated feed waits for room instead of dropping.
    assert_eq!(summary.dropped, 0, "{summary:?}");
    assert_eq!(summary.published, summary.ingested, "{summary:?}");

    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    // Read in pages: one XRANGE of the whole stream outlasts the client's response timeout.
    let mut seqs: Vec<u64> = Vec::new();
    let mut start = "-".to_owned();
    loop {
        let page: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(keys.stream())
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(2_000)
            .query_async(&mut conn)
            .await
            .expect("XRANGE");
        let Some((last_id, _)) = page.last() else {
            break;
        };
        start = format!("({last_id}");
        seqs.extend(page.iter().map(|(_, f)| {
            f.get("seq")
                .and_then(|s| s.parse::<u64>().ok())
                .expect("a seq field")
        }));
    }
    assert_eq!(seqs.len() as u64, summary.published, "one entry per update");
    let expected: Vec<u64> = (1..=summary.published).collect();
    assert!(
        seqs == expected,
        "stream entries in feed order, none missing"
    );
    cleanup(&url, &prefix).await;
}
