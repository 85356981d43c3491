//! Request ids, error shape, graceful shutdown.

use std::sync::Arc;

use ivcrush_resilience::Criticality;
use tokio::sync::{Notify, mpsc};

use crate::support::{error_body, start};

#[tokio::test]
async fn a_sent_request_id_is_echoed() {
    let s = start().await;
    let r = s
        .client
        .get(s.url("/health/live"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .expect("request");
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    s.stop().await;
}

#[tokio::test]
async fn a_request_id_is_generated_when_absent_or_unusable() {
    let s = start().await;
    let r = s.get_anon("/health/live").await;
    let id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(id.len(), 32, "128 bits: {id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    let r = s
        .client
        .get(s.url("/health/live"))
        .header("x-request-id", "x".repeat(200))
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.headers()["x-request-id"].len(),
        32,
        "an oversized id is replaced"
    );
    // No X-Request-Id but a W3C traceparent: the caller's trace ID, so our lines join its trace.
    let r = s
        .client
        .get(s.url("/health/live"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.headers()["x-request-id"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    s.stop().await;
}

#[tokio::test]
async fn error_bodies_carry_the_request_id_of_the_response() {
    let s = start().await;
    let r = s
        .client
        .get(s.url("/api/v1/scan"))
        .header("x-request-id", "err-42")
        .send()
        .await
        .expect("request");
    let v = error_body(r, 401).await;
    assert_eq!(v["request_id"], "err-42");
    s.stop().await;
}

#[tokio::test]
async fn shutdown_stops_accepting_but_finishes_the_request_in_flight() {
    let mut s = start().await;
    let (entered_tx, mut entered) = mpsc::channel::<()>(1);
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    s.state
        .add_health_check("slow_dependency", Criticality::Optional, move || {
            let entered_tx = entered_tx.clone();
            let gate = gate.clone();
            async move {
                let _ = entered_tx.send(()).await;
                gate.notified().await;
                Ok("finally answered".to_string())
            }
        });
    let client = s.client.clone();
    let url = s.url("/health/ready");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    entered.recv().await.expect("the request reached the check");
    s.signal_stop();
    release.notify_one();
    let resp = in_flight
        .await
        .expect("task")
        .expect("the in-flight request completes");
    assert_eq!(resp.status(), 200);
    s.join().await.expect("the server stops cleanly");
    assert!(
        reqwest::get(s.url("/health/live")).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_is_503_timeout() {
    let s = crate::support::start_with(|c| c.request_timeout_ms = 50).await;
    s.state
        .add_health_check("hanging", Criticality::Optional, || async {
            std::future::pending::<()>().await;
            Ok(String::new())
        });
    let v = error_body(s.get_anon("/health/ready").await, 503).await;
    assert_eq!(v["error"], "timeout");
    s.stop().await;
}
