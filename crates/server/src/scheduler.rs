//! The in-process scan scheduler: runs the scan on the configured cron expression (default
//! weekdays 09:45 America/New_York) and keeps the result as the latest scan.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::watch;

use crate::state::AppState;

/// The first fire time of `schedule` in `tz` strictly after `now`.
pub fn next_run(schedule: &cron::Schedule, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule
        .after(&now.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// Runs until `shutdown` turns true: an optional scan at start, then one per fire time.
pub(crate) async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let schedule = state.config().scan_cron.schedule().clone();
    let tz = state.config().scan_timezone.0;
    if state.config().scan_on_start {
        scan(&state, "startup").await;
    }
    loop {
        let Some(at) = next_run(&schedule, tz, Utc::now()) else {
            tracing::warn!("scan schedule has no future fire time; scheduler stops");
            return;
        };
        tracing::info!(next = %at.with_timezone(&tz), "next scheduled scan");
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => scan(&state, "scheduled").await,
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

async fn scan(state: &AppState, trigger: &'static str) {
    let run_id = ivcrush_app::new_correlation_id();
    let span = tracing::info_span!("scan", request_id = %run_id, trigger);
    let _ = tracing::Instrument::instrument(state.run_scan(trigger, &run_id), span).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::str::FromStr;

    fn default_schedule() -> cron::Schedule {
        cron::Schedule::from_str("0 45 9 * * Mon-Fri").expect("valid")
    }

    #[test]
    fn the_default_schedule_fires_at_0945_new_york_on_a_weekday() {
        // Monday 2026-02-02 08:00 New York (13:00 UTC in winter).
        let now = Utc.with_ymd_and_hms(2026, 2, 2, 13, 0, 0).unwrap();
        let next = next_run(&default_schedule(), chrono_tz::America::New_York, now).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 2, 2, 14, 45, 0).unwrap());
    }

    #[test]
    fn after_friday_morning_the_next_scan_is_monday_in_summer_time() {
        // Friday 2026-07-10 10:00 New York (14:00 UTC, EDT).
        let now = Utc.with_ymd_and_hms(2026, 7, 10, 14, 0, 0).unwrap();
        let next = next_run(&default_schedule(), chrono_tz::America::New_York, now).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 7, 13, 13, 45, 0).unwrap());
    }
}
