//! FW-*: the fixed-window model of a vendor quota (Tradier: 120 per 60 s, counted from the
//! first request's arrival), against a simulated vendor on the paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivcrush_resilience::{
    HttpClassifier, Limiter, Pipeline, PipelineConfig, RateLimiter, WindowConfig, WindowModel,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, advance, sleep};

use crate::support::{VendorError, pipeline_config};

const MINUTE: Duration = Duration::from_secs(60);
const SECOND: Duration = Duration::from_secs(1);

fn tradier() -> RateLimiter {
    RateLimiter::new("tradier", &[WindowConfig::fixed(120, MINUTE, SECOND)]).expect("valid")
}

/// The vendor: a fixed window that starts at the first request *arriving* after the previous
/// window ended, on its own clock; beyond the quota it answers 429.
#[derive(Debug)]
struct Vendor {
    limit: u32,
    window: Duration,
    start: Option<Instant>,
    count: u32,
    /// Requests accepted per vendor window.
    per_window: Vec<u32>,
    rejected: u32,
}

/// What the vendor answers: accepted, `X-Ratelimit-Available`, window end.
struct Answer {
    accepted: bool,
    available: u64,
    end: Instant,
}

impl Vendor {
    fn new(limit: u32, window: Duration) -> Vendor {
        Vendor {
            limit,
            window,
            start: None,
            count: 0,
            per_window: Vec::new(),
            rejected: 0,
        }
    }

    fn receive(&mut self, at: Instant) -> Answer {
        let start = match self.start {
            Some(start) if at < start + self.window => start,
            _ => {
                self.start = Some(at);
                self.count = 0;
                self.per_window.push(0);
                at
            }
        };
        let accepted = self.count < self.limit;
        if accepted {
            self.count += 1;
            if let Some(n) = self.per_window.last_mut() {
                *n += 1;
            }
        } else {
            self.rejected += 1;
        }
        Answer {
            accepted,
            available: u64::from(self.limit - self.count),
            end: start + self.window,
        }
    }
}

/// Sends one request per entry of `gaps` (the pause before it), each after a limiter token;
/// each travels `latency(send time)` to the vendor and the same again back, where the answer
/// is fed to `observe` when `observe` is set. Returns the vendor and our grant times.
async fn simulate(
    limiter: Arc<RateLimiter>,
    gaps: &[Duration],
    seed: u64,
    latency: impl Fn(&mut SmallRng, Duration) -> Duration,
    observe: bool,
) -> (Vendor, Vec<Duration>) {
    let vendor = Arc::new(Mutex::new(Vendor::new(120, MINUTE)));
    let mut rng = SmallRng::seed_from_u64(seed);
    let start = Instant::now();
    let mut grants = Vec::with_capacity(gaps.len());
    let mut flights = tokio::task::JoinSet::new();
    for &gap in gaps {
        if !gap.is_zero() {
            sleep(gap).await;
        }
        limiter.acquire(None).await.expect("no deadline");
        let sent = start.elapsed();
        grants.push(sent);
        let (there, back) = (latency(&mut rng, sent), latency(&mut rng, sent));
        let (vendor, limiter) = (vendor.clone(), limiter.clone());
        flights.spawn(async move {
            sleep(there).await;
            let answer = vendor.lock().expect("not poisoned").receive(Instant::now());
            sleep(back).await;
            if observe {
                limiter.observe(
                    Some(answer.available),
                    Some(answer.end.saturating_duration_since(Instant::now())),
                );
            }
            answer.accepted
        });
    }
    flights.join_all().await;
    let vendor = Arc::into_inner(vendor)
        .expect("flights are done")
        .into_inner()
        .expect("not poisoned");
    (vendor, grants)
}

fn lan(rng: &mut SmallRng, _sent: Duration) -> Duration {
    Duration::from_millis(rng.random_range(5..=300))
}

/// Bursts of 1–20 requests, often after a pause of up to 40 s.
fn bursty(seed: u64, requests: usize) -> Vec<Duration> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut gaps = Vec::with_capacity(requests);
    while gaps.len() < requests {
        let pause = if rng.random_bool(0.6) {
            Duration::from_millis(rng.random_range(0..=40_000))
        } else {
            Duration::ZERO
        };
        gaps.push(pause);
        let burst = rng.random_range(1..=20usize);
        gaps.extend(std::iter::repeat_n(Duration::ZERO, burst - 1));
    }
    gaps.truncate(requests);
    gaps
}

#[tokio::test(start_paused = true)]
async fn fw_1_a_burst_of_100_goes_out_at_once() {
    let limiter = Arc::new(tradier());
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let limiter = limiter.clone();
        tasks.spawn(async move {
            limiter.acquire(None).await.expect("no deadline");
            start.elapsed()
        });
    }
    let times = tasks.join_all().await;
    assert_eq!(times.len(), 100);
    assert!(times.iter().all(Duration::is_zero), "{times:?}");
    assert_eq!(limiter.spare(), Some(20));
}

#[tokio::test(start_paused = true)]
async fn fw_1_a_five_request_analysis_through_the_pipeline_does_not_wait() {
    let mut config = pipeline_config();
    config.rate_limits = vec![WindowConfig::fixed(120, MINUTE, SECOND)];
    let pipeline = Pipeline::new("tradier", &config, HttpClassifier).expect("valid");
    let start = Instant::now();
    for _ in 0..5 {
        pipeline
            .call(|| async { Ok::<_, VendorError>(()) })
            .await
            .expect("allowed");
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(pipeline.limiter().spare(), Some(115));
}

#[tokio::test(start_paused = true)]
async fn fw_2_a_greedy_client_gets_120_per_61_s_at_least_98_percent_of_the_quota() {
    let limiter = tradier();
    let start = Instant::now();
    let horizon = Duration::from_secs(600);
    let mut grants = Vec::new();
    loop {
        limiter.acquire(None).await.expect("no deadline");
        let at = start.elapsed();
        if at >= horizon {
            break;
        }
        grants.push(at);
    }
    // Windows start at 0, 61, …, 549 s: ten full windows in ten minutes.
    assert_eq!(grants.len(), 1_200);
    assert!(grants.len() as f64 >= 0.98 * 120.0 * 10.0);
    for (k, chunk) in grants.chunks(120).enumerate() {
        let window_start = Duration::from_secs(61 * k as u64);
        assert!(
            chunk.iter().all(|&t| t == window_start),
            "window {k} is one burst at {window_start:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn fw_3_a_thousand_requests_never_exceed_the_quota_in_any_vendor_window() {
    for seed in 0..5u64 {
        let gaps = bursty(seed, 1_000);
        let (vendor, grants) = simulate(Arc::new(tradier()), &gaps, seed, lan, true).await;
        assert_eq!(grants.len(), 1_000);
        assert_eq!(vendor.rejected, 0, "seed {seed}: no 429");
        assert!(
            vendor.per_window.iter().all(|&n| n <= 120),
            "seed {seed}: {:?}",
            vendor.per_window
        );
        assert!(
            vendor.per_window.len() >= 10,
            "seed {seed}: {} vendor windows",
            vendor.per_window.len()
        );
        assert_eq!(vendor.per_window.iter().sum::<u32>(), 1_000);
    }
    // The greedy client too, whose windows follow each other as closely as possible.
    let gaps = vec![Duration::ZERO; 1_200];
    let (vendor, _) = simulate(Arc::new(tradier()), &gaps, 9, lan, true).await;
    assert_eq!(vendor.rejected, 0);
    assert_eq!(vendor.per_window, vec![120; 10]);
}

/// The first 30 s on a slow link (2.5–2.7 s each way), then 5–300 ms: the vendor's first
/// window starts 2.5 s after ours, later than the guard covers.
fn slow_start(rng: &mut SmallRng, sent: Duration) -> Duration {
    if sent < Duration::from_secs(30) {
        Duration::from_millis(rng.random_range(2_500..=2_700))
    } else {
        lan(rng, sent)
    }
}

#[tokio::test(start_paused = true)]
async fn fw_4_the_vendors_headers_realign_a_window_that_started_late() {
    let gaps = vec![Duration::ZERO; 600];
    let (blind, _) = simulate(Arc::new(tradier()), &gaps, 1, slow_start, false).await;
    assert!(
        blind.rejected > 0,
        "without observe() the second window lands in the vendor's first"
    );

    let limiter = Arc::new(tradier());
    let (vendor, grants) = simulate(limiter, &gaps, 1, slow_start, true).await;
    assert_eq!(vendor.rejected, 0);
    assert!(vendor.per_window.iter().all(|&n| n <= 120));
    // The vendor's first window ends at its first arrival (2.5–2.7 s) + 60 s; ours moved to
    // that + 1 s guard, instead of 61 s.
    assert!(
        (Duration::from_millis(63_500)..=Duration::from_millis(63_700)).contains(&grants[120]),
        "{:?}",
        grants[120]
    );
}

#[tokio::test(start_paused = true)]
async fn fw_5_waiters_are_served_in_arrival_order_one_window_at_a_time() {
    let limiter = Arc::new(
        RateLimiter::new(
            "vendor",
            &[WindowConfig::fixed(
                10,
                Duration::from_millis(900),
                Duration::from_millis(100),
            )],
        )
        .expect("valid"),
    );
    let start = Instant::now();
    let served = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..64u64 {
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
    let order: Vec<u64> = served.iter().map(|(task, _)| *task).collect();
    assert_eq!(order, (0..64).collect::<Vec<_>>(), "arrival order");
    for (task, at) in served.iter() {
        assert_eq!(*at, Duration::from_secs(task / 10), "task {task}");
    }
}

#[tokio::test(start_paused = true)]
async fn fw_6_a_wait_past_the_deadline_is_refused_at_once() {
    let limiter = Arc::new(
        RateLimiter::new("tradier", &[WindowConfig::fixed(1, MINUTE, SECOND)]).expect("valid"),
    );
    limiter.acquire(None).await.expect("first");
    advance(Duration::from_secs(30)).await;
    let started = Instant::now();
    let refused = limiter
        .acquire(Some(Instant::now() + Duration::from_secs(10)))
        .await
        .expect_err("31 s needed, 10 s left");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(refused.wait, Duration::from_secs(31));

    // Behind a queued waiter, too: the spent window alone passes the deadline.
    let waiter = {
        let limiter = limiter.clone();
        tokio::spawn(async move { limiter.acquire(None).await })
    };
    tokio::task::yield_now().await;
    let refused = limiter
        .acquire(Some(Instant::now() + Duration::from_secs(10)))
        .await
        .expect_err("queued behind a waiter");
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(refused.wait, Duration::from_secs(31));
    waiter.await.expect("no panic").expect("no deadline");
    assert_eq!(started.elapsed(), Duration::from_secs(31));
}

#[tokio::test(start_paused = true)]
async fn fw_7_available_zero_pauses_until_the_vendors_reset_plus_guard() {
    let limiter = tradier();
    let start = Instant::now();
    limiter.acquire(None).await.expect("first");
    // The vendor's window (shared with another client) resets in 40 s, before ours would.
    limiter.observe(Some(0), Some(Duration::from_secs(40)));
    assert_eq!(limiter.spare(), Some(0));
    let refused = limiter
        .acquire(Some(start + Duration::from_secs(40)))
        .await
        .expect_err("paused");
    assert_eq!(refused.wait, Duration::from_secs(41));
    limiter.acquire(None).await.expect("resumes");
    assert_eq!(start.elapsed(), Duration::from_secs(41));
    assert_eq!(
        limiter.spare(),
        Some(118),
        "only our own two requests are held"
    );
}

#[tokio::test(start_paused = true)]
async fn fw_7_a_vendor_window_ending_later_moves_our_reset_to_its_end_plus_guard() {
    let limiter = tradier();
    let start = Instant::now();
    for _ in 0..120 {
        limiter.acquire(None).await.expect("burst");
    }
    advance(Duration::from_secs(5)).await;
    // Our tokens come back at 61 s; the vendor (its window started 3 s late) counted 110 of
    // them in a window ending at 63 s.
    limiter.observe(Some(10), Some(Duration::from_secs(58)));
    limiter.acquire(None).await.expect("the 10 left");
    assert_eq!(start.elapsed(), Duration::from_secs(61));
    for _ in 0..9 {
        limiter.acquire(None).await.expect("the 10 left");
    }
    assert_eq!(start.elapsed(), Duration::from_secs(61));
    limiter.acquire(None).await.expect("the vendor's reset");
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(64),
        "vendor end + guard"
    );
    assert_eq!(
        limiter.spare(),
        Some(109),
        "10 held until 122 s, 1 until 125 s"
    );

    // A vendor window ending before ours (the usual case: it started later by the latency,
    // under the guard) changes nothing.
    let limiter = tradier();
    let start = Instant::now();
    for _ in 0..120 {
        limiter.acquire(None).await.expect("burst");
    }
    limiter.observe(Some(0), Some(Duration::from_millis(60_200)));
    limiter.acquire(None).await.expect("next window");
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(61_200),
        "paused: 60.2 s + guard"
    );
    let limiter = tradier();
    for _ in 0..120 {
        limiter.acquire(None).await.expect("burst");
    }
    limiter.observe(Some(1), Some(Duration::from_millis(60_200)));
    let start = Instant::now();
    limiter.acquire(None).await.expect("next window");
    assert_eq!(start.elapsed(), Duration::from_secs(61));
}

#[tokio::test(start_paused = true)]
async fn fw_7_available_only_lowers_what_is_left() {
    let limiter = tradier();
    for _ in 0..10 {
        limiter.acquire(None).await.expect("burst");
    }
    assert_eq!(limiter.spare(), Some(110));
    limiter.observe(Some(115), Some(Duration::from_secs(59)));
    assert_eq!(limiter.spare(), Some(110), "in-flight requests are ours");
    limiter.observe(Some(50), Some(Duration::from_secs(59)));
    assert_eq!(limiter.spare(), Some(50), "someone else shares the quota");
    limiter.observe(Some(100), Some(Duration::from_secs(58)));
    assert_eq!(limiter.spare(), Some(50), "never raised");
    // A report without a reset time (or one in the past) cannot be tied to a window.
    limiter.observe(Some(3), None);
    limiter.observe(Some(3), Some(Duration::ZERO));
    assert_eq!(limiter.spare(), Some(50));
}

#[tokio::test(start_paused = true)]
async fn fw_7_a_band_above_zero_keeps_headroom_for_other_clients() {
    let limiter = RateLimiter::new(
        "tradier",
        &[WindowConfig::fixed(120, MINUTE, SECOND).with_pause_at_available(5)],
    )
    .expect("valid");
    let start = Instant::now();
    limiter.acquire(None).await.expect("first");
    limiter.observe(Some(6), Some(Duration::from_secs(59)));
    assert_eq!(limiter.spare(), Some(6));
    limiter.observe(Some(5), Some(Duration::from_secs(59)));
    assert_eq!(limiter.spare(), Some(0));
    limiter.acquire(None).await.expect("after the reset");
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(60),
        "vendor reset + guard"
    );
}

#[tokio::test(start_paused = true)]
async fn fw_8_spare_is_unknown_for_gcra_and_zero_while_paused() {
    let gcra = RateLimiter::new("av", &[WindowConfig::new(5, MINUTE)]).expect("valid");
    assert_eq!(gcra.spare(), None);
    let fixed = tradier();
    assert_eq!(fixed.spare(), Some(120));
    fixed.pause_until(Instant::now() + SECOND);
    assert_eq!(fixed.spare(), Some(0));
    advance(SECOND).await;
    assert_eq!(fixed.spare(), Some(120));
}

#[tokio::test(start_paused = true)]
async fn fw_9_fixed_and_gcra_windows_combine_all_must_allow() {
    let limiter = RateLimiter::new(
        "mixed",
        &[
            WindowConfig::fixed(10, MINUTE, SECOND),
            WindowConfig::new(2, SECOND).with_burst(2),
        ],
    )
    .expect("valid");
    let start = Instant::now();
    let mut grants = Vec::new();
    for _ in 0..11 {
        limiter.acquire(None).await.expect("no deadline");
        grants.push(start.elapsed());
    }
    // Pairs every second by the GCRA window, ten per 61 s by the fixed one.
    assert_eq!(&grants[..2], &[Duration::ZERO, Duration::ZERO]);
    assert!(grants[9] < Duration::from_secs(10));
    assert_eq!(grants[10], Duration::from_secs(61));
}

#[test]
fn fw_10_configuration_reads_the_fixed_model_and_keeps_old_windows_gcra() {
    let config: PipelineConfig = serde_json::from_str(
        r#"{ "rate_limits": [
            { "limit": 120, "window_ms": 60000, "model": "fixed", "guard_ms": 1000 },
            { "limit": 5, "window_ms": 60000 }
        ] }"#,
    )
    .expect("valid");
    assert_eq!(
        config.rate_limits,
        vec![
            WindowConfig::fixed(120, MINUTE, SECOND),
            WindowConfig::new(5, MINUTE),
        ]
    );
    assert_eq!(config.rate_limits[1].model, WindowModel::Gcra);
    let defaulted: WindowConfig =
        serde_json::from_str(r#"{ "limit": 120, "window_ms": 60000, "model": "fixed" }"#)
            .expect("valid");
    assert_eq!(defaulted.guard_ms, 1_000);
    assert_eq!(defaulted.pause_at_available, 0);
    assert!(Pipeline::new("tradier", &config, HttpClassifier).is_ok());
}

/// A client slightly above the quota (a request every 0–900 ms, now and then a pause of up
/// to 30 s): windows fill up and requests go out in every part of them, edges included.
fn paced(seed: u64, requests: usize) -> Vec<Duration> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..requests)
        .map(|_| {
            if rng.random_bool(0.02) {
                Duration::from_millis(rng.random_range(0..=30_000))
            } else {
                Duration::from_millis(rng.random_range(0..=900))
            }
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn fw_3_a_client_pacing_above_the_quota_never_exceeds_it_with_or_without_headers() {
    let mut full = 0;
    for seed in 0..5u64 {
        let gaps = paced(100 + seed, 1_000);
        for observe in [false, true] {
            let (vendor, grants) = simulate(Arc::new(tradier()), &gaps, seed, lan, observe).await;
            assert_eq!(grants.len(), 1_000);
            assert_eq!(vendor.rejected, 0, "seed {seed}, observe {observe}");
            assert!(vendor.per_window.iter().all(|&n| n <= 120));
            assert!(vendor.per_window.len() >= 10, "{:?}", vendor.per_window);
            full += vendor.per_window.iter().filter(|&&n| n == 120).count();
        }
    }
    assert!(
        full > 0,
        "the quota is reached: the window edges are tested"
    );
    // The guard is what keeps it so: without it the vendor sees more than its quota.
    let blind = RateLimiter::new(
        "tradier",
        &[WindowConfig::fixed(120, MINUTE, Duration::ZERO)],
    )
    .expect("valid");
    let (vendor, _) = simulate(Arc::new(blind), &paced(100, 1_000), 0, lan, false).await;
    assert!(vendor.rejected > 0, "no guard, no margin");
}
