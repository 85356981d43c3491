//! Routes and handlers (extract → call the state/app → map), and the OpenAPI document
//! generated from their annotations.

use std::sync::OnceLock;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use ivcrush_app::symbols::normalize_symbol;
use ivcrush_app::{
    AsOf, BacktestReport, EarningsRecord, ExitChoice, RankBy, Row, StoredAnalysis, StrategyChoice,
};
use ivcrush_core::moves::HistoricalMove;
use ivcrush_resilience::{BreakerSnapshot, HealthReport};
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::dashboard;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, ReqId};
use crate::middleware::{
    API_KEY, AccessLog, MakeCorrelationId, REQUEST_ID, guard, http_metrics, layer_error, make_span,
    reject_oversized, render_errors, sanitize_request_id, security_headers,
};
use crate::state::{AppState, ScanSnapshot};

/// The service: every route and layer over `state` (see the crate docs for the order). With
/// `admin_bind` set, the operator routes are left to [`admin_router`].
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/scan", get(scan))
        .route("/api/v1/analyze/{ticker}", get(analyze))
        .route("/api/v1/calendar", get(calendar))
        .route("/api/v1/history/{ticker}", get(history))
        .route("/api/v1/backtest", get(backtest))
        .route("/api/v1/breakers", get(breakers))
        .route("/api/v1/breakers/{name}/reset", post(reset_breaker))
        .route(
            "/api/v1/breakers/{name}/force-open",
            post(force_open_breaker),
        )
        .route("/api/v1/openapi.json", get(openapi_json))
        .route_layer(from_fn_with_state(state.clone(), guard));
    let dashboard = Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/{file}", get(dashboard::asset));
    let routes = api.merge(dashboard);
    let routes = if state.config().admin_bind.is_some() {
        routes
    } else {
        routes.merge(operator_routes())
    };
    with_layers(routes, state)
}

/// The operator endpoints alone (`/health/*`, `/metrics`), for `admin_bind`: probes and
/// scrapes on a private port, with the same layers (request IDs, metrics, headers).
pub fn admin_router(state: AppState) -> Router {
    with_layers(operator_routes(), state)
}

fn operator_routes() -> Router<AppState> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/metrics", get(metrics))
}

fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    let cfg = state.config().clone();
    let cors = (!cfg.cors_origins.is_empty()).then(|| {
        let origins: Vec<HeaderValue> = cfg
            .cors_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
            .allow_headers([API_KEY, header::CONTENT_TYPE, REQUEST_ID])
            .expose_headers([REQUEST_ID])
    });
    routes
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(cfg.body_limit_bytes))
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    API_KEY,
                    header::AUTHORIZATION,
                    header::COOKIE,
                    header::PROXY_AUTHORIZATION,
                ]))
                .layer(from_fn(sanitize_request_id))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeCorrelationId))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(make_span)
                        .on_request(())
                        .on_response(AccessLog)
                        .on_failure(()),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(from_fn_with_state(state.clone(), http_metrics))
                .layer(from_fn(render_errors))
                .layer(from_fn(security_headers))
                .option_layer(cors)
                .layer(HandleErrorLayer::new(layer_error))
                .timeout(Duration::from_millis(cfg.request_timeout_ms))
                .layer(from_fn_with_state(state.clone(), reject_oversized))
                .layer(RequestBodyLimitLayer::new(cfg.body_limit_bytes)),
        )
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Liveness answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Live {
    /// Always `UP`.
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "health",
    responses((status = 200, description = "The process answers", body = Live)))]
pub(crate) async fn live() -> Json<Live> {
    Json(Live { status: "UP" })
}

/// The dependency graph (database, market data, disk, vendors, breakers, extra checks).
#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses(
        (status = 200, description = "UP or DEGRADED", body = Object),
        (status = 503, description = "DOWN: a critical dependency is down", body = Object)))]
pub(crate) async fn ready(State(s): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let report = s.readiness().await;
    let status =
        StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(report))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String,
        content_type = "text/plain")))]
pub(crate) async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        s.metrics().render(),
    )
}

/// Query of `/api/v1/scan`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ScanParams {
    /// First report date (default: the as-of date).
    from: Option<NaiveDate>,
    /// Last report date (default: `from` + the configured days).
    to: Option<NaiveDate>,
    /// Keep analysed rows scoring at least this (0–100).
    min_score: Option<f64>,
    /// Keep at most this many analysed rows (1–1000).
    limit: Option<usize>,
    /// Run a new scan even when a stored one covers the window.
    refresh: Option<bool>,
    /// Order of the analysed rows: `tradeable` (default: tradeable rows first, then by score)
    /// or `score` (by score alone).
    #[param(value_type = Option<String>)]
    rank: Option<RankBy>,
}

impl ScanParams {
    fn validate(&self) -> Result<(), ApiError> {
        if self
            .min_score
            .is_some_and(|m| !(m.is_finite() && (0.0..=100.0).contains(&m)))
        {
            return Err(ApiError::BadRequest(
                "min_score must be within 0..=100".into(),
            ));
        }
        if self.limit.is_some_and(|l| l == 0 || l > 1000) {
            return Err(ApiError::BadRequest("limit must be within 1..=1000".into()));
        }
        Ok(())
    }
}

/// A scan: its run and window, and the ranked rows (the CLI's records).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScanResponse {
    /// Correlation id of the run (stored with every row).
    run_id: String,
    /// As-of instant of the data.
    as_of: DateTime<Utc>,
    /// First report date scanned.
    from: NaiveDate,
    /// Last report date scanned.
    to: NaiveDate,
    /// `scheduled`, `startup` or `on_demand`.
    trigger: &'static str,
    /// When the scan finished.
    finished_at: DateTime<Utc>,
    /// How the analysed rows are ordered: `tradeable` or `score`.
    rank: &'static str,
    /// Analysed rows (tradeable first unless `rank=score`, then by score), then failed rows
    /// `{ticker, error, ...}`. Rows whose report has come out since the scan are left out.
    #[schema(value_type = Vec<Object>)]
    rows: Vec<Row>,
}

impl ScanResponse {
    fn new(s: &ScanSnapshot, p: &ScanParams, now: DateTime<Utc>) -> ScanResponse {
        let rank = p.rank.unwrap_or_default();
        ScanResponse {
            run_id: s.report.run_id.clone(),
            as_of: s.report.as_of,
            from: s.report.from,
            to: s.report.to,
            trigger: s.trigger,
            finished_at: s.finished_at,
            rank: rank.as_str(),
            rows: s.filtered(p.min_score, p.limit, rank, now),
        }
    }
}

/// The latest scheduled scan covering the window, or one run now.
#[utoipa::path(get, path = "/api/v1/scan", tag = "scan", params(ScanParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Ranked rows", body = ScanResponse),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 503, description = "Market data unavailable", body = ErrorBody)))]
pub(crate) async fn scan(
    State(s): State<AppState>,
    ReqId(id): ReqId,
    ApiQuery(p): ApiQuery<ScanParams>,
) -> Result<Json<ScanResponse>, ApiError> {
    p.validate()?;
    let snap = s
        .scan(p.from, p.to, p.refresh.unwrap_or(false), &id)
        .await?;
    Ok(Json(ScanResponse::new(&snap, &p, s.app().as_of())))
}

fn ticker(raw: &str) -> Result<String, ApiError> {
    normalize_symbol(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The analysis record of one ticker (with its last historical moves), served from a fresh
/// stored analysis or computed now.
#[utoipa::path(get, path = "/api/v1/analyze/{ticker}", tag = "scan",
    params(("ticker" = String, Path, description = "Ticker (BRK.B, BRK-B and brk/b are the same)"),
        AnalyzeParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The analysis record (the CLI's JSON)", body = Object),
        (status = 400, description = "Invalid ticker", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "Unknown ticker or no upcoming report", body = ErrorBody),
        (status = 422, description = "The data cannot support an analysis", body = ErrorBody),
        (status = 503, description = "Market data unavailable", body = ErrorBody)))]
pub(crate) async fn analyze(
    State(s): State<AppState>,
    ReqId(id): ReqId,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(p): ApiQuery<AnalyzeParams>,
) -> Result<Response, ApiError> {
    let t = ticker(&raw)?;
    let body = s
        .analysis_json(&t, p.earnings_date, p.expiration, p.as_of, &id)
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// Query of `/api/v1/analyze/{ticker}` (the CLI's `analyze` options).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AnalyzeParams {
    /// Report date to analyse (default: the calendar's next one).
    earnings_date: Option<NaiveDate>,
    /// Expiration to analyse (default: the first after the market reacts).
    expiration: Option<NaiveDate>,
    /// Market as-of, a date or an RFC 3339 instant (default: the server's); the simulated
    /// market and files only.
    #[param(value_type = Option<String>)]
    as_of: Option<AsOf>,
}

/// Query of `/api/v1/calendar`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CalendarParams {
    /// First date (default: the as-of date).
    from: Option<NaiveDate>,
    /// Last date (default: `from` + the configured scan days; at most 366 days after `from`).
    to: Option<NaiveDate>,
}

/// Earnings events of a window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CalendarResponse {
    /// First date.
    from: NaiveDate,
    /// Last date.
    to: NaiveDate,
    /// Events `{ticker, name, event: {date, timing}}`.
    #[schema(value_type = Vec<Object>)]
    events: Vec<EarningsRecord>,
}

/// The provider's earnings calendar for a window.
#[utoipa::path(get, path = "/api/v1/calendar", tag = "calendar", params(CalendarParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Events", body = CalendarResponse),
        (status = 400, description = "Bad window", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody)))]
pub(crate) async fn calendar(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<CalendarParams>,
) -> Result<Json<CalendarResponse>, ApiError> {
    let (from, to, events) = s.calendar(p.from, p.to).await?;
    Ok(Json(CalendarResponse { from, to, events }))
}

/// Query of `/api/v1/history/{ticker}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Stored analyses returned, newest first (1–500, default 20).
    limit: Option<u32>,
}

/// Stored analyses and historical earnings moves of one ticker.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryResponse {
    /// Ticker (normalised).
    ticker: String,
    /// Stored analyses, newest first.
    #[schema(value_type = Vec<Object>)]
    analyses: Vec<StoredAnalysis>,
    /// Historical earnings moves, oldest first.
    #[schema(value_type = Vec<Object>)]
    historical_moves: Vec<HistoricalMove>,
}

/// Stored analyses and historical moves of one ticker.
#[utoipa::path(get, path = "/api/v1/history/{ticker}", tag = "scan",
    params(("ticker" = String, Path, description = "Ticker"), HistoryParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "History", body = HistoryResponse),
        (status = 400, description = "Invalid ticker", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "Nothing stored for the ticker", body = ErrorBody)))]
pub(crate) async fn history(
    State(s): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let t = ticker(&raw)?;
    let limit = p.limit.unwrap_or(20);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be within 1..=500".into()));
    }
    let h = s.history(&t, limit).await?;
    Ok(Json(HistoryResponse {
        ticker: h.ticker,
        analyses: h.analyses,
        historical_moves: h.moves,
    }))
}

/// Query of `/api/v1/backtest`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct BacktestParams {
    /// First report date (default: 90 days before `to`).
    from: Option<NaiveDate>,
    /// Last report date (default: 10 days before the as-of date, so that reactions and
    /// expiries have happened; at most 366 days after `from`).
    to: Option<NaiveDate>,
    /// `short_straddle`, `short_strangle`, `iron_condor` or `best` (default).
    #[param(pattern = "^(short_straddle|short_strangle|iron_condor|best)$")]
    strategy: Option<String>,
    /// `reaction` (default) or `expiry`.
    #[param(pattern = "^(reaction|expiry)$")]
    exit: Option<String>,
}

/// Replays the scan over the reports of a window: the trades, the summary with the POP
/// calibration, and implied against realised per event (the CLI's `backtest --format json`).
#[utoipa::path(get, path = "/api/v1/backtest", tag = "scan", params(BacktestParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The backtest report", body = Object),
        (status = 400, description = "Bad window, strategy or exit", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody)))]
pub(crate) async fn backtest(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<BacktestParams>,
) -> Result<Json<std::sync::Arc<BacktestReport>>, ApiError> {
    let strategy: StrategyChoice = p
        .strategy
        .as_deref()
        .unwrap_or("best")
        .parse()
        .map_err(ApiError::BadRequest)?;
    let exit: ExitChoice = p
        .exit
        .as_deref()
        .unwrap_or("reaction")
        .parse()
        .map_err(ApiError::BadRequest)?;
    Ok(Json(s.backtest(p.from, p.to, strategy, exit).await?))
}

/// The circuit breakers of the process.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BreakersResponse {
    /// Snapshots `{name, state, buffered_calls, failed_calls, retry_in_ms, totals, ...}`.
    #[schema(value_type = Vec<Object>)]
    breakers: Vec<BreakerSnapshot>,
}

/// Every circuit breaker with its state and counts.
#[utoipa::path(get, path = "/api/v1/breakers", tag = "breakers", security(("api_key" = [])),
    responses(
        (status = 200, description = "Breakers", body = BreakersResponse),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody)))]
pub(crate) async fn breakers(State(s): State<AppState>) -> Json<BreakersResponse> {
    Json(BreakersResponse {
        breakers: s.app().breakers().list(),
    })
}

fn breaker_name(raw: &str) -> Result<&str, ApiError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then_some(raw)
        .ok_or_else(|| ApiError::BadRequest("invalid breaker name".into()))
}

fn operate(
    s: &AppState,
    raw: &str,
    op: impl Fn(&ivcrush_resilience::BreakerRegistry, &str) -> bool,
) -> Result<Json<BreakerSnapshot>, ApiError> {
    let name = breaker_name(raw)?;
    let reg = s.app().breakers();
    if !op(reg, name) {
        return Err(ApiError::NotFound(format!("no breaker named {name}")));
    }
    let snap = reg
        .get(name)
        .map(|b| b.snapshot())
        .ok_or_else(|| ApiError::NotFound(format!("no breaker named {name}")))?;
    tracing::info!(
        breaker = name,
        state = snap.state.as_str(),
        "breaker operated"
    );
    Ok(Json(snap))
}

/// Resets a breaker to CLOSED with fresh counts.
#[utoipa::path(post, path = "/api/v1/breakers/{name}/reset", tag = "breakers",
    params(("name" = String, Path, description = "Breaker name")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The breaker after the reset", body = Object),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such breaker", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody)))]
pub(crate) async fn reset_breaker(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<BreakerSnapshot>, ApiError> {
    operate(&s, &name, |r, n| r.reset(n))
}

/// Holds a breaker open until reset.
#[utoipa::path(post, path = "/api/v1/breakers/{name}/force-open", tag = "breakers",
    params(("name" = String, Path, description = "Breaker name")),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The breaker, forced open", body = Object),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 404, description = "No such breaker", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody)))]
pub(crate) async fn force_open_breaker(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<BreakerSnapshot>, ApiError> {
    operate(&s, &name, |r, n| r.force_open(n))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(("api_key" = [])),
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn openapi_json() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().unwrap_or_default());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.as_str(),
    )
        .into_response()
}

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The OpenAPI document, generated from the handler annotations above.
#[derive(OpenApi)]
#[openapi(
    info(title = "ivcrush API", description = "Earnings volatility scans, analyses, health and breakers. \
        /api/* needs the X-API-Key header; errors are {error, message, request_id}."),
    paths(live, ready, metrics, scan, analyze, calendar, history, backtest, breakers, reset_breaker,
        force_open_breaker, openapi_json),
    components(schemas(ErrorBody, Live, ScanResponse, CalendarResponse, HistoryResponse,
        BreakersResponse)),
    modifiers(&ApiKeyScheme)
)]
pub(crate) struct ApiDoc;
