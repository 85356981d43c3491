//! One error type for every handler and middleware, mapped to a status and a JSON body
//! `{error, message, request_id}` that never carries internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ivcrush_app::{AppError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// What an API request can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// Malformed input (ticker, date, query parameter): 400.
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong `X-API-Key`: 401.
    #[error("missing or invalid API key (send it in the X-API-Key header)")]
    Unauthorized,
    /// A valid key without the role the route needs (a read-only key operating a breaker): 403.
    #[error("this key may only read; operating breakers needs an admin key (server.admin_keys)")]
    Forbidden,
    /// Unknown ticker, breaker or route: 404.
    #[error("{0}")]
    NotFound(String),
    /// Request body over the limit: 413.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// Per-client rate limit: 429 with `Retry-After`.
    #[error("rate limit exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next request is admitted.
        retry_after_secs: u64,
    },
    /// A well-formed request the server cannot serve: the inputs cannot support an analysis
    /// (no options, too little history), or a rule across fields fails (a window that ends
    /// before it starts or is too long, a report date that is not the ticker's): 422.
    #[error("{0}")]
    Unprocessable(String),
    /// A dependency (market data) is unavailable: 503.
    #[error("{0}")]
    Unavailable(String),
    /// The request took longer than the configured timeout: 503.
    #[error("request timed out")]
    Timeout,
    /// Anything else: 500; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// The JSON body of every error response.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code (`bad_request`, `unauthorized`, `not_found`, ...).
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// The request's `X-Request-Id`.
    pub request_id: Option<String>,
}

/// Attached to error responses so the rendering middleware can add the request id and log
/// internal details.
#[derive(Debug, Clone)]
pub(crate) struct ErrorInfo {
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code of the body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Timeout => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The error an unexplained status stands for (responses of tower layers).
    pub(crate) fn from_status(status: StatusCode) -> ApiError {
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest("bad request".into()),
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
            StatusCode::FORBIDDEN => ApiError::Forbidden,
            StatusCode::NOT_FOUND => ApiError::NotFound("not found".into()),
            StatusCode::METHOD_NOT_ALLOWED => {
                ApiError::BadRequest("method not allowed on this route".into())
            }
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
            StatusCode::TOO_MANY_REQUESTS => ApiError::RateLimited {
                retry_after_secs: 1,
            },
            StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
            s if s.is_client_error() => {
                ApiError::BadRequest(s.canonical_reason().unwrap_or("bad request").to_lowercase())
            }
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable("service unavailable".into()),
            s => ApiError::Internal(format!("status {s} without an error body")),
        }
    }

    pub(crate) fn info(&self) -> ErrorInfo {
        let (message, detail) = match self {
            ApiError::Internal(d) => (self.to_string(), Some(d.clone())),
            ApiError::PayloadTooLarge { limit: 0 } => ("request body too large".to_string(), None),
            other => (other.to_string(), None),
        };
        ErrorInfo {
            code: self.code(),
            message,
            detail,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let info = self.info();
        let body = ErrorBody {
            error: info.code.to_string(),
            message: info.message.clone(),
            request_id: None,
        };
        let mut resp = (self.status(), Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        resp.extensions_mut().insert(info);
        resp
    }
}

impl From<AppError> for ApiError {
    /// The one mapping of app errors to statuses (exhaustive over [`ErrorKind`], so a new kind
    /// must be given a status here). Invalid input that passed every per-field rule of the
    /// OpenAPI document (a window's order or length, a report date or expiration that the
    /// ticker does not have, an as-of the provider cannot replay) is 422, not 400: a client
    /// that follows the schema cannot tell it in advance. Vendor failures name what was
    /// fetched, never the vendor's answer.
    fn from(e: AppError) -> Self {
        if matches!(
            e,
            AppError::InvalidWindow { .. }
                | AppError::ReportOut { .. }
                | AppError::ExpirationUnusable { .. }
                | AppError::AsOfNotReplayable { .. }
        ) {
            return ApiError::Unprocessable(e.to_string());
        }
        let fetched = match &e {
            AppError::Market { context, .. } => context.clone(),
            other => other.to_string(),
        };
        match e.kind() {
            ErrorKind::InvalidInput => ApiError::BadRequest(e.to_string()),
            ErrorKind::NotFound => ApiError::NotFound(e.to_string()),
            ErrorKind::Unprocessable => ApiError::Unprocessable(e.to_string()),
            ErrorKind::RateLimited => {
                ApiError::Unavailable(format!("market data rate limited ({fetched})"))
            }
            ErrorKind::Unavailable => {
                ApiError::Unavailable(format!("market data unavailable ({fetched})"))
            }
            ErrorKind::Internal => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ivcrush_market::MarketError;

    #[test]
    fn internal_errors_hide_their_detail() {
        let e = ApiError::Internal("sqlite://secret@db failed".into());
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.info().message, "internal error");
    }

    #[test]
    fn app_errors_map_by_kind() {
        let e: ApiError = AppError::UnknownTicker {
            ticker: "ZZZZ".into(),
            reason: "no quote".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let e: ApiError = AppError::NoUpcomingReport {
            ticker: "ZZZ".into(),
            reported: None,
            horizon_days: 120,
        }
        .into();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        let d = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        let e: ApiError = AppError::InvalidWindow {
            from: d,
            to: d,
            reason: "x".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e: ApiError = AppError::InvalidSymbol(
            ivcrush_app::symbols::normalize_symbol("A$").expect_err("invalid"),
        )
        .into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        let e: ApiError = AppError::market(
            "quote of AAPL",
            MarketError::Server {
                vendor: "tradier",
                status: 503,
            },
        )
        .into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.to_string(), "market data unavailable (quote of AAPL)");
    }

    #[test]
    fn rate_limited_responses_carry_retry_after() {
        let r = ApiError::RateLimited {
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }
}
