//! Alerts end to end: a calendar sync that moves one report raises exactly one alert, which a
//! local webhook receiver gets once, signed; a receiver failing twice gets it once on the third
//! attempt; a receiver that never answers does not hold up a scan. Real SQLite (and
//! PostgreSQL when `DATABASE_URL` is set), a real HTTP receiver on 127.0.0.1.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{NaiveDate, Utc};
use ivcrush_app::{App, AppConfig, ScanRequest};
use ivcrush_core::{EarningsEvent, Timing};
use ivcrush_market::sim::SimMarket;
use ivcrush_market::{EarningsCalendar, EarningsRecord, MarketData, MarketError};
use ivcrush_notify::{WebhookEndpoint, verify};
use ivcrush_store::{NewAlert, Store, open_store};

const SEED: u64 = 42;
const SECRET: &str = "webhook-secret-0123456789";

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, MarketError>> + Send + 'a>>;

/// A calendar whose answer the test sets.
#[derive(Clone, Default)]
struct SetCalendar(Arc<Mutex<Vec<EarningsRecord>>>);

impl SetCalendar {
    fn set(&self, records: Vec<EarningsRecord>) {
        *self.0.lock().expect("lock") = records;
    }
}

// The trait is `#[async_trait]`; written out by hand (this crate does not depend on it).
impl EarningsCalendar for SetCalendar {
    fn calendar<'life0, 'async_trait>(
        &'life0 self,
        _from: NaiveDate,
        _to: NaiveDate,
    ) -> BoxFut<'async_trait, Vec<EarningsRecord>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        let records = self.0.lock().expect("lock").clone();
        Box::pin(async move { Ok(records) })
    }

    fn past_reports<'life0, 'life1, 'async_trait>(
        &'life0 self,
        _symbol: &'life1 str,
    ) -> BoxFut<'async_trait, Vec<EarningsEvent>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move { Ok(Vec::new()) })
    }
}

/// What the receiver answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    /// 503 to the first two attempts, then 200.
    FailTwice,
    /// Accepts the request and never answers.
    Hang,
}

#[derive(Clone)]
struct Receiver {
    mode: Mode,
    attempts: Arc<AtomicUsize>,
    /// Idempotency keys accepted (2xx) with a valid signature.
    accepted: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = r.attempts.fetch_add(1, Ordering::SeqCst) + 1;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let signed = verify(
        SECRET.as_bytes(),
        &header("x-ivcrush-timestamp"),
        &header("x-ivcrush-signature"),
        &body,
        Utc::now().timestamp(),
        300,
    );
    if signed.is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    match r.mode {
        Mode::Hang => std::future::pending::<StatusCode>().await,
        Mode::FailTwice if n <= 2 => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            let key = header("idempotency-key");
            let mut accepted = r.accepted.lock().expect("lock");
            // A receiver drops a key it has seen.
            if !accepted.contains(&key) {
                accepted.push(key);
                if let Ok(v) = serde_json::from_slice(&body) {
                    r.bodies.lock().expect("lock").push(v);
                }
            }
            StatusCode::OK
        }
    }
}

async fn receiver(mode: Mode) -> (Receiver, String) {
    let r = Receiver {
        mode,
        attempts: Arc::default(),
        accepted: Arc::default(),
        bodies: Arc::default(),
    };
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, url)
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

fn record(ticker: &str, date: &str) -> EarningsRecord {
    EarningsRecord {
        ticker: ticker.to_owned(),
        name: None,
        event: EarningsEvent {
            date: d(date),
            timing: Timing::Amc,
        },
    }
}

/// The stores to run on: SQLite always, PostgreSQL (a schema of its own) with DATABASE_URL.
async fn stores(test: &str) -> Vec<(String, Arc<dyn Store>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut out = vec![(
        "sqlite".to_owned(),
        open_store(&url).await.expect("sqlite store"),
        Some(dir),
    )];
    match std::env::var("DATABASE_URL") {
        Ok(pg) if pg.starts_with("postgres") => {
            use ivcrush_store::sqlx::{self, Connection};
            use std::str::FromStr;
            let base = sqlx::postgres::PgConnectOptions::from_str(&pg).expect("a postgres URL");
            let schema = format!("ivcrush_alerts_{test}_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect_with(&base)
                .await
                .expect("postgres reachable");
            for statement in [
                format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                format!("CREATE SCHEMA {schema}"),
            ] {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await
                    .expect("schema");
            }
            let options = base.options([("search_path", schema.as_str())]);
            let store = ivcrush_store::PgStore::connect_with(options)
                .await
                .expect("postgres store");
            out.push((
                "postgres".to_owned(),
                Arc::new(store) as Arc<dyn Store>,
                None,
            ));
        }
        _ => eprintln!("{test}: DATABASE_URL not set: PostgreSQL part skipped"),
    }
    out
}

/// An alert raised by the test itself.
fn test_alert(key: &str) -> NewAlert {
    NewAlert {
        key: key.to_owned(),
        kind: "test".to_owned(),
        ticker: None,
        message: "a test alert".to_owned(),
        detail: "{}".to_owned(),
        created_at: Utc::now(),
    }
}

fn app(store: Arc<dyn Store>, calendar: SetCalendar, url: &str, attempts: u32) -> App {
    let date = d("2026-02-02");
    let sim = SimMarket::new(SEED, date);
    let as_of = sim.as_of();
    let inner = sim.into_market_data();
    let market = MarketData {
        source: inner.source,
        options: inner.options.clone(),
        history: inner.history.clone(),
        calendar: Arc::new(calendar),
    };
    let mut config = AppConfig::default();
    config.alerts.webhooks.endpoints = vec![WebhookEndpoint::new("ops", url, SECRET)];
    config.alerts.webhooks.max_attempts = attempts;
    config.alerts.webhooks.backoff_base_ms = 10;
    config.alerts.webhooks.backoff_cap_ms = 50;
    config.alerts.webhooks.timeout_ms = 2_000;
    App::with_parts(config, market, store, as_of, format!("sim:{SEED}:{date}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_report_is_one_alert_delivered_once_and_signed() {
    for (backend, store, _dir) in stores("moved").await {
        let (rx, url) = receiver(Mode::Ok).await;
        let calendar = SetCalendar::default();
        let app = app(store, calendar.clone(), &url, 3);
        let (from, to) = (d("2026-02-02"), d("2026-03-02"));

        calendar.set(vec![
            record("AAPL", "2026-02-05"),
            record("MSFT", "2026-02-10"),
        ]);
        app.calendar().sync(from, to).await.expect("first sync");
        assert!(
            app.alerts().list(1, 100).await.expect("list").is_empty(),
            "{backend}: a first sync changes nothing"
        );

        calendar.set(vec![
            record("AAPL", "2026-02-12"),
            record("MSFT", "2026-02-10"),
        ]);
        app.calendar().sync(from, to).await.expect("second sync");
        app.calendar()
            .sync(from, to)
            .await
            .expect("third sync, unchanged");
        let alerts = app.alerts().list(1, 100).await.expect("list");
        assert_eq!(alerts.len(), 1, "{backend}: one alert: {alerts:?}");
        assert_eq!(alerts[0].alert.kind, "calendar_moved");
        assert_eq!(alerts[0].alert.ticker.as_deref(), Some("AAPL"));
        assert!(
            alerts[0].alert.message.contains("across an expiry"),
            "{}",
            alerts[0].alert.message
        );
        // The old date is gone from the store: the calendar now has one AAPL report.
        let stored = app.calendar().stored(from, to).await.expect("stored");
        let aapl: Vec<_> = stored.iter().filter(|r| r.ticker == "AAPL").collect();
        assert_eq!(aapl.len(), 1, "{backend}: {aapl:?}");
        assert_eq!(aapl[0].report_date, d("2026-02-12"));

        let round = app
            .alerts()
            .flush(Duration::from_secs(20))
            .await
            .expect("a webhook is configured");
        assert_eq!((round.delivered, round.failed), (1, 0), "{backend}");
        let again = app
            .alerts()
            .flush(Duration::from_secs(20))
            .await
            .expect("configured");
        assert_eq!(again.delivered, 0, "{backend}: never sent twice");
        assert_eq!(rx.attempts.load(Ordering::SeqCst), 1, "{backend}");
        let accepted = rx.accepted.lock().expect("lock").clone();
        assert_eq!(accepted, [alerts[0].alert.key.clone()], "{backend}");
        let body = rx.bodies.lock().expect("lock")[0].clone();
        assert_eq!(body["kind"], "calendar_moved");
        assert_eq!(body["detail"]["from"], "2026-02-05");
        assert_eq!(body["detail"]["to"], "2026-02-12");
        assert_eq!(
            app.alerts().list(1, 100).await.expect("list")[0].delivered,
            1
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_failing_twice_gets_the_alert_once() {
    for (backend, store, _dir) in stores("fail_twice").await {
        let (rx, url) = receiver(Mode::FailTwice).await;
        let app = app(store, SetCalendar::default(), &url, 5);
        let ids = app
            .alerts()
            .record(&[test_alert("test:fail-twice")])
            .await
            .expect("recorded");
        assert_eq!(ids.len(), 1);
        let round = app
            .alerts()
            .flush(Duration::from_secs(20))
            .await
            .expect("configured");
        assert_eq!((round.delivered, round.failed), (1, 0), "{backend}");
        assert_eq!(
            rx.attempts.load(Ordering::SeqCst),
            3,
            "{backend}: 503, 503, 200"
        );
        assert_eq!(
            *rx.accepted.lock().expect("lock"),
            ["test:fail-twice"],
            "{backend}"
        );
        let again = app
            .alerts()
            .flush(Duration::from_secs(20))
            .await
            .expect("configured");
        assert_eq!(again.delivered, 0, "{backend}");
        assert_eq!(
            rx.attempts.load(Ordering::SeqCst),
            3,
            "{backend}: not sent again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_never_holds_up_a_scan() {
    let (_, store, _dir) = stores("dead").await.into_iter().next().expect("sqlite");
    let (rx, url) = receiver(Mode::Hang).await;
    let date = d("2026-02-02");
    let sim = SimMarket::new(SEED, date);
    let calendar = SetCalendar::default();
    calendar.set(
        sim.calendar(date, date + chrono::Duration::days(7))
            .await
            .expect("sim calendar"),
    );
    let app = app(store, calendar, &url, 5);
    app.alerts()
        .record(&[test_alert("test:dead")])
        .await
        .expect("recorded");
    // The background delivery, as `serve` runs it: stuck on the receiver that never answers.
    let dispatcher = app.alert_dispatcher().expect("configured");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let delivering = tokio::spawn(dispatcher.run(app.alert_wakeup(), async move {
        let _ = stop_rx.await;
    }));
    for _ in 0..200 {
        if rx.attempts.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        rx.attempts.load(Ordering::SeqCst),
        1,
        "the delivery is in flight"
    );
    let report = app
        .scanner()
        .run(&ScanRequest::default(), "run-dead-receiver", None)
        .await
        .expect("the scan runs");
    assert!(!report.rows.is_empty());
    // The scan finished while the delivery still waits on the receiver.
    assert_eq!(
        rx.attempts.load(Ordering::SeqCst),
        1,
        "still the first attempt"
    );
    assert!(!delivering.is_finished());
    let pending: HashSet<i64> = app
        .alerts()
        .list(1, 10)
        .await
        .expect("list")
        .iter()
        .filter(|a| a.delivered == 0)
        .map(|a| a.id)
        .collect();
    assert!(!pending.is_empty(), "undelivered while the receiver hangs");
    let _ = stop_tx.send(());
    delivering.abort();
}
