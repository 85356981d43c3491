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
use utoipa::openapi::content::Content;
use utoipa::openapi::header::Header;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, ReqId};
use crate::middleware::{
    API_KEY, AccessLog, MakeCorrelationId, REQUEST_ID, guard, http_metrics, join_trace,
    layer_error, make_span, reject_oversized, render_errors, require_admin, sanitize_request_id,
    security_headers,
};
use crate::state::{AppState, ScanSnapshot};
use crate::{dashboard, live};

/// The service: every route and layer over `state` (see the crate docs for the order). With
/// `admin_bind` set, the operator routes are left to [`admin_router`].
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/scan", get(scan))
        .route("/api/v1/analyze/{ticker}", get(analyze))
        .route("/api/v1/calendar", get(calendar))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/history/{ticker}", get(history))
        .route("/api/v1/backtest", get(backtest))
        .route("/api/v1/breakers", get(breakers))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/stream/implied", get(live::implied_stream))
        .merge(
            Router::new()
                .route("/api/v1/breakers/{name}/reset", post(reset_breaker))
                .route(
                    "/api/v1/breakers/{name}/force-open",
                    post(force_open_breaker),
                )
                .route_layer(from_fn(require_admin)),
        )
        .route_layer(from_fn_with_state(state.clone(), guard));
    let dashboard = Router::new()
        .route("/", get(dashboard::index))
        .route("/login", post(dashboard::login))
        .route("/logout", post(dashboard::logout))
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
                .layer(from_fn(join_trace))
                .layer(from_fn_with_state(state.clone(), http_metrics))
                .layer(from_fn(render_errors))
                .layer(from_fn(security_headers))
                // A panicking handler answers 500 `internal` with the request ID (rendered by
                // `render_errors`; its message is logged, never sent) instead of a dropped
                // connection.
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                    crate::middleware::panic_response,
                ))
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

/// Most analysed rows one `/api/v1/scan` answer holds (`limit`).
const SCAN_LIMIT_MAX: usize = 1000;
/// Most stored analyses one `/api/v1/history/{ticker}` answer holds (`limit`).
const HISTORY_LIMIT_MAX: u32 = 500;

/// Query of `/api/v1/scan`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ScanParams {
    /// First report date (default: the as-of date).
    from: Option<NaiveDate>,
    /// Last report date (default: `from` + the configured days; not before `from` and at
    /// most 366 days after it, else 422).
    to: Option<NaiveDate>,
    /// Keep analysed rows scoring at least this (0–100).
    #[param(minimum = 0.0, maximum = 100.0)]
    min_score: Option<f64>,
    /// Keep at most this many analysed rows (1–1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Run a new scan even when a stored one covers the window.
    refresh: Option<bool>,
    /// Order of the analysed rows: `tradeable` (default: tradeable rows first, then by score)
    /// or `score` (by score alone).
    #[param(value_type = Option<RankDoc>, inline)]
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
        if self
            .limit
            .is_some_and(|l| !(1..=SCAN_LIMIT_MAX).contains(&l))
        {
            return Err(ApiError::BadRequest(format!(
                "limit must be within 1..={SCAN_LIMIT_MAX}"
            )));
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
        (status = 400, description = "Malformed query (a date, number or name out of its schema)",
            body = ErrorBody),
        (status = 422, description = "`to` before `from`, or a window longer than 366 days",
            body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody),
        (status = 503, description = "Market data unavailable, or the request timed out",
            body = ErrorBody)))]
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
    params(("ticker" = String, Path, description = TICKER_DESCRIPTION), AnalyzeParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The analysis record (the CLI's JSON)", body = Object),
        (status = 400, description = "Malformed ticker or query", body = ErrorBody),
        (status = 404, description = "Unknown ticker or no upcoming report", body = ErrorBody),
        (status = 422, description = "The data cannot support an analysis, the report date or \
            expiration asked for cannot be analysed, or the provider cannot replay an as-of",
            body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody),
        (status = 503, description = "Market data unavailable, or the request timed out",
            body = ErrorBody)))]
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
    /// Report date to analyse (default: the calendar's next one); 422 when it is not the
    /// ticker's next report or more than 366 days after the as-of.
    earnings_date: Option<NaiveDate>,
    /// Expiration to analyse (default: the first after the market reacts); 422 when it is not
    /// listed, ends before the reaction or is more than 366 days after the as-of.
    expiration: Option<NaiveDate>,
    /// Market as-of, a date or an RFC 3339 instant (default: the server's); the simulated
    /// market and files only. 422 on a live provider, for an as-of more than 366 days after
    /// the server's, or one the replayed market has no data at (before the simulation starts
    /// or the first imported snapshot). `YYYY-MM-DD HH:MM[:SS]` (New York time) is accepted
    /// too.
    #[param(value_type = Option<AsOfDoc>, inline)]
    as_of: Option<AsOf>,
}

/// Query of `/api/v1/calendar`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CalendarParams {
    /// First date (default: the as-of date).
    from: Option<NaiveDate>,
    /// Last date (default: `from` + the configured scan days; not before `from` and at most
    /// 366 days after it, else 422).
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
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 422, description = "`to` before `from`, or a window longer than 366 days",
            body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody),
        (status = 503, description = "Calendar unavailable, or the request timed out",
            body = ErrorBody)))]
pub(crate) async fn calendar(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<CalendarParams>,
) -> Result<Json<CalendarResponse>, ApiError> {
    let (from, to, events) = s.calendar(p.from, p.to).await?;
    Ok(Json(CalendarResponse { from, to, events }))
}

/// Query of `/api/v1/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlertsParams {
    /// Alerts of the last N days (1–3660, default 7).
    #[param(minimum = 1, maximum = 3660)]
    days: Option<u32>,
    /// At most N alerts, newest first (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Stored alerts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertsResponse {
    /// Newest first: `{id, key, kind, ticker, message, detail, created_at, delivered}`
    /// (`detail` a JSON object as text; `delivered` the webhooks that took it).
    #[schema(value_type = Vec<Object>)]
    alerts: Vec<ivcrush_app::store::AlertRow>,
}

/// Alerts raised: calendar changes, score and tier crossings, breakers opening, health.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", params(AlertsParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Alerts, newest first", body = AlertsResponse),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody),
        (status = 503, description = "Database unavailable, or the request timed out",
            body = ErrorBody)))]
pub(crate) async fn alerts(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<AlertsParams>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let days = p.days.unwrap_or(7);
    let limit = p.limit.unwrap_or(100);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::BadRequest("days must be within 1..=3660".into()));
    }
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be within 1..=1000".into()));
    }
    let alerts = s.app().alerts().list(days, limit).await?;
    Ok(Json(AlertsResponse { alerts }))
}

/// Query of `/api/v1/history/{ticker}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Stored analyses returned, newest first (1–500, default 20).
    #[param(minimum = 1, maximum = 500)]
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
    params(("ticker" = String, Path, description = TICKER_DESCRIPTION), HistoryParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "History", body = HistoryResponse),
        (status = 400, description = "Malformed ticker or query", body = ErrorBody),
        (status = 404, description = "Nothing stored for the ticker", body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody)))]
pub(crate) async fn history(
    State(s): State<AppState>,
    ApiPath(raw): ApiPath<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<Json<HistoryResponse>, ApiError> {
    let t = ticker(&raw)?;
    let limit = p.limit.unwrap_or(20);
    if !(1..=HISTORY_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be within 1..={HISTORY_LIMIT_MAX}"
        )));
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
    /// expiries have happened; not before `from` and at most 366 days after it, else 422; a
    /// window starting after the last completed session is 422 too).
    to: Option<NaiveDate>,
    /// `short_straddle`, `short_strangle`, `iron_condor` or `best` (default).
    #[param(value_type = Option<StrategyDoc>, inline)]
    strategy: Option<String>,
    /// `reaction` (default) or `expiry`.
    #[param(value_type = Option<ExitDoc>, inline)]
    exit: Option<String>,
}

/// Replays the scan over the reports of a window: the trades, the summary with the POP
/// calibration, and implied against realised per event (the CLI's `backtest --format json`).
#[utoipa::path(get, path = "/api/v1/backtest", tag = "scan", params(BacktestParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The backtest report", body = Object),
        (status = 400, description = "Malformed query (a date, strategy or exit)", body = ErrorBody),
        (status = 422, description = "`to` before `from`, a window longer than 366 days, or one \
            starting after the last completed session", body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody),
        (status = 503, description = "Market data unavailable, or the request timed out",
            body = ErrorBody)))]
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
    responses((status = 200, description = "Breakers", body = BreakersResponse)))]
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
    params(("name" = String, Path, description = BREAKER_DESCRIPTION)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The breaker after the reset", body = Object),
        (status = 400, description = "Malformed breaker name", body = ErrorBody),
        (status = 403, description = "A read-only key (server.api_keys): operating breakers needs an admin key (server.admin_keys)", body = ErrorBody),
        (status = 404, description = "No such breaker in this process", body = ErrorBody)))]
pub(crate) async fn reset_breaker(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<BreakerSnapshot>, ApiError> {
    operate(&s, &name, |r, n| r.reset(n))
}

/// Holds a breaker open until reset.
#[utoipa::path(post, path = "/api/v1/breakers/{name}/force-open", tag = "breakers",
    params(("name" = String, Path, description = BREAKER_DESCRIPTION)),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The breaker, forced open", body = Object),
        (status = 400, description = "Malformed breaker name", body = ErrorBody),
        (status = 403, description = "A read-only key (server.api_keys): operating breakers needs an admin key (server.admin_keys)", body = ErrorBody),
        (status = 404, description = "No such breaker in this process", body = ErrorBody)))]
pub(crate) async fn force_open_breaker(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<BreakerSnapshot>, ApiError> {
    operate(&s, &name, |r, n| r.force_open(n))
}

/// The login form, as documented (the handler reads it in [`dashboard::login`]).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only")]
struct LoginBody {
    /// An API or admin key.
    key: String,
}

/// Trades a key for the dashboard's session cookie (`HttpOnly`, `Secure`, `SameSite=Strict`,
/// 12 hours), so that the key never travels in a URL; `/api/*` accepts the cookie in place of
/// `X-API-Key`.
#[utoipa::path(post, path = "/login", tag = "session",
    request_body(content = LoginBody, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 204, description = "Logged in; the session is in Set-Cookie"),
        (status = 400, description = "Malformed form", body = ErrorBody),
        (status = 401, description = "Unknown key", body = ErrorBody)))]
#[allow(dead_code, reason = "documents dashboard::login")]
async fn login_doc() {}

/// Ends the dashboard session (clears the cookie).
#[utoipa::path(post, path = "/logout", tag = "session",
    responses((status = 204, description = "The session cookie is cleared")))]
#[allow(dead_code, reason = "documents dashboard::logout")]
async fn logout_doc() {}

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

/// Whitespace as Rust's `char::is_whitespace` (what `Symbol::parse` trims), as a character
/// class in the syntax shared by ECMA-262, Python's `re` and the `regex` crate. Not `\s`: that
/// differs (U+FEFF in, U+0085 out).
macro_rules! ws_class {
    () => {
        r"[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    };
}

/// One ticker with its surrounding whitespace, unanchored (see [`TICKER_PATTERN`]).
macro_rules! one_ticker {
    () => {
        concat!(
            ws_class!(),
            "*(?:[A-Za-z0-9]{1,10}",
            "|[A-Za-z0-9][./-][A-Za-z0-9]{1,8}",
            "|[A-Za-z0-9]{2}[./-][A-Za-z0-9]{1,7}",
            "|[A-Za-z0-9]{3}[./-][A-Za-z0-9]{1,6}",
            "|[A-Za-z0-9]{4}[./-][A-Za-z0-9]{1,5}",
            "|[A-Za-z0-9]{5}[./-][A-Za-z0-9]{1,4}",
            "|[A-Za-z0-9]{6}[./-][A-Za-z0-9]{1,3}",
            "|[A-Za-z0-9]{7}[./-][A-Za-z0-9]{1,2}",
            "|[A-Za-z0-9]{8}[./-][A-Za-z0-9])",
            ws_class!(),
            "*"
        )
    };
}

/// A ticker as the server accepts it (`ivcrush_core::symbol::Symbol::parse`): letters of
/// either case and digits, at most one `.`, `-` or `/` between two of them, 1–10 characters,
/// surrounding whitespace ignored. The length bound is spelt out per separator position (no
/// lookahead: generators of test data handle it badly).
pub(crate) const TICKER_PATTERN: &str = concat!("^", one_ticker!(), "$");

/// A comma-separated list of 1–50 tickers, each as [`TICKER_PATTERN`] (no empty entries):
/// what [`crate::live::parse_tickers`] accepts.
pub(crate) const TICKERS_PATTERN: &str =
    concat!("^", one_ticker!(), "(?:,", one_ticker!(), "){0,49}$");

const TICKER_DESCRIPTION: &str = "Ticker, any case: `BRK.B`, `BRK-B` and `brk/b` (sent as \
    `brk%2Fb`) are the same; 1–10 characters, surrounding whitespace ignored";

/// The circuit breakers a process can hold: one per vendor pipeline (Tradier, and Alpha
/// Vantage as the calendar), none on the simulated market or files. Kept equal to what
/// `App::open` registers by a test.
pub(crate) const BREAKER_NAMES: &[&str] = &["tradier", "alphavantage"];

const BREAKER_DESCRIPTION: &str =
    "Breaker name (404 when this process has no such breaker, e.g. on the simulated market)";

// Documentation-only schemas of query values the handlers parse themselves: their doc
// comments are the schemas' descriptions in the served document.

/// Order of the analysed rows.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
enum RankDoc {
    Tradeable,
    Score,
}

/// Strategy a backtest trades.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum StrategyDoc {
    ShortStraddle,
    ShortStrangle,
    IronCondor,
    Best,
}

/// When a backtest closes its trades.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
enum ExitDoc {
    Reaction,
    Expiry,
}

/// Documentation-only schema of an as-of: a date or an RFC 3339 date-time.
struct AsOfDoc;

impl utoipa::PartialSchema for AsOfDoc {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{AnyOf, KnownFormat, ObjectBuilder, SchemaFormat, Type};
        let string = |f| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(f)))
                .build()
        };
        let mut any = AnyOf::new();
        any.items = vec![
            string(KnownFormat::Date).into(),
            string(KnownFormat::DateTime).into(),
        ];
        Schema::AnyOf(any).into()
    }
}

impl ToSchema for AsOfDoc {}

/// The answers every operation can give besides its own: 413 (a declared body over the
/// limit) and 503 (the request timeout) everywhere; 401 and 429 (with `Retry-After`) on
/// `/api/*` (the guard). Also gives the path parameters their schemas (pattern, enum).
struct CommonResponses;

impl CommonResponses {
    fn error(description: &str) -> utoipa::openapi::Response {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
    }
}

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        let retry_after = Header::builder()
            .schema(
                ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .minimum(Some(1)),
            )
            .description(Some("Seconds until the next request is admitted"))
            .build();
        let common = [
            (
                "PayloadTooLarge",
                "413",
                Self::error("Request body over the limit"),
            ),
            ("TimedOut", "503", Self::error("The request timed out")),
            (
                "Unauthorized",
                "401",
                Self::error("Missing or invalid API key (X-API-Key)"),
            ),
            ("RateLimited", "429", {
                let mut r = Self::error("Per-client rate limit exceeded");
                r.headers.insert("Retry-After".into(), retry_after);
                r
            }),
        ];
        for (name, _, resp) in &common {
            c.responses.insert((*name).to_string(), resp.clone().into());
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let guarded = path.starts_with("/api/");
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                for (name, status, _) in &common {
                    // `/login` is rate-limited per client address like `/api/*`.
                    let applies = guarded
                        || matches!(*name, "PayloadTooLarge" | "TimedOut")
                        || (path == "/login" && *name == "RateLimited");
                    if applies && !op.responses.responses.contains_key(*status) {
                        op.responses
                            .responses
                            .insert((*status).to_string(), Ref::from_response_name(*name).into());
                    }
                }
                for p in op.parameters.iter_mut().flatten() {
                    let schema = match p.name.as_str() {
                        "ticker" => ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String)
                            .pattern(Some(TICKER_PATTERN))
                            .build(),
                        "tickers" => ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String)
                            .pattern(Some(TICKERS_PATTERN))
                            .build(),
                        "name" if path.starts_with("/api/v1/breakers/") => ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String)
                            .enum_values(Some(BREAKER_NAMES.iter().copied()))
                            .build(),
                        _ => continue,
                    };
                    p.schema = Some(schema.into());
                }
            }
        }
    }
}

/// The OpenAPI document, generated from the handler annotations above.
#[derive(OpenApi)]
#[openapi(
    info(title = "ivcrush API", description = "Earnings volatility scans, analyses, health and breakers. \
        /api/* needs the X-API-Key header; errors are {error, message, request_id}: 400 for a \
        malformed request, 422 for a well-formed one the server cannot serve (a window that ends \
        before it starts), 429 with Retry-After."),
    paths(live, ready, metrics, scan, analyze, calendar, history, backtest, breakers, reset_breaker,
        force_open_breaker, openapi_json, login_doc, logout_doc, live::implied_stream, alerts),
    components(schemas(LoginBody, ErrorBody, Live, ScanResponse, CalendarResponse, HistoryResponse,
        AlertsResponse,
        BreakersResponse)),
    modifiers(&ApiKeyScheme, &CommonResponses)
)]
pub(crate) struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_error_body_and_never_its_message() {
        use tower::ServiceExt;
        let app = ivcrush_app::App::open(ivcrush_app::AppConfig {
            provider: ivcrush_app::ProviderKind::Sim,
            database_url: "sqlite::memory:".into(),
            ..ivcrush_app::AppConfig::default()
        })
        .await
        .expect("app");
        let state =
            AppState::new(app, ivcrush_app::config::ServerSettings::default()).expect("state");
        let routes = Router::new().route(
            "/boom",
            get(|| async {
                let secret = "MARKER-in-a-panic";
                if secret.len() > 1 {
                    panic!("boom {secret}");
                }
                "unreachable"
            }),
        );
        let answer = with_layers(routes, state)
            .oneshot(
                axum::http::Request::get("/boom")
                    .header("x-request-id", "panic-1")
                    .body(axum::body::Body::empty())
                    .expect("request"),
            )
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(answer.status(), 500);
        let body = axum::body::to_bytes(answer.into_body(), 1 << 16)
            .await
            .expect("body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON error body");
        assert_eq!(body["error"], "internal");
        assert_eq!(body["request_id"], "panic-1");
        assert!(!body.to_string().contains("MARKER"), "{body}");
    }

    /// The documented ticker pattern accepts exactly what the server accepts: every string of
    /// up to 4 characters over an alphabet with each kind of character the rule tells apart,
    /// and longer ones around the 10-character bound.
    #[test]
    fn the_ticker_pattern_accepts_what_normalize_symbol_accepts() {
        let pattern = regex::Regex::new(TICKER_PATTERN).expect("the pattern compiles");
        let alphabet = [
            'a', 'Z', '7', '.', '-', '/', ' ', '\t', '\u{85}', '\u{3000}', '\u{feff}', '$', '_',
            'é',
        ];
        let mut inputs: Vec<String> = vec![String::new()];
        let mut frontier = inputs.clone();
        for _ in 0..4 {
            frontier = frontier
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            inputs.extend(frontier.iter().cloned());
        }
        for n in 8..=12 {
            let core = "A".repeat(n);
            inputs.push(core.clone());
            inputs.push(format!(" {core}\n"));
            for cut in 1..n {
                inputs.push(format!("{}-{}", &core[..cut], &core[cut..]));
            }
        }
        for input in &inputs {
            assert_eq!(
                pattern.is_match(input),
                normalize_symbol(input).is_ok(),
                "{input:?}"
            );
        }
    }

    #[test]
    fn the_documented_enums_are_values_the_server_parses() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
        let params = doc["paths"]["/api/v1/backtest"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .clone();
        let values = |name: &str| -> Vec<String> {
            params
                .iter()
                .find(|p| p["name"] == name)
                .and_then(|p| serde_json::from_value(p["schema"]["enum"].clone()).ok())
                .unwrap_or_else(|| panic!("an enum for {name}"))
        };
        for v in values("strategy") {
            assert!(v.parse::<StrategyChoice>().is_ok(), "{v}");
        }
        for v in values("exit") {
            assert!(v.parse::<ExitChoice>().is_ok(), "{v}");
        }
        assert_eq!(values("strategy").len(), 4);
        assert_eq!(values("exit").len(), 2);
    }
}
