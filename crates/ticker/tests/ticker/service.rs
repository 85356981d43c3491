//! The whole service: `run` with a duration, and watchlist reloads end to end.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use ivcrush_ticker::{Keys, ReloadPolicy, SymbolSource, TickerArgs, TickerConfig, TickerService};

use crate::common::{cleanup, redis_url, unique_prefix, wait_until};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TickerArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_streams_for_the_given_duration_then_flushes_and_returns() {
    let Some(url) = redis_url("run_streams_for_the_given_duration_then_flushes_and_returns") else {
        return;
    };
    let prefix = unique_prefix("run");
    let cli = Cli::try_parse_from([
        "ticker",
        "--feed",
        "sim",
        "--symbols",
        "KVLT,BOLT",
        "--redis",
        &url,
        "--key-prefix",
        &prefix,
        "--rate",
        "2000",
        "--duration",
        "1s",
    ])
    .expect("flags parse");
    tokio::time::timeout(Duration::from_secs(10), ivcrush_ticker::run(cli.args))
        .await
        .expect("stops after its duration")
        .expect("runs cleanly");

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
    assert!(len > 1_000, "about 2,000 updates written, got {len}");
    let kvlt: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
        .arg(keys.last("KVLT"))
        .query_async(&mut conn)
        .await
        .expect("HGETALL");
    assert_eq!(kvlt.get("type").map(String::as_str), Some("stock"));
    cleanup(&url, &prefix).await;
}

#[test]
fn invalid_flags_are_reported_all_at_once() {
    let cli = Cli::try_parse_from([
        "ticker",
        "--max-instruments",
        "0",
        "--stream-maxlen",
        "0",
        "--feed",
        "tradier",
    ])
    .expect("flags parse");
    let error = cli.args.to_config().expect_err("invalid").to_string();
    for expected in [
        "--max-instruments",
        "--stream-maxlen",
        "TRADIER_API_KEY",
        "--symbols",
    ] {
        assert!(error.contains(expected), "{error}");
    }
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
