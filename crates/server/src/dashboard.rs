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

/// The login form's body (`application/x-www-form-urlencoded`: `key=…`).
#[derive(serde::Deserialize)]
pub(crate) struct LoginForm {
    key: String,
}

/// `POST /login`: a key typed into the page becomes an `HttpOnly` session cookie (see
/// [`crate::session`]); 401 for an unknown key, rate-limited per client address like `/api/*`.
pub(crate) async fn login(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    use axum::extract::FromRequest;
    state.rate_check(&crate::middleware::client_ip(&req))?;
    let axum::Form(form) = axum::Form::<LoginForm>::from_request(req, &state)
        .await
        .map_err(|e| ApiError::BadRequest(format!("login form: {}", e.body_text())))?;
    let index = state
        .key_index(form.key.trim().as_bytes())
        .ok_or(ApiError::Unauthorized)?;
    let value = state
        .new_session(index)
        .ok_or_else(|| ApiError::Internal("the key just found is gone".into()))?;
    Ok(session_answer(&crate::session::set_cookie(&value)))
}

/// `POST /logout`: the session cookie is cleared.
pub(crate) async fn logout() -> Response {
    session_answer(&crate::session::clear_cookie())
}

fn session_answer(set_cookie: &str) -> Response {
    match HeaderValue::from_str(set_cookie) {
        Ok(value) => (
            axum::http::StatusCode::NO_CONTENT,
            [(header::SET_COOKIE, value)],
        )
            .into_response(),
        Err(_) => ApiError::Internal("unprintable session cookie".into()).into_response(),
    }
}
