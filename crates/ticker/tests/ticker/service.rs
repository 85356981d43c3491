//! The whole service: start, stream, flush on shutdown; settings checked at once; watchlist
//! reloads end to end.

use std::sync::Arc;
use std::time::Duration;

use ivcrush_ticker::feed::tradier::TradierSettings;
use ivcrush_ticker::{
    FeedConfig, Keys, ReloadPolicy, SymbolSource, TickerConfig, TickerError, TickerService,
};

use crate::common::{cleanup, redis_url, unique_prefix, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_service_streams_then_flushes_on_shutdown() {
    let Some(url) = redis_url("a_started_service_streams_then_flushes_on_shutdown") else {
        return;
    };
    let prefix = unique_prefix("run");
    let mut config = TickerConfig::sim(url.as_str(), 2_000);
    config.symbols = SymbolSource::List(vec!["KVLT".to_owned(), "BOLT".to_owned()]);
    config.publisher.keys = Keys::new(prefix.as_str());
    let service = TickerService::start(config, None).await.expect("starts");
    let stats = Arc::clone(service.stats());
    assert!(
        wait_until(Duration::from_secs(10), || stats.published() > 1_000).await,
        "published {}",
        stats.published()
    );
    let summary = tokio::time::timeout(Duration::from_secs(10), service.shutdown())
        .await
        .expect("stops and flushes");
    assert!(summary.published > 1_000, "{summary:?}");

    let keys = Keys::new(prefix.as_str());
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let len: u64 = redis::cmd("XLEN")
        .arg(keys.stream())
        .query_async(&mut conn)
        .await
        .expect("XLEN");
    assert!(len > 1_000, "over 1,000 updates written, got {len}");
    let kvlt: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(keys.last("KVLT"))
        .query_async(&mut conn)
        .await
        .expect("HGETALL");
    assert_eq!(kvlt.get("type").map(String::as_str), Some("stock"));
    cleanup(&url, &prefix).await;
}

#[tokio::test]
async fn invalid_settings_are_reported_all_at_once() {
    let mut tradier = TradierSettings::new(" ");
    tradier.risk_free_rate = f64::NAN;
    let mut config = TickerConfig::sim("not a url", 0);
    config.feed = FeedConfig::Tradier(tradier);
    config.max_instruments = 0;
    config.publisher.stream_maxlen = 0;
    let error = config.validate().expect_err("invalid").to_string();
    for expected in [
        "max_instruments",
        "stream_maxlen",
        "redis_url",
        "TRADIER_API_KEY",
        "symbols",
        "risk_free_rate",
    ] {
        assert!(error.contains(expected), "{expected}: {error}");
    }
    let start = TickerService::start(config, None)
        .await
        .expect_err("refused");
    assert!(matches!(start, TickerError::Config(p) if p.len() == 6));

    let mut sim = TickerConfig::sim("redis://127.0.0.1:1", 2_000_000);
    sim.channel_capacity = 0;
    let error = sim.validate().expect_err("invalid").to_string();
    assert!(
        error.contains("rate") && error.contains("channel_capacity"),
        "{error}"
    );
    assert!(
        TickerConfig::sim("redis://127.0.0.1:1", 5_000)
            .validate()
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_watchlist_file_resubscribes_and_a_bad_one_keeps_the_old_set() {
    let path = std::env::temp_dir().join(format!(
        "{}watchlist.txt",
        unique_prefix("service").replace(':', "-")
    ));
    // Replace the file atomically so the watcher never reads a half-written list.
    let write = |text: &str| {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).expect("write watchlist");
        std::fs::rename(&tmp, &path).expect("replace watchlist");
    };
    write("KVLT\n");
    let mut config = TickerConfig::sim("redis://127.0.0.1:1", 2_000); // Redis down: irrelevant here
    config.symbols = SymbolSource::File(path.clone());
    config.watch_interval = Duration::from_millis(50);
    config.reload = ReloadPolicy {
        debounce: Duration::from_millis(100),
        max_debounce: Duration::from_millis(500),
        min_interval: Duration::from_millis(300),
    };
    let service = TickerService::start(config, None).await.expect("starts");
    let state = Arc::clone(service.state());
    let stats = Arc::clone(service.stats());
    let underlyings = |state: &ivcrush_ticker::StateStore| {
        let mut u: Vec<String> = state
            .snapshots()
            .iter()
            .map(|s| s.underlying.to_string())
            .collect();
        u.sort();
        u.dedup();
        u
    };
    assert!(wait_until(Duration::from_secs(3), || !state.is_empty()).await);
    assert_eq!(underlyings(&state), ["KVLT"]);

    write("BOLT\n");
    assert!(
        wait_until(Duration::from_secs(5), || state.get("BOLT").is_some()).await,
        "resubscribed to BOLT"
    );
    assert_eq!(stats.reloads(), (1, 0));

    write("NOPE, $$$\n");
    assert!(
        wait_until(Duration::from_secs(5), || stats.reloads().1 >= 1).await,
        "the bad list is refused"
    );
    let seq_before = state.get("BOLT").map(|s| s.seq);
    assert!(
        wait_until(Duration::from_secs(3), || state.get("BOLT").map(|s| s.seq)
            != seq_before)
        .await,
        "BOLT keeps streaming after the failed reload"
    );
    service.shutdown().await;
    let _ = std::fs::remove_file(&path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_the_redis_watchlist_key_resubscribes() {
    let Some(url) = redis_url("setting_the_redis_watchlist_key_resubscribes") else {
        return;
    };
    let prefix = unique_prefix("watchkey");
    let keys = Keys::new(prefix.as_str());
    let mut config = TickerConfig::sim(url.as_str(), 2_000);
    config.symbols = SymbolSource::List(vec!["KVLT".to_owned()]);
    config.watch_redis_key = true;
    config.publisher.keys = keys.clone();
    config.watch_interval = Duration::from_millis(50);
    config.reload = ReloadPolicy {
        debounce: Duration::from_millis(100),
        max_debounce: Duration::from_millis(500),
        min_interval: Duration::from_millis(300),
    };
    let service = TickerService::start(config, None).await.expect("starts");
    let state = Arc::clone(service.state());
    assert!(wait_until(Duration::from_secs(3), || state.get("KVLT").is_some()).await);

    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connection");
    let () = redis::cmd("SET")
        .arg(keys.watchlist())
        .arg("ECHO, BOLT")
        .query_async(&mut conn)
        .await
        .expect("SET");
    assert!(
        wait_until(Duration::from_secs(5), || {
            state.get("ECHO").is_some() && state.get("BOLT").is_some()
        })
        .await,
        "resubscribed from the Redis key"
    );
    service.shutdown().await;
    cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_dropped_faster_than_the_alarm_rate_sound_it() {
    // Nothing listens on port 1: every batch is dropped (`redis_down`), no Redis needed.
    let mut config = TickerConfig::sim("redis://127.0.0.1:1", 2_000);
    config.symbols = SymbolSource::List(vec!["KVLT".to_owned()]);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    config.drop_alarm = Some(ivcrush_ticker::DropAlarm {
        per_sec: 100.0,
        window: Duration::from_secs(1),
        notify: Arc::new(move |rate| {
            let _ = tx.send(rate);
        }),
    });
    let service = TickerService::start(config, None).await.expect("starts");
    let rate = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the alarm sounds within 10 s")
        .expect("a rate");
    assert!(rate > 100.0, "{rate} updates/s dropped");
    let summary = service.shutdown().await;
    assert!(summary.dropped > 100, "{summary:?}");
    assert_eq!(summary.published, 0);
}
