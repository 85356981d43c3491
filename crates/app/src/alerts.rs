//! Alerts: changes a trader wants to hear about, detected where they happen, stored once
//! (idempotent by key), listed (`ivcrush alerts list`, the dashboard) and delivered to the
//! configured webhooks (signed, retried, at most once per endpoint; see `ivcrush-notify`).
//!
//! Raised by:
//! - `calendar sync`: a report moved (and whether it moved across a weekly expiry), or its
//!   timing changed, between two syncs ([`calendar_changes`]);
//! - a scan: a ticker's score crossed `alerts.score_threshold`, or its VRP tier changed, since
//!   its previous stored analysis ([`scan_crossings`]);
//! - `serve`: a vendor breaker opened; readiness turned DEGRADED or DOWN;
//! - `ticker`: updates dropped faster than `alerts.ticker_drops_per_sec`.
//!
//! Delivery never holds up what raised the alert: the scan only stores rows; `serve` delivers
//! in the background ([`AlertDispatcher::run`]) and a command delivers what is pending at its
//! end for at most `alerts.flush_secs` ([`AlertService::flush`]); what is left is delivered by
//! the next process. Each (alert, endpoint) is claimed in the store before the first attempt,
//! so no two processes send it; the pipeline's retries reuse the alert's key as the
//! `Idempotency-Key`, so a receiver that saw an attempt succeed can drop a late duplicate.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, Utc, Weekday};
use ivcrush_core::moves::reaction_date;
use ivcrush_core::{EarningsEvent, Timing};
use ivcrush_market::EarningsRecord;
use ivcrush_notify::{Delivery, Notifier, NotifyError};
use ivcrush_store::{AlertRow, DeliveryOutcome, EarningsRow, NewAlert, Store};
use serde::Serialize;
use serde_json::json;

use crate::context::App;
use crate::error::AppError;
use crate::record::Row;

/// The alert services of an [`App`].
#[derive(Clone, Copy)]
pub struct AlertService<'a> {
    app: &'a App,
}

impl App {
    /// Alerts: record, list, deliver.
    pub fn alerts(&self) -> AlertService<'_> {
        AlertService { app: self }
    }
}

impl AlertService<'_> {
    /// Stores the alerts not seen before (by key), logs and counts them, and wakes the
    /// background delivery. Returns the new ones' IDs.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn record(self, alerts: &[NewAlert]) -> Result<Vec<i64>, AppError> {
        let mut ids = Vec::new();
        for a in alerts {
            if let Some(id) = self.app.store.insert_alert(a).await? {
                metrics::counter!("ivcrush_alerts_total", "kind" => a.kind.clone()).increment(1);
                tracing::warn!(
                    alert = id,
                    kind = %a.kind,
                    ticker = a.ticker.as_deref().unwrap_or(""),
                    "alert: {}",
                    a.message
                );
                ids.push(id);
            }
        }
        if !ids.is_empty() {
            self.app.alerts_raised.store(true, Ordering::Relaxed);
            self.app.alert_wakeup.notify_one();
        }
        Ok(ids)
    }

    /// Whether this process recorded an alert (through this app or a copy of it).
    pub fn raised_here(self) -> bool {
        self.app.alerts_raised.load(Ordering::Relaxed)
    }

    /// Records `alerts`, logging (not returning) a failure: alerting must never fail the work
    /// that raised it.
    pub async fn record_quietly(self, alerts: &[NewAlert]) {
        if alerts.is_empty() {
            return;
        }
        if let Err(e) = self.record(alerts).await {
            tracing::warn!(error = &e as &dyn std::error::Error, "alerts not stored");
        }
    }

    /// Alerts raised in the last `days` days, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`AppError::Store`].
    pub async fn list(self, days: u32, limit: u32) -> Result<Vec<AlertRow>, AppError> {
        let since = Utc::now() - Days::days(i64::from(days));
        Ok(self.app.store.alerts(since, limit).await?)
    }

    /// Delivers what is pending, for at most `budget` (what is left stays pending for the next
    /// process). `None` when no webhook is configured.
    pub async fn flush(self, budget: Duration) -> Option<DeliveryRound> {
        let dispatcher = self.app.alert_dispatcher()?;
        match tokio::time::timeout(budget, dispatcher.deliver_pending()).await {
            Ok(round) => Some(round),
            Err(_) => {
                tracing::warn!(
                    budget_secs = budget.as_secs(),
                    "alert delivery still running at the end of the command; the rest is \
                     delivered by the next process (e.g. `ivcrush serve`)"
                );
                None
            }
        }
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryRound {
    /// Deliveries that reached their endpoint.
    pub delivered: u32,
    /// Deliveries refused for good (not retried).
    pub failed: u32,
    /// Deliveries put off to a later round (the endpoint down or its breaker open).
    pub postponed: u32,
}

/// Sends stored alerts to the webhooks.
#[derive(Clone)]
pub struct AlertDispatcher {
    store: Arc<dyn Store>,
    notifier: Arc<Notifier>,
    endpoints: Vec<String>,
    window: Days,
    /// A claim still `sending` after this long was cut off (its process died or its command
    /// ended mid-delivery): it is taken over.
    stale_claim: Days,
}

/// Alerts older than this are not delivered any more (a new endpoint does not get the past).
const DELIVERY_WINDOW_HOURS: i64 = 24;
/// Alerts read per endpoint and round.
const ROUND_BATCH: u32 = 100;

impl AlertDispatcher {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        notifier: Arc<Notifier>,
        endpoints: Vec<String>,
        delivery_deadline: Duration,
    ) -> Self {
        let stale = Days::from_std(delivery_deadline).unwrap_or(Days::hours(1));
        AlertDispatcher {
            store,
            notifier,
            endpoints,
            window: Days::hours(DELIVERY_WINDOW_HOURS),
            stale_claim: stale + Days::minutes(1),
        }
    }

    /// One round: every endpoint at once, each endpoint's alerts in order (a slow endpoint
    /// holds up only itself).
    pub async fn deliver_pending(&self) -> DeliveryRound {
        let rounds =
            futures::future::join_all(self.endpoints.iter().map(|e| self.deliver_to(e))).await;
        rounds
            .into_iter()
            .fold(DeliveryRound::default(), |a, b| DeliveryRound {
                delivered: a.delivered + b.delivered,
                failed: a.failed + b.failed,
                postponed: a.postponed + b.postponed,
            })
    }

    async fn deliver_to(&self, endpoint: &str) -> DeliveryRound {
        let mut round = DeliveryRound::default();
        let since = Utc::now() - self.window;
        let stale_before = Utc::now() - self.stale_claim;
        let pending = match self
            .store
            .undelivered_alerts(endpoint, since, stale_before, ROUND_BATCH)
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(
                    endpoint,
                    error = &e as &dyn std::error::Error,
                    "alerts not read"
                );
                return round;
            }
        };
        for alert in pending {
            match self
                .store
                .claim_delivery(alert.id, endpoint, stale_before)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue, // another process has it
                Err(e) => {
                    tracing::warn!(
                        endpoint,
                        error = &e as &dyn std::error::Error,
                        "claim failed"
                    );
                    return round;
                }
            }
            let delivery = Delivery {
                idempotency_key: alert.alert.key.clone(),
                event: alert.alert.kind.clone(),
                body: webhook_body(&alert),
            };
            let (outcome, attempts, error) = match self.notifier.deliver(endpoint, &delivery).await
            {
                Ok(receipt) => (DeliveryOutcome::Delivered, receipt.attempts, None),
                Err(e) if e.retry_later() => {
                    // The endpoint may come back: a later round sends it again, with the same
                    // idempotency key (a receiver that got an earlier attempt drops it).
                    tracing::info!(endpoint, alert = alert.id, error = %e, "alert delivery postponed");
                    if let Err(e) = self.store.release_delivery(alert.id, endpoint).await {
                        tracing::warn!(
                            endpoint,
                            error = &e as &dyn std::error::Error,
                            "claim not released"
                        );
                    }
                    round.postponed += 1;
                    // The rest of this endpoint's alerts wait for the next round too.
                    return round;
                }
                Err(e) => (
                    DeliveryOutcome::Failed,
                    attempts_of(&e),
                    Some(e.to_string()),
                ),
            };
            match outcome {
                DeliveryOutcome::Delivered => round.delivered += 1,
                DeliveryOutcome::Failed => {
                    round.failed += 1;
                    tracing::warn!(
                        endpoint,
                        alert = alert.id,
                        error = error.as_deref().unwrap_or(""),
                        "alert not delivered"
                    );
                }
            }
            if let Err(e) = self
                .store
                .finish_delivery(alert.id, endpoint, outcome, attempts, error.as_deref())
                .await
            {
                tracing::warn!(
                    endpoint,
                    error = &e as &dyn std::error::Error,
                    "delivery not recorded"
                );
            }
        }
        round
    }

    /// Delivers whenever alerts are recorded (`wake`) and every 10 s, until `stop` completes.
    pub async fn run(
        self,
        wake: Arc<tokio::sync::Notify>,
        stop: impl std::future::Future<Output = ()>,
    ) {
        let mut stop = std::pin::pin!(stop);
        loop {
            self.deliver_pending().await;
            tokio::select! {
                () = &mut stop => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(10)) => {}
            }
        }
    }
}

/// Attempts a failed delivery made.
fn attempts_of(e: &NotifyError) -> u32 {
    match e {
        NotifyError::Permanent { attempts, .. } | NotifyError::GaveUp { attempts, .. } => *attempts,
        _ => 0,
    }
}

/// The JSON a webhook receives.
pub fn webhook_body(alert: &AlertRow) -> Vec<u8> {
    let detail: serde_json::Value =
        serde_json::from_str(&alert.alert.detail).unwrap_or(serde_json::Value::Null);
    let body = json!({
        "id": alert.id,
        "key": alert.alert.key,
        "kind": alert.alert.kind,
        "ticker": alert.alert.ticker,
        "message": alert.alert.message,
        "detail": detail,
        "created_at": alert.alert.created_at,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The weekly expiry that carries `event`: the first Friday on or after its reaction session
/// (listed expirations are not known at calendar time; weeklies are the rule for the names
/// traded around earnings).
fn weekly_expiry(event: &EarningsEvent) -> NaiveDate {
    let reaction = reaction_date(event);
    let ahead =
        (7 + Weekday::Fri.num_days_from_monday() - reaction.weekday().num_days_from_monday()) % 7;
    reaction + Days::days(i64::from(ahead))
}

fn alert(
    kind: &str,
    key: String,
    ticker: &str,
    message: String,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> NewAlert {
    NewAlert {
        key,
        kind: kind.to_owned(),
        ticker: Some(ticker.to_owned()),
        message,
        detail: detail.to_string(),
        created_at: now,
    }
}

/// What a calendar sync changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CalendarChanges {
    /// The alerts.
    pub alerts: Vec<NewAlert>,
    /// The stored reports that moved: (ticker, old date), to delete.
    pub moved_from: Vec<(String, NaiveDate)>,
}

/// The changes between the stored calendar (`stored`, the same window) and a newly fetched
/// one: a ticker whose one stored report in the window is now at another date (`calendar_moved`,
/// noting a move across a weekly expiry), or whose report kept its date but changed timing
/// (`calendar_timing`). A ticker new to the calendar, or with several reports in the window,
/// raises nothing (no move can be told apart).
pub fn calendar_changes(
    stored: &[EarningsRow],
    fetched: &[EarningsRecord],
    now: DateTime<Utc>,
) -> CalendarChanges {
    let mut before: BTreeMap<&str, Vec<EarningsEvent>> = BTreeMap::new();
    for r in stored {
        before
            .entry(r.ticker.as_str())
            .or_default()
            .push(EarningsEvent {
                date: r.report_date,
                timing: r.timing,
            });
    }
    let mut after: BTreeMap<&str, Vec<EarningsEvent>> = BTreeMap::new();
    for r in fetched {
        after.entry(r.ticker.as_str()).or_default().push(r.event);
    }
    let mut out = Vec::new();
    let mut moved_from = Vec::new();
    for (ticker, new) in &after {
        let Some(old) = before.get(ticker) else {
            continue;
        };
        for n in new {
            if let Some(o) = old.iter().find(|o| o.date == n.date)
                && o.timing != n.timing
                && o.timing != Timing::Unknown
                && n.timing != Timing::Unknown
            {
                out.push(alert(
                    "calendar_timing",
                    format!(
                        "calendar_timing:{ticker}:{}:{}:{}",
                        n.date, o.timing, n.timing
                    ),
                    ticker,
                    format!(
                        "{ticker} reports {} {} (was {})",
                        n.date, n.timing, o.timing
                    ),
                    json!({"date": n.date, "from": o.timing, "to": n.timing,
                               "across_expiry": weekly_expiry(o) != weekly_expiry(n)}),
                    now,
                ));
            }
        }
        // A move: one report before, one after, at different dates.
        if let ([o], [n]) = (old.as_slice(), new.as_slice())
            && o.date != n.date
        {
            let (from_expiry, to_expiry) = (weekly_expiry(o), weekly_expiry(n));
            let across = from_expiry != to_expiry;
            moved_from.push(((*ticker).to_owned(), o.date));
            out.push(alert(
                "calendar_moved",
                format!("calendar_moved:{ticker}:{}:{}", o.date, n.date),
                ticker,
                format!(
                    "{ticker} report moved from {} {} to {} {}{}",
                    o.date,
                    o.timing,
                    n.date,
                    n.timing,
                    if across {
                        format!(" (across an expiry: {from_expiry} → {to_expiry})")
                    } else {
                        String::new()
                    }
                ),
                json!({"from": o.date, "to": n.date, "from_timing": o.timing, "to_timing": n.timing,
                       "across_expiry": across, "from_expiry": from_expiry, "to_expiry": to_expiry}),
                now,
            ));
        }
    }
    CalendarChanges {
        alerts: out,
        moved_from,
    }
}

/// A ticker's score and tier as a scan left them.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// Composite score.
    pub score: f64,
    /// VRP tier (`EXCELLENT`, …, `SKIP`).
    pub tier: String,
    /// The report it was about.
    pub earnings_date: Option<NaiveDate>,
    /// The expiry analysed.
    pub expiration: Option<NaiveDate>,
}

/// The crossings between each ticker's latest previous standing (`previous`: newest first)
/// for the same report and expiry and
/// this run's: its score crossing `threshold` (either way: `score_crossed`) and its VRP tier
/// changing (`tier_changed`).
pub fn scan_crossings(
    previous: &HashMap<String, Vec<Standing>>,
    rows: &[Row],
    threshold: f64,
    run_id: &str,
    now: DateTime<Utc>,
) -> Vec<NewAlert> {
    let mut out = Vec::new();
    for row in rows {
        let Row::Analyzed(a) = row else { continue };
        let ticker = a.analysis.ticker.as_str();
        // Only the same trade is compared: the same report and expiry (an analysis with
        // another expiry, or of the next report, is another number).
        let Some(before) = previous.get(ticker).and_then(|newest_first| {
            newest_first.iter().find(|b| {
                b.earnings_date == Some(a.analysis.earnings_date)
                    && b.expiration == Some(a.analysis.expiration)
            })
        }) else {
            continue;
        };
        let score = a.analysis.score;
        let tier = a.analysis.vrp.tier.as_str().to_owned();
        let (was_above, is_above) = (before.score >= threshold, score >= threshold);
        if was_above != is_above {
            out.push(alert(
                "score_crossed",
                format!("score_crossed:{ticker}:{run_id}"),
                ticker,
                format!(
                    "{ticker} score {} {threshold}: {:.1} → {score:.1}",
                    if is_above { "rose above" } else { "fell below" },
                    before.score
                ),
                json!({"from": before.score, "to": score, "threshold": threshold, "run_id": run_id,
                       "earnings_date": a.analysis.earnings_date}),
                now,
            ));
        }
        if before.tier != tier {
            out.push(alert(
                "tier_changed",
                format!("tier_changed:{ticker}:{run_id}"),
                ticker,
                format!("{ticker} VRP tier {} → {tier}", before.tier),
                json!({"from": before.tier, "to": tier, "run_id": run_id,
                       "earnings_date": a.analysis.earnings_date}),
                now,
            ));
        }
    }
    out
}

/// A breaker opening (one alert per breaker and minute, so that the processes of a fleet
/// seeing the same opening raise it once).
pub fn breaker_opened(name: &str, now: DateTime<Utc>) -> NewAlert {
    NewAlert {
        key: format!("breaker_open:{name}:{}", now.format("%Y-%m-%dT%H:%M")),
        kind: "breaker_open".to_owned(),
        ticker: None,
        message: format!("circuit breaker {name} opened: calls to it fail fast"),
        detail: json!({"breaker": name}).to_string(),
        created_at: now,
    }
}

/// The streaming ticker dropping updates at `per_sec` over the last `window_secs` (one alert
/// per minute).
pub fn ticker_drops(
    per_sec: f64,
    threshold: f64,
    window_secs: u64,
    now: DateTime<Utc>,
) -> NewAlert {
    NewAlert {
        key: format!("ticker_drops:{}", now.format("%Y-%m-%dT%H:%M")),
        kind: "ticker_drops".to_owned(),
        ticker: None,
        message: format!(
            "the ticker dropped {per_sec:.0} updates/s over {window_secs} s (alert above {threshold:.0}/s): \
             see ivcrush_ticker_dropped_total{{reason}}"
        ),
        detail: json!({"per_sec": per_sec, "threshold": threshold, "window_secs": window_secs})
            .to_string(),
        created_at: now,
    }
}

/// Readiness turning `status` (`DEGRADED`, `DOWN`), with what is failing.
pub fn health_changed(
    status: &str,
    from: &str,
    failing: &[String],
    now: DateTime<Utc>,
) -> NewAlert {
    NewAlert {
        key: format!("health:{status}:{}", now.format("%Y-%m-%dT%H:%M")),
        kind: "health".to_owned(),
        ticker: None,
        message: format!("health {from} → {status}: {}", failing.join(", ")),
        detail: json!({"from": from, "to": status, "failing": failing}).to_string(),
        created_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    fn row(ticker: &str, date: &str, timing: Timing) -> EarningsRow {
        EarningsRow {
            ticker: ticker.to_owned(),
            report_date: d(date),
            timing,
            source: "test".to_owned(),
            fiscal_date_ending: None,
        }
    }

    fn rec(ticker: &str, date: &str, timing: Timing) -> EarningsRecord {
        EarningsRecord {
            ticker: ticker.to_owned(),
            name: None,
            event: EarningsEvent {
                date: d(date),
                timing,
            },
        }
    }

    #[test]
    fn a_moved_date_is_one_alert_naming_the_expiries_and_an_unchanged_one_none() {
        let now = Utc::now();
        let stored = [
            row("AAPL", "2026-01-29", Timing::Amc),
            row("MSFT", "2026-01-28", Timing::Amc),
        ];
        let fetched = [
            rec("AAPL", "2026-02-05", Timing::Amc),
            rec("MSFT", "2026-01-28", Timing::Amc),
            rec("NEW", "2026-02-01", Timing::Bmo),
        ];
        let changes = calendar_changes(&stored, &fetched, now);
        assert_eq!(changes.moved_from, [("AAPL".to_owned(), d("2026-01-29"))]);
        let alerts = changes.alerts;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].kind, "calendar_moved");
        assert_eq!(alerts[0].key, "calendar_moved:AAPL:2026-01-29:2026-02-05");
        assert!(
            alerts[0]
                .message
                .contains("across an expiry: 2026-01-30 → 2026-02-06"),
            "{}",
            alerts[0].message
        );
        // Within the same week (Mon → Tue, both before Friday's expiry): not across.
        let same_week = calendar_changes(
            &[row("X", "2026-02-02", Timing::Bmo)],
            &[rec("X", "2026-02-03", Timing::Bmo)],
            now,
        )
        .alerts;
        assert!(!same_week[0].message.contains("across"));
        // Seen again: the same key, so storing it again adds nothing.
        assert_eq!(
            calendar_changes(&stored, &fetched, now).alerts[0].key,
            alerts[0].key
        );
    }

    #[test]
    fn a_timing_change_is_an_alert_and_amc_to_bmo_next_day_crosses_no_expiry_on_thursday() {
        let alerts = calendar_changes(
            &[row("X", "2026-01-29", Timing::Amc)],
            &[rec("X", "2026-01-29", Timing::Bmo)],
            Utc::now(),
        )
        .alerts;
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].kind, "calendar_timing");
        assert!(alerts[0].message.contains("BMO (was AMC)"));
    }

    #[test]
    fn weekly_expiry_is_the_friday_on_or_after_the_reaction() {
        let ev = |date: &str, timing| EarningsEvent {
            date: d(date),
            timing,
        };
        assert_eq!(
            weekly_expiry(&ev("2026-01-29", Timing::Amc)),
            d("2026-01-30")
        );
        assert_eq!(
            weekly_expiry(&ev("2026-01-30", Timing::Amc)),
            d("2026-02-06")
        );
        assert_eq!(
            weekly_expiry(&ev("2026-01-30", Timing::Bmo)),
            d("2026-01-30")
        );
    }
}
