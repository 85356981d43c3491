//! The notifier: one pooled HTTP client, one resilience pipeline per endpoint.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ivcrush_resilience::{
    CircuitBreaker, HttpClassifier, HttpFailure, Jitter, Pipeline, PipelineConfig, ResilienceError,
    RetryConfig, RetryHint, http_status_retryable, parse_retry_after,
};
use metrics::Counter;
use reqwest::header::{CONTENT_TYPE, HeaderName, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use tracing::{debug, warn};

use crate::error::NotifyError;
use crate::settings::{WebhookSettings, redacted_url};
use crate::signature::sign;

/// Header carrying the alert's idempotency key, the same on every attempt.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Header carrying the alert kind.
pub const EVENT_HEADER: &str = "x-ivcrush-event";
/// Header carrying the Unix seconds at which this attempt was signed.
pub const TIMESTAMP_HEADER: &str = "x-ivcrush-timestamp";
/// Header carrying `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "x-ivcrush-signature";

/// Longest idempotency key or event name sent, in bytes (header values stay small).
pub const MAX_HEADER_VALUE_BYTES: usize = 255;

/// The `User-Agent` of deliveries.
pub const USER_AGENT: &str = concat!("ivcrush-webhook/", env!("CARGO_PKG_VERSION"));

/// One alert for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Stable key of this alert (e.g. the outbox row's id): sent as `Idempotency-Key`,
    /// identical on every retry and every later re-delivery, so the receiver can drop
    /// duplicates. Printable ASCII, 1 to 255 bytes.
    pub idempotency_key: String,
    /// Alert kind, sent as `X-Ivcrush-Event` (e.g. `iv_crush`). Printable ASCII, 1 to 255 bytes.
    pub event: String,
    /// The JSON body, sent and signed byte for byte.
    pub body: Vec<u8>,
}

/// A successful delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Attempts it took (1 = first try).
    pub attempts: u32,
    /// The receiver's 2xx status.
    pub status: u16,
}

/// Why one attempt failed, as the resilience pipeline classifies it.
#[derive(Debug)]
struct AttemptError {
    /// `None` when no answer arrived (connect error, reset, client timeout).
    status: Option<u16>,
    /// `Retry-After` of a 429 or 503.
    retry_after: Option<Duration>,
    /// `HTTP 503` or the transport error, without the URL.
    message: String,
}

impl HttpFailure for AttemptError {
    fn status(&self) -> Option<u16> {
        self.status
    }

    fn retry_hint(&self) -> Option<RetryHint> {
        self.retry_after.map(RetryHint::After)
    }
}

struct Endpoint {
    name: String,
    url: reqwest::Url,
    /// What logs may show of the URL.
    origin: String,
    secret: SecretString,
    pipeline: Pipeline<HttpClassifier>,
    outcomes: Outcomes,
}

struct Outcomes {
    delivered: Counter,
    permanent: Counter,
    gave_up: Counter,
    breaker_open: Counter,
}

impl Outcomes {
    /// Resolves (and creates at 0) the four series of an endpoint, so that a first failure
    /// shows up in `increase()`.
    fn register(endpoint: &str) -> Outcomes {
        let counter = |outcome: &'static str| {
            let c = metrics::counter!(
                "ivcrush_webhook_deliveries_total",
                "endpoint" => endpoint.to_owned(), "outcome" => outcome
            );
            c.increment(0);
            c
        };
        Outcomes {
            delivered: counter("delivered"),
            permanent: counter("permanent"),
            gave_up: counter("gave_up"),
            breaker_open: counter("breaker_open"),
        }
    }
}

struct Inner {
    client: reqwest::Client,
    endpoints: BTreeMap<String, Endpoint>,
    max_body_bytes: u64,
    /// Time allowed for reading a receiver's answer after its status arrived.
    read_budget: Duration,
}

/// Delivers alerts to the configured webhooks. Cheap to clone (shared state behind an `Arc`):
/// give a clone to the task that drains the outbox, so deliveries never run on the scan's
/// path.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.inner.endpoints.values().map(|e| (&e.name, &e.origin)))
            .finish()
    }
}

/// The resilience settings of one endpoint: the configured attempts, full-jitter exponential
/// backoff and attempt timeout; the pipeline's defaults otherwise (breaker opening after 5
/// consecutive failures for 60 s, retry budget of 20 % + 1/s so an outage cannot turn a batch
/// of alerts into a retry storm). No rate limit: a 429's `Retry-After` pauses the endpoint.
fn pipeline_config(settings: &WebhookSettings) -> PipelineConfig {
    let mut config = PipelineConfig {
        deadline_ms: settings.deadline_ms,
        attempt_timeout_ms: settings.timeout_ms,
        retry: RetryConfig {
            max_attempts: settings.max_attempts,
            base_ms: settings.backoff_base_ms,
            cap_ms: settings.backoff_cap_ms,
            factor: 2.0,
            jitter: Jitter::Full,
            ..RetryConfig::default()
        },
        ..PipelineConfig::default()
    };
    // Alerts of one scan arrive together; queue them rather than refuse them.
    config.bulkhead.max_queued = 256;
    config
}

impl Notifier {
    /// Builds the HTTP client and one pipeline (and breaker `webhook:<name>`) per endpoint.
    /// Install the metrics recorder first: metric handles are resolved here.
    ///
    /// # Errors
    /// [`NotifyError::Config`] listing every invalid setting, or the client's build error.
    pub fn new(settings: &WebhookSettings) -> Result<Notifier, NotifyError> {
        let mut problems = settings.problems();
        if !problems.is_empty() {
            return Err(NotifyError::Config(problems));
        }
        let pipeline_config = pipeline_config(settings);
        let mut endpoints = BTreeMap::new();
        for endpoint in &settings.endpoints {
            let url = match reqwest::Url::parse(&endpoint.url) {
                Ok(url) => url,
                Err(e) => {
                    problems.push(format!("webhook `{}`: url: {e}", endpoint.name));
                    continue;
                }
            };
            let pipeline = match Pipeline::new(
                &format!("webhook:{}", endpoint.name),
                &pipeline_config,
                HttpClassifier,
            ) {
                Ok(p) => p,
                Err(e) => {
                    problems.extend(e.problems);
                    continue;
                }
            };
            endpoints.insert(
                endpoint.name.clone(),
                Endpoint {
                    name: endpoint.name.clone(),
                    origin: redacted_url(&endpoint.url),
                    url,
                    secret: endpoint.secret.clone(),
                    pipeline,
                    outcomes: Outcomes::register(&endpoint.name),
                },
            );
        }
        if !problems.is_empty() {
            return Err(NotifyError::Config(problems));
        }
        // Installing twice is harmless: the first provider stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let timeout = Duration::from_millis(settings.timeout_ms);
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            // The pipeline's attempt timeout bounds each whole attempt; a client-wide timeout
            // would race it and report the same thing less clearly.
            .connect_timeout(timeout)
            // A redirect would re-send the signed body to an address nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            // The pipeline is the only retry layer.
            .retry(reqwest::retry::never())
            .build()
            .map_err(|e| {
                NotifyError::Config(vec![format!(
                    "cannot build the webhook HTTP client: {}",
                    e.without_url()
                )])
            })?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                client,
                endpoints,
                max_body_bytes: settings.max_body_bytes,
                read_budget: (timeout / 4).max(Duration::from_millis(1)),
            }),
        })
    }

    /// Names of the configured endpoints, sorted.
    pub fn endpoint_names(&self) -> impl Iterator<Item = &str> {
        self.inner.endpoints.keys().map(String::as_str)
    }

    /// `true` when no endpoint is configured (nothing to deliver).
    pub fn is_empty(&self) -> bool {
        self.inner.endpoints.is_empty()
    }

    /// The circuit breakers (`webhook:<name>`), to register in a
    /// [`BreakerRegistry`](ivcrush_resilience::BreakerRegistry) for health and operation.
    pub fn breakers(&self) -> Vec<CircuitBreaker> {
        self.inner
            .endpoints
            .values()
            .map(|e| e.pipeline.breaker().clone())
            .collect()
    }

    /// Delivers one alert to the endpoint named `endpoint_name`: POSTs `delivery.body` with
    /// the idempotency key, the event and a fresh timestamp and signature per attempt,
    /// retrying 408, 429, 5xx, transport errors and timeouts with backoff (or the receiver's
    /// `Retry-After` on 429 and 503) up to `max_attempts` within `deadline_ms`.
    ///
    /// Counts `ivcrush_webhook_deliveries_total{endpoint,outcome}`.
    ///
    /// # Errors
    /// [`NotifyError::UnknownEndpoint`], [`NotifyError::InvalidDelivery`] (nothing sent),
    /// [`NotifyError::Permanent`] (other 4xx, 3xx), [`NotifyError::GaveUp`],
    /// [`NotifyError::BreakerOpen`].
    pub async fn deliver(
        &self,
        endpoint_name: &str,
        delivery: &Delivery,
    ) -> Result<Receipt, NotifyError> {
        let Some(endpoint) = self.inner.endpoints.get(endpoint_name) else {
            return Err(NotifyError::UnknownEndpoint(endpoint_name.to_owned()));
        };
        for (what, value) in [
            ("idempotency key", &delivery.idempotency_key),
            ("event", &delivery.event),
        ] {
            if let Some(reason) = header_value_problem(value) {
                warn!(webhook = %endpoint.name, "{what} {reason}; delivery not sent");
                return Err(NotifyError::InvalidDelivery {
                    endpoint: endpoint.name.clone(),
                    reason: format!("the {what} {reason}"),
                });
            }
        }
        let mut attempts = 0u32;
        let result = endpoint
            .pipeline
            .call(|| {
                attempts += 1;
                self.attempt(endpoint, delivery, attempts)
            })
            .await;
        let error = match result {
            Ok(status) => {
                endpoint.outcomes.delivered.increment(1);
                debug!(webhook = %endpoint.name, key = %delivery.idempotency_key, attempts, status, "alert delivered");
                return Ok(Receipt { attempts, status });
            }
            Err(e) => self.map_error(endpoint, e),
        };
        let counter = match &error {
            NotifyError::Permanent { .. } => &endpoint.outcomes.permanent,
            NotifyError::BreakerOpen { .. } => &endpoint.outcomes.breaker_open,
            _ => &endpoint.outcomes.gave_up,
        };
        counter.increment(1);
        warn!(webhook = %endpoint.name, origin = %endpoint.origin, key = %delivery.idempotency_key, event = %delivery.event, "webhook delivery failed: {error}");
        Err(error)
    }

    fn map_error(&self, endpoint: &Endpoint, error: ResilienceError<AttemptError>) -> NotifyError {
        let name = endpoint.name.clone();
        let attempts = error.attempts();
        match error {
            ResilienceError::Inner { source, attempts } => match source.status {
                Some(status) if !http_status_retryable(status) => NotifyError::Permanent {
                    endpoint: name,
                    status,
                    attempts,
                },
                _ => NotifyError::GaveUp {
                    endpoint: name,
                    attempts,
                    last_error: source.message,
                },
            },
            ResilienceError::CircuitOpen { retry_in, .. } => NotifyError::BreakerOpen {
                endpoint: name,
                retry_in,
            },
            ResilienceError::AttemptTimeout { timeout, .. } => NotifyError::GaveUp {
                endpoint: name,
                attempts,
                last_error: format!("attempt timed out after {timeout:?}"),
            },
            ResilienceError::DeadlineExceeded { .. } => NotifyError::GaveUp {
                endpoint: name,
                attempts,
                last_error: "delivery deadline exceeded".to_owned(),
            },
            other => NotifyError::GaveUp {
                endpoint: name,
                attempts,
                last_error: other.to_string(),
            },
        }
    }

    /// One POST; `Ok(status)` for a 2xx.
    async fn attempt(
        &self,
        endpoint: &Endpoint,
        delivery: &Delivery,
        attempt: u32,
    ) -> Result<u16, AttemptError> {
        let timestamp = unix_now();
        let signature = sign(
            endpoint.secret.expose_secret().as_bytes(),
            timestamp,
            &delivery.body,
        );
        let request = self
            .inner
            .client
            .post(endpoint.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(
                HeaderName::from_static(IDEMPOTENCY_KEY_HEADER),
                &delivery.idempotency_key,
            )
            .header(HeaderName::from_static(EVENT_HEADER), &delivery.event)
            .header(
                HeaderName::from_static(TIMESTAMP_HEADER),
                timestamp.to_string(),
            )
            .header(HeaderName::from_static(SIGNATURE_HEADER), signature)
            .body(delivery.body.clone());
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let message = self.transport_message(endpoint, e);
                debug!(webhook = %endpoint.name, attempt, error = %message, "webhook attempt failed without an answer");
                return Err(AttemptError {
                    status: None,
                    retry_after: None,
                    message,
                });
            }
        };
        let status = response.status().as_u16();
        let retry_after = match status {
            429 | 503 => response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            _ => None,
        };
        let answer = self.read_answer(&mut response).await;
        debug!(webhook = %endpoint.name, attempt, status, "webhook answered");
        if (200..300).contains(&status) {
            return Ok(status);
        }
        if !answer.is_empty() {
            debug!(webhook = %endpoint.name, attempt, status, answer = %answer, "webhook error answer");
        }
        Err(AttemptError {
            status: Some(status),
            retry_after,
            message: format!("HTTP {status}"),
        })
    }

    /// Reads at most `max_body_bytes` of the answer within the read budget and returns its
    /// start as printable text (for logs). Reading drains the connection so it can be reused;
    /// a larger or slower answer is abandoned (its connection closed), never buffered, and
    /// never turns a 2xx into a retry.
    async fn read_answer(&self, response: &mut reqwest::Response) -> String {
        let max = self.inner.max_body_bytes;
        if response.content_length().is_some_and(|n| n > max) {
            return String::new();
        }
        let mut body = Vec::new();
        let read = async {
            while let Ok(Some(chunk)) = response.chunk().await {
                if body.len() as u64 + chunk.len() as u64 > max {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
        };
        let _ = tokio::time::timeout(self.inner.read_budget, read).await;
        String::from_utf8_lossy(&body)
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect()
    }

    /// A transport error's message chain without the URL, and without the URL's path, query
    /// or the secret should a cause quote them.
    fn transport_message(&self, endpoint: &Endpoint, error: reqwest::Error) -> String {
        let error = error.without_url();
        if error.is_timeout() {
            return "timed out".to_owned();
        }
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        let mut sensitive = vec![endpoint.url.as_str(), endpoint.secret.expose_secret()];
        sensitive.extend(endpoint.url.query().filter(|q| !q.is_empty()));
        if endpoint.url.path().len() > 1 {
            sensitive.push(endpoint.url.path());
        }
        for s in sensitive {
            if !s.is_empty() {
                message = message.replace(s, "***");
            }
        }
        message
    }
}

/// Why a value cannot be sent as the idempotency key or event header.
fn header_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some("is empty")
    } else if value.len() > MAX_HEADER_VALUE_BYTES {
        Some("is longer than 255 bytes")
    } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
        Some("must be printable ASCII without spaces")
    } else {
        None
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Registers the HELP text of this crate's metrics with the current recorder.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "ivcrush_webhook_deliveries_total",
        "Alert deliveries to a webhook by endpoint name and outcome (delivered, permanent, gave_up, breaker_open)"
    );
}
