//! Deliveries to a real local receiver (axum on 127.0.0.1:0): signature, idempotency key,
//! retries, permanent refusals, `Retry-After`, dead endpoints, the breaker and metrics.
//!
//! The clock is real: the pipeline sleeps on tokio's clock, but a paused clock auto-advances
//! while real sockets are pending and would fire attempt timeouts spuriously. Backoffs are
//! configured at 1 ms; the one wait measured (`Retry-After: 1`) is checked as a lower bound,
//! which a real clock cannot make flaky.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ivcrush_notify::{
    Delivery, Notifier, NotifyError, Receipt, VerifyError, WebhookEndpoint, WebhookSettings, sign,
    verify,
};

const SECRET: &str = "test-secret-0123456789";
const TOKEN: &str = "T0KEN-in-the-query";

/// What the receiver answers, in order; after the script: 200.
#[derive(Clone, Copy)]
struct Scripted {
    status: u16,
    retry_after: Option<&'static str>,
}

fn answer(status: u16) -> Scripted {
    Scripted {
        status,
        retry_after: None,
    }
}

struct Received {
    headers: HeaderMap,
    body: Bytes,
    at: Instant,
}

#[derive(Default)]
struct ReceiverState {
    script: VecDeque<Scripted>,
    received: Vec<Received>,
    /// Keys of deliveries it acted on: a receiver dedupes on them.
    accepted_keys: HashSet<String>,
    /// Deliveries it acted on (a duplicate key is acknowledged but not acted on again).
    acted: usize,
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<ReceiverState>>);

impl Receiver {
    fn state(&self) -> MutexGuard<'_, ReceiverState> {
        match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Starts the receiver; returns its `/hook?token=...` URL.
    async fn start(script: Vec<Scripted>) -> (Receiver, String) {
        let receiver = Receiver::default();
        receiver.state().script = script.into();
        let app = Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = bind().await;
        let addr = local_addr(&listener);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (receiver, format!("http://{addr}/hook?token={TOKEN}"))
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A receiver as the crate docs describe it: verify, then dedupe on the key.
async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let mut state = receiver.state();
    state.received.push(Received {
        headers: headers.clone(),
        body: body.clone(),
        at: Instant::now(),
    });
    if let Some(scripted) = state.script.pop_front() {
        let status = StatusCode::from_u16(scripted.status).unwrap_or(StatusCode::IM_A_TEAPOT);
        let mut answer_headers = HeaderMap::new();
        if let Some(after) = scripted.retry_after {
            answer_headers.insert("retry-after", HeaderValue::from_static(after));
        }
        return (status, answer_headers, "scripted answer").into_response();
    }
    let verified = verify(
        SECRET.as_bytes(),
        header(&headers, "x-ivcrush-timestamp"),
        header(&headers, "x-ivcrush-signature"),
        &body,
        unix_now(),
        300,
    );
    if let Err(e) = verified {
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    let key = header(&headers, "idempotency-key").to_owned();
    if state.accepted_keys.insert(key) {
        state.acted += 1;
    }
    StatusCode::OK.into_response()
}

async fn bind() -> tokio::net::TcpListener {
    match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("bind 127.0.0.1:0: {e}"),
    }
}

fn local_addr(listener: &tokio::net::TcpListener) -> SocketAddr {
    match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("local_addr: {e}"),
    }
}

/// Fast settings: 1-ms backoff, 2-s attempts.
fn settings(url: &str) -> WebhookSettings {
    WebhookSettings {
        endpoints: vec![WebhookEndpoint::new("ops", url, SECRET)],
        timeout_ms: 2_000,
        max_attempts: 5,
        backoff_base_ms: 1,
        backoff_cap_ms: 1,
        deadline_ms: 20_000,
        ..WebhookSettings::default()
    }
}

fn notifier(settings: &WebhookSettings) -> Notifier {
    match Notifier::new(settings) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    }
}

fn delivery(key: &str) -> Delivery {
    Delivery {
        idempotency_key: key.to_owned(),
        event: "iv_crush".to_owned(),
        body: format!(r#"{{"kind":"iv_crush","symbol":"AAPL","key":"{key}"}}"#).into_bytes(),
    }
}

fn assert_no_leak(error: &NotifyError) {
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(SECRET), "secret in {text}");
        assert!(!text.contains(TOKEN), "URL token in {text}");
        assert!(!text.contains("127.0.0.1"), "URL in {text}");
    }
}

#[tokio::test]
async fn a_delivery_arrives_once_signed_with_its_idempotency_key() {
    let (receiver, url) = Receiver::start(vec![]).await;
    let n = notifier(&settings(&url));
    let d = delivery("alert-1");
    let before = unix_now();
    let receipt = n.deliver("ops", &d).await;
    assert_eq!(
        receipt,
        Ok(Receipt {
            attempts: 1,
            status: 200
        })
    );
    let state = receiver.state();
    assert_eq!(state.received.len(), 1);
    assert_eq!(state.acted, 1);
    let got = &state.received[0];
    assert_eq!(
        got.body.as_ref(),
        d.body.as_slice(),
        "the body is sent byte for byte"
    );
    assert_eq!(header(&got.headers, "content-type"), "application/json");
    assert_eq!(header(&got.headers, "idempotency-key"), "alert-1");
    assert_eq!(header(&got.headers, "x-ivcrush-event"), "iv_crush");
    let timestamp: i64 = header(&got.headers, "x-ivcrush-timestamp")
        .parse()
        .unwrap_or(i64::MIN);
    assert!(
        (before..=unix_now()).contains(&timestamp),
        "timestamp {timestamp} is the time of sending"
    );
    let signature = header(&got.headers, "x-ivcrush-signature");
    assert_eq!(signature, sign(SECRET.as_bytes(), timestamp, &d.body));
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &timestamp.to_string(),
            signature,
            &got.body,
            unix_now(),
            300
        ),
        Ok(())
    );
}

#[tokio::test]
async fn two_503s_then_200_take_three_attempts_with_one_key() {
    let (receiver, url) = Receiver::start(vec![answer(503), answer(503)]).await;
    let n = notifier(&settings(&url));
    let receipt = n.deliver("ops", &delivery("alert-2")).await;
    assert_eq!(
        receipt,
        Ok(Receipt {
            attempts: 3,
            status: 200
        })
    );
    let state = receiver.state();
    let keys: Vec<&str> = state
        .received
        .iter()
        .map(|r| header(&r.headers, "idempotency-key"))
        .collect();
    assert_eq!(keys, ["alert-2"; 3], "the same key on every attempt");
    assert_eq!(state.accepted_keys.len(), 1);
    assert_eq!(state.acted, 1, "acted on exactly once");
    for r in &state.received {
        let ts = header(&r.headers, "x-ivcrush-timestamp");
        let sig = header(&r.headers, "x-ivcrush-signature");
        assert_eq!(
            verify(SECRET.as_bytes(), ts, sig, &r.body, unix_now(), 300),
            Ok(()),
            "every attempt is signed with its own timestamp"
        );
    }
}

#[tokio::test]
async fn a_re_delivery_of_the_same_alert_is_deduped_by_the_receiver() {
    let (receiver, url) = Receiver::start(vec![]).await;
    let n = notifier(&settings(&url));
    for _ in 0..2 {
        assert!(n.deliver("ops", &delivery("alert-dup")).await.is_ok());
    }
    assert!(n.deliver("ops", &delivery("alert-other")).await.is_ok());
    let state = receiver.state();
    assert_eq!(state.received.len(), 3);
    assert_eq!(state.acted, 2);
}

#[tokio::test]
async fn a_400_is_permanent_after_one_attempt() {
    let (receiver, url) = Receiver::start(vec![answer(400)]).await;
    let n = notifier(&settings(&url));
    let result = n.deliver("ops", &delivery("alert-3")).await;
    let Err(error) = result else {
        panic!("a 400 must fail: {result:?}")
    };
    assert_eq!(
        error,
        NotifyError::Permanent {
            endpoint: "ops".to_owned(),
            status: 400,
            attempts: 1
        }
    );
    assert!(!error.retry_later());
    assert!(error.to_string().contains("`ops`"), "{error}");
    assert_no_leak(&error);
    assert_eq!(receiver.state().received.len(), 1, "not retried");
}

#[tokio::test]
async fn other_4xx_and_redirects_are_permanent_but_408_is_retried() {
    let (receiver, url) =
        Receiver::start(vec![answer(408), answer(401), answer(302), answer(404)]).await;
    let n = notifier(&settings(&url));
    let first = n.deliver("ops", &delivery("a")).await;
    assert!(
        matches!(
            first,
            Err(NotifyError::Permanent {
                status: 401,
                attempts: 2,
                ..
            })
        ),
        "{first:?}"
    );
    let second = n.deliver("ops", &delivery("b")).await;
    assert!(
        matches!(
            second,
            Err(NotifyError::Permanent {
                status: 302,
                attempts: 1,
                ..
            })
        ),
        "{second:?}"
    );
    let third = n.deliver("ops", &delivery("c")).await;
    assert!(
        matches!(third, Err(NotifyError::Permanent { status: 404, .. })),
        "{third:?}"
    );
    assert_eq!(receiver.state().received.len(), 4);
}

#[tokio::test]
async fn a_429_retry_after_is_honoured() {
    let (receiver, url) = Receiver::start(vec![Scripted {
        status: 429,
        retry_after: Some("1"),
    }])
    .await;
    // The backoff alone would retry after at most 1 ms.
    let n = notifier(&settings(&url));
    let receipt = n.deliver("ops", &delivery("alert-4")).await;
    assert_eq!(
        receipt,
        Ok(Receipt {
            attempts: 2,
            status: 200
        })
    );
    let state = receiver.state();
    assert_eq!(state.received.len(), 2);
    let waited = state.received[1].at.duration_since(state.received[0].at);
    assert!(
        waited >= Duration::from_secs(1),
        "the retry came after {waited:?}, before the 1 s asked"
    );
}

#[tokio::test]
async fn a_503_retry_after_beyond_the_deadline_gives_up_at_once() {
    let (receiver, url) = Receiver::start(vec![Scripted {
        status: 503,
        retry_after: Some("3600"),
    }])
    .await;
    let n = notifier(&settings(&url));
    let started = Instant::now();
    let result = n.deliver("ops", &delivery("alert-5")).await;
    let Err(error) = result else {
        panic!("must give up: {result:?}")
    };
    assert_eq!(
        error,
        NotifyError::GaveUp {
            endpoint: "ops".to_owned(),
            attempts: 1,
            last_error: "HTTP 503".to_owned()
        }
    );
    assert!(error.retry_later());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "did not wait an hour"
    );
    assert_eq!(receiver.state().received.len(), 1);
}

#[tokio::test]
async fn nothing_listening_gives_up_after_the_configured_attempts() {
    let addr = local_addr(&bind().await); // dropped at once: the port refuses connections
    let url = format!("http://{addr}/hook?token={TOKEN}");
    let mut s = settings(&url);
    s.max_attempts = 3;
    let n = notifier(&s);
    let result = n.deliver("ops", &delivery("alert-6")).await;
    let Err(error) = result else {
        panic!("nobody listens: {result:?}")
    };
    assert!(
        matches!(&error, NotifyError::GaveUp { endpoint, attempts: 3, .. } if endpoint == "ops"),
        "{error:?}"
    );
    assert!(error.retry_later());
    assert_no_leak(&error);
}

#[tokio::test]
async fn a_receiver_that_never_answers_is_cut_by_the_attempt_timeout() {
    let listener = bind().await;
    let addr = local_addr(&listener);
    let connections = Arc::new(Mutex::new(Vec::new()));
    let held = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            // Hold the connection open and never answer.
            if let Ok(mut held) = held.lock() {
                held.push(socket);
            }
        }
    });
    let mut s = settings(&format!("http://{addr}/hook?token={TOKEN}"));
    s.max_attempts = 3;
    s.timeout_ms = 200;
    let n = notifier(&s);
    let started = Instant::now();
    let result = n.deliver("ops", &delivery("alert-7")).await;
    let elapsed = started.elapsed();
    let Err(error) = result else {
        panic!("never answered: {result:?}")
    };
    match &error {
        NotifyError::GaveUp {
            attempts,
            last_error,
            ..
        } => {
            assert_eq!(*attempts, 3);
            assert!(last_error.contains("timed out"), "{last_error}");
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
    assert!(
        elapsed >= Duration::from_millis(600),
        "three attempts of 200 ms each: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(15),
        "bounded by attempts x timeout, not hanging: {elapsed:?}"
    );
    assert_no_leak(&error);
    let count = connections.lock().map(|c| c.len()).unwrap_or(0);
    assert_eq!(count, 3, "one connection per attempt");
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_and_then_sends_nothing() {
    let (receiver, url) = Receiver::start(vec![answer(500); 10]).await;
    let mut s = settings(&url);
    s.max_attempts = 1;
    let n = notifier(&s);
    for i in 0..5 {
        let r = n.deliver("ops", &delivery(&format!("k{i}"))).await;
        assert!(matches!(r, Err(NotifyError::GaveUp { .. })), "{r:?}");
    }
    let r = n.deliver("ops", &delivery("k5")).await;
    assert!(
        matches!(&r, Err(NotifyError::BreakerOpen { endpoint, .. }) if endpoint == "ops"),
        "{r:?}"
    );
    assert_eq!(
        receiver.state().received.len(),
        5,
        "nothing sent while open"
    );
    let breakers = n.breakers();
    assert_eq!(breakers.len(), 1);
    assert_eq!(breakers[0].name(), "webhook:ops");
}

#[tokio::test]
async fn unknown_endpoints_and_unsendable_deliveries_are_refused_without_sending() {
    let (receiver, url) = Receiver::start(vec![]).await;
    let n = notifier(&settings(&url));
    assert_eq!(
        n.deliver("nope", &delivery("k")).await,
        Err(NotifyError::UnknownEndpoint("nope".to_owned()))
    );
    for (key, event) in [("", "iv_crush"), ("k\r\nX-Evil: 1", "iv_crush"), ("k", "")] {
        let d = Delivery {
            idempotency_key: key.to_owned(),
            event: event.to_owned(),
            body: b"{}".to_vec(),
        };
        let r = n.deliver("ops", &d).await;
        assert!(
            matches!(r, Err(NotifyError::InvalidDelivery { .. })),
            "{key:?}/{event:?}: {r:?}"
        );
    }
    assert!(receiver.state().received.is_empty());
    assert_eq!(n.endpoint_names().collect::<Vec<_>>(), ["ops"]);
}

#[test]
fn invalid_settings_are_refused_with_every_problem() {
    let s = WebhookSettings {
        endpoints: vec![
            WebhookEndpoint::new("ops", "mailto:ops@example.com", "sh0rt-s3cret"),
            WebhookEndpoint::new("ops", format!("https://x.example.com/?token={TOKEN}"), ""),
        ],
        ..WebhookSettings::default()
    };
    let Err(NotifyError::Config(problems)) = Notifier::new(&s) else {
        panic!("invalid settings must be refused")
    };
    assert_eq!(problems.len(), 4, "{problems:?}");
    let text = problems.join("\n");
    assert!(!text.contains("sh0rt-s3cret"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    let n = notifier(&WebhookSettings::default());
    assert!(n.is_empty());
}

#[test]
fn verify_rejects_a_wrong_secret_a_tampered_body_and_a_stale_timestamp() {
    let body = br#"{"kind":"iv_crush"}"#;
    let now = 1_767_225_600;
    let signature = sign(SECRET.as_bytes(), now, body);
    let ts = now.to_string();
    assert_eq!(
        verify(SECRET.as_bytes(), &ts, &signature, body, now, 300),
        Ok(())
    );
    assert_eq!(
        verify(b"another-secret-0123456", &ts, &signature, body, now, 300),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &ts,
            &signature,
            br#"{"kind":"iv_crusH"}"#,
            now,
            300
        ),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(
            SECRET.as_bytes(),
            &(now + 1).to_string(),
            &signature,
            body,
            now,
            300
        ),
        Err(VerifyError::Mismatch),
        "the timestamp is part of the signature"
    );
    assert!(matches!(
        verify(SECRET.as_bytes(), &ts, &signature, body, now + 301, 300),
        Err(VerifyError::Stale { age_secs: 301, .. })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn deliveries_are_counted_by_endpoint_and_outcome() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    ivcrush_notify::describe_metrics();

    let (_receiver, url) = Receiver::start(vec![answer(403)]).await;
    let n = notifier(&settings(&url));
    assert!(n.deliver("ops", &delivery("m1")).await.is_err());
    assert!(n.deliver("ops", &delivery("m2")).await.is_ok());

    let mut seen: Vec<(String, String, u64)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == "ivcrush_webhook_deliveries_total")
        .map(|(k, _, _, v)| {
            let label = |n: &str| {
                k.key()
                    .labels()
                    .find(|l| l.key() == n)
                    .map(|l| l.value().to_string())
                    .unwrap_or_default()
            };
            let DebugValue::Counter(n) = v else {
                panic!("not a counter")
            };
            (label("endpoint"), label("outcome"), n)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("ops".into(), "breaker_open".into(), 0),
            ("ops".into(), "delivered".into(), 1),
            ("ops".into(), "gave_up".into(), 0),
            ("ops".into(), "permanent".into(), 1),
        ]
    );
}

/// The outbox task spawns deliveries: the notifier and the delivery future must be `Send`.
#[test]
fn deliveries_can_be_spawned() {
    fn assert_send_sync_static<T: Send + Sync + 'static>(_: &T) {}
    fn assert_send<T: Send>(_: T) {}
    let n = notifier(&WebhookSettings::default());
    assert_send_sync_static(&n);
    let d = delivery("k");
    assert_send(n.deliver("ops", &d));
}
