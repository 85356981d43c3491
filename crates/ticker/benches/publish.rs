//! Published updates/s to the local Redis with the simulated feed, and update-to-publish-ack
//! latency (stamped at the feed, measured when Redis acknowledged the batch).
//!
//! `REDIS_URL=redis://127.0.0.1:6379 cargo bench -p ivcrush-ticker --bench publish`
//! (`BENCH_SECS`, default 5). Runs the feed flat out (throughput; latency then includes the
//! time queued in the full channel) and at 50,000 and 100,000 updates/s (latency).
//! `BENCH_RATES=0,50000,150000` picks the feed rates, `BENCH_BATCH` the batch size,
//! `BENCH_IN_FLIGHT` the batches on the wire at once.
//!
//! In the same run, when `redis-benchmark` is on the PATH, it measures the ceilings to compare
//! with (`-P 16`, 50 clients): a bare `PUBLISH ch hello` (`-t publish` does not exist in
//! Redis 7's redis-benchmark), and each of the three commands we send per update with a real
//! message (PUBLISH of the JSON, XADD and HSET of the 15 fields). From those it prints what
//! Redis itself can take of our message layout: `1 / (1/PUBLISH + 1/XADD + h/HSET)` with
//! `h` = 0 (upper bound; we write one HSET per instrument per batch) and `h` = 1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ivcrush_ticker::{DropReason, Keys, TickerConfig, TickerService};

struct Outcome {
    rate: f64,
    p50: Option<Duration>,
    p99: Option<Duration>,
    dropped_full: u64,
    ingested_rate: f64,
}

async fn measure(url: &str, feed_rate: u32, secs: u64) -> Outcome {
    let prefix = format!("ivcrush-bench:{}:{feed_rate}:", std::process::id());
    let mut config = TickerConfig::sim(url, feed_rate);
    config.publisher.keys = Keys::new(prefix.as_str());
    config.publisher.stream_maxlen = 10_000;
    if let Some(batch) = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
    {
        config.publisher.batch_size = batch;
    }
    if let Some(n) = std::env::var("BENCH_IN_FLIGHT")
        .ok()
        .and_then(|b| b.parse().ok())
    {
        config.publisher.max_in_flight = n;
    }
    let service = TickerService::start(config, None)
        .await
        .expect("the ticker service starts");
    let stats = Arc::clone(service.stats());
    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up
    stats.latency().reset();
    let (p0, i0, d0) = (
        stats.published(),
        stats.ingested(),
        stats.dropped(DropReason::ChannelFull),
    );
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let outcome = Outcome {
        rate: (stats.published() - p0) as f64 / elapsed,
        ingested_rate: (stats.ingested() - i0) as f64 / elapsed,
        p50: stats.latency().quantile(0.50),
        p99: stats.latency().quantile(0.99),
        dropped_full: stats.dropped(DropReason::ChannelFull) - d0,
    };
    let summary = service.shutdown().await;
    assert!(
        summary.published > 0,
        "nothing published: is Redis running at {url}?"
    );
    cleanup(url, &prefix).await;
    outcome
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
    for chunk in keys.chunks(1_000) {
        let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut conn).await;
    }
}

/// Requests/s from the last "… N requests per second" of `redis-benchmark -q` output.
fn redis_benchmark(host: &str, port: u16, n: u32, command: &[&str]) -> Option<f64> {
    let out = std::process::Command::new("redis-benchmark")
        .args([
            "-h",
            host,
            "-p",
            &port.to_string(),
            "-P",
            "16",
            "-q",
            "-n",
            &n.to_string(),
        ])
        .args(command)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let head = &text[..text.rfind(" requests per second")?];
    head.rsplit(' ').next()?.parse().ok()
}

/// A realistic option update's JSON and its 15 field/value pairs.
fn sample_message() -> (String, Vec<String>) {
    let mut s = ivcrush_ticker::Snapshot::empty("AAPL260130C00250000");
    s.bid = Some(6.05);
    s.ask = Some(6.15);
    s.bid_size = Some(12);
    s.ask_size = Some(30);
    s.iv = Some(0.341_234_567_890_123_4);
    s.delta = Some(0.512_345_678_901_234_5);
    s.timestamp_us = 1_764_150_000_123_456;
    s.seq = 123_456_789;
    let json = serde_json::to_string(&s).expect("a snapshot serialises");
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let mut fields = Vec::new();
    for name in ivcrush_ticker::Snapshot::FIELDS {
        fields.push(name.to_owned());
        fields.push(match &value[name] {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(v) => v.clone(),
            other => other.to_string(),
        });
    }
    (json, fields)
}

/// Prints the ceilings measured with redis-benchmark; returns the bare PUBLISH one.
fn ceilings(url: &str) -> Option<f64> {
    let client = redis::Client::open(url).ok()?;
    let redis::ConnectionAddr::Tcp(host, port) = client.get_connection_info().addr().clone() else {
        return None;
    };
    let bare = redis_benchmark(&host, port, 2_000_000, &["PUBLISH", "ch", "hello"]);
    let Some(bare) = bare else {
        println!("redis-benchmark not found or failed: no ceiling measured");
        return None;
    };
    let (json, fields) = sample_message();
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let key = format!("ivcrush-bench:{}:ceiling", std::process::id());
    let channel = "ivcrush-bench:quotes:AAPL";
    let publish = redis_benchmark(&host, port, 1_000_000, &["PUBLISH", channel, &json]);
    let mut xadd = vec!["XADD", &key, "MAXLEN", "~", "10000", "*"];
    xadd.extend(&fields);
    let xadd = redis_benchmark(&host, port, 500_000, &xadd);
    let hash = format!("{key}:hash");
    let mut hset = vec!["HSET", &hash];
    hset.extend(&fields);
    let hset = redis_benchmark(&host, port, 500_000, &hset);
    if let Ok(mut conn) = client.get_connection() {
        let _: Result<(), _> = redis::cmd("DEL").arg(&key).arg(&hash).query(&mut conn);
    }
    println!("ceiling: PUBLISH ch hello (-P 16)      {bare:>10.0}/s");
    if let (Some(p), Some(x), Some(h)) = (publish, xadd, hset) {
        let best = 1.0 / (1.0 / p + 1.0 / x);
        let worst = 1.0 / (1.0 / p + 1.0 / x + 1.0 / h);
        println!(
            "ceiling: PUBLISH json {p:.0}/s, XADD 15 fields {x:.0}/s, HSET 15 fields {h:.0}/s \
             -> our layout: {worst:.0}–{best:.0} updates/s ({:.0}–{:.0} % of bare PUBLISH)",
            100.0 * worst / bare,
            100.0 * best / bare
        );
    }
    Some(bare)
}

fn main() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        // `BENCH_RATES=0,50000,150000` picks the feed rates (0 = flat out).
        let rates: Vec<u32> = std::env::var("BENCH_RATES")
            .ok()
            .map(|s| s.split(',').filter_map(|r| r.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![0, 50_000, 100_000, 150_000]);
        let bare = ceilings(&url);
        for rate in rates {
            let label = if rate == 0 { "flat out".to_owned() } else { format!("{rate}/s") };
            let o = measure(&url, rate, secs).await;
            let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
            println!(
                "feed {label:>9}: published {:>9.0} updates/s (feed {:>9.0}/s, {} dropped as channel_full), \
                 update→ack latency p50 {:.3} ms, p99 {:.3} ms",
                o.rate,
                o.ingested_rate,
                o.dropped_full,
                ms(o.p50),
                ms(o.p99),
            );
            if let (0, Some(bare)) = (rate, bare) {
                println!("          = {:.1} % of the bare PUBLISH ceiling", 100.0 * o.rate / bare);
            }
        }
    });
}
