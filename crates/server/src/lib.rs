//! # ivcrush-server — the HTTP service and dashboard
//!
//! `ivcrush serve` runs an [axum] service in front of the [`ivcrush_app::App`] services:
//!
//! | route | what | auth |
//! |---|---|---|
//! | `GET /health/live` | the process answers | open |
//! | `GET /health/ready` | dependency graph as JSON, `503` when DOWN | open |
//! | `GET /metrics` | Prometheus text exposition | open |
//! | `GET /` , `/assets/*` | the embedded dashboard (no CDN, works offline) | open |
//! | `GET /api/v1/scan` | latest scheduled scan, or a scan on demand | `X-API-Key` |
//! | `GET /api/v1/analyze/{ticker}` | one ticker (served from a fresh stored analysis) | `X-API-Key` |
//! | `GET /api/v1/calendar` | earnings calendar of a window | `X-API-Key` |
//! | `GET /api/v1/history/{ticker}` | stored analyses and historical moves | `X-API-Key` |
//! | `GET /api/v1/alerts?days=&limit=` | alerts raised (calendar changes, crossings, breakers, health) | `X-API-Key` |
//! | `GET /api/v1/breakers` | circuit breakers | `X-API-Key` |
//! | `POST /api/v1/breakers/{name}/reset`, `/force-open` | operate a breaker | `X-API-Key` |
//! | `GET /api/v1/openapi.json` | OpenAPI 3.1 description generated from the handlers | `X-API-Key` |
//! | `GET /api/v1/stream/implied?tickers=` | live implied moves from `ivcrush ticker`, server-sent events (`server.live_implied`) | `X-API-Key` |
//!
//! JSON bodies are the CLI's records ([`ivcrush_app::Row`], [`ivcrush_app::AnalysisRecord`]);
//! errors are `{"error": code, "message": text, "request_id": id}`.
//!
//! # Layers (outer → inner)
//! sensitive headers (`x-api-key`, `authorization`, `cookie` are redacted before tracing) →
//! request id (accepted or generated, echoed in `X-Request-Id`) → trace span carrying the id →
//! HTTP metrics → error rendering (every error gets the JSON shape and the request id) →
//! security headers → CORS (off unless configured) → timeout → body size limit → routes;
//! `/api/*` routes add the API-key check (constant time) and the per-client rate limit.
//!
//! # Entry points
//! - [`Server::bind`] + [`Server::run`]: what `ivcrush serve` calls with the `[server]`
//!   section of the configuration ([`ServerSettings`]) and the process's metrics recorder
//!   (the binary installs [`new_recorder`] globally before `App::open`, so the vendor
//!   pipelines' metrics land in `/metrics` too): binds, starts the scheduler and serves until
//!   the shutdown future completes (the binary's signal handler).
//! - [`AppState::new`] + [`router`] (+ [`serve`]): what tests and embedders use.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod dashboard;
mod error;
mod extract;
mod live;
mod metrics;
mod middleware;
mod routes;
mod scheduler;
mod serve;
mod session;
mod state;

pub use crate::error::ApiError;
pub use crate::metrics::new_recorder;
pub use crate::routes::{admin_router, router};
pub use crate::scheduler::next_run;
pub use crate::serve::{ServeError, Server, serve};
pub use crate::state::{AppState, READINESS_TTL, ScanSnapshot};
pub use ivcrush_app::config::ServerSettings;
