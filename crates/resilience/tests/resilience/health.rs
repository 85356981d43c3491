//! HL-1.

use std::time::Duration;

use ivcrush_resilience::{
    CircuitBreaker, Criticality, DEFAULT_CHECK_TIMEOUT, HealthRegistry, HealthStatus,
};
use tokio::time::{Instant, sleep};

use crate::support::consecutive;

fn registry(database_up: bool, redis_up: bool) -> HealthRegistry {
    let mut health = HealthRegistry::new();
    health
        .add_check("database", DEFAULT_CHECK_TIMEOUT, move || async move {
            sleep(Duration::from_millis(5)).await;
            if database_up {
                Ok("SELECT 1 ok".to_owned())
            } else {
                Err("connection refused".to_owned())
            }
        })
        .add_check("redis", DEFAULT_CHECK_TIMEOUT, move || async move {
            if redis_up {
                Ok("PONG".to_owned())
            } else {
                Err("connection refused".to_owned())
            }
        })
        .add_check("tradier", DEFAULT_CHECK_TIMEOUT, || async {
            Ok("clock ok".to_owned())
        })
        .add_capability(
            "scan",
            &[
                ("database", Criticality::Critical),
                ("tradier", Criticality::Critical),
            ],
        )
        .add_capability(
            "api",
            &[
                ("database", Criticality::Critical),
                ("redis", Criticality::Optional),
            ],
        );
    health
}

#[tokio::test(start_paused = true)]
async fn hl_1_a_critical_dependency_down_makes_the_process_down() {
    let report = registry(false, true).check().await;
    assert_eq!(report.status, HealthStatus::Down);
    assert_eq!((report.exit_code(), report.http_status()), (1, 503));
    let database = report
        .dependencies
        .iter()
        .find(|d| d.name == "database")
        .expect("listed");
    assert_eq!(
        (database.status, database.critical, database.latency_ms),
        (HealthStatus::Down, true, 5)
    );
    assert_eq!(database.message, "connection refused");
    assert!(
        report.table().contains("overall: DOWN"),
        "{}",
        report.table()
    );
}

#[tokio::test(start_paused = true)]
async fn hl_1_a_non_critical_dependency_down_or_an_open_breaker_degrades() {
    let report = registry(true, false).check().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert_eq!((report.exit_code(), report.http_status()), (2, 200));
    let api = report
        .capabilities
        .iter()
        .find(|c| c.name == "api")
        .expect("listed");
    assert_eq!(api.status, HealthStatus::Degraded);

    let mut health = registry(true, true);
    assert_eq!(health.check().await.exit_code(), 0, "all up");
    let breaker = CircuitBreaker::new("tradier", consecutive(1)).expect("valid");
    breaker
        .try_acquire()
        .expect("closed")
        .record(ivcrush_resilience::Outcome::Failure, Duration::ZERO);
    health.add_breaker("tradier", breaker);
    let report = health.check().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    let json = serde_json::to_value(&report).expect("serializable");
    assert_eq!(json["status"], "DEGRADED");
    assert_eq!(json["dependencies"][2]["breaker"], "OPEN");
}

#[tokio::test(start_paused = true)]
async fn hl_1_a_hanging_check_times_out_and_checks_run_concurrently() {
    let mut health = HealthRegistry::new();
    for name in ["a", "b", "c"] {
        health.add_check(name, DEFAULT_CHECK_TIMEOUT, || async {
            sleep(Duration::from_secs(1)).await;
            Ok("ok".to_owned())
        });
    }
    let started = Instant::now();
    let report = health.check().await;
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "three 1-s checks take 1 s"
    );
    assert_eq!(report.status, HealthStatus::Up);

    health.add_check("hangs", DEFAULT_CHECK_TIMEOUT, std::future::pending);
    let started = Instant::now();
    let report = health.check().await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let hangs = report
        .dependencies
        .iter()
        .find(|d| d.name == "hangs")
        .expect("listed");
    assert_eq!(hangs.status, HealthStatus::Down);
    assert_eq!(hangs.latency_ms, 2_000);
    assert_eq!(hangs.message, "timed out after 2000 ms");
    assert_eq!(
        report.status,
        HealthStatus::Degraded,
        "not needed by any capability"
    );
}

/// A server answers from its database when a vendor fails: with `api` primary, the vendor the
/// scan needs makes `scan` DOWN and the process only DEGRADED; the database still makes it DOWN.
#[tokio::test(start_paused = true)]
async fn hl_1_only_primary_capabilities_make_the_process_down() {
    let mut health = registry(true, true);
    health
        .add_check("tradier", DEFAULT_CHECK_TIMEOUT, || async {
            Err("HTTP 500".to_owned())
        })
        .set_primary(&["api"]);
    let report = health.check().await;
    assert_eq!(report.status, HealthStatus::Degraded);
    assert_eq!(report.http_status(), 200);
    let scan = report.capabilities.iter().find(|c| c.name == "scan");
    assert_eq!(scan.map(|c| c.status), Some(HealthStatus::Down));
    let tradier = report.dependencies.iter().find(|d| d.name == "tradier");
    assert_eq!(
        tradier.map(|d| (d.status, d.critical)),
        Some((HealthStatus::Down, false))
    );

    let mut health = registry(false, true);
    health.set_primary(&["api"]);
    assert_eq!(health.check().await.status, HealthStatus::Down);
}
