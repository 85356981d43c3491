//! Middleware: request ids and spans, metrics, error rendering, security headers, body size,
//! API-key authentication and the per-client rate limit.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::request_id::{MakeRequestId, RequestId};
use tower_http::trace::OnResponse;
use tracing::Span;

use crate::error::{ApiError, ErrorBody, ErrorInfo};
use crate::state::{AppState, Role};

/// The request id header (accepted from the client, else generated; always echoed).
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The API key header.
pub(crate) const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Generates short random correlation ids, like the CLI's run ids.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MakeCorrelationId;

impl MakeRequestId for MakeCorrelationId {
    /// No `X-Request-Id`: the trace ID of a W3C `traceparent` (the caller's distributed trace,
    /// so that our log lines join it), else 128 fresh random bits.
    fn make_request_id<B>(&mut self, req: &axum::http::Request<B>) -> Option<RequestId> {
        let id = req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(trace_id)
            .map_or_else(ivcrush_app::new_correlation_id, str::to_owned);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// The trace ID of a `traceparent` header (`version-traceid-parentid-flags`, W3C Trace
/// Context): 32 lower-case hex digits, not all zero, under a known version; `None` otherwise.
pub(crate) fn trace_id(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let valid = hex(version, 2)
        && version != "ff"
        && (version != "00" || parts.next().is_none())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then_some(trace)
}

/// Runs the request in its W3C trace, so that its vendor calls send a `traceparent` of the
/// same trace: the caller's `traceparent`, else the request ID (ours are trace IDs).
pub(crate) async fn join_trace(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_id)
        .or_else(|| req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
        .unwrap_or_default();
    ivcrush_telemetry::trace::in_trace(&id, next.run(req)).await
}

/// Replaces a client-sent request id that is too long or has odd characters, so log lines
/// stay clean; a good one is kept as sent.
pub(crate) async fn sanitize_request_id(mut req: Request, next: Next) -> Response {
    let bad = req.headers().get(&REQUEST_ID).is_some_and(|v| {
        v.len() > 64
            || !v
                .as_bytes()
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
    });
    if bad {
        req.headers_mut().remove(&REQUEST_ID);
    }
    next.run(req).await
}

fn route_of<B>(req: &axum::http::Request<B>) -> &str {
    req.extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
}

/// The span of one request: every log line inside carries its request id. Only the route
/// template is recorded, never the query string (it may hold `?key=`).
pub(crate) fn make_span(req: &axum::http::Request<Body>) -> Span {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = %route_of(req),
    )
}

/// The `method` label: the standard methods by name, anything a client invents as `other`
/// (a label copied from the request would let any client add series without bound).
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts requests and records their latency by route template.
pub(crate) async fn http_metrics(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = route_of(&req).to_string();
    let mut resp = next.run(req).await;
    if resp.status().is_success()
        && matches!(
            route.as_str(),
            "/health/live" | "/health/ready" | "/metrics"
        )
    {
        resp.extensions_mut().insert(QuietAccessLog);
    }
    state.metrics().record_request(
        method,
        &route,
        resp.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    resp
}

/// Marks a response the access log leaves out: a probe or scrape answered OK (they come every
/// few seconds and say nothing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuietAccessLog;

/// The access log: one line per request, inside its span (so with its request ID): INFO when
/// answered, WARN for a 5xx with the error's code, message and internal detail. Successful
/// probes and scrapes are left out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessLog;

impl<B> OnResponse<B> for AccessLog {
    fn on_response(self, resp: &axum::http::Response<B>, latency: Duration, _: &Span) {
        if resp.extensions().get::<QuietAccessLog>().is_some() {
            return;
        }
        let status = resp.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        let error = resp.extensions().get::<ErrorInfo>();
        let code = error.map_or("", |e| e.code);
        if resp.status().is_server_error() {
            tracing::warn!(
                status,
                latency_ms,
                error = code,
                message = error.map_or("", |e| e.message.as_str()),
                detail = error.and_then(|e| e.detail.as_deref()).unwrap_or(""),
                "request failed"
            );
        } else {
            tracing::info!(status, latency_ms, error = code, "request answered");
        }
    }
}

/// Gives every error response the JSON shape `{error, message, request_id}` (also those of
/// tower layers and axum's own rejections); the access log reports it (see [`AccessLog`]).
pub(crate) async fn render_errors(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let info = match resp.extensions().get::<ErrorInfo>() {
        Some(i) => i.clone(),
        // A handler's own JSON (e.g. the readiness report with 503) stays as it is.
        None if is_json(&resp) => return resp,
        None => ApiError::from_status(status).info(),
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = ErrorBody {
        error: info.code.to_string(),
        message: info.message.clone(),
        request_id: id,
    };
    let mut out = Json(body).into_response();
    out.extensions_mut().insert(info);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    *out.status_mut() = status;
    for (k, v) in &parts.headers {
        out.headers_mut().insert(k, v.clone());
    }
    out
}

/// The answer to a handler's panic: 500 `internal`, the panic's message kept for the log.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_owned());
    ApiError::Internal(format!("handler panicked: {message}")).into_response()
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// Headers every response carries.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// 413 at once when the declared body is over the limit (undeclared bodies are limited
/// while read by tower-http's `RequestBodyLimitLayer`).
pub(crate) async fn reject_oversized(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let limit = state.config().body_limit_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(next.run(req).await)
}

/// `/api/*`: the per-client rate limit (by API key when it is valid, else by IP, so guessing
/// keys is limited too), then the key: the `X-API-Key` header, else the dashboard's session
/// cookie. With no key configured every request is 401. The key's [`Role`] goes into the
/// request's extensions for [`require_admin`].
pub(crate) async fn guard(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = match req.headers().get(&API_KEY) {
        Some(v) => state.key_index(v.as_bytes()),
        None => req
            .headers()
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|h| crate::session::cookie(h, crate::session::COOKIE))
            .and_then(|value| state.session_key_index(value)),
    };
    let client = match key {
        Some(i) => format!("key#{i}"),
        None => client_ip(&req),
    };
    state.rate_check(&client)?;
    let Some(key) = key else {
        if !state.has_keys() {
            tracing::debug!("no API key configured: /api/* is closed");
        }
        return Err(ApiError::Unauthorized);
    };
    req.extensions_mut().insert(state.role(key));
    Ok(next.run(req).await)
}

/// The rate-limit client of a request without a valid key: its address.
pub(crate) fn client_ip<B>(req: &axum::http::Request<B>) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "ip:unknown".to_string(), |c| format!("ip:{}", c.0.ip()))
}

/// Routes that change what the service does (operating breakers): admin keys only, 403 for
/// a read-only key (after [`guard`], which has put the key's role in).
pub(crate) async fn require_admin(req: Request, next: Next) -> Result<Response, ApiError> {
    match req.extensions().get::<Role>() {
        Some(Role::Admin) => Ok(next.run(req).await),
        Some(Role::Read) => Err(ApiError::Forbidden),
        None => Err(ApiError::Unauthorized),
    }
}

/// Maps a timeout (or another layer error) to an [`ApiError`].
pub(crate) async fn layer_error(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout
    } else {
        ApiError::Internal(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::trace_id;

    #[test]
    fn a_traceparent_gives_its_trace_id_and_a_malformed_one_none() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(trace_id(&format!("00-{id}-00f067aa0ba902b7-01")), Some(id));
        // A later version may add fields; version 00 may not.
        assert_eq!(
            trace_id(&format!("01-{id}-00f067aa0ba902b7-01-extra")),
            Some(id)
        );
        for bad in [
            format!("00-{id}-00f067aa0ba902b7-01-extra"),
            format!("ff-{id}-00f067aa0ba902b7-01"),
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01".to_string(),
            format!("00-{id}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase()),
            "00-abc-def-01".to_string(),
            String::new(),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
    }
}
