//! The dashboard: static files embedded in the binary (no CDN, no build step).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::extract::ApiPath;

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");

/// Only our own files; inline scripts and styles are refused.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn file(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// `GET /`.
pub(crate) async fn index() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

/// `GET /assets/{file}`: a fixed list of names, never a path on disk.
pub(crate) async fn asset(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    match name.as_str() {
        "app.js" => Ok(file(APP_JS, "text/javascript; charset=utf-8")),
        "app.css" => Ok(file(APP_CSS, "text/css; charset=utf-8")),
        _ => Err(ApiError::NotFound("no such asset".into())),
    }
}
