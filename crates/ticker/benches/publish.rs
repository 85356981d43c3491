//! Published updates/s to the local Redis with the simulated feed, and update-to-publish-ack
//! latency (stamped at the feed, measured when Redis acknowledged the batch).
//!
//! `REDIS_URL=redis://127.0.0.1:6379 cargo bench -p ivcrush-ticker --bench publish`
//! (`BENCH_SECS`, default 5). Two runs: the feed flat out (throughput; latency then includes
//! the time queued in the full channel) and the feed at 50,000 updates/s (latency).
//! Compare with `redis-benchmark -P 16 -q PUBLISH ch hello` on the same machine.
//! `BENCH_RATES=0,50000,150000` picks the feed rates, `BENCH_BATCH` the batch size.

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
            .unwrap_or_else(|| vec![0, 50_000]);
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
        }
    });
}
