//! One process at a time leads a job among those sharing a database.

use crate::common::{TestDb, suite};
use std::sync::Arc;

suite!(one_store_at_a_time_leads_a_job_and_the_lead_passes_on_when_dropped);

async fn one_store_at_a_time_leads_a_job_and_the_lead_passes_on_when_dropped(db: Arc<TestDb>) {
    // Two stores on one database, as two processes. PostgreSQL's advisory locks are per
    // database, not per schema: the job is named after this test's own database.
    let (first, second) = (db.open().await, db.open().await);
    let job = format!("test-lead-{}", db.name());
    let mut lead = first
        .try_lead(&job)
        .await
        .expect("try_lead")
        .expect("nobody leads yet");
    assert!(lead.still_held().await);
    assert_eq!(lead.job(), job);
    assert!(
        second.try_lead(&job).await.expect("try_lead").is_none(),
        "the first store leads"
    );
    assert!(
        second
            .try_lead(&format!("{job}-other"))
            .await
            .expect("try_lead")
            .is_some(),
        "another job is free"
    );
    drop(lead);
    // PostgreSQL ends the session (and its locks) when the connection closes, a moment later.
    let mut taken = None;
    for _ in 0..200 {
        taken = second.try_lead(&job).await.expect("try_lead");
        if taken.is_some() {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(taken.is_some(), "the lead passed on");
}
