//! Supervision: a panicking task is restarted, logged and counted; its log lines carry the
//! run's correlation span.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ivcrush_ticker::{RestartPolicy, Stats, TickerError, supervise};
use tokio_util::sync::CancellationToken;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_is_restarted_and_the_panic_is_logged_and_counted() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let stats = Arc::new(Stats::new());
    let cancel = CancellationToken::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (r, c) = (Arc::clone(&runs), cancel.clone());
    // Started inside the run's span, as `ivcrush ticker` does.
    let run_span = tracing::info_span!("ticker", cid = "run-7f3a");
    let entered = run_span.enter();
    let handle = supervise(
        "flaky",
        Arc::clone(&stats),
        RestartPolicy::default(),
        cancel.clone(),
        move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            async move {
                match n {
                    0 => panic!("boom on the first run"),
                    1 => Err(TickerError::Parse("bad event on the second run".to_owned())),
                    _ => {
                        tracing::info!("third run working");
                        c.cancelled().await;
                        Ok(())
                    }
                }
            }
        },
    );
    drop(entered);
    // Backoff 100 ms then 200 ms on the paused clock.
    for _ in 0..10 {
        tokio::time::advance(Duration::from_millis(100)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "restarted after the panic and the error"
    );
    assert_eq!(stats.restarts("flaky"), 2);
    cancel.cancel();
    handle.await.expect("supervisor stops");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "no restart after cancellation"
    );

    let text = String::from_utf8(logs.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(text.contains("task panicked"), "{text}");
    assert!(text.contains("boom on the first run"), "{text}");
    assert!(
        text.contains("task=\"flaky\"") || text.contains("task=flaky"),
        "{text}"
    );
    assert!(text.contains("bad event on the second run"), "{text}");
    for needle in ["task panicked", "third run working", "restarting task"] {
        let line = text
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in {text}"));
        assert!(
            line.contains("cid=\"run-7f3a\"") || line.contains("cid=run-7f3a"),
            "the run's correlation ID is missing: {line}"
        );
    }
}
