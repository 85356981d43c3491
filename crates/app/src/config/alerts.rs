//! `[alerts]`: what raises an alert and where alerts are delivered (see [`crate::alerts`]).

use ivcrush_notify::WebhookSettings;
use serde::{Deserialize, Serialize};

/// Alert settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// A ticker's composite score (0–100) crossing this, either way, between two scans is an
    /// alert (60).
    pub score_threshold: f64,
    /// The streaming ticker dropping more updates per second than this (over 10 s) is an
    /// alert (100; 0 = never).
    pub ticker_drops_per_sec: f64,
    /// Seconds a command (`scan`, `calendar sync`, …) waits at its end to deliver what it
    /// raised (5); the rest is delivered by the next process (`ivcrush serve` delivers in the
    /// background).
    pub flush_secs: u64,
    /// The webhooks alerts are delivered to (none).
    pub webhooks: WebhookSettings,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            score_threshold: 60.0,
            ticker_drops_per_sec: 100.0,
            flush_secs: 5,
            webhooks: WebhookSettings::default(),
        }
    }
}

impl AlertSettings {
    /// Every problem, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.score_threshold.is_finite() && (0.0..=100.0).contains(&self.score_threshold)) {
            p.push(format!(
                "alerts.score_threshold must be within 0..=100 (got {})",
                self.score_threshold
            ));
        }
        if !(self.ticker_drops_per_sec.is_finite() && self.ticker_drops_per_sec >= 0.0) {
            p.push(format!(
                "alerts.ticker_drops_per_sec must be a number ≥ 0 (got {})",
                self.ticker_drops_per_sec
            ));
        }
        p.extend(self.webhooks.problems());
        p
    }
}
