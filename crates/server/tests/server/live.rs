//! `GET /api/v1/stream/implied`: the live implied moves of a real `ivcrush ticker` service (in
//! process, simulated feed, real Redis) relayed as server-sent events, and the dashboard's live
//! figure in headless Chromium driven over the DevTools protocol.

use std::time::Duration;

use chrono::{Days, NaiveDate};
use futures_util::{SinkExt, StreamExt};
use ivcrush_app::config::ProviderKind;
use ivcrush_app::{App, AppConfig};
use ivcrush_core::AnalyticsConfig;
use ivcrush_market::EarningsCalendar;
use ivcrush_market::sim::{RATE, SimMarket};
use ivcrush_ticker::feed::UpcomingReports;
use ivcrush_ticker::implied::ImpliedUpdate;
use ivcrush_ticker::{Keys, SymbolSource, TickerConfig, TickerService};
use tokio::io::AsyncBufReadExt;

use crate::support::{KEY, TestServer, error_body, start, start_app};

const SEED: u64 = 42;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 2).unwrap_or_default()
}

fn redis_url(test: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("SKIPPED {test}: REDIS_URL not set");
            None
        }
    }
}

fn unique_prefix(test: &str) -> String {
    format!("ivcrush-test:{test}:{}:", std::process::id())
}

/// The streaming ticker on `symbol` (its next report from the simulated calendar), publishing
/// under `prefix`: what `ivcrush ticker --feed sim --as-of 2026-02-02` runs.
async fn ticker(url: &str, prefix: &str, symbol: &str, rate: u32) -> TickerService {
    let market = SimMarket::new(SEED, as_of());
    let calendar = market
        .calendar(as_of(), as_of() + Days::new(120))
        .await
        .expect("the simulated calendar");
    let analytics = AnalyticsConfig::default();
    let reports = UpcomingReports::from_calendar(&calendar, as_of(), analytics.term.clone());
    assert!(reports.event(symbol).is_some(), "{symbol} has a report");
    let mut config = TickerConfig::sim(url.to_owned(), rate);
    if let ivcrush_ticker::FeedConfig::Sim(sim) = &mut config.feed {
        sim.seed = SEED;
        sim.as_of = as_of();
    }
    config.symbols = SymbolSource::List(vec![symbol.to_owned()]);
    config.publisher.keys = Keys::new(prefix);
    config.implied.reports = reports;
    config.implied.analytics = analytics;
    config.implied.rate = RATE;
    config.implied.as_of = Some(market.as_of());
    TickerService::start(config, None)
        .await
        .expect("the ticker starts")
}

/// A server relaying the live implied moves published to `url` under `prefix`.
async fn live_server(url: &str, prefix: &str) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(as_of().into()),
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    };
    config.ticker.redis = url.to_owned();
    config.ticker.key_prefix = prefix.to_owned();
    let app = App::open(config).await.expect("app opens");
    start_app(app, dir, |c| c.live_implied = true).await
}

async fn cleanup(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
    }
}

#[tokio::test]
async fn live_streams_answer_404_when_off_400_for_bad_tickers_and_401_without_a_key() {
    let s = start().await;
    let off = s.get("/api/v1/stream/implied?tickers=AAPL").await;
    let body = error_body(off, 404).await;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("server.live_implied")),
        "{body}"
    );
    for bad in ["AA$", "AAPL,,MSFT", ""] {
        let r = s
            .get(&format!("/api/v1/stream/implied?tickers={bad}"))
            .await;
        error_body(r, 400).await;
    }
    let fifty_one = vec!["A"; 51].join(",");
    let r = s
        .get(&format!("/api/v1/stream/implied?tickers={fifty_one}"))
        .await;
    error_body(r, 400).await;
    let r = s.get_anon("/api/v1/stream/implied?tickers=AAPL").await;
    error_body(r, 401).await;
    s.stop().await;
}

/// The `implied` events of an SSE body, parsed.
async fn next_events(
    resp: &mut reqwest::Response,
    n: usize,
    buf: &mut String,
) -> Vec<ImpliedUpdate> {
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(30), resp.chunk())
            .await
            .expect("an event within 30 s")
            .expect("the stream reads")
            .expect("the stream is open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(i) = buf.find("\n\n") {
            let block: String = buf.drain(..i + 2).collect();
            if block.lines().any(|l| l == "event: implied") {
                let data: String = block
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
                out.push(serde_json::from_str(&data).expect("an ImpliedUpdate"));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_relays_the_tickers_implied_moves_and_ends_at_shutdown() {
    let Some(url) = redis_url("the_stream_relays_the_tickers_implied_moves") else {
        return;
    };
    let prefix = unique_prefix("sse");
    let symbol = first_reporting(&SimMarket::new(SEED, as_of())).await;
    let feed = ticker(&url, &prefix, &symbol, 2_000).await;
    let s = live_server(&url, &prefix).await;
    let mut resp = s
        .client
        .get(s.url(&format!(
            "/api/v1/stream/implied?tickers={}",
            symbol.to_lowercase()
        )))
        .header("x-api-key", KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
    let mut buf = String::new();
    let events = next_events(&mut resp, 3, &mut buf).await;
    for e in &events {
        assert_eq!(e.underlying, symbol);
        let live = e
            .live
            .as_ref()
            .unwrap_or_else(|| panic!("a figure: {:?}", e.error));
        assert!(live.implied_move.straddle_pct > 0.0);
    }
    assert!(
        events.windows(2).skip(1).all(|w| w[1].seq > w[0].seq),
        "updates in order: {:?}",
        events.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
    // Shutdown ends the stream, so the server's drain does not wait for the client.
    let stopped = tokio::time::timeout(Duration::from_secs(5), s.stop()).await;
    assert!(stopped.is_ok(), "the server stops with a live stream open");
    feed.shutdown().await;
    cleanup(&url, &prefix).await;
}

/// A universe ticker with a report in the week after the as-of.
async fn first_reporting(market: &SimMarket) -> String {
    let records = market
        .calendar(as_of() + Days::new(1), as_of() + Days::new(14))
        .await
        .expect("calendar");
    records.first().expect("a report").ticker.clone()
}

// ---- the dashboard in headless Chromium, over the DevTools protocol ---------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium on `url` and a DevTools connection to its page.
struct Browser {
    _process: tokio::process::Child,
    _profile: tempfile::TempDir,
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Browser {
    async fn open(url: &str) -> Browser {
        let profile = tempfile::tempdir().expect("profile");
        let mut process = tokio::process::Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        let stderr = process.stderr.take().expect("stderr");
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let browser_ws = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("DevTools listening on ").nth(1) {
                    return rest.trim().to_owned();
                }
            }
            panic!("chromium exited without a DevTools address");
        })
        .await
        .expect("DevTools within 60 s");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let host = browser_ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let page_ws = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let list: serde_json::Value = reqwest::get(format!("http://{host}/json/list"))
                    .await
                    .expect("DevTools answers")
                    .json()
                    .await
                    .expect("a target list");
                if let Some(ws) = list.as_array().and_then(|targets| {
                    targets
                        .iter()
                        .find(|t| t["type"] == "page")
                        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                }) {
                    return ws.to_owned();
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .expect("a page target");
        let (ws, _) = tokio_tungstenite::connect_async(page_ws.as_str())
            .await
            .expect("DevTools websocket");
        Browser {
            _process: process,
            _profile: profile,
            ws,
            next_id: 0,
        }
    }

    /// Evaluates `expression` in the page; its value as JSON.
    async fn eval(&mut self, expression: &str) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let call = serde_json::json!({"id": id, "method": "Runtime.evaluate",
            "params": {"expression": expression, "returnByValue": true}});
        self.ws
            .send(tokio_tungstenite::tungstenite::Message::text(
                call.to_string(),
            ))
            .await
            .expect("DevTools send");
        while let Some(Ok(msg)) = self.ws.next().await {
            let Ok(text) = msg.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
                continue;
            };
            if v["id"] == id {
                return v["result"]["result"]["value"].clone();
            }
        }
        panic!("DevTools closed");
    }

    /// Polls `expression` until `done` holds for its value (at most `within`).
    async fn wait_for(
        &mut self,
        expression: &str,
        within: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let v = self.eval(expression).await;
            if done(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{expression} stayed {v} for {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const LIVE: &str = "(() => { const d = document.getElementById('detail-live'); \
    return [d.dataset.live || '', d.dataset.seq || '', d.dataset.straddle || '', \
    document.getElementById('live-implied').textContent, \
    document.getElementById('detail-title').textContent]; })()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_selected_tickers_implied_move_live_in_headless_chromium() {
    let Some(url) = redis_url("the_dashboard_shows_the_live_implied_move") else {
        return;
    };
    if !std::path::Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} not found (apt-get install -y chromium)");
        return;
    }
    let prefix = unique_prefix("browser-live");
    let s = live_server(&url, &prefix).await;
    let mut page = Browser::open(&s.url(&format!("/#key={KEY}"))).await;
    // The dashboard selects the first scanned ticker; no ticker publishes yet.
    let selected = page
        .wait_for(LIVE, Duration::from_secs(60), |v| {
            v[0] == "waiting" && v[4].as_str().is_some_and(|t| !t.is_empty())
        })
        .await;
    let symbol = selected[4].as_str().unwrap_or_default().to_owned();
    assert_eq!(selected[3], "—", "no figure before the ticker runs");

    // The ticker starts: the figure appears, then changes as the feed moves.
    let feed = ticker(&url, &prefix, &symbol, 2_000).await;
    let first = page
        .wait_for(LIVE, Duration::from_secs(30), |v| {
            v[0] == "on" && v[2].as_str().is_some_and(|x| !x.is_empty())
        })
        .await;
    assert!(
        first[3].as_str().is_some_and(|t| t.contains('%')),
        "a percentage on the page: {first}"
    );
    let seq = |v: &serde_json::Value| v[1].as_str().and_then(|x| x.parse::<u64>().ok());
    let moved = page
        .wait_for(LIVE, Duration::from_secs(30), |v| {
            seq(v) > seq(&first) && v[2] != first[2]
        })
        .await;
    assert_eq!(moved[0], "on");
    feed.shutdown().await;
    // The page shows what the ticker published last.
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let last: String = redis::cmd("HGET")
        .arg(Keys::new(prefix.as_str()).implied_last(&symbol))
        .arg("straddle_pct")
        .query_async(&mut conn)
        .await
        .expect("the last figure");
    page.wait_for(LIVE, Duration::from_secs(10), |v| {
        v[2].as_str()
            .and_then(|x| x.parse::<f64>().ok())
            .zip(last.parse::<f64>().ok())
            .is_some_and(|(a, b)| a == b)
    })
    .await;
    drop(page);
    s.stop().await;
    cleanup(&url, &prefix).await;
}
