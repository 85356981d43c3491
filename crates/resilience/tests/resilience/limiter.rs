//! RL-1 … RL-5.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, FakeRelativeClock};
use governor::{Quota, RateLimiter as Governor};
use ivcrush_resilience::{Limiter, RateLimiter, WindowConfig};
use tokio::time::{Instant, advance};

/// Grant times (seconds since start) of a greedy client until `horizon`.
async fn greedy(limiter: &RateLimiter, horizon: Duration) -> Vec<Duration> {
    let start = Instant::now();
    let mut grants = Vec::new();
    loop {
        limiter.acquire(None).await.expect("no deadline");
        let at = start.elapsed();
        if at >= horizon {
            return grants;
        }
        grants.push(at);
    }
}

fn max_in_any_window(grants: &[Duration], window: Duration) -> usize {
    grants
        .iter()
        .map(|&from| {
            grants
                .iter()
                .filter(|&&t| t >= from && t < from + window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Admissions of a greedy client in `[0, 60 s)` for a quota, on governor's fake clock.
fn admitted_in_a_minute(quota: Quota) -> usize {
    let clock = FakeRelativeClock::default();
    let limiter = Governor::direct_with_clock(quota, clock.clone());
    let mut admitted = 0;
    while clock.now() < Duration::from_secs(60).into() {
        match limiter.check() {
            Ok(()) => admitted += 1,
            Err(not_until) => clock.advance(not_until.wait_time_from(clock.now())),
        }
    }
    admitted
}

#[tokio::test(start_paused = true)]
async fn rl_1_exactly_120_in_every_sliding_minute_over_three_minutes() {
    let limiter = RateLimiter::new(
        "tradier",
        &[WindowConfig::new(120, Duration::from_secs(60))],
    )
    .expect("valid");
    let grants = greedy(&limiter, Duration::from_secs(180)).await;
    assert_eq!(grants.len(), 360);
    let minute = Duration::from_secs(60);
    for &from in grants
        .iter()
        .filter(|&&t| t + minute <= Duration::from_secs(180))
    {
        let in_window = grants
            .iter()
            .filter(|&&t| t >= from && t < from + minute)
            .count();
        assert_eq!(in_window, 120, "window from {from:?}");
    }
}

#[test]
fn rl_1_regression_per_minute_120_would_admit_239_in_a_minute() {
    let naive = Quota::per_minute(std::num::NonZeroU32::new(120).expect("non-zero"));
    assert_eq!(admitted_in_a_minute(naive), 239);
    let derived = WindowConfig::new(120, Duration::from_secs(60))
        .quota()
        .expect("valid");
    assert_eq!(admitted_in_a_minute(derived), 120);
    let bursty = WindowConfig::new(120, Duration::from_secs(60))
        .with_burst(10)
        .quota()
        .expect("valid");
    assert_eq!(
        admitted_in_a_minute(bursty),
        120,
        "T = W/(L−b+1) with burst 10"
    );
}

#[tokio::test(start_paused = true)]
async fn rl_2_five_per_minute_and_25_per_day_over_a_virtual_day() {
    let day = Duration::from_secs(86_400);
    let limiter = RateLimiter::new(
        "alpha_vantage",
        &[
            WindowConfig::new(25, day).with_burst(5),
            WindowConfig::new(5, Duration::from_secs(60)),
        ],
    )
    .expect("valid");
    let grants = greedy(&limiter, day).await;
    assert_eq!(
        grants.len(),
        25,
        "≤ 25 per day, and the day's quota is used"
    );
    assert!(max_in_any_window(&grants, Duration::from_secs(60)) <= 5);
    assert_eq!(
        &grants[..5],
        &[0, 12, 24, 36, 48].map(Duration::from_secs),
        "the day's burst is paced by the minute window"
    );
}

#[tokio::test(start_paused = true)]
async fn rl_3_a_wait_past_the_deadline_fails_at_once_with_the_wait() {
    let limiter = RateLimiter::new("tradier", &[WindowConfig::new(1, Duration::from_secs(60))])
        .expect("valid");
    limiter.acquire(None).await.expect("first token");
    advance(Duration::from_secs(30)).await;
    let started = Instant::now();
    let refused = limiter
        .acquire(Some(Instant::now() + Duration::from_secs(10)))
        .await
        .expect_err("30 s needed, 10 s left");
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the caller does not wait"
    );
    assert_eq!(refused.wait, Duration::from_secs(30));
    assert_eq!(&*refused.name, "tradier");
}

#[tokio::test(start_paused = true)]
async fn rl_4_pause_until_grants_nothing_before_the_expiry() {
    let limiter = RateLimiter::new(
        "tradier",
        &[WindowConfig::new(120, Duration::from_secs(60))],
    )
    .expect("valid");
    let start = Instant::now();
    limiter.pause_until(start + Duration::from_secs(40));
    let refused = limiter
        .acquire(Some(start + Duration::from_secs(39)))
        .await
        .expect_err("paused");
    assert_eq!(refused.wait, Duration::from_secs(40));
    limiter.acquire(None).await.expect("resumes");
    assert_eq!(start.elapsed(), Duration::from_secs(40));
}

#[tokio::test(start_paused = true)]
async fn rl_5_sixty_four_tasks_stay_within_the_quota_and_are_served_in_order() {
    let limiter = Arc::new(
        RateLimiter::new("tradier", &[WindowConfig::new(10, Duration::from_secs(1))])
            .expect("valid"),
    );
    let start = Instant::now();
    let served = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..64 {
        let (limiter, served) = (limiter.clone(), served.clone());
        tasks.spawn(async move {
            limiter.acquire(None).await.expect("no deadline");
            served
                .lock()
                .expect("not poisoned")
                .push((task, start.elapsed()));
        });
        tokio::task::yield_now().await;
    }
    tasks.join_all().await;
    let served = served.lock().expect("not poisoned");
    let order: Vec<_> = served.iter().map(|(task, _)| *task).collect();
    assert_eq!(
        order,
        (0..64).collect::<Vec<_>>(),
        "served in arrival order"
    );
    let grants: Vec<_> = served.iter().map(|(_, at)| *at).collect();
    assert!(max_in_any_window(&grants, Duration::from_secs(1)) <= 10);
    assert_eq!(grants[63], Duration::from_millis(6_300));
}
