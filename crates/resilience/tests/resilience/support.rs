//! Shared test helpers: a scripted HTTP-like error and small builders.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ivcrush_resilience::{
    BreakerConfig, CircuitBreaker, HttpFailure, Outcome, PipelineConfig, RetryHint, TripMode,
};

/// An error as a vendor client would return it.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorError {
    /// `None` for connection errors.
    pub status: Option<u16>,
    pub hint: Option<RetryHint>,
}

impl VendorError {
    pub fn status(status: u16) -> VendorError {
        VendorError {
            status: Some(status),
            hint: None,
        }
    }

    pub fn connect() -> VendorError {
        VendorError {
            status: None,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: RetryHint) -> VendorError {
        self.hint = Some(hint);
        self
    }
}

impl std::fmt::Display for VendorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "vendor error {:?}", self.status)
    }
}

impl std::error::Error for VendorError {}

impl HttpFailure for VendorError {
    fn status(&self) -> Option<u16> {
        self.status
    }

    fn retry_hint(&self) -> Option<RetryHint> {
        self.hint
    }
}

/// Counts inner calls.
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<AtomicU32>);

impl Calls {
    pub fn hit(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn consecutive(n: u32) -> BreakerConfig {
    BreakerConfig {
        mode: TripMode::Consecutive,
        consecutive_failures: n,
        ..BreakerConfig::default()
    }
}

pub fn count_window(size: u32, min_calls: u32, failure_rate_pct: f64) -> BreakerConfig {
    BreakerConfig {
        mode: TripMode::CountWindow,
        window_size: size,
        min_calls,
        failure_rate_pct,
        ..BreakerConfig::default()
    }
}

pub fn breaker(config: BreakerConfig) -> CircuitBreaker {
    CircuitBreaker::new("vendor", config).expect("valid test config")
}

/// Acquires and records at once.
pub fn call(breaker: &CircuitBreaker, outcome: Outcome) {
    call_taking(breaker, outcome, Duration::ZERO);
}

pub fn call_taking(breaker: &CircuitBreaker, outcome: Outcome, duration: Duration) {
    breaker
        .try_acquire()
        .expect("breaker admits")
        .record(outcome, duration);
}

/// A pipeline config with no jitter surprises: retries off unless set, deterministic seed.
pub fn pipeline_config() -> PipelineConfig {
    let mut config = PipelineConfig::default();
    config.retry.seed = Some(7);
    config
}

/// Runs `f` with a text subscriber and returns what it logged.
pub fn capture_logs(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = sink.0.lock().expect("not poisoned").clone();
    String::from_utf8_lossy(&bytes).into_owned()
}
