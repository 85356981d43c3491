//! Chaos on loopback (real time, bounded): a Tradier mock that fails a deterministic share of
//! requests with 503, 429 (short `X-Ratelimit-Expiry` hints) and hangs; every ticker's data
//! still arrives intact with few extra requests; then a total outage opens the breaker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ivcrush_market::tradier::{self, TradierClient, TradierConfig};
use ivcrush_market::{OptionsData, PriceHistory};
use ivcrush_resilience::BreakerState;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::tradier::{d, expiry_in, fast_pipeline, fixture};

/// FNV-1a of the text, mapped to `[0, 1)`: a deterministic "roll" per request key and attempt.
fn roll(text: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // final avalanche (splitmix64)
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// First attempt of each distinct request: 30 % 503, 10 % 429 (hint 100–300 ms), 5 % hang
/// (2 s, beyond the 300 ms attempt timeout). Second attempt: 10 % 503. Later attempts succeed.
/// During an outage: always 503.
struct Chaos {
    seen: Mutex<HashMap<String, u32>>,
    requests: AtomicUsize,
    faults: Mutex<HashMap<&'static str, usize>>,
    outage: AtomicBool,
    chain: String,
    history: String,
    quote: String,
}

impl Chaos {
    fn fault(&self, kind: &'static str) {
        *self.faults.lock().expect("lock").entry(kind).or_default() += 1;
    }
}

impl Respond for Chaos {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if self.outage.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        let key = format!("{}?{}", req.url.path(), req.url.query().unwrap_or(""));
        let attempt = {
            let mut seen = self.seen.lock().expect("lock");
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            *n - 1
        };
        let r = roll(&format!("{key}#{attempt}"));
        let ok = || {
            let body = match req.url.path() {
                "/v1/markets/options/chains" => &self.chain,
                "/v1/markets/history" => &self.history,
                _ => &self.quote,
            };
            ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json")
        };
        match attempt {
            0 if r < 0.30 => {
                self.fault("503");
                ResponseTemplate::new(503).set_body_string("service unavailable")
            }
            0 if r < 0.40 => {
                self.fault("429");
                let hint_ms = 100 + ((r - 0.30) * 2_000.0) as u64; // 100–300 ms
                ResponseTemplate::new(429)
                    .insert_header("X-Ratelimit-Available", "0")
                    .insert_header("X-Ratelimit-Expiry", expiry_in(hint_ms).as_str())
                    .set_body_string("Rate limit exceeded")
            }
            0 if r < 0.45 => {
                self.fault("hang");
                ok().set_delay(Duration::from_secs(2))
            }
            1 if r < 0.10 => {
                self.fault("503");
                ResponseTemplate::new(503)
            }
            _ => ok(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_then_outage() {
    let chaos = Arc::new(Chaos {
        seen: Mutex::new(HashMap::new()),
        requests: AtomicUsize::new(0),
        faults: Mutex::new(HashMap::new()),
        outage: AtomicBool::new(false),
        chain: fixture("tradier_chain_AAPL_2026-01-30.json"),
        history: fixture("tradier_history_AAPL_daily_60d.json"),
        quote: fixture("tradier_quote_AAPL.json"),
    });
    struct Shared(Arc<Chaos>);
    impl Respond for Shared {
        fn respond(&self, req: &Request) -> ResponseTemplate {
            self.0.respond(req)
        }
    }
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Shared(chaos.clone()))
        .mount(&server)
        .await;

    let mut cfg = TradierConfig::new("chaos-token");
    cfg.base_url = server.uri();
    cfg.resilience = fast_pipeline();
    cfg.resilience.attempt_timeout_ms = 300;
    cfg.resilience.retry.max_attempts = 6;
    cfg.resilience.breaker.consecutive_failures = 8;
    cfg.resilience.bulkhead.max_concurrent = 16;
    cfg.resilience.bulkhead.max_queued = 16;
    let client = Arc::new(TradierClient::new(cfg).expect("client"));

    let expiration = d("2026-01-30");
    let want_chain = tradier::parse_chain(&chaos.chain, "AAPL", expiration).expect("fixture chain");
    let want_bars = tradier::parse_history(&chaos.history).expect("fixture history");
    let want_quote = tradier::parse_quotes(&chaos.quote)
        .expect("fixture quote")
        .quotes;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let c = client.clone();
        tasks.spawn(async move {
            let sym = format!("T{i:02}");
            // The fixture chain is AAPL's: its contracts name that underlying.
            let chain = c.chain("AAPL", expiration).await;
            let bars = c.daily_bars(&sym, d("2025-10-01"), d("2026-01-31")).await;
            let quote = c.quotes(std::slice::from_ref(&sym)).await;
            (sym, chain, bars, quote)
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        let (sym, chain, bars, quote) = joined.expect("task");
        assert_eq!(chain.expect(&sym), want_chain, "{sym} chain");
        assert_eq!(bars.expect(&sym), want_bars, "{sym} bars");
        assert_eq!(quote.expect(&sym), want_quote, "{sym} quote");
        done += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(done, 10);
    let minimum = 30;
    let made = chaos.requests.load(Ordering::SeqCst);
    let faults = chaos.faults.lock().expect("lock").clone();
    println!(
        "chaos: {made} requests for {minimum} minimum ({:.2}x), faults {faults:?}, {elapsed:?}",
        made as f64 / minimum as f64
    );
    assert!(
        faults.values().sum::<usize>() >= 10,
        "chaos too mild: {faults:?}"
    );
    assert!(
        made * 10 <= minimum * 16,
        "{made} requests > 1.6 x {minimum}"
    );
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(client.pipeline().breaker().state(), BreakerState::Closed);

    // total outage: the breaker opens, then calls fail fast without reaching the vendor
    chaos.outage.store(true, Ordering::SeqCst);
    let mut opened = false;
    for _ in 0..3 {
        let e = client.chain("T00", expiration).await.expect_err("outage");
        if e.is_breaker_open() {
            opened = true;
            break;
        }
    }
    assert!(opened, "breaker never opened");
    assert_eq!(client.pipeline().breaker().state(), BreakerState::Open);
    let before = chaos.requests.load(Ordering::SeqCst);
    let t = Instant::now();
    let e = client
        .daily_bars("T01", d("2025-10-01"), d("2026-01-31"))
        .await
        .expect_err("fail fast");
    assert!(e.is_breaker_open(), "{e:?}");
    assert!(
        e.to_string().contains("circuit breaker `tradier` is open"),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_millis(50));
    assert_eq!(
        chaos.requests.load(Ordering::SeqCst),
        before,
        "no new request"
    );
}
