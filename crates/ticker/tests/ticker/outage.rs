//! Redis outage through a TCP proxy the test controls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ivcrush_ticker::{DropReason, Keys, SymbolSource, TickerConfig, TickerService};

use crate::common::{Proxy, cleanup, redis_addr, redis_url, unique_prefix, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_drops_and_counts_updates_and_publishing_resumes_within_5_s() {
    let Some(url) =
        redis_url("an_outage_drops_and_counts_updates_and_publishing_resumes_within_5_s")
    else {
        return;
    };
    let proxy = Proxy::start(redis_addr(&url)).await;
    let prefix = unique_prefix("outage");
    let mut config = TickerConfig::sim(format!("redis://{}", proxy.addr), 5_000);
    config.symbols = SymbolSource::List(vec!["KVLT".to_owned(), "BOLT".to_owned()]);
    config.publisher.keys = Keys::new(prefix.as_str());
    config.publisher.stream_maxlen = 1_000;
    config.max_instruments = 60;
    config.channel_capacity = 1_024;
    let service = TickerService::start(config, None)
        .await
        .expect("service starts");
    let stats = Arc::clone(service.stats());
    let state = Arc::clone(service.state());

    assert!(
        wait_until(Duration::from_secs(3), || stats.published() > 500).await,
        "publishing before the outage"
    );

    proxy.cut();
    assert!(
        wait_until(Duration::from_secs(2), || !stats.redis_connected()).await,
        "the dead connection is noticed"
    );
    let published_at_cut = stats.published();
    let dropped_at_cut = stats.dropped_total();
    let mut max_len = 0;
    let outage_end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < outage_end {
        max_len = max_len.max(state.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let dropped = stats.dropped_total() - dropped_at_cut;
    assert!(
        dropped > 2_000,
        "about 10,000 updates dropped in 2 s, got {dropped}"
    );
    assert!(
        stats.dropped(DropReason::BreakerOpen) > 0,
        "the breaker opened and short-circuits"
    );
    assert!(
        stats.published() - published_at_cut < 1_100,
        "nothing (beyond in-flight batches) published while Redis is unreachable"
    );
    assert!(max_len <= 60, "state bounded during the outage: {max_len}");
    // Memory flat: nothing accumulates between the feed and Redis. Every ingested update is
    // published, dropped, or among at most channel capacity + one batch in flight. (RSS is not
    // asserted: other tests share this process.)
    let in_flight = stats
        .ingested()
        .saturating_sub(stats.published() + stats.dropped_total());
    assert!(
        in_flight <= 1_024 + 512,
        "{in_flight} updates held between feed and Redis"
    );

    proxy.restore();
    let back = Instant::now();
    let published_at_restore = stats.published();
    assert!(
        wait_until(Duration::from_secs(5), || stats.published()
            > published_at_restore + 100)
        .await,
        "publishing resumes within 5 s of Redis coming back"
    );
    let resumed_after = back.elapsed();
    assert!(resumed_after < Duration::from_secs(5), "{resumed_after:?}");
    eprintln!("publishing resumed {resumed_after:?} after Redis came back; {dropped} dropped");

    let summary = service.shutdown().await;
    assert!(summary.published > published_at_restore);
    cleanup(&url, &prefix).await;
}
