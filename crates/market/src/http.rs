//! Shared HTTP plumbing of the vendor clients: one pooled `reqwest` client per vendor,
//! transport-error mapping without URLs, status classification and rate-limit headers.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::error::MarketError;

/// Connection settings of one vendor's pooled HTTP client (`[market.<vendor>.http]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// TCP/TLS connect timeout in ms. Default 5 000.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout in ms (the pipeline's attempt timeout is usually shorter).
    /// Default 30 000.
    pub request_timeout_ms: u64,
    /// Timeout of each read in ms. Default 15 000.
    pub read_timeout_ms: u64,
    /// Idle pooled connections are closed after this many ms. Default 90 000.
    pub pool_idle_timeout_ms: u64,
    /// Idle connections kept per host. Default 8.
    pub pool_max_idle_per_host: usize,
    /// Largest response body read, in bytes after decompression (a gzip bomb counts at its
    /// inflated size). Default 33 554 432 (32 MiB; the largest real answer, a full daily
    /// history, is about 2 MiB). A larger answer is refused as a decode error, never buffered.
    pub max_body_bytes: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout_ms: 5_000,
            request_timeout_ms: 30_000,
            read_timeout_ms: 15_000,
            pool_idle_timeout_ms: 90_000,
            pool_max_idle_per_host: 8,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// The default of [`HttpSettings::max_body_bytes`].
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// The pipeline both vendors start from: idempotent reads retried until a 20-s deadline
/// (below the HTTP service's 30-s request timeout) with full jitter from `retry_base_ms`; a call
/// may queue 5 minutes for quota, its deadline starting at the grant (a scan larger than one
/// window waits for the next); a breaker that opens after 15 consecutive failures, so that a
/// flaky vendor is retried and only a dead one is cut off (with 35 % of attempts failing, 15 in
/// a row happen about once in seven million attempts); a bulkhead queue long enough for a
/// scan's requests (rejecting our own requests would fail rows for nothing).
pub(crate) fn vendor_pipeline(
    rate_limits: Vec<ivcrush_resilience::WindowConfig>,
    retry_base_ms: u64,
) -> ivcrush_resilience::PipelineConfig {
    let mut p = ivcrush_resilience::PipelineConfig {
        deadline_ms: 20_000,
        quota_wait_ms: 300_000,
        rate_limits,
        ..ivcrush_resilience::PipelineConfig::default()
    };
    p.retry.max_attempts = 0;
    p.retry.base_ms = retry_base_ms;
    p.retry.cap_ms = 20 * retry_base_ms;
    p.breaker.consecutive_failures = 15;
    p.bulkhead.max_queued = 256;
    p
}

/// The `User-Agent` every client sends.
pub const USER_AGENT: &str = concat!("ivcrush/", env!("CARGO_PKG_VERSION"));

/// Builds one pooled client (rustls with the `ring` provider, gzip, no hidden retries: the
/// resilience pipeline is the only retry layer).
pub(crate) fn build_client(
    vendor: &'static str,
    settings: &HttpSettings,
) -> Result<reqwest::Client, MarketError> {
    // Installing twice is harmless: the first provider stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .timeout(Duration::from_millis(settings.request_timeout_ms))
        .read_timeout(Duration::from_millis(settings.read_timeout_ms))
        .pool_idle_timeout(Duration::from_millis(settings.pool_idle_timeout_ms))
        .pool_max_idle_per_host(settings.pool_max_idle_per_host)
        .retry(reqwest::retry::never())
        .build()
        .map_err(|e| {
            MarketError::Config(format!(
                "{vendor}: cannot build HTTP client: {}",
                e.without_url()
            ))
        })
}

/// A received response, body read as text.
#[derive(Debug)]
pub(crate) struct Received {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    /// Counted when the response is dropped, under its HTTP status unless the caller sets
    /// another (Alpha Vantage answers its rate limit with a 200).
    pub metric: RequestMetric,
}

/// Sends the request and reads the body, at most `max_body` bytes of it (a larger answer is
/// [`MarketError::Decode`] as soon as it is known: by its `Content-Length`, else while
/// reading); transport errors are mapped without the URL.
pub(crate) async fn send(
    vendor: &'static str,
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
    max_body: u64,
) -> Result<Received, MarketError> {
    let mut metric = RequestMetric::start(vendor, endpoint);
    let request = match ivcrush_telemetry::trace::traceparent() {
        Some(traceparent) => request.header("traceparent", traceparent),
        None => request,
    };
    let mut response = request.send().await.map_err(|e| {
        metric.status = Some("transport_error");
        transport_error(vendor, e)
    })?;
    let status = response.status().as_u16();
    metric.status = Some(status_label(status));
    let headers = response.headers().clone();
    let too_large = |size: String| MarketError::Decode {
        vendor,
        endpoint,
        message: format!(
            "the answer is {size} bytes, over the limit of {max_body} \
             ({vendor}.http.max_body_bytes); refused unread"
        ),
    };
    // Only an uncompressed length is the body's size (reqwest inflates gzip).
    if let Some(declared) = response.content_length()
        && declared > max_body
    {
        return Err(too_large(declared.to_string()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        metric.status = Some("transport_error");
        transport_error(vendor, e)
    })? {
        if body.len() as u64 + chunk.len() as u64 > max_body {
            return Err(too_large(format!("more than {max_body}")));
        }
        body.extend_from_slice(&chunk);
    }
    // Vendors answer UTF-8 JSON or CSV; a stray byte must not lose the whole answer.
    let body = match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok(Received {
        status,
        headers,
        body,
        metric,
    })
}

/// One vendor request in the metrics: in flight while it runs, then counted by vendor,
/// endpoint and status with its duration. The status labels are a fixed set
/// ([`status_label`]), so a vendor answering odd codes cannot create series; a request cut by
/// its attempt timeout (its future dropped) counts as `cancelled`.
#[derive(Debug)]
pub(crate) struct RequestMetric {
    vendor: &'static str,
    endpoint: &'static str,
    started: std::time::Instant,
    /// The label to count under; `None` until an answer or an error arrives.
    pub status: Option<&'static str>,
}

impl RequestMetric {
    fn start(vendor: &'static str, endpoint: &'static str) -> RequestMetric {
        metrics::gauge!("ivcrush_vendor_requests_in_flight", "vendor" => vendor).increment(1.0);
        RequestMetric {
            vendor,
            endpoint,
            started: std::time::Instant::now(),
            status: None,
        }
    }
}

impl Drop for RequestMetric {
    fn drop(&mut self) {
        let (vendor, endpoint) = (self.vendor, self.endpoint);
        metrics::gauge!("ivcrush_vendor_requests_in_flight", "vendor" => vendor).decrement(1.0);
        let status = self.status.unwrap_or("cancelled");
        metrics::counter!(
            "ivcrush_vendor_requests_total",
            "vendor" => vendor, "endpoint" => endpoint, "status" => status
        )
        .increment(1);
        metrics::histogram!(
            "ivcrush_vendor_request_duration_seconds",
            "vendor" => vendor, "endpoint" => endpoint
        )
        .record(self.started.elapsed().as_secs_f64());
    }
}

/// Creates a vendor's request series at 0 when its client is built (successes and 429s of
/// every endpoint, nothing in flight), so that rates and alerts see the first request and the
/// first 429 (a series born with its first event hides that event from `increase()`).
pub(crate) fn register_vendor_series(vendor: &'static str, endpoints: &[&'static str]) {
    metrics::gauge!("ivcrush_vendor_requests_in_flight", "vendor" => vendor).increment(0.0);
    for endpoint in endpoints {
        for status in ["200", "429"] {
            metrics::counter!(
                "ivcrush_vendor_requests_total",
                "vendor" => vendor, "endpoint" => *endpoint, "status" => status
            )
            .increment(0);
        }
    }
}

/// A bounded label for an HTTP status: the codes an operator acts on by name, else the class.
pub(crate) fn status_label(status: u16) -> &'static str {
    const NAMED: [(u16, &str); 11] = [
        (200, "200"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (408, "408"),
        (429, "429"),
        (500, "500"),
        (502, "502"),
        (503, "503"),
        (504, "504"),
    ];
    if let Some((_, label)) = NAMED.iter().find(|(code, _)| *code == status) {
        return label;
    }
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        5 => "5xx",
        _ => "other",
    }
}

/// Records what a vendor's rate-limit headers say of its window (used and remaining).
pub(crate) fn record_quota(vendor: &'static str, rate: &RateHeaders) {
    if let Some(available) = rate.available {
        metrics::gauge!("ivcrush_vendor_quota_remaining", "vendor" => vendor).set(available as f64);
    }
    if let Some(used) = rate.used {
        metrics::gauge!("ivcrush_vendor_quota_used", "vendor" => vendor).set(used as f64);
    }
}

/// Registers the HELP text of the vendor request metrics with the current recorder.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "ivcrush_vendor_requests_total",
        "HTTP requests to a vendor by vendor, endpoint and status (the code, or its class; transport_error; cancelled when cut by the attempt timeout; Alpha Vantage's rate-limit answer counts as 429)"
    );
    describe_gauge!(
        "ivcrush_vendor_requests_in_flight",
        "HTTP requests to a vendor now waiting for an answer, by vendor"
    );
    describe_histogram!(
        "ivcrush_vendor_request_duration_seconds",
        Unit::Seconds,
        "Duration of one HTTP request to a vendor (one attempt), by vendor and endpoint"
    );
    describe_gauge!(
        "ivcrush_vendor_quota_remaining",
        "Requests left in the vendor's current rate-limit window, as the vendor last reported it"
    );
    describe_gauge!(
        "ivcrush_vendor_quota_used",
        "Requests used in the vendor's current rate-limit window, as the vendor last reported it"
    );
}

/// Maps a `reqwest` error to a [`MarketError`], dropping the URL (it may carry a key).
pub(crate) fn transport_error(vendor: &'static str, error: reqwest::Error) -> MarketError {
    let error = error.without_url();
    if error.is_timeout() {
        return MarketError::Timeout { vendor };
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    MarketError::Connect { vendor, message }
}

/// Tradier-style rate-limit headers (`X-Ratelimit-Allowed/Used/Available/Expiry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateHeaders {
    /// Requests allowed in the window.
    pub allowed: Option<u64>,
    /// Requests used.
    pub used: Option<u64>,
    /// Requests left.
    pub available: Option<u64>,
    /// Window reset, epoch ms (or seconds when < 1e12).
    pub expiry: Option<u64>,
}

impl RateHeaders {
    /// Reads the headers (absent or unparsable values are `None`).
    pub fn from_headers(headers: &HeaderMap) -> RateHeaders {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v as u64)
        };
        RateHeaders {
            allowed: get("x-ratelimit-allowed"),
            used: get("x-ratelimit-used"),
            available: get("x-ratelimit-available"),
            expiry: get("x-ratelimit-expiry"),
        }
    }

    /// Time until the window resets, from the wall-clock `now`.
    pub fn reset_in(&self, now: SystemTime) -> Option<Duration> {
        self.expiry
            .map(|e| ivcrush_resilience::epoch_reset_delay(e, now))
    }

    /// `true` when the server says no request is left in this window.
    pub fn exhausted(&self) -> bool {
        self.available == Some(0)
    }
}

/// When to try again after a 429: `X-Ratelimit-Expiry` first, then `Retry-After`. A hint in the
/// past is `None` (the computed backoff applies).
pub fn rate_limit_wait(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let from_expiry = RateHeaders::from_headers(headers).reset_in(now);
    let from_retry_after = || {
        headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| ivcrush_resilience::parse_retry_after(v, now))
    };
    from_expiry
        .filter(|d| !d.is_zero())
        .or_else(from_retry_after)
        .filter(|d| !d.is_zero())
}

/// A readable message from an error body: Apigee `fault.faultstring`, `errors.error` (list or
/// string), `error`/`message` strings, or the (shortened) text itself.
pub fn error_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(body) {
        if let Some(s) = value.pointer("/fault/faultstring").and_then(|v| v.as_str()) {
            return s.to_owned();
        }
        if let Some(e) = value.pointer("/errors/error") {
            match e {
                serde_json::Value::String(s) => return s.clone(),
                serde_json::Value::Array(items) => {
                    let parts: Vec<String> = items
                        .iter()
                        .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                        .collect();
                    return parts.join("; ");
                }
                _ => {}
            }
        }
        for key in ["error", "message", "Error Message", "Information", "Note"] {
            if let Some(s) = value.get(key).and_then(|v| v.as_str()) {
                return s.to_owned();
            }
        }
    }
    shorten(body.trim(), 200)
}

/// At most `max` characters of `text`.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

/// Replaces every occurrence of `secret` in `text` (no-op for an empty secret).
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "***")
    }
}

/// The typed error of a non-2xx response (`None` for 2xx/3xx): 401/403 → Unauthorized,
/// 429 → RateLimited with the header hint, 408/5xx → Server, other 4xx → BadRequest.
pub(crate) fn error_for_status(
    vendor: &'static str,
    status: u16,
    headers: &HeaderMap,
    body: &str,
) -> Option<MarketError> {
    Some(match status {
        200..=399 => return None,
        401 | 403 => MarketError::Unauthorized {
            vendor,
            message: error_message(body),
        },
        429 => MarketError::RateLimited {
            vendor,
            retry_in: rate_limit_wait(headers, SystemTime::now()),
        },
        408 | 500..=599 => MarketError::Server { vendor, status },
        _ => MarketError::BadRequest {
            vendor,
            message: format!("HTTP {status}: {}", error_message(body)),
        },
    })
}

/// Redacts `secret` in the messages an error carries.
pub(crate) fn redact_error(error: MarketError, secret: &str) -> MarketError {
    let r = |m: String| redact(&m, secret);
    match error {
        MarketError::Unauthorized { vendor, message } => MarketError::Unauthorized {
            vendor,
            message: r(message),
        },
        MarketError::BadRequest { vendor, message } => MarketError::BadRequest {
            vendor,
            message: r(message),
        },
        MarketError::PlanLimit { vendor, message } => MarketError::PlanLimit {
            vendor,
            message: r(message),
        },
        MarketError::Connect { vendor, message } => MarketError::Connect {
            vendor,
            message: r(message),
        },
        MarketError::Decode {
            vendor,
            endpoint,
            message,
        } => MarketError::Decode {
            vendor,
            endpoint,
            message: r(message),
        },
        MarketError::Refused(m) => MarketError::Refused(r(m)),
        MarketError::Config(m) => MarketError::Config(r(m)),
        MarketError::Input(m) => MarketError::Input(r(m)),
        other => other,
    }
}

/// Trims a trailing `/` of a base URL.
pub(crate) fn base(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Deserializes a number that may be a JSON number, a numeric string (`"251.3700"`), `"None"`,
/// an empty string or `null` (the last three give `None`). Use with
/// `#[serde(default, deserialize_with = "ivcrush_market::http::flex_f64")]`.
///
/// # Errors
/// A non-numeric string other than `"None"`, or another JSON type.
pub fn flex_f64<'de, D>(deserializer: D) -> Result<Option<f64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Flex;
    impl<'de> serde::de::Visitor<'de> for Flex {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a number, a numeric string, \"None\" or null")
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(v.is_finite().then_some(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_flex(v).map_err(E::custom)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(Flex)
        }
    }
    deserializer.deserialize_any(Flex)
}

/// Like [`flex_f64`], rounded to a non-negative integer (volumes, open interest, timestamps).
///
/// # Errors
/// As [`flex_f64`].
pub fn flex_u64<'de, D>(deserializer: D) -> Result<Option<u64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(flex_f64(deserializer)?
        .filter(|v| *v >= 0.0)
        .map(|v| v.round() as u64))
}

/// Parses a flexible number from text: `""`, `"None"`, `"null"`, `"-"` → `None`.
///
/// # Errors
/// Anything else that is not a finite number.
pub fn parse_flex(text: &str) -> Result<Option<f64>, String> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("none") || t.eq_ignore_ascii_case("null") || t == "-"
    {
        return Ok(None);
    }
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .map(Some)
        .ok_or_else(|| format!("not a number: {t:?}"))
}
