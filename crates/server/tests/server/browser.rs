//! The dashboard in headless Chromium (skipped with a message when Chromium is absent).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::support::{KEY, start};

const CHROMIUM: &str = "/usr/bin/chromium";

async fn chromium(profile: &Path, extra: &[String]) -> std::process::Output {
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chromium finishes within 2 minutes")
        .expect("chromium runs")
}

fn attr_number(dom: &str, needle: &str) -> Option<usize> {
    let start = dom.find(needle)? + needle.len();
    let rest = &dom[start..];
    rest[..rest.find('"')?].parse().ok()
}

#[tokio::test]
async fn the_dashboard_renders_the_scan_table_and_the_ticker_charts_in_headless_chromium() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("SKIPPED: {CHROMIUM} not found (apt-get install -y chromium)");
        return;
    }
    let s = start().await;
    let url = s.url(&format!("/?key={KEY}"));

    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(
        profile.path(),
        &[
            "--virtual-time-budget=10000".to_string(),
            "--dump-dom".to_string(),
            url.clone(),
        ],
    )
    .await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = attr_number(&dom, "<body data-rows=\"").expect("body has data-rows");
    assert!(rows > 0, "the scan table has rows");
    assert!(
        dom.contains("data-state=\"ready\""),
        "the page loaded its data"
    );
    let charts = dom.matches("<svg class=\"chart\"").count();
    assert_eq!(charts, 3, "moves, term structure and skew charts rendered");
    assert!(dom.contains("class=\"bar"), "the moves chart has bars");
    assert!(
        dom.contains("class=\"implied\""),
        "and the implied-move line"
    );
    assert!(dom.contains("tier tier-"), "tiers are coloured");
    assert!(!dom.contains(KEY), "the key is not written into the page");

    let shot: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".to_string(),
            "--virtual-time-budget=10000".to_string(),
            "--hide-scrollbars".to_string(),
            url,
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&shot).expect("screenshot written").len();
    assert!(size > 10_000, "a real screenshot ({size} bytes)");
    eprintln!("dashboard screenshot: {}", shot.display());
    s.stop().await;
}
