//! The Tradier streaming feed against a local session endpoint and websocket server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use futures_util::{SinkExt, StreamExt};
use ivcrush_ticker::feed::tradier::{self, StreamEvent, TradierFeed, TradierSettings, parse_event};
use ivcrush_ticker::{Ingest, InstrumentKind, StateStore, Stats, normalize};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::common::wait_until;

const FIXTURES: &str = "../../testdata/fixtures/vendors";

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_event_parses_including_numeric_strings() {
    let events: Vec<StreamEvent> = fixture("tradier_stream_events_AAPL.ndjson")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_event(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(events.len(), 7);
    assert!(matches!(&events[0], StreamEvent::Summary { prev_close: Some(p), .. } if *p == 249.88));
    assert!(
        matches!(&events[2], StreamEvent::Trade { price: Some(p), size: Some(100), .. } if *p == 251.37)
    );
    assert!(matches!(&events[4], StreamEvent::Trade { bid: Some(b), .. } if *b == 251.36));
    assert!(
        matches!(&events[6], StreamEvent::Trade { price: Some(p), size: Some(200), .. } if *p == 251.38)
    );
    let error = parse_event(&fixture("tradier_ws_error.json")).expect("parses");
    assert_eq!(
        error,
        StreamEvent::Error("ZZZZQ is not a valid symbol".to_owned())
    );
}

#[test]
fn the_subscribe_payload_matches_the_fixture() {
    let expected: serde_json::Value =
        serde_json::from_str(&fixture("tradier_ws_subscribe_payload.json")).expect("fixture");
    let symbols: Vec<String> = expected["symbols"]
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    let filter = ["quote", "trade", "summary"].map(str::to_owned);
    let payload: serde_json::Value = serde_json::from_str(&tradier::subscribe_payload(
        &symbols,
        expected["sessionid"].as_str().expect("sessionid"),
        &filter,
    ))
    .expect("JSON");
    for key in ["symbols", "sessionid", "filter", "linebreak", "validOnly"] {
        assert_eq!(payload[key], expected[key], "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_ingested_and_a_server_close_reconnects_with_a_new_session() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Session endpoint: a fresh id per POST; the bearer token is checked.
    let sessions = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sessions);
    let app = Router::new().route(
        "/v1/markets/events/session",
        post(move |headers: HeaderMap| {
            let counter = Arc::clone(&counter);
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                if auth != "Bearer test-token" {
                    return (axum::http::StatusCode::UNAUTHORIZED, String::new());
                }
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let body = serde_json::json!({"stream": {
                    "url": "https://stream.tradier.com/v1/markets/events",
                    "sessionid": format!("session-{n}"),
                }});
                (axum::http::StatusCode::OK, body.to_string())
            }
        }),
    );
    let http_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
    let http_addr = http_listener.local_addr().expect("http address");
    tokio::spawn(async move { axum::serve(http_listener, app).await });

    // Websocket server: records each subscribe payload, serves the fixture, then closes.
    let events = fixture("tradier_stream_events_AAPL.ndjson");
    let error = fixture("tradier_ws_error.json");
    let payloads = Arc::new(Mutex::new(Vec::<serde_json::Value>::new()));
    let ws_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
    let ws_addr = ws_listener.local_addr().expect("ws address");
    let seen = Arc::clone(&payloads);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = ws_listener.accept().await {
            let (events, error, seen) = (events.clone(), error.clone(), Arc::clone(&seen));
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                if let Some(Ok(Message::Text(p))) = ws.next().await
                    && let Ok(v) = serde_json::from_str(p.as_str())
                {
                    seen.lock().expect("lock").push(v);
                }
                for line in events.lines().filter(|l| !l.trim().is_empty()) {
                    if ws.send(Message::text(line.to_owned())).await.is_err() {
                        return;
                    }
                }
                let _ = ws.send(Message::text(error.replace('\n', ""))).await;
                let _ = ws.close(None).await; // server-side close: the client must reconnect
            });
        }
    });

    let mut settings = TradierSettings::new("test-token");
    settings.base_url = format!("http://{http_addr}");
    settings.ws_url = format!("ws://{ws_addr}/v1/markets/events");
    settings.chains = None; // the symbols below already name the options
    let symbols = ["AAPL", "AAPL260130C00250000", "AAPL260130P00250000"];
    let (_symbols_tx, symbols_rx) =
        watch::channel(normalize(symbols.iter().map(|s| (*s).to_owned()).collect()));
    let state = Arc::new(StateStore::new(100));
    let stats = Arc::new(Stats::new());
    let (tx, mut rx) = mpsc::channel(1_000);
    let ingest = Arc::new(Ingest::new(Arc::clone(&state), tx, Arc::clone(&stats)));
    let cancel = CancellationToken::new();
    let feed = Arc::new(TradierFeed::new(settings).expect("a tradier client"));
    let running = {
        let (feed, cancel) = (Arc::clone(&feed), cancel.clone());
        tokio::spawn(async move { feed.run(symbols_rx, ingest, cancel).await })
    };

    let seen = Arc::clone(&payloads);
    assert!(
        wait_until(Duration::from_secs(5), || seen.lock().expect("lock").len()
            >= 2)
        .await,
        "reconnected after the server closed"
    );
    cancel.cancel();
    running
        .await
        .expect("feed task")
        .expect("feed stops cleanly");

    let payloads = payloads.lock().expect("lock").clone();
    assert_eq!(payloads[0]["sessionid"], "session-1");
    assert_eq!(
        payloads[1]["sessionid"], "session-2",
        "a NEW session per connection"
    );
    assert!(sessions.load(Ordering::SeqCst) >= 2);
    assert_eq!(payloads[0]["symbols"].as_array().map(Vec::len), Some(3));
    assert_eq!(payloads[0]["linebreak"], true);

    let aapl = state.get("AAPL").expect("AAPL quoted");
    assert_eq!(aapl.kind, InstrumentKind::Stock);
    assert_eq!(aapl.last, Some(251.38), "the tradex print is the latest");
    assert_eq!(aapl.last_size, Some(200));
    assert_eq!((aapl.bid, aapl.ask), (Some(251.36), Some(251.38)));
    let call = state.get("AAPL260130C00250000").expect("call quoted");
    assert_eq!(call.kind, InstrumentKind::CALL);
    assert_eq!(call.strike, Some(250.0));
    assert_eq!(
        (call.bid, call.ask, call.bid_size),
        (Some(6.05), Some(6.2), Some(41))
    );
    let put = state.get("AAPL260130P00250000").expect("put traded");
    assert_eq!(put.last, Some(4.70));
    assert_eq!(put.underlying.as_ref(), "AAPL");
    // Six price events per connection (the summary carries no quote).
    let mut queued = 0;
    while rx.try_recv().is_ok() {
        queued += 1;
    }
    assert!(queued >= 12, "{queued} updates queued for publishing");
}

#[tokio::test]
async fn underlyings_expand_into_near_option_symbols_through_the_tradier_rest_api() {
    use ivcrush_core::OptionKind;
    use ivcrush_market::OptionsData;
    use ivcrush_mockvendor::{MockConfig, MockVendor};
    // Discovery uses the wall clock, so the mock serves the simulated market as of today.
    let today = ivcrush_core::calendar::new_york_date(chrono::Utc::now());
    let mock = MockVendor::start(MockConfig::new(42, today))
        .await
        .expect("mock vendor starts");
    let mut settings = TradierSettings::new("test-token");
    settings.base_url = mock.base_url();
    let feed = TradierFeed::new(settings).expect("a tradier client");
    let got = feed.expand_symbols(&["AXON".to_string()]).await;
    assert!(got.contains(&"AXON".to_string()), "{got:?}");
    let options: Vec<ivcrush_ticker::OccSymbol> = got
        .iter()
        .filter_map(|s| ivcrush_ticker::parse_occ(s))
        .collect();
    assert!(
        options.len() >= 4,
        "near calls and puts were added: {got:?}"
    );
    let sim = ivcrush_market::sim::SimMarket::new(42, today);
    let listed = sim.expirations("AXON").await.expect("sim expirations");
    let spot = sim.quotes(&["AXON".to_string()]).await.expect("sim quote")[0].last;
    for o in &options {
        assert_eq!(o.root, "AXON");
        assert!(
            listed.contains(&o.expiration),
            "{} is a listed expiry",
            o.expiration
        );
        assert!(
            (o.strike / spot - 1.0).abs() < 0.5,
            "strike {} near spot {spot}",
            o.strike
        );
    }
    assert!(options.iter().any(|o| o.kind == OptionKind::Call));
    assert!(options.iter().any(|o| o.kind == OptionKind::Put));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_streams_from_the_mock_vendor_through_a_keyed_session() {
    use ivcrush_market::OptionsData;
    use ivcrush_mockvendor::{MockConfig, MockVendor};
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Discovery uses the wall clock, so the mock serves the simulated market as of today.
    let today = ivcrush_core::calendar::new_york_date(chrono::Utc::now());
    let mock = MockVendor::start(MockConfig {
        expected_api_key: Some("stream-token".to_owned()),
        stream_interval: Duration::from_millis(50),
        ..MockConfig::new(42, today)
    })
    .await
    .expect("mock vendor starts");
    let mut settings = TradierSettings::new("stream-token");
    settings.base_url = mock.base_url();
    settings.ws_url = mock.ws_url();
    // The default chain selection: AXON is expanded into near options over REST first.
    let (_symbols_tx, symbols_rx) = watch::channel(normalize(vec!["AXON".to_owned()]));
    let state = Arc::new(StateStore::new(1_000));
    let stats = Arc::new(Stats::new());
    let (tx, mut rx) = mpsc::channel(100_000);
    let ingest = Arc::new(Ingest::new(Arc::clone(&state), tx, Arc::clone(&stats)));
    let cancel = CancellationToken::new();
    let feed = Arc::new(TradierFeed::new(settings).expect("a tradier client"));
    let running = {
        let (feed, cancel) = (Arc::clone(&feed), cancel.clone());
        tokio::spawn(async move { feed.run(symbols_rx, ingest, cancel).await })
    };
    let subscribed = || mock.stream_subscriptions().first().map(|s| s.symbols.len());
    let arrived = wait_until(Duration::from_secs(10), || {
        subscribed().is_some_and(|n| n > 1 && state.len() >= n)
    })
    .await;
    let mut queued = 0usize;
    while rx.try_recv().is_ok() {
        queued += 1;
    }
    cancel.cancel();
    running
        .await
        .expect("feed task")
        .expect("feed stops cleanly");
    assert!(
        arrived,
        "every subscribed symbol was quoted: {:?} subscribed, {} in the state",
        subscribed(),
        state.len()
    );

    // One session, issued with the key, used by the one subscription.
    let sessions = mock.stream_sessions();
    let subscriptions = mock.stream_subscriptions();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(subscriptions[0].session_id, sessions[0]);
    assert!(subscriptions[0].symbols.contains(&"AXON".to_owned()));

    let sim = ivcrush_market::sim::SimMarket::new(42, today);
    let spot = sim.quotes(&["AXON".to_owned()]).await.expect("sim quote")[0].clone();
    let axon = state.get("AXON").expect("AXON streamed");
    assert_eq!(axon.kind, InstrumentKind::Stock);
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    assert_eq!(axon.bid, spot.bid.map(cents));
    assert_eq!(axon.ask, spot.ask.map(cents));
    assert_eq!(
        axon.last,
        Some(cents(spot.last)),
        "the trade's string price"
    );
    assert_eq!(
        (axon.bid_size, axon.ask_size, axon.last_size),
        (Some(3), Some(5), Some(100))
    );
    let options: Vec<_> = state
        .snapshots()
        .into_iter()
        .filter(|s| s.kind.option().is_some())
        .collect();
    assert_eq!(options.len(), subscriptions[0].symbols.len() - 1);
    for o in &options {
        let chain = sim
            .chain("AXON", o.expiration.expect("an expiration"))
            .await
            .expect("sim chain");
        let c = chain
            .quotes
            .iter()
            .find(|q| Some(q.strike) == o.strike && Some(q.kind) == o.kind.option())
            .unwrap_or_else(|| panic!("{} is in the sim chain", o.symbol));
        assert_eq!((o.bid, o.ask), (Some(c.bid), Some(c.ask)), "{}", o.symbol);
    }
    assert!(
        options.iter().any(|o| o.iv.is_some() && o.delta.is_some()),
        "options are priced against the streamed underlying"
    );
    assert!(stats.ingested() >= subscriptions[0].symbols.len() as u64);
    assert!(queued > 0, "updates were queued for publishing");
    mock.shutdown().await;
}
