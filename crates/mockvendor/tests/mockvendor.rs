//! End-to-end: the real vendor clients against the mock, compared with the simulator.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use ivcrush_market::sim::SimMarket;
use ivcrush_market::sim::universe;
use ivcrush_market::{
    AlphaVantageClient, AlphaVantageConfig, EarningsCalendar, MarketError, OptionsData,
    PriceHistory, TradierClient, TradierConfig,
};
use ivcrush_mockvendor::{MockConfig, MockVendor};

const SEED: u64 = 42;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 28).unwrap()
}

fn sim() -> SimMarket {
    SimMarket::new(SEED, as_of())
}

async fn mock(f: impl FnOnce(&mut MockConfig)) -> MockVendor {
    let mut config = MockConfig::new(SEED, as_of());
    f(&mut config);
    MockVendor::start(config).await.expect("mock starts")
}

fn tradier(mock: &MockVendor, key: &str) -> TradierClient {
    let mut config = TradierConfig {
        base_url: mock.base_url(),
        api_key: key.to_owned(),
        ..TradierConfig::default()
    };
    config.resilience.rate_limits = Vec::new();
    config.resilience.attempt_timeout_ms = 5_000;
    config.resilience.deadline_ms = 10_000;
    config.resilience.retry.base_ms = 10;
    config.resilience.retry.cap_ms = 100;
    TradierClient::new(config).expect("tradier client")
}

fn alphavantage(mock: &MockVendor, key: &str) -> AlphaVantageClient {
    let mut config = AlphaVantageConfig {
        base_url: mock.base_url(),
        api_key: key.to_owned(),
        ..AlphaVantageConfig::default()
    };
    config.resilience.rate_limits = Vec::new();
    config.resilience.attempt_timeout_ms = 5_000;
    config.resilience.deadline_ms = 10_000;
    config.resilience.retry.base_ms = 10;
    config.resilience.retry.cap_ms = 100;
    AlphaVantageClient::new(config).expect("alpha vantage client")
}

fn symbols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn quotes_match_sim_via_get_and_post() {
    let mock = mock(|_| {}).await;
    let sim = sim();
    let client = tradier(&mock, "token");
    let wanted = symbols(&["AXON", "KVLT", "ARGO.B"]);
    let expected = sim.quotes(&wanted).await.unwrap();

    let mut asked = wanted.clone();
    asked.push("ZZZZQ".to_owned());
    let got = client.quotes_detailed(&asked).await.unwrap();
    assert_eq!(got.quotes, expected);
    assert_eq!(got.unmatched, vec!["ZZZZQ".to_owned()]);

    // One symbol: `quote` collapses to an object; nothing matched: no `quote` key.
    let one = client.quotes(&wanted[..1]).await.unwrap();
    assert_eq!(one, expected[..1].to_vec());
    let none = client.quotes_detailed(&symbols(&["NOPE"])).await.unwrap();
    assert!(none.quotes.is_empty());
    assert_eq!(none.unmatched, vec!["NOPE".to_owned()]);

    // Above `post_quotes_above` the client POSTs a form.
    let mut config = TradierConfig {
        base_url: mock.base_url(),
        api_key: "token".to_owned(),
        post_quotes_above: 1,
        ..TradierConfig::default()
    };
    config.resilience.rate_limits = Vec::new();
    let post = TradierClient::new(config).unwrap();
    assert_eq!(post.quotes(&wanted).await.unwrap(), expected);
    assert_eq!(mock.requests_by_path()["/v1/markets/quotes"], 4);
    assert_eq!(mock.requests(), 4);
}

#[tokio::test]
async fn expirations_and_chains_match_sim() {
    let mock = mock(|_| {}).await;
    let sim = sim();
    let client = tradier(&mock, "token");
    for symbol in ["AXON", "SAGE", "ARGO.B", "HALO"] {
        let expected = sim.expirations(symbol).await.unwrap();
        assert!(!expected.is_empty());
        assert_eq!(client.expirations(symbol).await.unwrap(), expected);
        for exp in expected.iter().take(2) {
            let want = sim.chain(symbol, *exp).await.unwrap();
            let got = client.chain(symbol, *exp).await.unwrap();
            assert!(!want.quotes.is_empty());
            // Same strikes, bid, ask, last, volume and open interest, in the same order.
            assert_eq!(got, want, "{symbol} {exp}");
        }
    }
    // As supplied: OCC symbols, expiration data and greeks.
    let exp = sim.expirations("AXON").await.unwrap()[0];
    let supplied = client.chain_as_supplied("AXON", exp).await.unwrap();
    let first = &supplied[0];
    let occ = format!(
        "AXON{}{}{:08}",
        exp.format("%y%m%d"),
        if first.option_type.as_deref() == Some("call") {
            'C'
        } else {
            'P'
        },
        (first.strike.unwrap() * 1000.0).round() as u64
    );
    assert_eq!(first.symbol, occ);
    assert_eq!(first.expiration_date, Some(exp));
    assert_eq!(first.underlying.as_deref(), Some("AXON"));
    let greeks = supplied
        .iter()
        .find_map(|o| o.greeks.clone())
        .expect("greeks");
    assert!(greeks.smv_vol.unwrap() > 0.0);
    assert!(greeks.delta.is_some());
    // With strikes: the object form.
    let info = client.expirations_with_strikes("AXON").await.unwrap();
    assert_eq!(info.len(), sim.expirations("AXON").await.unwrap().len());
    assert!(info.iter().all(|e| e.contract_size == Some(100)));
    let strikes: Vec<f64> = {
        let mut s: Vec<f64> = sim
            .chain("AXON", info[0].date)
            .await
            .unwrap()
            .quotes
            .iter()
            .map(|q| q.strike)
            .collect();
        s.sort_by(f64::total_cmp);
        s.dedup();
        s
    };
    assert_eq!(info[0].strikes, strikes);

    // Unknown symbol or expiry: null wrappers, empty answers, no errors.
    assert!(client.expirations("ZZZZQ").await.unwrap().is_empty());
    let wrong = NaiveDate::from_ymd_opt(2026, 1, 29).unwrap();
    assert!(client.chain("AXON", wrong).await.unwrap().quotes.is_empty());
    assert!(client.chain("ZZZZQ", exp).await.unwrap().quotes.is_empty());
}

#[tokio::test]
async fn history_matches_sim() {
    let mock = mock(|_| {}).await;
    let sim = sim();
    let client = tradier(&mock, "token");
    let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let to = as_of();
    let expected = sim.daily_bars("KVLT", from, to).await.unwrap();
    assert!(expected.len() > 200);
    assert_eq!(client.daily_bars("KVLT", from, to).await.unwrap(), expected);
    // One bar collapses to an object; no bars is `{"history": null}`.
    let day = expected[10].date;
    assert_eq!(
        client.daily_bars("KVLT", day, day).await.unwrap(),
        vec![expected[10]]
    );
    let sat = NaiveDate::from_ymd_opt(2025, 1, 4).unwrap();
    assert!(
        client
            .daily_bars("KVLT", sat, sat)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        client
            .daily_bars("ZZZZQ", from, to)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn clock_reports_the_as_of_session() {
    let mock = mock(|_| {}).await;
    let clock = tradier(&mock, "token").clock().await.unwrap();
    assert_eq!(clock.date, Some(as_of()));
    assert_eq!(clock.state, "open");
    assert_eq!(clock.timestamp, Some(sim().as_of()));
}

#[tokio::test]
async fn calendar_and_past_reports_match_sim() {
    let mock = mock(|_| {}).await;
    let sim = sim();
    let client = alphavantage(&mock, "key");
    let to = as_of() + chrono::Duration::days(60);
    let expected = sim.calendar(as_of(), to).await.unwrap();
    assert!(!expected.is_empty());
    assert_eq!(client.calendar(as_of(), to).await.unwrap(), expected);
    for symbol in ["AXON", "SAGE", "ARGO.B"] {
        let want = sim.past_reports(symbol).await.unwrap();
        assert!(want.len() > 10);
        assert_eq!(client.past_reports(symbol).await.unwrap(), want, "{symbol}");
    }
    // Unknown symbol: `{}` → no reports.
    assert!(client.past_reports("ZZZZQ").await.unwrap().is_empty());
    // The raw CSV: CRLF, header first, the x-download type.
    let raw = reqwest::get(format!(
        "{}/query?function=EARNINGS_CALENDAR&horizon=3month&symbol=AXON&apikey=key",
        mock.base_url()
    ))
    .await
    .unwrap();
    assert_eq!(raw.headers()["content-type"], "application/x-download");
    let text = raw.text().await.unwrap();
    assert!(
        text.starts_with(
            "symbol,name,reportDate,fiscalDateEnding,estimate,currency,timeOfTheDay\r\n"
        )
    );
    assert!(text.lines().skip(1).all(|l| l.starts_with("AXON,")));
}

#[tokio::test]
async fn alphavantage_daily_is_the_last_100_sessions() {
    let mock = mock(|_| {}).await;
    let sim = sim();
    let client = alphavantage(&mock, "key");
    let from = universe::epoch();
    let all = sim.daily_bars("AXON", from, as_of()).await.unwrap();
    let got = client.daily_bars("AXON", from, as_of()).await.unwrap();
    assert_eq!(got, all[all.len() - 100..].to_vec());
    let unknown = client.daily_bars("ZZZZQ", from, as_of()).await;
    assert!(matches!(unknown, Err(MarketError::BadRequest { .. })));
}

#[tokio::test]
async fn aliases_serve_the_mapped_ticker() {
    let mock = mock(|c| c.ticker_aliases = 200).await;
    let served = mock.symbols();
    assert_eq!(served.len(), 200);
    assert_eq!(served[60], "SIM001");
    assert_eq!(served[199], "SIM140");
    let mapped = universe::universe()[1].symbol;
    assert_eq!(mock.config().sim_ticker("SIM001"), Some(mapped));
    assert_eq!(mock.config().sim_ticker("SIM060"), Some("AXON"));
    assert_eq!(mock.config().sim_ticker("SIM141"), None);

    let sim = sim();
    let client = tradier(&mock, "token");
    let got = client
        .quotes_detailed(&symbols(&["SIM001", "SIM141"]))
        .await
        .unwrap();
    let mut want = sim.quotes(&[mapped.to_owned()]).await.unwrap();
    want[0].symbol = "SIM001".to_owned();
    assert_eq!(got.quotes, want);
    assert_eq!(got.unmatched, vec!["SIM141".to_owned()]);
    let exp = sim.expirations(mapped).await.unwrap()[1];
    assert_eq!(
        client.chain("SIM001", exp).await.unwrap(),
        sim.chain(mapped, exp).await.unwrap()
    );

    let av = alphavantage(&mock, "key");
    let to = as_of() + chrono::Duration::days(80);
    let calendar = av.calendar(as_of(), to).await.unwrap();
    let dates = |t: &str| -> Vec<_> {
        calendar
            .iter()
            .filter(|r| r.ticker == t)
            .map(|r| r.event)
            .collect()
    };
    assert!(!dates(mapped).is_empty());
    assert_eq!(dates("SIM001"), dates(mapped));
    for (k, alias) in served.iter().skip(60).enumerate().map(|(j, a)| (j + 1, a)) {
        assert_eq!(dates(alias), dates(&served[k % 60]), "{alias}");
    }
}

fn header(r: &reqwest::Response, name: &str) -> u64 {
    r.headers()[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn rate_limit_answers_429_beyond_the_quota() {
    let window = Duration::from_millis(400);
    let mock = mock(|c| c.rate_limit = Some((3, window))).await;
    let url = format!("{}/v1/markets/clock", mock.base_url());
    let http = reqwest::Client::new();
    let started_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for used in 1..=3u64 {
        let r = http.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-allowed"), 3);
        assert_eq!(header(&r, "x-ratelimit-used"), used);
        assert_eq!(header(&r, "x-ratelimit-available"), 3 - used);
    }
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-available"), 0);
    let expiry = header(&r, "x-ratelimit-expiry");
    assert!(
        expiry >= started_ms + 300 && expiry <= started_ms + 2_000,
        "{expiry}"
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "Rate limit exceeded");
    assert_eq!(mock.rate_limited(), 1);

    // The window resets `window` after its first request.
    tokio::time::sleep(window + Duration::from_millis(50)).await;
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-ratelimit-used"), 1);

    // The real client honours the headers (waits for the expiry) and gets through.
    let client = tradier(&mock, "token");
    for _ in 0..6 {
        client.clock().await.unwrap();
    }
    assert_eq!(
        mock.requests_by_path()["/v1/markets/clock"],
        mock.requests()
    );
}

#[tokio::test]
async fn latency_is_applied() {
    let mock = mock(|c| c.latency = Duration::from_millis(150)).await;
    let client = tradier(&mock, "token");
    client.clock().await.unwrap(); // warm the connection
    let t = Instant::now();
    client.clock().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn wrong_key_is_refused() {
    let mock = mock(|c| c.expected_api_key = Some("secret".to_owned())).await;
    let err = tradier(&mock, "wrong").clock().await.unwrap_err();
    assert!(
        matches!(&err, MarketError::Unauthorized { message, .. } if message == "Invalid Access Token"),
        "{err:?}"
    );
    let r = reqwest::get(format!("{}/v1/markets/clock", mock.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("keymanagement.service.invalid_access_token")
    );
    tradier(&mock, "secret").clock().await.unwrap();

    let err = alphavantage(&mock, "wrong")
        .past_reports("AXON")
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::BadRequest { .. }), "{err:?}");
    let err = alphavantage(&mock, "demo")
        .past_reports("AXON")
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::Config(_)), "{err:?}");
    assert!(
        !alphavantage(&mock, "secret")
            .past_reports("AXON")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let mock = mock(|_| {}).await;
    let url = format!("{}/v1/markets/clock", mock.base_url());
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    mock.shutdown().await;
    assert!(reqwest::get(&url).await.is_err());
}

async fn body(mock: &MockVendor, path_and_query: &str) -> serde_json::Value {
    let r = reqwest::Client::new()
        .get(format!("{}{path_and_query}", mock.base_url()))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn wire_shapes_follow_the_vendor_fixtures() {
    let mock = mock(|_| {}).await;
    let exp = sim().expirations("AXON").await.unwrap()[0];

    let one = body(&mock, "/v1/markets/quotes?symbols=AXON").await;
    assert!(one["quotes"]["quote"].is_object());
    assert!(one["quotes"].get("unmatched_symbols").is_none());
    let none = body(&mock, "/v1/markets/quotes?symbols=ZZZZQ").await;
    assert!(none["quotes"].get("quote").is_none());
    assert_eq!(none["quotes"]["unmatched_symbols"]["symbol"], "ZZZZQ");
    let q = &one["quotes"]["quote"];
    assert!(q["trade_date"].as_u64().unwrap() > 1_000_000_000_000);
    assert!(q["close"].is_null());

    for (path, key) in [
        (
            "/v1/markets/options/expirations?symbol=ZZZZQ",
            "expirations",
        ),
        (
            "/v1/markets/options/chains?symbol=AXON&expiration=2026-01-29",
            "options",
        ),
        (
            "/v1/markets/history?symbol=AXON&interval=daily&start=2025-01-04&end=2025-01-05",
            "history",
        ),
    ] {
        assert!(body(&mock, path).await[key].is_null(), "{path}");
    }
    let chain = body(
        &mock,
        &format!("/v1/markets/options/chains?symbol=AXON&expiration={exp}&greeks=false"),
    )
    .await;
    let first = &chain["options"]["option"][0];
    assert!(first.get("greeks").is_none());
    for field in [
        "symbol",
        "description",
        "type",
        "bid",
        "ask",
        "strike",
        "volume",
        "open_interest",
        "contract_size",
        "expiration_date",
        "expiration_type",
        "option_type",
        "root_symbol",
        "trade_date",
    ] {
        assert!(first.get(field).is_some(), "{field}");
    }

    let earnings = body(&mock, "/query?function=EARNINGS&symbol=AXON&apikey=k").await;
    let rows = earnings["quarterlyEarnings"].as_array().unwrap();
    assert!(rows[0]["reportedDate"].as_str() > rows[1]["reportedDate"].as_str());
    assert!(
        rows.iter()
            .all(|r| r["reportedEPS"].is_string() && r["reportTime"].is_string())
    );
    assert_eq!(rows.last().unwrap()["estimatedEPS"], "None");
    let daily = body(
        &mock,
        "/query?function=TIME_SERIES_DAILY&symbol=AXON&apikey=k",
    )
    .await;
    assert_eq!(daily["Time Series (Daily)"].as_object().unwrap().len(), 100);
    let full = body(
        &mock,
        "/query?function=TIME_SERIES_DAILY&symbol=AXON&outputsize=full&apikey=k",
    )
    .await;
    assert!(full["Information"].as_str().unwrap().contains("premium"));
}
