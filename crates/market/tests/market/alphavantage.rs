//! Alpha Vantage: parsers and body classification on every fixture; the client on wiremock.

use std::time::Duration;

use ivcrush_core::Timing;
use ivcrush_market::alphavantage::{self, AlphaVantageClient, AlphaVantageConfig};
use ivcrush_market::{EarningsCalendar, MarketError, PriceHistory};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::tradier::{d, fast_pipeline, fixture};

const KEY: &str = "DEMOKEY000";

fn client(uri: &str) -> AlphaVantageClient {
    let mut c = AlphaVantageConfig::new(KEY);
    c.base_url = uri.to_owned();
    c.resilience = fast_pipeline();
    AlphaVantageClient::new(c).expect("client")
}

fn body(text: String, content_type: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(text, content_type)
}

#[test]
fn calendar_csv_crlf_quotes_empty_fields_and_unsorted_rows() {
    let rows =
        alphavantage::parse_calendar_csv(&fixture("av_earnings_calendar_3month.csv")).expect("");
    assert_eq!(rows.len(), 10);
    let brk = rows.iter().find(|r| r.symbol == "BRK-B").expect("BRK-B");
    assert_eq!(
        brk.name.as_deref(),
        Some("BERKSHIRE HATHAWAY INC., CLASS B")
    );
    assert_eq!(brk.estimate, None);
    assert_eq!(brk.timing, Timing::Unknown);
    assert_eq!(brk.report_date, d("2026-02-28"));
    let tm = rows.iter().find(|r| r.symbol == "TM").expect("TM");
    assert_eq!(tm.currency.as_deref(), Some("JPY"));
    assert_eq!(tm.estimate, Some(520.41));
    let aapl = rows.iter().find(|r| r.symbol == "AAPL").expect("AAPL");
    assert_eq!(aapl.timing, Timing::Amc);
    assert_eq!(aapl.name.as_deref(), Some("APPLE INC"));
    let ma = rows.iter().find(|r| r.symbol == "MA").expect("MA");
    assert_eq!(ma.timing, Timing::Bmo);
    assert!(
        !rows
            .windows(2)
            .all(|w| w[0].report_date <= w[1].report_date),
        "source unsorted"
    );
    assert!(
        rows.iter()
            .all(|r| !r.symbol.contains('\r') && r.currency.as_deref() != Some("USD\r"))
    );
    // columns by name, not position
    let shuffled = "timeOfTheDay,reportDate,symbol\r\npre-market,2026-03-01,XYZ\r\n";
    let r = alphavantage::parse_calendar_csv(shuffled).expect("");
    assert_eq!((r[0].symbol.as_str(), r[0].timing), ("XYZ", Timing::Bmo));
    assert!(
        alphavantage::parse_calendar_csv(&fixture("av_earnings_calendar_headers_only.csv"))
            .expect("")
            .is_empty()
    );
    // JSON where CSV was expected is classified, not parsed
    let e = alphavantage::parse_calendar_csv(&fixture("av_note_rate_limit.json")).expect_err("");
    assert!(matches!(e, MarketError::RateLimited { .. }));
}

#[test]
fn earnings_json_gives_oldest_first_with_none_and_missing_times() {
    let events = alphavantage::parse_earnings(&fixture("av_earnings_AAPL.json")).expect("");
    assert_eq!(events.len(), 12);
    assert_eq!(events[0].date, d("2023-02-02"));
    assert_eq!(events[0].timing, Timing::Unknown);
    assert_eq!(events[11].date, d("2025-10-30"));
    assert_eq!(events[11].timing, Timing::Amc);
    assert!(events.windows(2).all(|w| w[0].date < w[1].date));
    assert!(alphavantage::parse_earnings("{}").expect("").is_empty());
}

#[test]
fn daily_compact_sorted_oldest_first_and_adjusted_volume_at_key_six() {
    let bars =
        alphavantage::parse_daily(&fixture("av_time_series_daily_AAPL_compact.json")).expect("");
    assert_eq!(bars.len(), 60);
    assert_eq!(bars[0].date, d("2025-10-30"));
    assert_eq!(bars[59].date, d("2026-01-27"));
    assert_eq!(bars[59].close, 249.88);
    assert_eq!(bars[59].volume, 53_070_121);
    assert!(bars.windows(2).all(|w| w[0].date < w[1].date));
    // the same bars as Tradier history
    let tradier =
        ivcrush_market::tradier::parse_history(&fixture("tradier_history_AAPL_daily_60d.json"))
            .expect("");
    assert_eq!(bars, tradier);
    let adjusted =
        alphavantage::parse_daily(&fixture("av_time_series_daily_adjusted_AAPL_compact.json"))
            .expect("");
    assert_eq!(adjusted.len(), 60);
    assert_eq!(adjusted[59].volume, 53_070_121);
}

#[test]
fn every_message_body_is_classified() {
    let c = |f: &str| alphavantage::classify_body(&fixture(f), KEY).expect(f);
    assert!(matches!(
        c("av_error_message_invalid_call.json"),
        MarketError::BadRequest { .. }
    ));
    let MarketError::RateLimited { retry_in, .. } = c("av_note_rate_limit.json") else {
        panic!("note")
    };
    assert_eq!(retry_in, Some(Duration::from_secs(60)));
    let MarketError::RateLimited { retry_in, .. } = c("av_information_daily_limit.json") else {
        panic!("daily")
    };
    let wait = retry_in.expect("until midnight");
    assert!(wait > Duration::ZERO && wait <= Duration::from_secs(86_400));
    assert!(matches!(
        c("av_information_premium_endpoint.json"),
        MarketError::PlanLimit { .. }
    ));
    assert!(matches!(
        c("av_information_outputsize_full_premium.json"),
        MarketError::PlanLimit { .. }
    ));
    let demo = r#"{"Information": "The **demo** API key is for demo purposes only. Please claim your free API key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings."}"#;
    assert!(matches!(
        alphavantage::classify_body(demo, KEY),
        Some(MarketError::Config(_))
    ));
    // the daily-limit text names the key: redacted
    let daily = c("av_information_daily_limit.json");
    assert!(!format!("{daily:?}").contains(KEY));
    let e = alphavantage::classify_body(
        &fixture("av_error_message_invalid_call.json"),
        "documentation",
    );
    assert!(!format!("{e:?}").contains("documentation"));
    // data bodies are not messages
    assert!(alphavantage::classify_body(&fixture("av_earnings_AAPL.json"), KEY).is_none());
    assert!(
        alphavantage::classify_body(&fixture("av_earnings_calendar_3month.csv"), KEY).is_none()
    );
}

#[test]
fn config_defaults_and_redacted_debug() {
    let c: AlphaVantageConfig = serde_json::from_str(r#"{"api_key":"DEMOKEY000"}"#).expect("");
    assert_eq!(c.base_url, "https://www.alphavantage.co");
    let windows: Vec<(u32, u64)> = c
        .resilience
        .rate_limits
        .iter()
        .map(|w| (w.limit, w.window_ms))
        .collect();
    assert_eq!(windows, [(5, 60_000), (25, 86_400_000)]);
    assert!(!format!("{c:?}").contains(KEY));
}

#[tokio::test]
async fn client_fetches_calendar_reports_and_bars() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/query"))
        .and(query_param("function", "EARNINGS_CALENDAR"))
        .and(query_param("apikey", KEY))
        .respond_with(body(
            fixture("av_earnings_calendar_3month.csv"),
            "application/x-download",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/query"))
        .and(query_param("function", "EARNINGS"))
        .and(query_param("symbol", "AAPL"))
        .respond_with(body(fixture("av_earnings_AAPL.json"), "application/json"))
        .mount(&server)
        .await;
    Mock::given(path("/query"))
        .and(query_param("function", "TIME_SERIES_DAILY"))
        .and(query_param("outputsize", "compact"))
        .respond_with(body(
            fixture("av_time_series_daily_AAPL_compact.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let cal = c
        .calendar(d("2026-01-28"), d("2026-01-31"))
        .await
        .expect("calendar");
    assert_eq!(cal.len(), 6);
    assert_eq!(cal[0].ticker, "MSFT");
    assert!(cal.windows(2).all(|w| w[0].event.date <= w[1].event.date));
    let past = c.past_reports("AAPL").await.expect("reports");
    assert_eq!(past.len(), 12);
    assert_eq!(past[0].date, d("2023-02-02"));
    let bars = c
        .daily_bars("AAPL", d("2026-01-01"), d("2026-01-31"))
        .await
        .expect("bars");
    assert_eq!(bars.first().map(|b| b.date), Some(d("2026-01-02")));
    assert_eq!(bars.last().map(|b| b.date), Some(d("2026-01-27")));
}

#[tokio::test]
async fn premium_full_falls_back_to_compact_and_errors_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/query"))
        .and(query_param("outputsize", "full"))
        .respond_with(body(
            fixture("av_information_outputsize_full_premium.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/query"))
        .and(query_param("outputsize", "compact"))
        .respond_with(body(
            fixture("av_time_series_daily_AAPL_compact.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/query"))
        .and(query_param("function", "EARNINGS"))
        .respond_with(body(
            fixture("av_error_message_invalid_call.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/query"))
        .and(query_param("function", "EARNINGS_CALENDAR"))
        .respond_with(body(
            fixture("av_information_daily_limit.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut cfg = AlphaVantageConfig::new(KEY);
    cfg.base_url = server.uri();
    cfg.outputsize = "full".into();
    cfg.resilience = fast_pipeline();
    let c = AlphaVantageClient::new(cfg).expect("client");
    let bars = c
        .daily_bars("AAPL", d("2000-01-01"), d("2030-01-01"))
        .await
        .expect("fallback");
    assert_eq!(bars.len(), 60);
    let e = c.past_reports("NOPE").await.expect_err("error message");
    assert!(matches!(e, MarketError::BadRequest { .. }));
    // daily limit: retry hint until midnight is past the deadline → one request, typed
    let e = c
        .calendar(d("2026-01-01"), d("2026-02-01"))
        .await
        .expect_err("daily limit");
    assert!(
        matches!(
            e,
            MarketError::RateLimited {
                retry_in: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!format!("{e:?} {e}").contains(KEY));
    assert_eq!(c.pipeline().breaker().snapshot().totals.failure, 0);
}

#[tokio::test]
async fn the_key_never_appears_in_errors() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let c = client(&format!("http://127.0.0.1:{port}"));
    let e = c.past_reports("AAPL").await.expect_err("refused");
    assert!(matches!(e, MarketError::Connect { .. }), "{e:?}");
    for text in [e.to_string(), format!("{e:?}"), format!("{c:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
    let server = MockServer::start().await;
    Mock::given(path("/query"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("invalid key {KEY}")))
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .daily_bars("AAPL", d("2026-01-01"), d("2026-01-31"))
        .await
        .expect_err("401");
    assert!(matches!(e, MarketError::Unauthorized { .. }));
    for text in [e.to_string(), format!("{e:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
    // slow answer: the timeout error carries no URL either
    let slow = MockServer::start().await;
    Mock::given(path("/query"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(1)))
        .mount(&slow)
        .await;
    let mut cfg = AlphaVantageConfig::new(KEY);
    cfg.base_url = slow.uri();
    cfg.resilience = fast_pipeline();
    cfg.resilience.retry.max_attempts = 1;
    cfg.http.request_timeout_ms = 100;
    let e = AlphaVantageClient::new(cfg)
        .expect("client")
        .past_reports("AAPL")
        .await
        .expect_err("timeout");
    assert_eq!(
        e,
        MarketError::Timeout {
            vendor: "alphavantage"
        }
    );
}
