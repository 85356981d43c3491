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

/// The job whose lead decides which of several `serve` instances sharing a database runs the
/// scheduled scans.
pub const SCHEDULED_SCAN_JOB: &str = "scheduled-scan";

/// Runs until `shutdown` turns true: an optional scan at start, then one per fire time, by
/// the instance that leads [`SCHEDULED_SCAN_JOB`] among those sharing the database (each
/// tick's scan runs once however many instances serve; when the leader dies, the next tick
/// goes to another).
pub(crate) async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let schedule = state.config().scan_cron.schedule().clone();
    let tz = state.config().scan_timezone.0;
    if state.config().scan_on_start {
        scan(&state, "startup", None).await;
    }
    let mut lead = None;
    loop {
        let Some(at) = next_run(&schedule, tz, Utc::now()) else {
            tracing::warn!("scan schedule has no future fire time; scheduler stops");
            return;
        };
        tracing::info!(next = %at.with_timezone(&tz), "next scheduled scan");
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                lead = keep_or_take_lead(&state, lead).await;
                if lead.is_some() {
                    scan(&state, "scheduled", Some(at)).await;
                }
            }
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

/// The lead still held, or newly taken; `None` when another instance leads (or the database
/// cannot tell, when no scan could store its results either).
async fn keep_or_take_lead(
    state: &AppState,
    held: Option<ivcrush_app::store::Lead>,
) -> Option<ivcrush_app::store::Lead> {
    if let Some(mut lead) = held {
        if lead.still_held().await {
            return Some(lead);
        }
        tracing::warn!("lost the lead of the scheduled scans (database connection lost)");
    }
    // Instances of one deployment share the namespace; separate deployments on one
    // database server do not contend.
    let job = format!(
        "{}:{SCHEDULED_SCAN_JOB}",
        state.app().config().fleet.namespace
    );
    match state.app().try_lead(&job).await {
        Ok(Some(lead)) => {
            tracing::info!("this instance leads the scheduled scans");
            Some(lead)
        }
        Ok(None) => {
            tracing::info!("another instance leads the scheduled scans; this tick is theirs");
            None
        }
        Err(e) => {
            tracing::warn!(error = %ivcrush_app::error_report(&e), "cannot tell who leads the scheduled scans; skipping this tick");
            None
        }
    }
}

/// Runs one scan; `tick` is the fire time it is for (each tick is scanned once across the
/// instances, and the logs say which tick a scan belongs to).
async fn scan(state: &AppState, trigger: &'static str, tick: Option<DateTime<Utc>>) {
    let run_id = ivcrush_app::new_correlation_id();
    let tick = tick.map(|t| t.to_rfc3339());
    let span = tracing::info_span!("scan", request_id = %run_id, trigger, tick);
    let scan = ivcrush_telemetry::trace::in_trace(&run_id, state.run_scan(trigger, &run_id));
    let _ = tracing::Instrument::instrument(scan, span).await;
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
