//! Subscription reloads on tokio's paused clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivcrush_ticker::{ReloadPolicy, Reloader, Stats, SymbolSet, TickerError, normalize};
use tokio::sync::watch;
use tokio::time::{Instant, advance};
use tokio_util::sync::CancellationToken;

/// Lets spawned tasks run at the current virtual instant.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn set(symbols: &[&str]) -> SymbolSet {
    normalize(symbols.iter().map(|s| (*s).to_owned()).collect())
}

#[tokio::test(start_paused = true)]
async fn ten_rapid_triggers_cause_one_or_two_reloads() {
    let reloader = Reloader::new(ReloadPolicy::default());
    let trigger = reloader.trigger();
    let (tx, rx) = watch::channel(set(&["KVLT"]));
    let calls = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(Stats::new());
    let cancel = CancellationToken::new();
    let counted = Arc::clone(&calls);
    let task = tokio::spawn(reloader.run(
        move || {
            let counted = Arc::clone(&counted);
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok::<_, TickerError>(vec!["KVLT".to_owned(), "BOLT".to_owned()])
            }
        },
        tx,
        Arc::clone(&stats),
        cancel.clone(),
    ));
    for _ in 0..10 {
        trigger.trigger();
        advance(Duration::from_millis(100)).await;
        settle().await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "debounced while triggers keep coming"
    );
    for _ in 0..20 {
        advance(Duration::from_millis(500)).await;
        settle().await;
    }
    let n = calls.load(Ordering::SeqCst);
    assert!((1..=2).contains(&n), "{n} reloads");
    assert_eq!(*rx.borrow(), set(&["BOLT", "KVLT"]));
    assert_eq!(stats.reloads(), (n as u64, 0));
    cancel.cancel();
    task.await.expect("reloader stops");
}

#[tokio::test(start_paused = true)]
async fn reloads_start_at_least_5_s_apart_and_never_overlap() {
    let reloader = Reloader::new(ReloadPolicy::default());
    let trigger = reloader.trigger();
    let (tx, _rx) = watch::channel(set(&["KVLT"]));
    let starts = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let cancel = CancellationToken::new();
    let (s, f, m) = (
        Arc::clone(&starts),
        Arc::clone(&in_flight),
        Arc::clone(&max_in_flight),
    );
    let task = tokio::spawn(reloader.run(
        move || {
            let (s, f, m) = (Arc::clone(&s), Arc::clone(&f), Arc::clone(&m));
            async move {
                s.lock().expect("lock").push(Instant::now());
                let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(2)).await; // a slow load
                f.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, TickerError>(vec!["KVLT".to_owned()])
            }
        },
        tx,
        Arc::new(Stats::new()),
        cancel.clone(),
    ));
    // A trigger every 1.5 s for 60 s: each is followed by a quiet second, and loads are slow.
    for _ in 0..40 {
        trigger.trigger();
        for _ in 0..3 {
            advance(Duration::from_millis(500)).await;
            settle().await;
        }
    }
    let starts = starts.lock().expect("lock").clone();
    assert!(starts.len() >= 5, "{} reloads in 60 s", starts.len());
    for w in starts.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_secs(5),
            "spacing {:?}",
            w[1] - w[0]
        );
    }
    assert_eq!(
        max_in_flight.load(Ordering::SeqCst),
        1,
        "at most one reload in flight"
    );
    cancel.cancel();
    task.await.expect("reloader stops");
}

#[tokio::test(start_paused = true)]
async fn a_failing_reload_keeps_the_old_subscriptions() {
    let reloader = Reloader::new(ReloadPolicy::default());
    let trigger = reloader.trigger();
    let (tx, rx) = watch::channel(set(&["KVLT", "BOLT"]));
    let attempt = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(Stats::new());
    let cancel = CancellationToken::new();
    let a = Arc::clone(&attempt);
    let task = tokio::spawn(reloader.run(
        move || {
            let a = Arc::clone(&a);
            async move {
                if a.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(TickerError::Symbols {
                        source_name: "watchlist.txt".to_owned(),
                        message: "invalid symbol \"$$$\"".to_owned(),
                    })
                } else {
                    Ok(vec!["ECHO".to_owned()])
                }
            }
        },
        tx,
        Arc::clone(&stats),
        cancel.clone(),
    ));
    trigger.trigger();
    for _ in 0..6 {
        advance(Duration::from_millis(500)).await;
        settle().await;
    }
    assert_eq!(attempt.load(Ordering::SeqCst), 1);
    assert_eq!(*rx.borrow(), set(&["BOLT", "KVLT"]), "old set kept");
    assert_eq!(stats.reloads(), (0, 1));

    trigger.trigger();
    for _ in 0..14 {
        advance(Duration::from_millis(500)).await;
        settle().await;
    }
    assert_eq!(*rx.borrow(), set(&["ECHO"]), "the next good reload applies");
    assert_eq!(stats.reloads(), (1, 1));
    cancel.cancel();
    task.await.expect("reloader stops");
}
