//! End-to-end: the real vendor clients against the mock, compared with the simulator.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use ivcrush_market::sim::SimMarket;
use ivcrush_market::sim::universe;
use ivcrush_market::{
    AlphaVantageClient, AlphaVantageConfig, EarningsCalendar, MarketError, OptionsData,
    PriceHistory, TradierClient, TradierConfig,
};
use ivcrush_mockvendor::{
    FaultCounts, Faults, GreeksMode, MockConfig, MockVendor, NEAR_ATM_STRIKES, QuoteDates,
};

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
        api_key: key.into(),
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
        api_key: key.into(),
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
        api_key: "token".into(),
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
            // (The client's chain also carries the vendor's metadata; the sim's has none.)
            assert_eq!(got.expiration, want.expiration, "{symbol} {exp}");
            assert_eq!(got.quotes, want.quotes, "{symbol} {exp}");
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
        client.chain("SIM001", exp).await.unwrap().quotes,
        sim.chain(mapped, exp).await.unwrap().quotes
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

// ---------------------------------------------------------------------------------------------
// Hostile options.

/// The statuses of `n` sequential GETs of `path`.
async fn statuses(mock: &MockVendor, path: &str, n: usize) -> Vec<u16> {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", mock.base_url());
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(http.get(&url).send().await.unwrap().status().as_u16());
    }
    out
}

fn faults(seed: u64, server_error: f64, rate_limited: f64, hang: f64) -> Faults {
    Faults {
        server_error,
        rate_limited,
        hang,
        hang_for: Duration::from_millis(1),
        ..Faults::new(seed)
    }
}

#[tokio::test]
async fn fault_frequencies_follow_the_probabilities_and_the_seed() {
    let config = faults(7, 0.10, 0.05, 0.05);
    let mock = mock(|c| c.faults = Some(config.clone())).await;
    let n = 2_000;
    let got = statuses(&mock, "/v1/markets/clock", n).await;
    let count = |s: u16| got.iter().filter(|x| **x == s).count() as u64;
    let injected = mock.faults_injected();
    assert_eq!(injected.server_errors, count(503));
    assert_eq!(injected.rate_limited, count(429));
    assert_eq!(count(200) as usize, n - (count(503) + count(429)) as usize);
    assert_eq!(mock.rate_limited(), count(429));
    let by_status = mock.requests_by_path_and_status();
    let at = |s: u16| {
        by_status
            .get(&("/v1/markets/clock".to_owned(), s))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(at(0), injected.hangs);
    assert_eq!(at(503), count(503));
    assert_eq!(at(429), count(429));
    assert_eq!(at(200) + at(0), count(200));
    assert_eq!(injected.total() + at(200), n as u64);
    for (k, p) in [
        (injected.server_errors, 0.10),
        (injected.rate_limited, 0.05),
        (injected.hangs, 0.05),
    ] {
        let f = k as f64 / n as f64;
        assert!((f - p).abs() < 0.03, "{f} vs {p}");
    }

    // Same seed, same order: the same sequence; another seed: another one.
    let again = mock_with(|c| c.faults = Some(config.clone())).await;
    assert_eq!(statuses(&again, "/v1/markets/clock", 300).await, got[..300]);
    let other = mock_with(|c| c.faults = Some(faults(8, 0.10, 0.05, 0.05))).await;
    assert_ne!(statuses(&other, "/v1/markets/clock", 300).await, got[..300]);

    // Alpha Vantage is left alone unless asked.
    let all = faults(1, 1.0, 0.0, 0.0);
    let mock = mock_with(|c| c.faults = Some(all.clone())).await;
    let av = "/query?function=EARNINGS&symbol=AXON&apikey=k";
    assert_eq!(statuses(&mock, av, 5).await, vec![200; 5]);
    assert_eq!(mock.faults_injected(), FaultCounts::default());
    let mock = mock_with(|c| {
        c.faults = Some(all.clone());
        c.faults_on_alphavantage = true;
    })
    .await;
    assert_eq!(statuses(&mock, av, 5).await, vec![503; 5]);
    assert_eq!(mock.faults_injected().server_errors, 5);
}

async fn mock_with(f: impl FnOnce(&mut MockConfig)) -> MockVendor {
    mock(f).await
}

#[tokio::test]
async fn injected_429_carries_the_rate_limit_headers() {
    let mock = mock(|c| {
        c.faults = Some(Faults {
            rate_limited: 1.0,
            retry_after: Duration::from_millis(1_500),
            ..Faults::new(3)
        });
    })
    .await;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let r = reqwest::get(format!(
        "{}/v1/markets/quotes?symbols=AXON",
        mock.base_url()
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), 2);
    assert_eq!(header(&r, "x-ratelimit-available"), 0);
    let expiry = header(&r, "x-ratelimit-expiry");
    assert!(
        expiry >= before + 1_500 && expiry <= before + 3_000,
        "{expiry} {before}"
    );
    assert_eq!(r.text().await.unwrap(), "Rate limit exceeded");
    assert_eq!(mock.faults_injected().rate_limited, 1);
}

#[tokio::test]
async fn hangs_are_cut_by_the_client_timeout() {
    let mock = mock(|c| {
        c.faults = Some(Faults {
            hang: 1.0,
            hang_for: Duration::from_secs(3),
            ..Faults::new(5)
        });
    })
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let t = Instant::now();
    let err = http
        .get(format!("{}/v1/markets/clock", mock.base_url()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(mock.faults_injected().hangs, 1);

    // A short hang is a slow but normal answer.
    let mock = mock_with(|c| {
        c.faults = Some(Faults {
            hang: 1.0,
            hang_for: Duration::from_millis(120),
            ..Faults::new(5)
        });
    })
    .await;
    let t = Instant::now();
    let r = reqwest::get(format!("{}/v1/markets/clock", mock.base_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(120));
}

async fn quote_and_chain(
    mock: &MockVendor,
    exp: NaiveDate,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let q = body(mock, "/v1/markets/quotes?symbols=AXON").await["quotes"]["quote"].clone();
    let chain = body(
        mock,
        &format!("/v1/markets/options/chains?symbol=AXON&expiration={exp}&greeks=true"),
    )
    .await;
    let options = chain["options"]["option"].as_array().unwrap().clone();
    (q, options)
}

const DATES: [&str; 3] = ["trade_date", "bid_date", "ask_date"];

#[tokio::test]
async fn quote_date_modes_show_on_the_wire() {
    let exp = sim().expirations("AXON").await.unwrap()[0];
    let stamp = sim().as_of().timestamp_millis();

    let mock = mock(|_| {}).await;
    let (q, options) = quote_and_chain(&mock, exp).await;
    for key in DATES {
        assert_eq!(q[key].as_i64(), Some(stamp), "{key}");
    }
    assert!(
        options
            .iter()
            .all(|o| o["bid_date"].as_i64() == Some(stamp))
    );

    let mock = mock_with(|c| c.quote_dates = QuoteDates::Missing).await;
    let (q, options) = quote_and_chain(&mock, exp).await;
    for key in DATES {
        assert!(q.get(key).is_none(), "{key}");
        assert!(options.iter().all(|o| o.get(key).is_none()), "{key}");
    }
    assert!(q.get("last").is_some());

    let mock = mock_with(|c| c.quote_dates = QuoteDates::Zero).await;
    let (q, options) = quote_and_chain(&mock, exp).await;
    for key in DATES {
        assert_eq!(q[key].as_i64(), Some(0), "{key}");
        assert!(options.iter().all(|o| o[key].as_i64() == Some(0)), "{key}");
    }
}

#[tokio::test]
async fn greeks_modes_show_on_the_wire() {
    let exp = sim().expirations("AXON").await.unwrap()[0];
    let mock = mock(|c| c.greeks = GreeksMode::Null).await;
    let (_, options) = quote_and_chain(&mock, exp).await;
    assert!(
        options
            .iter()
            .all(|o| o.get("greeks") == Some(&serde_json::Value::Null))
    );

    let mock = mock_with(|c| c.greeks = GreeksMode::Zero).await;
    let (_, options) = quote_and_chain(&mock, exp).await;
    for o in &options {
        let g = o["greeks"].as_object().unwrap();
        for key in [
            "delta", "gamma", "theta", "vega", "rho", "phi", "bid_iv", "mid_iv", "ask_iv",
            "smv_vol",
        ] {
            assert_eq!(g[key].as_f64(), Some(0.0), "{key}");
        }
        assert!(g["updated_at"].is_string());
    }
    // Through the client: as supplied, zero.
    let supplied = tradier(&mock, "token")
        .chain_as_supplied("AXON", exp)
        .await
        .unwrap();
    assert!(
        supplied
            .iter()
            .all(|o| o.greeks.as_ref().unwrap().smv_vol == Some(0.0))
    );
}

#[tokio::test]
async fn stale_quotes_shift_every_timestamp() {
    let exp = sim().expirations("AXON").await.unwrap()[0];
    let stale = Duration::from_secs(2 * 3600);
    let mock = mock(|c| c.stale_quotes = Some(stale)).await;
    let (q, options) = quote_and_chain(&mock, exp).await;
    let want = sim().as_of().timestamp_millis() - 7_200_000;
    for key in DATES {
        assert_eq!(q[key].as_i64(), Some(want), "{key}");
    }
    let traded = options
        .iter()
        .find(|o| o["trade_date"].as_i64() != Some(0))
        .unwrap();
    assert_eq!(traded["trade_date"].as_i64(), Some(want));
    assert!(options.iter().all(|o| o["ask_date"].as_i64() == Some(want)));
    let updated = (sim().as_of() - chrono::Duration::hours(2))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert_eq!(options[0]["greeks"]["updated_at"], updated.as_str());
}

#[tokio::test]
async fn spot_offset_moves_the_stock_quote_only() {
    let sim = sim();
    let exp = sim.expirations("AXON").await.unwrap()[0];
    let mock = mock(|c| c.spot_offset_pct = 5.0).await;
    let client = tradier(&mock, "token");
    let truth = sim.quotes(&symbols(&["AXON"])).await.unwrap().remove(0);
    let got = client.quotes(&symbols(&["AXON"])).await.unwrap().remove(0);
    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    assert_eq!(got.last, r2(truth.last * 1.05));
    assert_eq!(got.bid, truth.bid.map(|b| r2(b * 1.05)));
    assert_eq!(got.ask, truth.ask.map(|a| r2(a * 1.05)));
    assert_eq!(
        client.chain("AXON", exp).await.unwrap().quotes,
        sim.chain("AXON", exp).await.unwrap().quotes
    );
}

/// The strikes nearest the true AXON spot.
async fn near_strikes(exp: NaiveDate) -> Vec<f64> {
    let sim = sim();
    let spot = sim.quotes(&symbols(&["AXON"])).await.unwrap()[0].last;
    let mut strikes: Vec<f64> = sim
        .chain("AXON", exp)
        .await
        .unwrap()
        .quotes
        .iter()
        .map(|q| q.strike)
        .collect();
    strikes.sort_by(f64::total_cmp);
    strikes.dedup();
    strikes.sort_by(|a, b| (a - spot).abs().total_cmp(&(b - spot).abs()));
    strikes.truncate(NEAR_ATM_STRIKES);
    strikes
}

#[tokio::test]
async fn crossed_and_one_sided_near_the_money() {
    let sim = sim();
    let exp = sim.expirations("AXON").await.unwrap()[0];
    let near = near_strikes(exp).await;
    let truth = sim.chain("AXON", exp).await.unwrap();

    let mock = mock(|c| c.crossed_near_atm = true).await;
    let got = tradier(&mock, "token").chain("AXON", exp).await.unwrap();
    assert_eq!(got.quotes.len(), truth.quotes.len());
    let mut crossed = 0;
    for (g, t) in got.quotes.iter().zip(&truth.quotes) {
        if near.contains(&t.strike) {
            assert!(g.bid > g.ask, "{g:?}");
            crossed += 1;
        } else {
            assert_eq!(g, t);
        }
    }
    assert_eq!(crossed, 2 * NEAR_ATM_STRIKES);

    let mock = mock_with(|c| c.one_sided_near_atm = true).await;
    let got = tradier(&mock, "token").chain("AXON", exp).await.unwrap();
    for (g, t) in got.quotes.iter().zip(&truth.quotes) {
        if near.contains(&t.strike) {
            assert_eq!(g.bid, 0.0);
            assert_eq!(g.ask, t.ask);
        } else {
            assert_eq!(g, t);
        }
    }
}

#[tokio::test]
async fn wrong_expiration_answers_the_next_listed_one() {
    let listed = sim().expirations("AXON").await.unwrap();
    assert!(listed.len() >= 2);
    let mock = mock(|c| c.wrong_expiration = true).await;
    let (_, options) = quote_and_chain(&mock, listed[0]).await;
    let next = listed[1].to_string();
    assert!(
        options
            .iter()
            .all(|o| o["expiration_date"] == next.as_str())
    );
    let last = *listed.last().unwrap();
    let (_, options) = quote_and_chain(&mock, last).await;
    let before = listed[listed.len() - 2].to_string();
    assert!(
        options
            .iter()
            .all(|o| o["expiration_date"] == before.as_str())
    );
    // An unlisted date still answers null.
    let wrong = NaiveDate::from_ymd_opt(2026, 1, 29).unwrap();
    let none = body(
        &mock,
        &format!("/v1/markets/options/chains?symbol=AXON&expiration={wrong}"),
    )
    .await;
    assert!(none["options"].is_null());
}

mod streaming {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use serde_json::{Value, json};
    use tokio_tungstenite::tungstenite::Message;

    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    async fn connect(mock: &MockVendor) -> Ws {
        tokio_tungstenite::connect_async(mock.ws_url())
            .await
            .expect("websocket connects")
            .0
    }

    async fn subscribe(ws: &mut Ws, session: &str, symbols: &[&str]) {
        let payload = json!({
            "symbols": symbols, "sessionid": session, "filter": ["quote", "trade"],
            "linebreak": true, "validOnly": true, "advancedDetails": false,
        });
        ws.send(Message::text(payload.to_string()))
            .await
            .expect("subscribe sent");
    }

    /// The next event (`None` once the server closed), within 5 s.
    async fn next_event(ws: &mut Ws) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("an event within 5 s");
            match message {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return None,
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).expect("JSON event"));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    fn round2(x: f64) -> f64 {
        (x * 100.0).round() / 100.0
    }

    #[tokio::test]
    async fn a_fresh_session_streams_sim_quotes_and_trades_and_a_used_one_is_refused() {
        let mock = mock(|c| {
            c.expected_api_key = Some("secret".to_owned());
            c.stream_interval = Duration::from_millis(20);
        })
        .await;
        let err = tradier(&mock, "wrong")
            .create_stream_session()
            .await
            .expect_err("the key is checked");
        assert!(matches!(err, MarketError::Unauthorized { .. }), "{err:?}");
        let session = tradier(&mock, "secret")
            .create_stream_session()
            .await
            .expect("a session");
        assert_eq!(mock.stream_sessions(), vec![session.clone()]);

        let sim = sim();
        let spot = sim.quotes(&symbols(&["AXON"])).await.unwrap().remove(0);
        let expiration = sim.expirations("AXON").await.unwrap()[0];
        let chain = sim.chain("AXON", expiration).await.unwrap();
        let contract = &chain.quotes[chain.quotes.len() / 2];
        let occ = format!(
            "AXON{}{}{:08}",
            expiration.format("%y%m%d"),
            if contract.kind.is_call() { 'C' } else { 'P' },
            (contract.strike * 1000.0).round() as u64
        );

        let mut ws = connect(&mock).await;
        subscribe(&mut ws, &session, &["AXON", &occ, "ZZZZQ"]).await;
        let mut events = Vec::new();
        while events
            .iter()
            .filter(|e: &&Value| e["symbol"] == "AXON" && e["type"] == "quote")
            .count()
            < 2
        {
            events.push(next_event(&mut ws).await.expect("streaming"));
        }
        assert_eq!(events[0], json!({"error": "ZZZZQ is not a valid symbol"}));
        let stamp = sim.as_of().timestamp_millis();
        let quote = &events[1];
        assert_eq!(quote["type"], "quote");
        assert_eq!(quote["bid"].as_f64(), spot.bid.map(round2));
        assert_eq!(quote["ask"].as_f64(), spot.ask.map(round2));
        assert_eq!(quote["biddate"], stamp.to_string(), "epoch ms as a string");
        let trade = &events[2];
        assert_eq!(trade["type"], "trade");
        assert_eq!(trade["price"], format!("{:.2}", spot.last), "a string");
        assert_eq!(trade["size"], "100");
        let option = &events[3];
        assert_eq!(option["symbol"], occ.as_str());
        assert_eq!(option["bid"].as_f64(), Some(contract.bid));
        assert_eq!(option["ask"].as_f64(), Some(contract.ask));
        assert_eq!(events[4]["symbol"], "AXON", "the next round");
        assert_eq!(
            events[4]["biddate"],
            (stamp + 20).to_string(),
            "one interval later"
        );
        assert_eq!(mock.stream_subscriptions()[0].session_id, session);
        assert_eq!(mock.stream_subscriptions()[0].symbols.len(), 3);
        ws.close(None).await.expect("client close");

        // A used session id, then an unknown one: an error event and a close.
        for id in [session.as_str(), "not-a-session"] {
            let mut again = connect(&mock).await;
            subscribe(&mut again, id, &["AXON"]).await;
            let refusal = next_event(&mut again).await.expect("an error event");
            assert!(refusal["error"].is_string(), "{refusal}");
            assert_eq!(next_event(&mut again).await, None, "then a close");
        }
        assert_eq!(mock.stream_subscriptions().len(), 1);
        assert_eq!(mock.stream_connections(), 3);

        // Another path is not the websocket.
        let wrong = mock.ws_url().replace("/v1/markets/events", "/v1/other");
        assert!(tokio_tungstenite::connect_async(wrong).await.is_err());

        // Shutting the mock down closes an open stream.
        let session = tradier(&mock, "secret")
            .create_stream_session()
            .await
            .expect("another session");
        let mut open = connect(&mock).await;
        subscribe(&mut open, &session, &["AXON"]).await;
        assert!(next_event(&mut open).await.is_some());
        mock.shutdown().await;
        while next_event(&mut open).await.is_some() {}
    }
}
