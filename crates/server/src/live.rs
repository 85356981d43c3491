//! `GET /api/v1/stream/implied?tickers=…`: the live implied moves `ivcrush ticker` publishes to
//! Redis, relayed as server-sent events (the dashboard's live figure). Each event is named
//! `implied` and carries the JSON of one update (`ivcrush_ticker::implied::ImpliedUpdate`):
//! first the latest of each ticker, then every new one. Off (404) unless
//! `server.live_implied`; at most `server.live_streams` open at once (then 503); a comment every 15 s keeps proxies from closing
//! an idle stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use ivcrush_app::symbols::normalize_symbol;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiQuery;
use crate::state::AppState;

/// How long Redis may take to accept the subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Query of `/api/v1/stream/implied`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ImpliedStreamParams {
    /// Underlyings, comma separated, 1–50 (`AAPL,msft`): each as the `ticker` of the other
    /// routes (the pattern is set with theirs, in `CommonResponses`).
    tickers: String,
}

/// The tickers of a list: each normalised, duplicates dropped; an empty entry or more than
/// [`ivcrush_ticker::implied::MAX_SUBSCRIBED`] is refused (the documented pattern).
pub(crate) fn parse_tickers(list: &str) -> Result<Vec<String>, ApiError> {
    let max = ivcrush_ticker::implied::MAX_SUBSCRIBED;
    let mut out: Vec<String> = Vec::new();
    for (i, part) in list.split(',').enumerate() {
        if i >= max {
            return Err(ApiError::BadRequest(format!(
                "tickers: at most {max} per stream"
            )));
        }
        let t = normalize_symbol(part)
            .map_err(|e| ApiError::BadRequest(format!("tickers: {part:?}: {e}")))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

/// Live implied moves of some tickers, as server-sent events.
#[utoipa::path(get, path = "/api/v1/stream/implied", tag = "live", params(ImpliedStreamParams),
    security(("api_key" = [])),
    responses(
        (status = 200, description = "Server-sent events named `implied`, each the JSON of one \
            live implied move {underlying, as_of, seq, spot, earnings_date, timing, options, \
            expiration, implied_move, warnings, data_quality} or {…, error}: first the latest \
            of each ticker, then every update", content_type = "text/event-stream", body = String),
        (status = 400, description = "Malformed query", body = ErrorBody),
        (status = 404, description = "Live implied moves are off on this server \
            (server.live_implied)", body = ErrorBody),
        (status = 500, description = "Internal error (logged, never detailed)", body = ErrorBody),
        (status = 503, description = "Redis unreachable, or too many streams open",
            body = ErrorBody)))]
pub(crate) async fn implied_stream(
    State(s): State<AppState>,
    ApiQuery(p): ApiQuery<ImpliedStreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let tickers = parse_tickers(&p.tickers)?;
    let (feed, permit) = s.live_implied()?;
    let updates = feed
        .subscribe(&tickers, SUBSCRIBE_TIMEOUT)
        .await
        .map_err(|e| ApiError::Unavailable(format!("live implied moves: {e}")))?;
    metrics::gauge!("ivcrush_http_live_streams").increment(1.0);
    let open = StreamGuard(Some(permit));
    let events = updates.take_until(s.closed()).map(move |json| {
        let _open = &open; // held (with its permit) as long as the stream
        Ok(Event::default().event("implied").data(json))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream: its permit, and the gauge decremented when the client goes.
struct StreamGuard(Option<tokio::sync::OwnedSemaphorePermit>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.take();
        metrics::gauge!("ivcrush_http_live_streams").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_normalised_and_bounded() {
        assert_eq!(
            parse_tickers("aapl, brk-b,AAPL").ok(),
            Some(vec!["AAPL".to_owned(), "BRK.B".to_owned()])
        );
        for bad in ["", "AAPL,,MSFT", "AAPL,", "AA$"] {
            assert!(parse_tickers(bad).is_err(), "{bad:?}");
        }
        let fifty = vec!["A"; 50].join(",");
        assert!(parse_tickers(&fifty).is_ok());
        assert!(parse_tickers(&format!("{fifty},B")).is_err());
    }

    #[test]
    fn the_documented_pattern_accepts_what_the_parser_accepts() {
        let pattern = regex::Regex::new(crate::routes::TICKERS_PATTERN).expect("compiles");
        for list in [
            "AAPL",
            "aapl, brk-b,AAPL",
            " MSFT ",
            "",
            "AAPL,,MSFT",
            "AAPL,",
            "AA$",
            "brk/b,x",
        ] {
            assert_eq!(
                pattern.is_match(list),
                parse_tickers(list).is_ok(),
                "{list:?}"
            );
        }
        let fifty = vec!["A"; 50].join(",");
        assert!(pattern.is_match(&fifty));
        assert!(!pattern.is_match(&format!("{fifty},B")));
    }
}
