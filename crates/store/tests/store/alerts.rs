//! Alerts and their deliveries: idempotent by key, claimed once per endpoint, released when
//! nothing was sent, counted when delivered.

use std::sync::Arc;

use chrono::{Duration, Utc};
use ivcrush_store::{DeliveryOutcome, NewAlert};

use crate::common::{TestDb, fixture_analysis, suite};
use ivcrush_store::NewAnalysis;

suite!(
    a_claim_cut_off_mid_delivery_is_taken_over_once_stale,
    an_alert_is_stored_once_per_key,
    a_delivery_is_claimed_once_released_and_finished,
    latest_scores_read_the_key_columns_newest_first_without_a_run,
);

fn alert(key: &str) -> NewAlert {
    NewAlert {
        key: key.to_owned(),
        kind: "calendar_moved".to_owned(),
        ticker: Some("AAPL".to_owned()),
        message: format!("{key} happened"),
        detail: r#"{"from":"2026-01-29","to":"2026-02-05"}"#.to_owned(),
        created_at: Utc::now(),
    }
}

async fn an_alert_is_stored_once_per_key(db: Arc<TestDb>) {
    let store = db.open().await;
    let first = store.insert_alert(&alert("k1")).await.expect("insert");
    assert!(first.is_some());
    assert_eq!(store.insert_alert(&alert("k1")).await.expect("again"), None);
    let second = store
        .insert_alert(&alert("k2"))
        .await
        .expect("insert")
        .expect("new");
    let listed = store
        .alerts(Utc::now() - Duration::days(1), 10)
        .await
        .expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, second, "newest first");
    assert_eq!(
        listed[1].alert,
        alert("k1").clone_with(listed[1].alert.created_at)
    );
    assert_eq!(listed[0].delivered, 0);
    let recent = store
        .alerts(Utc::now() + Duration::seconds(1), 10)
        .await
        .expect("list");
    assert!(recent.is_empty(), "since filters");
}

async fn a_delivery_is_claimed_once_released_and_finished(db: Arc<TestDb>) {
    let store = db.open().await;
    let since = Utc::now() - Duration::days(1);
    // Claims older than this are taken over (none here: every claim below is fresh).
    let stale = Utc::now() - Duration::minutes(5);
    let id = store
        .insert_alert(&alert("k"))
        .await
        .expect("insert")
        .expect("new");
    let pending = store
        .undelivered_alerts("ops", since, stale, 10)
        .await
        .expect("pending");
    assert_eq!(pending.iter().map(|a| a.id).collect::<Vec<_>>(), [id]);
    assert!(store.claim_delivery(id, "ops", stale).await.expect("claim"));
    assert!(
        !store.claim_delivery(id, "ops", stale).await.expect("claim"),
        "claimed once"
    );
    assert!(
        store
            .claim_delivery(id, "audit", stale)
            .await
            .expect("claim"),
        "per endpoint"
    );
    assert!(
        store
            .undelivered_alerts("ops", since, stale, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    // Nothing was sent: given back, pending again.
    store.release_delivery(id, "ops").await.expect("release");
    assert_eq!(
        store
            .undelivered_alerts("ops", since, stale, 10)
            .await
            .expect("pending")
            .len(),
        1
    );
    assert!(store.claim_delivery(id, "ops", stale).await.expect("claim"));
    store
        .finish_delivery(id, "ops", DeliveryOutcome::Delivered, 3, None)
        .await
        .expect("finish");
    store
        .finish_delivery(id, "audit", DeliveryOutcome::Failed, 5, Some("HTTP 400"))
        .await
        .expect("finish");
    // A finished delivery is never released nor sent again.
    store
        .release_delivery(id, "ops")
        .await
        .expect("release is a no-op");
    assert!(
        store
            .undelivered_alerts("ops", since, stale, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    let listed = store.alerts(since, 10).await.expect("list");
    assert_eq!(listed[0].delivered, 1, "ops took it; audit refused it");
}

trait CloneWith {
    fn clone_with(&self, created_at: chrono::DateTime<Utc>) -> NewAlert;
}

impl CloneWith for NewAlert {
    /// The same alert with the stored timestamp (SQLite keeps microseconds, PostgreSQL too,
    /// but the test's `Utc::now()` has nanoseconds).
    fn clone_with(&self, created_at: chrono::DateTime<Utc>) -> NewAlert {
        NewAlert {
            created_at,
            ..self.clone()
        }
    }
}

async fn latest_scores_read_the_key_columns_newest_first_without_a_run(db: Arc<TestDb>) {
    let store = db.open().await;
    let a = fixture_analysis();
    let now = Utc::now();
    store
        .insert_analyses(&[
            NewAnalysis::ok("old", a.clone(), now - Duration::days(40)),
            NewAnalysis::ok("run-1", a.clone(), now - Duration::hours(2)),
            NewAnalysis::ok("run-2", a.clone(), now - Duration::hours(1)),
            NewAnalysis::failed("run-2", "ZZZZ", a.as_of, "no chain", now),
            NewAnalysis::ok("run-3", a.clone(), now),
        ])
        .await
        .expect("insert");
    let rows = store
        .latest_scores(now - Duration::days(30), "run-3", 10)
        .await
        .expect("scores");
    assert_eq!(
        rows.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(),
        ["run-2", "run-1"],
        "newest first, without run-3, failed rows or rows before the window"
    );
    assert_eq!(rows[0].ticker, a.ticker);
    assert_eq!(rows[0].score, a.score);
    assert_eq!(rows[0].vrp_tier, a.vrp.tier.as_str());
}

async fn a_claim_cut_off_mid_delivery_is_taken_over_once_stale(db: Arc<TestDb>) {
    let store = db.open().await;
    let since = Utc::now() - Duration::days(1);
    let id = store
        .insert_alert(&alert("k"))
        .await
        .expect("insert")
        .expect("new");
    let before_claim = Utc::now() - Duration::seconds(1);
    assert!(
        store
            .claim_delivery(id, "ops", before_claim)
            .await
            .expect("claim")
    );
    // Its process died: while the claim is fresh nobody takes it …
    assert!(
        !store
            .claim_delivery(id, "ops", before_claim)
            .await
            .expect("claim")
    );
    assert!(
        store
            .undelivered_alerts("ops", since, before_claim, 10)
            .await
            .expect("pending")
            .is_empty()
    );
    // … once it is stale, one process takes it over.
    let later = Utc::now() + Duration::seconds(1);
    assert_eq!(
        store
            .undelivered_alerts("ops", since, later, 10)
            .await
            .expect("pending")
            .len(),
        1
    );
    assert!(
        store
            .claim_delivery(id, "ops", later)
            .await
            .expect("take over")
    );
    assert!(
        !store
            .claim_delivery(id, "ops", before_claim)
            .await
            .expect("claim"),
        "fresh again"
    );
    // A finished delivery is never taken over, however old.
    store
        .finish_delivery(id, "ops", DeliveryOutcome::Delivered, 1, None)
        .await
        .expect("finish");
    let far = Utc::now() + Duration::days(1);
    assert!(!store.claim_delivery(id, "ops", far).await.expect("claim"));
    assert!(
        store
            .undelivered_alerts("ops", since, far, 10)
            .await
            .expect("pending")
            .is_empty()
    );
}
