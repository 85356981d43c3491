//! PL-3: overhead of the full pipeline around a ready future when every policy allows.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ivcrush_resilience::{Outcome, Pipeline, PipelineConfig, WindowConfig};

type Classify = fn(&std::io::Error) -> Outcome;

fn classify(_: &std::io::Error) -> Outcome {
    Outcome::Failure
}

/// Defaults, plus a rate window so generous that it never refuses (it is still checked).
fn pipeline() -> Pipeline<Classify> {
    let config = PipelineConfig {
        rate_limits: vec![WindowConfig::new(4_000_000_000, Duration::from_secs(1))],
        ..PipelineConfig::default()
    };
    Pipeline::new("bench", &config, classify as Classify).expect("valid bench config")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// Runs `iters` calls on this thread inside one runtime and returns the time taken.
fn run_calls(pipeline: &Pipeline<Classify>, iters: u64) -> Duration {
    runtime().block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            let value = pipeline
                .call(|| std::future::ready(Ok::<u64, std::io::Error>(black_box(i))))
                .await
                .expect("every policy allows");
            assert_eq!(value, i);
        }
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pipeline");
    group.bench_function("ready_future_baseline", |b| {
        b.iter_custom(|iters| {
            runtime().block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let value = std::future::ready(Ok::<u64, std::io::Error>(black_box(i))).await;
                    assert!(value.is_ok());
                }
                start.elapsed()
            })
        })
    });

    let single = pipeline();
    group.bench_function("single_thread", |b| {
        b.iter_custom(|iters| run_calls(&single, iters))
    });

    let shared = Arc::new(pipeline());
    group.bench_function("two_threads_shared", |b| {
        b.iter_custom(|iters| {
            let other = Arc::clone(&shared);
            let handle = std::thread::spawn(move || run_calls(&other, iters));
            let mine = run_calls(&shared, iters);
            let theirs = handle.join().expect("bench thread");
            // Per-call latency as each thread sees it, both running at once.
            (mine + theirs) / 2
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
