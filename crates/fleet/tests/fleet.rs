//! The fleet's shared quota and breakers on the machine's real Redis (`REDIS_URL`; skipped
//! with a message without it). Each test uses its own namespace, so runs never share keys.
//!
//! Redis's clock decides the windows, so these tests run in real time, on windows of a
//! fraction of a second.

use std::sync::Arc;
use std::time::Duration;

use ivcrush_fleet::{Fleet, FleetConfig};
use ivcrush_resilience::{
    BreakerConfig, BreakerState, CircuitBreaker, Limiter, Outcome, RateLimiter, WindowConfig,
};
use tokio::time::Instant;

fn redis_url() -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: REDIS_URL is not set (CI sets it)");
            None
        }
    }
}

fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("test-{test}-{}-{nanos}", std::process::id())
}

fn fleet(url: &str, namespace: &str, tweak: impl FnOnce(&mut FleetConfig)) -> Fleet {
    let mut config = FleetConfig {
        redis: url.to_owned(),
        namespace: namespace.to_owned(),
        ..FleetConfig::default()
    };
    tweak(&mut config);
    Fleet::join(&config)
        .expect("valid fleet settings")
        .expect("a redis url joins")
}

/// How much later than Redis's clock a grant may be recorded here: the script's answer
/// travels back and the task is woken, which takes tens of milliseconds on a loaded 2-core
/// machine. A shared count that was wrong would put twice the limit in a window, far beyond.
const SLACK: Duration = Duration::from_millis(60);

/// At most `limit` grants in any interval of `length` (less `slack` for the time between
/// Redis's clock and ours).
fn assert_never_above(grants: &mut [Instant], limit: usize, length: Duration, slack: Duration) {
    grants.sort();
    for (i, start) in grants.iter().enumerate() {
        let end = *start + length - slack;
        let inside = grants[i..].iter().take_while(|t| **t < end).count();
        assert!(
            inside <= limit,
            "{inside} grants within {length:?} of grant {i} (limit {limit})"
        );
    }
}

/// Two limiters, as two processes with the same key, take tokens as fast as they may.
async fn hammer(limiters: &[Arc<RateLimiter>], each: usize) -> Vec<Instant> {
    let mut tasks = Vec::new();
    for limiter in limiters {
        let limiter = Arc::clone(limiter);
        tasks.push(tokio::spawn(async move {
            let mut grants = Vec::with_capacity(each);
            for _ in 0..each {
                limiter.acquire(None).await.expect("no deadline");
                grants.push(Instant::now());
            }
            grants
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("task"));
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_a_fixed_window_never_exceed_it_and_use_it_all() {
    let Some(url) = redis_url() else { return };
    let ns = namespace("fixed");
    let window = WindowConfig::fixed(10, Duration::from_millis(1_000), Duration::from_millis(200));
    let mut limiters = Vec::new();
    for _ in 0..2 {
        // Each "process" has its own fleet membership and its own limiter.
        let fleet = fleet(&url, &ns, |_| {});
        let limiter = Arc::new(RateLimiter::new("tradier", &[window]).expect("valid"));
        fleet
            .share_quota(&limiter, "tradier", "the-same-key")
            .expect("shares");
        limiters.push(limiter);
    }
    let started = Instant::now();
    let mut grants = hammer(&limiters, 20).await;
    let took = started.elapsed();
    assert_eq!(grants.len(), 40);
    assert_never_above(&mut grants, 10, Duration::from_millis(1_200), SLACK);
    // 40 tokens at 10 per 1.2 s: the fourth batch goes at 3.6 s. Used in full, not paced
    // at a fraction of the quota.
    assert!(
        took >= Duration::from_millis(3_550) && took < Duration::from_millis(4_800),
        "{took:?}"
    );
    assert!(limiters.iter().all(|l| l.shared_degraded() == Some(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_sharing_a_gcra_window_are_paced_as_one() {
    let Some(url) = redis_url() else { return };
    let ns = namespace("gcra");
    // 5 per 500 ms, burst 1: one every 100 ms for the pair, not for each.
    let window = WindowConfig::new(5, Duration::from_millis(500));
    let mut limiters = Vec::new();
    for _ in 0..2 {
        let fleet = fleet(&url, &ns, |_| {});
        let limiter = Arc::new(RateLimiter::new("alpha_vantage", &[window]).expect("valid"));
        fleet
            .share_quota(&limiter, "alpha_vantage", "k")
            .expect("shares");
        limiters.push(limiter);
    }
    let mut grants = hammer(&limiters, 6).await;
    assert_never_above(&mut grants, 5, Duration::from_millis(500), SLACK);
    let span = grants[grants.len() - 1] - grants[0];
    assert!(
        span >= Duration::from_millis(1_080),
        "12 grants 100 ms apart: {span:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_process_learns_the_vendors_count_then_spends_its_share_and_says_so() {
    let ns = namespace("down");
    // Nothing listens on port 1: every call fails at once.
    let fleet = fleet("redis://127.0.0.1:1", &ns, |c| c.instances = 4);
    let window = WindowConfig::fixed(8, Duration::from_millis(300), Duration::from_millis(50));
    let limiter = Arc::new(RateLimiter::new("tradier", &[window]).expect("valid"));
    fleet.share_quota(&limiter, "tradier", "k").expect("shares");
    let started = Instant::now();
    let mut grants = hammer(std::slice::from_ref(&limiter), 4).await;
    assert_eq!(limiter.shared_degraded(), Some(true));
    // Knowing nothing of what the fleet spent in the vendor's window, the fallback sends one
    // request (whose answer would carry the vendor's count) and holds the rest of its share
    // (8 / 4 = 2) for a window; then 2 per window.
    assert!(
        grants[0] - started < Duration::from_millis(200),
        "one request at once"
    );
    assert!(
        grants[1] - started >= Duration::from_millis(340),
        "the rest after one window: {:?}",
        grants[1] - started
    );
    assert_never_above(&mut grants, 2, Duration::from_millis(350), SLACK);
    let health = fleet.health().await;
    assert!(health.redis.is_err() && health.quota_fallback, "{health:?}");
}

fn breaker(name: &str) -> CircuitBreaker {
    CircuitBreaker::new(
        name,
        BreakerConfig {
            consecutive_failures: 2,
            open_wait_ms: 1_500,
            half_open_permits: 1,
            ..BreakerConfig::default()
        },
    )
    .expect("valid breaker")
}

async fn wait_for(what: &str, limit: Duration, check: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_opened_or_forced_in_one_process_is_seen_by_the_other_within_a_second() {
    let Some(url) = redis_url() else { return };
    // On a failure, libtest shows every transition and every step of the sync.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("ivcrush_fleet=debug,ivcrush_resilience=info")
        .try_init();
    let ns = namespace("breaker");
    let (a, b) = (breaker("tradier"), breaker("tradier"));
    let fleet_a = fleet(&url, &ns, |c| c.probe_lease_ms = 2_000);
    let fleet_b = fleet(&url, &ns, |c| c.probe_lease_ms = 2_000);
    fleet_a.sync_breakers(vec![(a.clone(), "key".into())]);
    fleet_b.sync_breakers(vec![(b.clone(), "key".into())]);

    // An operator forces it open on A; B follows, and follows the reset too.
    a.force_open();
    let seen = wait_for("forced open on B", Duration::from_secs(1), || {
        b.state() == BreakerState::ForcedOpen
    })
    .await;
    eprintln!("forced open seen after {seen:?}");
    a.reset();
    wait_for("closed on B", Duration::from_secs(1), || {
        b.state() == BreakerState::Closed
    })
    .await;

    // A opens on its own failures; B holds its breaker open without having failed.
    for _ in 0..2 {
        let permit = a.try_acquire().expect("closed");
        permit.record(Outcome::Failure, Duration::from_millis(1));
    }
    assert_eq!(a.state(), BreakerState::Open);
    wait_for("open on B", Duration::from_secs(1), || {
        b.state() == BreakerState::Open
    })
    .await;
    assert!(b.try_acquire().is_err(), "B rejects calls");

    // A's wait ends: A makes the one trial, B still rejects while A probes; A's success
    // closes both.
    wait_for("A's wait ends", Duration::from_secs(3), || {
        a.try_acquire().is_ok_and(|p| {
            assert!(p.is_trial());
            assert!(b.try_acquire().is_err(), "B holds while A probes");
            p.record(Outcome::Success, Duration::from_millis(1));
            true
        })
    })
    .await;
    assert_eq!(a.state(), BreakerState::Closed);
    wait_for("closed on B", Duration::from_secs(1), || {
        b.state() == BreakerState::Closed
    })
    .await;
    assert!(fleet_a.health().await.redis.is_ok());
}
