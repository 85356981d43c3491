//! Tradier: parsers on every fixture, and the client against a local wiremock server.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::NaiveDate;
use ivcrush_core::OptionKind;
use ivcrush_market::tradier::{self, TradierClient, TradierConfig};
use ivcrush_market::{MarketError, OptionsData, PriceHistory};
use ivcrush_resilience::{BreakerState, Limiter, PipelineConfig};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const TOKEN: &str = "SECRET-TRADIER-TOKEN-7f3a";

/// The vendor fixtures (the repository's `testdata/fixtures/vendors`).
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures/vendors")
}

/// One fixture's text.
pub fn fixture(name: &str) -> String {
    let p = fixture_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

/// Epoch ms `ms` from now.
pub fn expiry_in(ms: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    (now.as_millis() as u64 + ms).to_string()
}

/// Small, fast test settings: 200 ms attempts, retry base 20 ms, no quota windows.
pub fn fast_pipeline() -> PipelineConfig {
    let mut p = PipelineConfig {
        deadline_ms: 5_000,
        attempt_timeout_ms: 200,
        ..PipelineConfig::default()
    };
    p.retry.base_ms = 20;
    p.retry.cap_ms = 200;
    p.retry.seed = Some(7);
    p.retry.budget_ratio_pct = 100.0;
    p.retry.budget_floor_per_sec = 10.0;
    p
}

pub fn config(uri: &str) -> TradierConfig {
    let mut c = TradierConfig::new(TOKEN);
    c.base_url = uri.to_owned();
    c.resilience = fast_pipeline();
    c
}

fn client(uri: &str) -> TradierClient {
    TradierClient::new(config(uri)).expect("client")
}

fn json(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

// ---------- parsers ----------

#[test]
fn chain_fixture_has_thirty_options_with_quotes_only() {
    let chain = tradier::parse_chain(
        &fixture("tradier_chain_AAPL_2026-01-30.json"),
        "AAPL",
        d("2026-01-30"),
    )
    .expect("parse");
    assert_eq!(chain.quotes.len(), 30);
    assert_eq!(chain.strikes().len(), 15);
    let atm = chain.quote(OptionKind::Call, 250.0).expect("250 call");
    assert!(atm.bid > 0.0 && atm.ask > atm.bid);
    let supplied =
        tradier::parse_chain_options(&fixture("tradier_chain_AAPL_2026-01-30.json")).expect("raw");
    let g = supplied[0].greeks.as_ref().expect("greeks as supplied");
    assert_eq!(g.smv_vol, Some(0.731));
    // next expiry: the 232.5 put has no bid, no last
    let next = tradier::parse_chain(
        &fixture("tradier_chain_AAPL_2026-02-06.json"),
        "AAPL",
        d("2026-02-06"),
    )
    .expect("parse");
    let put = next.quote(OptionKind::Put, 232.5).expect("232.5 put");
    assert_eq!(put.bid, 0.0);
    assert_eq!(put.last, None);
    assert!(!put.is_valid());
}

#[test]
fn chain_of_another_expiration_or_underlying_is_refused() {
    let body = fixture("tradier_chain_AAPL_2026-02-06.json");
    let e = tradier::parse_chain(&body, "AAPL", d("2026-01-30")).expect_err("wrong expiry");
    let msg = e.to_string();
    assert!(
        msg.contains("asked for AAPL 2026-01-30") && msg.contains("2026-02-06"),
        "{msg}"
    );
    let e = tradier::parse_chain(&body, "MSFT", d("2026-02-06")).expect_err("wrong underlying");
    assert!(e.to_string().contains("MSFT"), "{e}");
    let ok = tradier::parse_chain(&body, "AAPL", d("2026-02-06")).expect("right chain");
    let meta = ok.vendor.expect("vendor metadata");
    assert_eq!(meta.dropped, 0);
    assert!(meta.quoted_at.is_some());
}

#[test]
fn chain_single_object_and_null_quirks() {
    let one = tradier::parse_chain(
        &fixture("tradier_chain_single_object_quirk.json"),
        "AAPL",
        d("2026-02-06"),
    )
    .expect("parse");
    assert_eq!(one.quotes.len(), 1);
    assert_eq!(one.quotes[0].strike, 250.0);
    assert_eq!(one.quotes[0].open_interest, 5094);
    let none = tradier::parse_chain(
        &fixture("tradier_chain_empty_null.json"),
        "AAPL",
        d("2026-02-06"),
    )
    .expect("");
    assert!(none.quotes.is_empty());
    // missing wrapper key, numeric strings and "None" are tolerated
    let odd = r#"{"options":{"option":{"option_type":"put","strike":"250.0","bid":"1.5","ask":"None","last":null,"volume":"12"}}}"#;
    let c = tradier::parse_chain(odd, "AAPL", d("2026-02-06")).expect("odd");
    assert_eq!(c.quotes[0].strike, 250.0);
    assert_eq!(c.quotes[0].bid, 1.5);
    assert_eq!(c.quotes[0].ask, 0.0);
    assert_eq!(c.quotes[0].volume, 12);
    // A quote without any date, or with 0s, has no vendor timestamp (never the epoch).
    for body in [
        r#"{"quotes":{"quote":{"symbol":"AAPL","last":87.35,"bid":87.3,"ask":87.4}}}"#,
        r#"{"quotes":{"quote":{"symbol":"AAPL","last":87.35,"trade_date":0,"bid_date":0,"ask_date":0}}}"#,
    ] {
        let q = &tradier::parse_quotes(body).expect("undated").quotes[0];
        assert_eq!(q.quoted_at, None, "{body}");
    }
    assert!(
        tradier::parse_chain(r#"{"options":{}}"#, "AAPL", d("2026-02-06"))
            .expect("empty")
            .quotes
            .is_empty()
    );
}

#[test]
fn expirations_in_every_shape() {
    let plain = tradier::parse_expirations(&fixture("tradier_expirations_AAPL.json")).expect("");
    assert_eq!(plain.len(), 21);
    assert_eq!(plain[0], d("2026-01-30"));
    assert!(plain.contains(&d("2026-06-18")));
    assert!(plain.windows(2).all(|w| w[0] < w[1]));
    let info =
        tradier::parse_expiration_info(&fixture("tradier_expirations_AAPL_with_strikes.json"))
            .expect("");
    assert!(!info.is_empty());
    assert_eq!(info[0].date, d("2026-01-30"));
    assert!(info[0].strikes.contains(&250.0));
    assert_eq!(info[0].expiration_type.as_deref(), Some("weeklys"));
    let single =
        tradier::parse_expirations(&fixture("tradier_expirations_single_string_quirk.json"))
            .expect("");
    assert_eq!(single, vec![d("2026-02-20")]);
    let none =
        tradier::parse_expirations(&fixture("tradier_expirations_none_null.json")).expect("");
    assert!(none.is_empty());
}

#[test]
fn quotes_single_multi_and_unmatched() {
    let one = tradier::parse_quotes(&fixture("tradier_quote_AAPL.json")).expect("");
    assert_eq!(one.quotes.len(), 1);
    let q = &one.quotes[0];
    assert_eq!(q.symbol, "AAPL");
    assert_eq!(q.last, 251.37);
    assert_eq!(q.prev_close, Some(249.88));
    assert_eq!(
        q.quoted_at.map(|t| t.timestamp_millis()),
        Some(1_769_630_399_623)
    );
    assert!((q.price() - 251.37).abs() < 1e-9);
    let multi =
        tradier::parse_quotes(&fixture("tradier_quotes_multi_with_unmatched.json")).expect("");
    let syms: Vec<&str> = multi.quotes.iter().map(|q| q.symbol.as_str()).collect();
    assert_eq!(syms, ["AAPL", "MSFT"]);
    assert_eq!(multi.unmatched.len(), 1);
    let none = tradier::parse_quotes(&fixture("tradier_quotes_all_unmatched.json")).expect("");
    assert!(none.quotes.is_empty());
    assert_eq!(none.unmatched, ["ZZZZQ"]);
}

#[test]
fn history_and_clock() {
    let bars = tradier::parse_history(&fixture("tradier_history_AAPL_daily_60d.json")).expect("");
    assert_eq!(bars.len(), 60);
    assert_eq!(bars[0].date, d("2025-10-30"));
    assert_eq!(bars[59].date, d("2026-01-27"));
    assert_eq!(bars[1].volume, 90_472_690);
    assert!(bars.windows(2).all(|w| w[0].date < w[1].date));
    assert!(
        tradier::parse_history(&fixture("tradier_history_none_null.json"))
            .expect("")
            .is_empty()
    );
    let open = tradier::parse_clock(&fixture("tradier_clock_open.json")).expect("");
    assert_eq!(open.state, "open");
    assert_eq!(open.timestamp.map(|t| t.timestamp()), Some(1_769_630_400));
    let closed = tradier::parse_clock(&fixture("tradier_clock_closed.json")).expect("");
    assert_eq!(closed.next_state.as_deref(), Some("premarket"));
}

#[test]
fn error_bodies_and_rate_headers() {
    use ivcrush_market::http::{RateHeaders, error_message, rate_limit_wait};
    use reqwest::header::{HeaderMap, HeaderValue};
    assert_eq!(
        error_message(&fixture("tradier_401_invalid_token.json")),
        "Invalid Access Token"
    );
    assert_eq!(
        error_message(&fixture("tradier_400_errors.json")),
        "Invalid Parameter: start"
    );
    assert_eq!(error_message(r#"{"errors":{"error":"bad"}}"#), "bad");
    assert_eq!(
        error_message("Invalid Access Token\n"),
        "Invalid Access Token"
    );
    // headers of the fixture (Expiry in ms; seconds accepted too)
    let mut h = HeaderMap::new();
    for line in fixture("tradier_headers_ratelimit_ok.http").lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            h.insert(
                reqwest::header::HeaderName::from_bytes(k.trim().as_bytes()).expect("name"),
                HeaderValue::from_str(v.trim()).expect("value"),
            );
        }
    }
    let r = RateHeaders::from_headers(&h);
    assert_eq!(
        (r.allowed, r.used, r.available, r.expiry),
        (Some(120), Some(87), Some(33), Some(1_769_630_437_000))
    );
    let at = UNIX_EPOCH + Duration::from_millis(1_769_630_400_000);
    assert_eq!(r.reset_in(at), Some(Duration::from_secs(37)));
    h.insert("x-ratelimit-expiry", HeaderValue::from_static("1769630437"));
    assert_eq!(rate_limit_wait(&h, at), Some(Duration::from_secs(37)));
    let mut ra = HeaderMap::new();
    ra.insert("retry-after", HeaderValue::from_static("2"));
    assert_eq!(rate_limit_wait(&ra, at), Some(Duration::from_secs(2)));
}

#[test]
fn config_debug_redacts_the_token_and_serde_has_defaults() {
    let c: TradierConfig = serde_json::from_str(&format!(r#"{{"api_key":"{TOKEN}"}}"#)).expect("");
    assert_eq!(c.base_url, "https://api.tradier.com");
    // The vendor's fixed window, 120 per 60 s, with a one-second guard for the latency.
    let w = c.resilience.rate_limits[0];
    assert_eq!((w.limit, w.window_ms, w.guard_ms), (120, 60_000, 1_000));
    assert_eq!(w.model, ivcrush_resilience::WindowModel::Fixed);
    assert_eq!(c.resilience.retry.max_attempts, 0, "until the deadline");
    assert!(!format!("{c:?}").contains(TOKEN));
    assert_eq!(
        TradierConfig::sandbox("x").resilience.rate_limits[0].limit,
        60
    );
    // The production default pointed at the sandbox host gets the sandbox's quota …
    let pointed = TradierConfig {
        base_url: "https://sandbox.tradier.com".into(),
        ..TradierConfig::new("x")
    };
    assert_eq!(pointed.effective_rate_limits()[0].limit, 60);
    // … but an explicit quota is kept.
    let mut explicit = pointed.clone();
    explicit.resilience.rate_limits[0].limit = 30;
    assert_eq!(explicit.effective_rate_limits()[0].limit, 30);
    assert_eq!(c.effective_rate_limits()[0].limit, 120);
}

// ---------- client against wiremock ----------

#[tokio::test]
async fn sends_accept_and_bearer_and_parses_every_endpoint() {
    let server = MockServer::start().await;
    let auth = format!("Bearer {TOKEN}");
    Mock::given(method("GET"))
        .and(path("/v1/markets/options/chains"))
        .and(header("accept", "application/json"))
        .and(header("authorization", auth.as_str()))
        .and(query_param("symbol", "AAPL"))
        .and(query_param("expiration", "2026-01-30"))
        .and(query_param("greeks", "true"))
        .respond_with(json(fixture("tradier_chain_AAPL_2026-01-30.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/markets/options/expirations"))
        .and(header("authorization", auth.as_str()))
        .respond_with(json(fixture("tradier_expirations_AAPL.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/markets/history"))
        .and(query_param("interval", "daily"))
        .and(header("accept", "application/json"))
        .respond_with(json(fixture("tradier_history_AAPL_daily_60d.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/markets/quotes"))
        .and(query_param("symbols", "AAPL"))
        .respond_with(json(fixture("tradier_quote_AAPL.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/markets/quotes"))
        .and(header("authorization", auth.as_str()))
        .and(body_string_contains("symbols=AAPL%2CMSFT%2CZZZZQ"))
        .respond_with(json(fixture("tradier_quotes_multi_with_unmatched.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/markets/clock"))
        .respond_with(json(fixture("tradier_clock_open.json")))
        .mount(&server)
        .await;

    let mut cfg = config(&server.uri());
    cfg.post_quotes_above = 2;
    let c = TradierClient::new(cfg).expect("client");
    let chain = c.chain("AAPL", d("2026-01-30")).await.expect("chain");
    assert_eq!(chain.quotes.len(), 30);
    assert_eq!(c.expirations("AAPL").await.expect("exp").len(), 21);
    let bars = c
        .daily_bars("AAPL", d("2025-11-01"), d("2026-01-31"))
        .await
        .expect("bars");
    assert_eq!(bars.len(), 58);
    assert_eq!(bars[0].date, d("2025-11-03"));
    let q = c.quotes(&["AAPL".to_owned()]).await.expect("one quote");
    assert_eq!(q.len(), 1);
    let syms = ["AAPL", "MSFT", "ZZZZQ"].map(String::from);
    let detailed = c.quotes_detailed(&syms).await.expect("post");
    assert_eq!(detailed.quotes.len(), 2);
    assert_eq!(detailed.unmatched, ["ZZZZQ"]);
    assert_eq!(c.clock().await.expect("clock").state, "open");
    let ua = server.received_requests().await.expect("recorded")[0]
        .headers
        .get("user-agent")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    assert!(ua.is_some_and(|u| u.starts_with("ivcrush/")));
}

#[tokio::test]
async fn null_wrappers_are_no_data_and_never_breaker_failures() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/options/chains"))
        .respond_with(json(fixture("tradier_chain_empty_null.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/options/expirations"))
        .respond_with(json(fixture("tradier_expirations_none_null.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/history"))
        .respond_with(json(fixture("tradier_history_none_null.json")))
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/quotes"))
        .respond_with(json(fixture("tradier_quotes_all_unmatched.json")))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    for _ in 0..6 {
        assert!(
            c.chain("ZZZZQ", d("2026-01-30"))
                .await
                .expect("")
                .quotes
                .is_empty()
        );
        assert!(c.expirations("ZZZZQ").await.expect("").is_empty());
        let bars = c
            .daily_bars("ZZZZQ", d("2025-01-01"), d("2026-01-01"))
            .await;
        assert!(bars.expect("").is_empty());
        assert!(c.quotes(&["ZZZZQ".into()]).await.expect("").is_empty());
    }
    let snap = c.pipeline().breaker().snapshot();
    assert_eq!(snap.state, BreakerState::Closed);
    assert_eq!(snap.totals.failure, 0);
    assert_eq!(server.received_requests().await.expect("").len(), 24);
}

#[tokio::test]
async fn unauthorized_and_bad_request_are_typed_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/options/chains"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            fixture("tradier_401_invalid_token.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Invalid Access Token"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/history"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(fixture("tradier_400_errors.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let e = c.chain("AAPL", d("2026-01-30")).await.expect_err("401");
    assert_eq!(
        e,
        MarketError::Unauthorized {
            vendor: "tradier",
            message: "Invalid Access Token".into()
        }
    );
    assert!(!e.is_retryable());
    let e = c.clock().await.expect_err("401 text");
    assert!(
        matches!(e, MarketError::Unauthorized { ref message, .. } if message == "Invalid Access Token")
    );
    let e = c
        .daily_bars("AAPL", d("2026-01-01"), d("2025-01-01"))
        .await
        .expect_err("400");
    assert!(
        matches!(e, MarketError::BadRequest { ref message, .. } if message.contains("Invalid Parameter: start"))
    );
    assert_eq!(c.pipeline().breaker().snapshot().totals.failure, 0);
}

#[tokio::test]
async fn rate_limited_429_waits_for_the_expiry_hint_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-Ratelimit-Allowed", "120")
                .insert_header("X-Ratelimit-Used", "120")
                .insert_header("X-Ratelimit-Available", "0")
                .insert_header("X-Ratelimit-Expiry", expiry_in(1_000).as_str())
                .set_body_string("Rate limit exceeded"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(json(fixture("tradier_clock_open.json")))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let started = Instant::now();
    let clock = c.clock().await.expect("after the wait");
    let waited = started.elapsed();
    assert_eq!(clock.state, "open");
    assert!(waited >= Duration::from_millis(800), "waited {waited:?}");
    assert!(waited < Duration::from_millis(2_500), "waited {waited:?}");
    assert_eq!(server.received_requests().await.expect("").len(), 2);
    let snap = c.pipeline().breaker().snapshot();
    assert_eq!((snap.totals.failure, snap.totals.ignored), (0, 1));
}

#[tokio::test]
async fn rate_limited_429_is_typed_with_its_hint_when_attempts_run_out() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_string("Rate limit exceeded"),
        )
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri());
    cfg.resilience.retry.max_attempts = 1;
    let c = TradierClient::new(cfg).expect("client");
    let e = c.clock().await.expect_err("429");
    assert_eq!(
        e,
        MarketError::RateLimited {
            vendor: "tradier",
            retry_in: Some(Duration::from_secs(30))
        }
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn slow_answers_time_out_per_attempt() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(json(fixture("tradier_clock_open.json")).set_delay(Duration::from_secs(1)))
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri());
    cfg.resilience.retry.max_attempts = 2;
    let c = TradierClient::new(cfg).expect("client");
    let started = Instant::now();
    let e = c.clock().await.expect_err("timeout");
    assert_eq!(e, MarketError::Timeout { vendor: "tradier" });
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(c.pipeline().breaker().snapshot().totals.failure, 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/options/chains"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/markets/options/chains"))
        .respond_with(json(fixture("tradier_chain_AAPL_2026-02-06.json")))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let chain = c.chain("AAPL", d("2026-02-06")).await.expect("third try");
    assert_eq!(chain.quotes.len(), 30);
    assert_eq!(server.received_requests().await.expect("").len(), 3);
    assert_eq!(c.pipeline().breaker().snapshot().totals.failure, 2);
    // all attempts 5xx → typed Server error
    let down = MockServer::start().await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&down)
        .await;
    let e = client(&down.uri()).clock().await.expect_err("500");
    assert_eq!(
        e,
        MarketError::Server {
            vendor: "tradier",
            status: 500
        }
    );
}

#[tokio::test]
async fn available_zero_pauses_the_limiter_until_expiry() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(
            json(fixture("tradier_clock_open.json"))
                .insert_header("X-Ratelimit-Allowed", "120")
                .insert_header("X-Ratelimit-Used", "120")
                .insert_header("X-Ratelimit-Available", "0")
                .insert_header("X-Ratelimit-Expiry", expiry_in(600).as_str()),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri());
    c.clock().await.expect("200 answer");
    let limiter = c.pipeline().limiter();
    let soon = tokio::time::Instant::now() + Duration::from_millis(50);
    let refused = limiter.acquire(Some(soon)).await.expect_err("paused");
    assert!(refused.wait > Duration::from_millis(300), "{refused:?}");
    let started = Instant::now();
    c.clock().await.expect("second call waits for the pause");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn the_token_never_appears_in_errors() {
    // connection refused on a closed port
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let c = client(&format!("http://127.0.0.1:{port}"));
    let e = c.chain("AAPL", d("2026-01-30")).await.expect_err("refused");
    assert!(matches!(e, MarketError::Connect { .. }), "{e:?}");
    for text in [e.to_string(), format!("{e:?}"), format!("{c:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
    }
    // a 401 that echoes the token
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/clock"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad token {TOKEN}")))
        .mount(&server)
        .await;
    let e = client(&server.uri()).clock().await.expect_err("401");
    assert!(matches!(e, MarketError::Unauthorized { .. }));
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(TOKEN), "{text}");
    }
}

#[test]
fn one_or_many_takes_null_one_or_a_list_and_numbers_are_flexible() {
    use ivcrush_market::OneOrMany;
    let parse = |s: &str| {
        serde_json::from_str::<OneOrMany<u32>>(s)
            .expect(s)
            .into_vec()
    };
    assert_eq!(parse("null"), Vec::<u32>::new());
    assert_eq!(parse("7"), [7]);
    assert_eq!(parse("[1,2]"), [1, 2]);
    #[derive(serde::Deserialize)]
    struct N {
        #[serde(default, deserialize_with = "ivcrush_market::http::flex_f64")]
        x: Option<f64>,
    }
    let x = |s: &str| serde_json::from_str::<N>(s).expect(s).x;
    assert_eq!(x(r#"{"x": 1.5}"#), Some(1.5));
    assert_eq!(x(r#"{"x": "281.1200"}"#), Some(281.12));
    assert_eq!(x(r#"{"x": "None"}"#), None);
    assert_eq!(x(r#"{"x": null}"#), None);
    assert_eq!(x("{}"), None);
    assert!(serde_json::from_str::<N>(r#"{"x": "abc"}"#).is_err());
}

#[tokio::test]
async fn market_data_bundles_tradier_with_a_calendar() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/markets/options/expirations"))
        .respond_with(json(fixture(
            "tradier_expirations_single_string_quirk.json",
        )))
        .mount(&server)
        .await;
    let calendar = std::sync::Arc::new(ivcrush_market::FileMarket::default());
    let data = std::sync::Arc::new(client(&server.uri())).market_data(calendar);
    assert_eq!(data.source, "tradier");
    assert_eq!(
        data.options.expirations("AAPL").await.expect(""),
        [d("2026-02-20")]
    );
}
