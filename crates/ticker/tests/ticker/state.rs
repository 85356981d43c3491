//! The bounded state map.

use std::sync::Arc;

use chrono::NaiveDate;
use ivcrush_core::OptionKind;
use ivcrush_ticker::{Snapshot, StateStore, format_occ};

fn option(root: &str, expiration: NaiveDate, strike: f64) -> Arc<Snapshot> {
    Arc::new(Snapshot::empty(&format_occ(
        root,
        expiration,
        OptionKind::Call,
        strike,
    )))
}

#[test]
fn churning_100_000_instruments_never_holds_more_than_5_000() {
    let state = StateStore::new(5_000);
    let mut evicted = 0;
    for i in 0..100_000u32 {
        let s = Arc::new(Snapshot::empty(&format!("S{i:06}")));
        if state.apply(s).is_some() {
            evicted += 1;
        }
        if i % 97 == 0 {
            assert!(state.len() <= 5_000, "{} held after {i}", state.len());
        }
    }
    assert_eq!(state.len(), 5_000);
    assert_eq!(evicted, 95_000);
    assert!(state.get("S099999").is_some(), "the newest is kept");
    assert!(state.get("S000000").is_none(), "the oldest is evicted");
}

#[test]
fn the_sweeper_removes_expired_options_only() {
    let state = StateStore::new(5_000);
    let today = NaiveDate::from_ymd_opt(2026, 3, 16).expect("valid date");
    let past = NaiveDate::from_ymd_opt(2026, 3, 13).expect("valid date");
    let future = NaiveDate::from_ymd_opt(2026, 3, 20).expect("valid date");
    for k in 0..100 {
        state.apply(option("KVLT", past, 50.0 + f64::from(k)));
        state.apply(option("KVLT", future, 50.0 + f64::from(k)));
        state.apply(option("BOLT", today, 50.0 + f64::from(k)));
    }
    state.apply(Arc::new(Snapshot::empty("KVLT")));
    assert_eq!(state.len(), 301);
    assert_eq!(state.sweep_expired(today), 100);
    assert_eq!(state.len(), 201);
    assert!(
        state
            .snapshots()
            .iter()
            .all(|s| s.expiration.is_none_or(|e| e >= today))
    );
    // The LRU order was cleaned too: filling up to the bound evicts nothing early.
    let small = StateStore::new(3);
    small.apply(option("A", past, 1.0));
    small.apply(option("B", future, 1.0));
    small.apply(option("C", future, 1.0));
    assert_eq!(small.sweep_expired(today), 1);
    assert!(small.apply(Arc::new(Snapshot::empty("D"))).is_none());
    assert_eq!(small.len(), 3);
}
