//! The W3C trace a piece of work belongs to, carried to the vendor calls it makes: an HTTP
//! request's trace (its `traceparent`, or the request ID when that is a trace ID) or a scan
//! run's ID is set around the work with [`in_trace`], and each vendor request sends
//! [`traceparent`] (the same trace ID, a new parent ID), so that an egress proxy or a vendor's
//! support can join its logs to ours.
//!
//! A task-local value rather than OpenTelemetry: ivcrush exports no spans, and the ID is all a
//! downstream needs to correlate. Work spawned onto other tasks does not carry it.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

tokio::task_local! {
    static TRACE_ID: String;
}

/// `true` for a W3C trace ID: 32 lower-case hex digits, not all zero.
pub fn is_trace_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && id.bytes().any(|b| b != b'0')
}

/// Runs `work` in the trace `id` (ignored unless it is a W3C trace ID, see [`is_trace_id`]).
pub async fn in_trace<F: Future>(id: &str, work: F) -> F::Output {
    if is_trace_id(id) {
        TRACE_ID.scope(id.to_owned(), work).await
    } else {
        work.await
    }
}

/// A `traceparent` header for an outgoing request of the current trace (version 00, sampled),
/// with a fresh parent ID; `None` outside a trace.
pub fn traceparent() -> Option<String> {
    TRACE_ID
        .try_with(|id| format!("00-{id}-{:016x}-01", parent_id()))
        .ok()
}

/// 64 random non-zero bits: std's randomly keyed hasher over a counter (no RNG crate needed
/// for an ID that only has to be unlikely to repeat).
fn parent_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_trace_id_reaches_the_traceparent_of_work_inside_it_only() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(traceparent(), None);
        let inside = in_trace(id, async { (traceparent(), traceparent()) }).await;
        let (Some(a), Some(b)) = inside else {
            panic!("a traceparent inside the trace")
        };
        assert!(
            a.starts_with(&format!("00-{id}-")) && a.ends_with("-01"),
            "{a}"
        );
        assert_eq!(a.len(), 55);
        assert_ne!(a, b, "each request has its own parent ID");
        // Not a trace ID (a client's X-Request-Id): no traceparent.
        assert_eq!(
            in_trace("my-request-1", async { traceparent() }).await,
            None
        );
        assert!(!is_trace_id("00000000000000000000000000000000"));
    }
}
