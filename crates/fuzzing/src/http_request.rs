//! The HTTP service's path and query extraction: fuzzed request lines through the router the
//! server builds, over the simulated market and an in-memory SQLite store.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::NaiveDate;
use ivcrush_app::{App, AppConfig, ProviderKind, ServerSettings};
use ivcrush_server::{AppState, router};
use tower::ServiceExt;

/// The API key the fuzzed requests may carry.
const KEY: &str = "fuzz-key-0123456789abcdef";

struct Service {
    runtime: tokio::runtime::Runtime,
    router: Router,
}

/// Built once per process: opening the app (migrations) per input would dominate.
fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let router = runtime.block_on(async {
            let mut config = AppConfig {
                provider: ProviderKind::Sim,
                as_of: NaiveDate::from_ymd_opt(2026, 2, 2).map(Into::into),
                database_url: "sqlite::memory:".into(),
                ..AppConfig::default()
            };
            // A small universe keeps a fuzzed scan cheap.
            config.sim.universe_size = 8;
            let app = App::open(config).await.expect("the sim app opens");
            let settings = ServerSettings {
                api_keys: vec![KEY.into()],
                scheduler: false,
                scan_on_start: false,
                // Neither the rate limit nor the timeout is under test: both would turn
                // throughput into 429/503 answers.
                rate_limit_per_minute: 1_000_000,
                rate_limit_burst: 1_000_000,
                request_timeout_ms: 600_000,
                ..ServerSettings::default()
            };
            router(AppState::new(app, settings).expect("valid server settings"))
        });
        Service { runtime, router }
    })
}

/// First byte: bit 0 sends the API key, bit 1 makes it a POST; the rest is the request target
/// (path and query). Any answer but a 5xx is fine; a panic or a 5xx is a finding.
pub fn http_request(data: &[u8]) {
    let Some((&flags, target)) = data.split_first() else {
        return;
    };
    let Ok(target) = std::str::from_utf8(target) else {
        return;
    };
    let method = if flags & 2 == 0 {
        Method::GET
    } else {
        Method::POST
    };
    let mut builder = Request::builder().method(method).uri(target);
    if flags & 1 == 1 {
        builder = builder.header("x-api-key", KEY);
    }
    // Targets the http crate refuses never reach a server.
    let Ok(request) = builder.body(Body::empty()) else {
        return;
    };
    let s = service();
    let status = s.runtime.block_on(async {
        let response = s
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let _ = axum::body::to_bytes(response.into_body(), 1 << 24).await;
        status
    });
    assert!(
        !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE && is_ready(target),
        "{target:?} answered {status}"
    );
}

/// `/health/ready` answers 503 when a dependency is down: that is its job, not a finding.
fn is_ready(target: &str) -> bool {
    target.split('?').next() == Some("/health/ready")
}
