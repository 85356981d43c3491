//! Starting a server for a test and talking to it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;
use ivcrush_app::{App, AppConfig, ProviderKind};
use ivcrush_server::{AppState, ServerSettings, serve};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The (read-only) API key every test server accepts.
pub const KEY: &str = "test-key-0123456789abcdef";
/// The admin key every test server accepts (operating breakers).
pub const ADMIN_KEY: &str = "admin-key-0123456789abcdef";

/// A running server.
pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// The app every test uses: sim market as of 2026-02-02, a fresh SQLite file.
pub async fn test_app(dir: &tempfile::TempDir) -> App {
    App::open(AppConfig {
        provider: ProviderKind::Sim,
        as_of: Some(NaiveDate::from_ymd_opt(2026, 2, 2).expect("date").into()),
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    })
    .await
    .expect("app opens")
}

/// Tradier and Alpha Vantage at `mock` (key `test-key`), a SQLite file in `dir`; each test sets
/// the resilience timing it needs.
pub fn vendor_config(mock: &ivcrush_mockvendor::MockVendor, dir: &tempfile::TempDir) -> AppConfig {
    let mut c = AppConfig {
        provider: ProviderKind::Tradier,
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    };
    c.tradier.base_url = mock.base_url();
    c.tradier.api_key = "test-key".into();
    c.alphavantage.base_url = mock.base_url();
    c.alphavantage.api_key = "test-key".into();
    c
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut ServerSettings)) -> TestServer {
    capture_logs();
    // reqwest is built with `rustls-no-provider` elsewhere in the workspace.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let app = test_app(&dir).await;
    let mut cfg = ServerSettings {
        api_keys: vec![KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        scheduler: false,
        scan_on_start: false,
        ..ServerSettings::default()
    };
    f(&mut cfg);
    let state = AppState::new(app, cfg).expect("valid server config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async {
        let _ = rx.await;
    }));
    TestServer {
        base,
        state,
        client: reqwest::Client::new(),
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

/// A server over `app` (whose store lives in `dir`, kept alive with the server), with the test
/// defaults of [`start_with`] (test key, no scheduler, no startup scan) and then `f` applied.
pub async fn start_app(
    app: App,
    dir: tempfile::TempDir,
    f: impl FnOnce(&mut ServerSettings),
) -> TestServer {
    capture_logs();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut cfg = ServerSettings {
        api_keys: vec![KEY.into()],
        admin_keys: vec![ADMIN_KEY.into()],
        scheduler: false,
        scan_on_start: false,
        ..ServerSettings::default()
    };
    f(&mut cfg);
    let state = AppState::new(app, cfg).expect("valid server config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state.clone(), async {
        let _ = rx.await;
    }));
    TestServer {
        base,
        state,
        client: reqwest::Client::new(),
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET with the API key.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("x-api-key", KEY)
            .send()
            .await
            .expect("request")
    }

    /// GET without a key.
    pub async fn get_anon(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// POST with the API key and an empty body.
    /// POST with the admin key (the only POSTs of the API operate breakers).
    pub async fn post(&self, path: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-api-key", ADMIN_KEY)
            .send()
            .await
            .expect("request")
    }

    /// GET with the key, expecting 200 and JSON.
    pub async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.expect("json body")
    }

    /// Signals shutdown and waits for the server to finish its in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("server task").expect("server stops cleanly");
        }
    }

    /// Sends the shutdown signal without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Waits for the server task after [`TestServer::signal_stop`].
    pub async fn join(&mut self) -> std::io::Result<()> {
        self.task
            .take()
            .expect("running")
            .await
            .expect("server task")
    }
}

/// Asserts the JSON error shape and returns it.
pub async fn error_body(r: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status(), status, "status");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/json"), "content type {ct}");
    let header_id = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let v: serde_json::Value = r.json().await.expect("json error");
    assert!(v["error"].is_string(), "{v}");
    assert!(v["message"].is_string(), "{v}");
    assert_eq!(
        v["request_id"].as_str().map(str::to_string),
        header_id,
        "{v}"
    );
    v
}

/// Everything the test binary logged (one global subscriber writing into memory).
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.get_or_init(Default::default).lock().expect("logs")).into_owned()
}

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("logs").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn capture_logs() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let buf = LOGS.get_or_init(Default::default).clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Sink(buf.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}
