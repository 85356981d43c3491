//! Throughput and accuracy of implied-vol solving, and end-to-end `ivcrush calc iv` CSV speed.
//!
//! Run: `cargo bench -p ivcrush-cli --bench iv_throughput` (release profile; builds the
//! `ivcrush` binary it times). `IVB_N` overrides the number of options (default 1,000,000);
//! `IVB_DIR` keeps the generated CSV files in that directory.
//!
//! 1. 1,000,000 random options (seeded): K/S 0.5–1.5, T one day to two years, vol 5–300 %, both
//!    kinds, r 0–5 %, q 0–2 %; priced with `bsm_price`, solved back with `implied_vol` on one
//!    thread and on all cores. Accuracy: |iv − vol| against max(1e-12, 64·ulp(price)/vega) for
//!    quotes whose time value is resolvable (`implied_vol` is Ok and vega > 0).
//! 2. The same options as a CSV file through the release binary, rows/s and peak RSS.

use ivcrush_core::{OptionKind, OptionParams, bsm_greeks, bsm_price, implied_vol};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::process::Command;
use std::time::{Duration, Instant};

struct Case {
    p: OptionParams,
    vol: f64,
    price: f64,
}

fn generate(n: usize) -> Vec<Case> {
    let mut rng = StdRng::seed_from_u64(0x1C_C0FFEE);
    (0..n)
        .map(|_| {
            let kind = if rng.random_bool(0.5) {
                OptionKind::Call
            } else {
                OptionKind::Put
            };
            let spot = 100.0;
            let strike = spot * rng.random_range(0.5..=1.5);
            let t = rng.random_range(1.0 / 365.0..=2.0);
            let vol = rng.random_range(0.05..=3.0);
            let rate = rng.random_range(0.0..=0.05);
            let div = rng.random_range(0.0..=0.02);
            let p =
                OptionParams::new(kind, spot, strike, t, rate, div).expect("valid by construction");
            Case {
                p,
                vol,
                price: bsm_price(&p, vol),
            }
        })
        .collect()
}

fn ulp(x: f64) -> f64 {
    let x = x.abs();
    f64::from_bits(x.to_bits() + 1) - x
}

fn best_of<F: FnMut() -> f64>(reps: usize, mut f: F) -> Duration {
    (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            black_box(f());
            t0.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn solve_all(cases: &[Case]) -> f64 {
    cases
        .iter()
        .map(|c| implied_vol(&c.p, black_box(c.price)).unwrap_or(0.0))
        .sum()
}

fn main() {
    let n: usize = std::env::var("IVB_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let t0 = Instant::now();
    let cases = generate(n);
    println!("generated and priced {n} options in {:.2?}", t0.elapsed());

    // --- throughput ---
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let all = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .build()
        .expect("pool");
    let d1 = best_of(3, || solve_all(&cases));
    let d1p = one.install(|| best_of(3, || cases.par_chunks(4096).map(solve_all).sum()));
    let dn = all.install(|| best_of(3, || cases.par_chunks(4096).map(solve_all).sum()));
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "implied_vol, 1 thread (plain loop): {:>12.0} solves/s",
        rate(d1)
    );
    println!(
        "implied_vol, 1 thread (rayon):      {:>12.0} solves/s",
        rate(d1p)
    );
    println!(
        "implied_vol, {cores} threads (rayon):     {:>12.0} solves/s ({:.0} per core)",
        rate(dn),
        rate(dn) / cores as f64
    );

    // --- accuracy ---
    let mut excluded: BTreeMap<String, usize> = BTreeMap::new();
    let (mut checked, mut over) = (0usize, 0usize);
    let (mut max_ratio, mut max_abs) = (0.0f64, 0.0f64);
    let mut worst = String::new();
    for c in &cases {
        let iv = match implied_vol(&c.p, c.price) {
            Ok(v) => v,
            Err(e) => {
                *excluded
                    .entry(format!("implied_vol {}", e.code()))
                    .or_default() += 1;
                continue;
            }
        };
        let vega = bsm_greeks(&c.p, c.vol).vega;
        if !(vega > 0.0 && vega.is_finite()) {
            *excluded.entry("vega = 0 (underflow)".into()).or_default() += 1;
            continue;
        }
        checked += 1;
        let err = (iv - c.vol).abs();
        let tol = (64.0 * ulp(c.price) / vega).max(1e-12);
        let ratio = err / tol;
        max_abs = max_abs.max(err);
        if ratio > 1.0 {
            over += 1;
        }
        if ratio > max_ratio {
            max_ratio = ratio;
            worst.clear();
            let _ = write!(
                worst,
                "{:?} K/S={:.4} T={:.5} vol={:.4} price={:e} iv={} err={:e} tol={:e}",
                c.p.kind,
                c.p.strike / c.p.spot,
                c.p.t,
                c.vol,
                c.price,
                iv,
                err,
                tol
            );
        }
    }
    println!("accuracy: {checked} quotes checked, {over} outside tolerance");
    println!("  max |iv - vol| = {max_abs:e}; max error / tolerance = {max_ratio:.4}");
    println!("  worst: {worst}");
    let n_excl: usize = excluded.values().sum();
    println!("  excluded {n_excl} (time value not resolvable in binary64):");
    for (why, k) in &excluded {
        println!("    {why}: {k}");
    }

    // --- CSV end to end ---
    // IVB_DIR keeps the files (e.g. to time other runs by hand); default: a temporary directory.
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = std::env::var_os("IVB_DIR").map_or_else(|| dir.path().to_path_buf(), Into::into);
    let inp = dir_path.join("options.csv");
    let outp = dir_path.join("out.csv");
    {
        let f = std::fs::File::create(&inp).expect("create csv");
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut b = ryu::Buffer::new();
        writeln!(w, "id,type,spot,strike,t,rate,div,price").expect("write");
        for (i, c) in cases.iter().enumerate() {
            let p = &c.p;
            write!(w, "{i},{},{}", p.kind, b.format(p.spot)).expect("write");
            for x in [p.strike, p.t, p.rate, p.div, c.price] {
                write!(w, ",{}", b.format(x)).expect("write");
            }
            writeln!(w).expect("write");
        }
        w.flush().expect("flush");
    }
    let size = std::fs::metadata(&inp).map_or(0, |m| m.len());
    let bin = env!("CARGO_BIN_EXE_ivcrush");
    let use_time = std::path::Path::new("/usr/bin/time").exists();
    let mut best = Duration::MAX;
    let mut rss_kb = None;
    for _ in 0..3 {
        let mut cmd = if use_time {
            let mut c = Command::new("/usr/bin/time");
            c.arg("-v").arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.args(["calc", "iv", "--input"])
            .arg(&inp)
            .arg("--output")
            .arg(&outp);
        let t0 = Instant::now();
        let out = cmd.output().expect("run ivcrush");
        let d = t0.elapsed();
        assert!(
            out.status.success(),
            "ivcrush failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        best = best.min(d);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(kb) = stderr
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            rss_kb = Some(rss_kb.map_or(kb, |r: u64| r.max(kb)));
        }
    }
    let out_text = std::fs::read_to_string(&outp).expect("read output");
    let lines = out_text.lines().count();
    let ok = out_text.lines().filter(|l| l.contains(",ok,")).count();
    assert_eq!(lines, n + 1, "output row count");
    println!(
        "csv: {n} rows ({:.1} MB in, {:.1} MB out) in {:.3?} (best of 3) = {:.0} rows/s; {ok} ok",
        size as f64 / 1e6,
        out_text.len() as f64 / 1e6,
        best,
        n as f64 / best.as_secs_f64()
    );
    match rss_kb {
        Some(kb) => println!("csv: peak RSS {:.1} MB", kb as f64 / 1024.0),
        None => println!("csv: peak RSS not measured (/usr/bin/time -v unavailable)"),
    }
}
