//! The last answer of each vendor's health ping, shared by the clones of an [`App`](crate::App):
//! written by the background ping ([`Health::refresh_vendors`](crate::Health::refresh_vendors)),
//! read by readiness probes.

use ivcrush_resilience::CheckResult;
use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// One vendor ping's answer and when it came.
#[derive(Debug, Clone)]
pub(crate) struct LastPing {
    pub(crate) result: CheckResult,
    pub(crate) at: Instant,
    pub(crate) took: Duration,
}

/// The last answer of each vendor ping, shared by the clones of an [`App`](crate::App).
#[derive(Debug, Default)]
pub(crate) struct VendorStatus {
    last: RwLock<BTreeMap<&'static str, LastPing>>,
}

impl VendorStatus {
    pub(crate) fn record(&self, name: &'static str, ping: LastPing) {
        self.last
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, ping);
    }

    /// The cached answer of `name`, its age in the message.
    pub(crate) fn report(&self, name: &str) -> CheckResult {
        let last = self.last.read().unwrap_or_else(PoisonError::into_inner);
        let Some(ping) = last.get(name) else {
            return Ok("not checked yet (the first background ping is pending)".to_string());
        };
        let when = format!(
            "pinged {} s ago in {} ms",
            ping.at.elapsed().as_secs(),
            ping.took.as_millis()
        );
        match &ping.result {
            Ok(message) => Ok(format!("{message} ({when})")),
            Err(message) => Err(format!("{message} ({when})")),
        }
    }
}
