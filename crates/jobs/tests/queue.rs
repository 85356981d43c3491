//! The queue on the machine's Redis (`REDIS_URL`; skipped with a message when unset). Each
//! test has a key prefix of its own, deleted at the end. Waiting for a visibility timeout is a
//! consumer's own blocking read (no sleeps).

use ivcrush_jobs::{Consumer, Delivery, Failure, Job, Queue, QueueConfig, consumer_name};
use std::time::{Duration, Instant};

fn redis_url(test: &str) -> Option<String> {
    match std::env::var("REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            eprintln!(
                "skipping {test}: REDIS_URL is not set (e.g. REDIS_URL=redis://127.0.0.1:6379)"
            );
            None
        }
    }
}

fn config(test: &str, visibility_ms: u64, max_deliveries: u32) -> QueueConfig {
    QueueConfig {
        prefix: format!(
            "ivcrush-test:{test}:{}:{}",
            std::process::id(),
            rand::random::<u32>()
        ),
        visibility_timeout: Duration::from_millis(visibility_ms),
        max_deliveries,
        block: Duration::from_millis(20),
    }
}

async fn cleanup(url: &str, config: &QueueConfig) {
    let client = redis::Client::open(url).expect("client");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let _: () = redis::cmd("DEL")
        .arg(config.jobs_key())
        .arg(config.dead_key())
        .arg(config.errors_key())
        .query_async(&mut c)
        .await
        .expect("delete the test keys");
}

fn job(run: &str, ticker: &str) -> Job<serde_json::Value> {
    Job {
        run_id: run.into(),
        ticker: ticker.into(),
        body: serde_json::json!({ "ticker": ticker }),
    }
}

/// The next delivery `c` gets within 10 s (it waits in its blocking reads).
async fn next_within(c: &mut Consumer) -> Delivery {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(d) = c.next().await.expect("read") {
            return d;
        }
        assert!(Instant::now() < deadline, "no delivery within 10 s");
    }
}

#[tokio::test]
async fn jobs_are_delivered_once_in_order_and_gone_when_acknowledged() {
    let Some(url) = redis_url("jobs_are_delivered_once") else {
        return;
    };
    let cfg = config("order", 60_000, 5);
    let mut q = Queue::connect(&url, cfg.clone()).await.expect("queue");
    let ids = q
        .enqueue(&[job("r1", "AAA"), job("r1", "BBB"), job("r1", "CCC")])
        .await
        .expect("enqueue");
    assert_eq!(ids.len(), 3);
    let mut a = Consumer::connect(&url, cfg.clone(), consumer_name())
        .await
        .expect("consumer a");
    let mut b = Consumer::connect(&url, cfg.clone(), consumer_name())
        .await
        .expect("consumer b");
    let first = next_within(&mut a).await;
    let second = next_within(&mut b).await;
    let third = next_within(&mut a).await;
    let tickers: Vec<&str> = [&first, &second, &third]
        .iter()
        .map(|d| d.ticker.as_str())
        .collect();
    assert_eq!(tickers, ["AAA", "BBB", "CCC"]);
    assert!(
        [&first, &second, &third]
            .iter()
            .all(|d| d.attempt == 1 && d.run_id == "r1")
    );
    let body: serde_json::Value = first.decode().expect("decodes");
    assert_eq!(body["ticker"], "AAA");
    assert_eq!(
        b.next().await.expect("read"),
        None,
        "nothing else to deliver"
    );
    assert_eq!(q.pending().await.expect("pending"), 3);
    a.ack(&first).await.expect("ack");
    b.ack(&second).await.expect("ack");
    a.ack(&third).await.expect("ack");
    assert_eq!(q.pending().await.expect("pending"), 0);
    assert_eq!(
        q.waiting().await.expect("waiting"),
        0,
        "acknowledged jobs are deleted"
    );
    cleanup(&url, &cfg).await;
}

#[tokio::test]
async fn a_job_abandoned_by_its_worker_is_claimed_by_another_after_the_timeout() {
    let Some(url) = redis_url("a_job_abandoned") else {
        return;
    };
    let cfg = config("claim", 150, 5);
    let mut q = Queue::connect(&url, cfg.clone()).await.expect("queue");
    q.enqueue(&[job("r2", "AAA")]).await.expect("enqueue");
    let mut dead_worker = Consumer::connect(&url, cfg.clone(), consumer_name())
        .await
        .expect("consumer");
    let taken = next_within(&mut dead_worker).await;
    let started = Instant::now();
    drop(dead_worker); // dies without acknowledging
    let mut other = Consumer::connect(&url, cfg.clone(), consumer_name())
        .await
        .expect("consumer");
    let claimed = next_within(&mut other).await;
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "claimed only after the visibility timeout"
    );
    assert_eq!(claimed.id, taken.id);
    assert_eq!(claimed.attempt, 2);
    other.ack(&claimed).await.expect("ack");
    assert_eq!(q.pending().await.expect("pending"), 0);
    cleanup(&url, &cfg).await;
}

#[tokio::test]
async fn a_job_failing_every_time_is_dead_lettered_after_max_deliveries_with_its_reason() {
    let Some(url) = redis_url("a_job_failing_every_time") else {
        return;
    };
    let cfg = config("poison", 50, 3);
    let mut q = Queue::connect(&url, cfg.clone()).await.expect("queue");
    q.enqueue(&[job("r3", "BAD"), job("other-run", "BAD")])
        .await
        .expect("enqueue");
    let mut c = Consumer::connect(&url, cfg.clone(), consumer_name())
        .await
        .expect("consumer");
    let mut outcomes = Vec::new();
    let mut attempts = Vec::new();
    while outcomes.len() < 3 {
        let d = next_within(&mut c).await;
        if d.run_id != "r3" {
            c.ack(&d).await.expect("ack");
            continue;
        }
        attempts.push(d.attempt);
        outcomes.push(
            c.fail(&d, &format!("boom on attempt {}", d.attempt))
                .await
                .expect("fail"),
        );
    }
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(
        outcomes,
        [
            Failure::WillRetry,
            Failure::WillRetry,
            Failure::DeadLettered
        ]
    );
    let (dead, cursor) = q.dead_letters("r3", None).await.expect("dead letters");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].ticker, "BAD");
    assert_eq!(dead[0].reason, "boom on attempt 3");
    assert_eq!(dead[0].deliveries, 3);
    assert_eq!(q.pending().await.expect("pending"), 0);
    let (again, _) = q
        .dead_letters("r3", cursor.as_deref())
        .await
        .expect("dead letters");
    assert!(again.is_empty(), "the cursor skips what was read");
    cleanup(&url, &cfg).await;
}

#[tokio::test]
async fn a_job_whose_workers_all_die_is_dead_lettered_saying_so() {
    let Some(url) = redis_url("a_job_whose_workers_all_die") else {
        return;
    };
    let cfg = config("dies", 50, 2);
    let mut q = Queue::connect(&url, cfg.clone()).await.expect("queue");
    q.enqueue(&[job("r4", "KILLER")]).await.expect("enqueue");
    for _ in 0..2 {
        // Each worker takes the job and dies.
        let mut w = Consumer::connect(&url, cfg.clone(), consumer_name())
            .await
            .expect("consumer");
        next_within(&mut w).await;
    }
    let mut survivor = Consumer::connect(&url, cfg.clone(), consumer_name())
        .await
        .expect("consumer");
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        assert_eq!(
            survivor.next().await.expect("read"),
            None,
            "never handed out again"
        );
        let (dead, _) = q.dead_letters("r4", None).await.expect("dead letters");
        if !dead.is_empty() {
            break dead;
        }
        assert!(Instant::now() < deadline, "not dead-lettered within 10 s");
    };
    assert_eq!(dead[0].deliveries, 2);
    assert!(
        dead[0].reason.contains("never acknowledged"),
        "{}",
        dead[0].reason
    );
    cleanup(&url, &cfg).await;
}
