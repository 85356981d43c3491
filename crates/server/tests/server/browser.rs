//! The dashboard in headless Chromium (skipped with a message when Chromium is absent).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::support::{KEY, TestServer, start, start_app};

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

/// Whether Chromium is there to drive; says on stderr why a test is skipped when not.
fn chromium_available() -> bool {
    let there = Path::new(CHROMIUM).exists();
    if !there {
        eprintln!("SKIPPED: {CHROMIUM} not found (apt-get install -y chromium)");
    }
    there
}

/// A server and its dashboard's URL, or `None` (with the reason on stderr) when there is no
/// Chromium to drive.
async fn dashboard() -> Option<(TestServer, String)> {
    if !chromium_available() {
        return None;
    }
    let s = start().await;
    let url = s.url(&format!("/#key={KEY}"));
    Some((s, url))
}

fn attr_number(dom: &str, needle: &str) -> Option<usize> {
    let start = dom.find(needle)? + needle.len();
    let rest = &dom[start..];
    rest[..rest.find('"')?].parse().ok()
}

#[tokio::test]
async fn the_dashboard_renders_the_scan_table_and_the_ticker_charts_in_headless_chromium() {
    let Some((s, url)) = dashboard().await else {
        return;
    };

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
    // Logged in by the session cookie (Secure is allowed on 127.0.0.1), not by a key kept in
    // the page.
    assert!(
        dom.contains("data-auth=\"cookie\""),
        "the page logged in with the session cookie"
    );
    for chart in ["chart-moves", "chart-term", "chart-skew"] {
        assert!(
            dom.contains(&format!("<div id=\"{chart}\"><svg class=\"chart\"")),
            "{chart} rendered"
        );
    }
    assert!(dom.contains("class=\"bar"), "the moves chart has bars");
    assert!(
        dom.contains("class=\"implied\""),
        "and the implied-move line"
    );
    assert!(dom.contains("tier tier-"), "tiers are coloured");
    // Data quality: a column with a badge per row, `ok` unless the record carries notes (on
    // the simulated market only thin quotes are noted, never blocking), and the selected
    // ticker's notes in the detail panel.
    assert!(
        dom.contains("<th data-key=\"quality\">Quality</th>"),
        "a quality column"
    );
    let scan = s.json("/api/v1/scan").await;
    let analysed: Vec<&serde_json::Value> = scan["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["score"].is_number())
        .collect();
    assert_eq!(analysed.len(), rows, "the page showed the API's scan");
    let noted: Vec<&&serde_json::Value> = analysed
        .iter()
        .filter(|r| r["data_quality"].as_array().is_some_and(|n| !n.is_empty()))
        .collect();
    assert_eq!(
        dom.matches("data-quality=\"ok\"").count(),
        rows - noted.len(),
        "rows without notes say ok"
    );
    assert_eq!(
        dom.matches("data-quality=\"notes\"").count(),
        noted.len(),
        "rows with notes have a badge"
    );
    assert!(!dom.contains("data-quality=\"blocking\""));
    // What a trader needs, as in the CLI: days, expiry, event move, VRP basis, warnings and the
    // best strategy; "Implied %" is implied_move.interpolated_pct; the API's order (tradeable
    // rows first).
    for h in [
        "Days",
        "Expiry",
        "Event %",
        "Basis",
        "Warn",
        "Best strategy",
    ] {
        assert!(dom.contains(&format!(">{h}</th>")), "a {h} column");
    }
    let shown: Vec<&str> = dom
        .split("data-ticker=\"")
        .skip(1)
        .filter_map(|p| p.split('"').next())
        .collect();
    let order: Vec<&str> = analysed
        .iter()
        .map(|r| r["ticker"].as_str().expect("ticker"))
        .collect();
    assert_eq!(shown, order, "the API's order");
    for r in &analysed {
        let implied = r["implied_move"]["interpolated_pct"]
            .as_f64()
            .expect("implied");
        assert!(
            dom.contains(&format!(
                "<td class=\"num\" data-col=\"implied\">{implied:.2}</td>"
            )),
            "{}: implied {implied:.2}",
            r["ticker"]
        );
        if let Some(b) = r["vrp"]["basis"].as_str() {
            assert!(dom.contains(&format!("<td data-col=\"basis\">{b}</td>")));
        }
        if let Some(b) = r["best_strategy"].as_object() {
            let text = format!(
                "{} cr {:.2} POP {:.0}%",
                b["kind"].as_str().expect("kind"),
                b["credit"].as_f64().expect("credit"),
                b["pop"].as_f64().expect("pop") * 100.0
            );
            assert!(dom.contains(&text), "{text}");
        }
    }
    for r in &noted {
        let code = r["data_quality"][0]["code"].as_str().expect("code");
        assert!(dom.contains(code), "{code} in a tooltip");
    }
    assert!(
        dom.contains("<div id=\"detail-quality\" data-notes=\""),
        "the detail panel has a data-quality list"
    );
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

/// A key in the query string (`/?key=`, the old login, which put the key in every proxy's
/// access log) is not used: the page strips it and asks for the key.
#[tokio::test]
async fn a_key_in_the_query_string_is_refused_and_the_page_asks_for_the_key() {
    if !chromium_available() {
        return;
    }
    let s = start().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(
        profile.path(),
        &[
            "--virtual-time-budget=10000".to_string(),
            "--dump-dom".to_string(),
            s.url(&format!("/?key={KEY}")),
        ],
    )
    .await;
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-state=\"nokey\""), "{dom}");
    assert!(dom.contains("keys in the address are refused"), "{dom}");
    assert!(!dom.contains("data-auth="), "{dom}");
    s.stop().await;
}

/// Stale quotes from a mock Tradier: every row's badge is blocking with the codes as tooltip,
/// the withheld tier is marked, and the detail panel lists the notes with the blocking ones
/// highlighted.
#[tokio::test]
async fn the_dashboard_flags_data_quality_notes_in_the_table_and_the_detail_panel() {
    use chrono::NaiveDate;
    use ivcrush_app::{App, AppConfig, ProviderKind};
    use ivcrush_mockvendor::{GreeksMode, MockConfig, MockVendor};

    if !chromium_available() {
        return;
    }
    // Wednesday 2026-11-25, quotes a week old (stale against the session in progress at the
    // mock's 15:30 New York), no vendor greeks (a note that does not block).
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let seed = ivcrush_market::sim::DEFAULT_SEED;
    let mut mc = MockConfig::new(seed, day);
    mc.stale_quotes = Some(Duration::from_secs(7 * 86400));
    mc.greeks = GreeksMode::Null;
    let mock = MockVendor::start(mc).await.expect("mock starts");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = AppConfig {
        provider: ProviderKind::Tradier,
        database_url: format!("sqlite://{}/t.db", dir.path().display()),
        ..AppConfig::default()
    };
    c.tradier.base_url = mock.base_url();
    c.tradier.api_key = "test-key".into();
    c.alphavantage.base_url = mock.base_url();
    c.alphavantage.api_key = "test-key".into();
    // No quota worth waiting for in a test (the defaults are tested elsewhere).
    c.tradier.resilience.rate_limits = Vec::new();
    c.alphavantage.resilience.rate_limits = Vec::new();
    let as_of = ivcrush_market::sim::SimMarket::new(seed, day).as_of();
    let app = App::open(c)
        .await
        .expect("app opens")
        .with_clock(move || as_of);
    let s = start_app(app, dir, |_| {}).await;

    // The API serves the notes; the page then reads the same scan.
    let scan = s.json("/api/v1/scan").await;
    let analysed: Vec<&serde_json::Value> = scan["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["score"].is_number())
        .collect();
    assert!(!analysed.is_empty(), "{scan}");
    for r in &analysed {
        let notes = r["data_quality"].as_array().expect("data_quality");
        assert!(
            notes
                .iter()
                .any(|n| n["code"] == "stale_quote" && n["blocking"] == true),
            "{notes:?}"
        );
    }
    let withheld = analysed
        .iter()
        .filter(|r| r["vrp"]["withheld_tier"].is_string())
        .count();

    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(
        profile.path(),
        &[
            "--virtual-time-budget=10000".to_string(),
            "--dump-dom".to_string(),
            s.url(&format!("/#key={KEY}")),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-state=\"ready\""), "the page loaded");
    let rows = attr_number(&dom, "<body data-rows=\"").expect("body has data-rows");
    assert_eq!(rows, analysed.len());
    assert_eq!(
        dom.matches("data-quality=\"blocking\"").count(),
        rows,
        "every row's badge is blocking"
    );
    assert!(!dom.contains("data-quality=\"ok\""));
    assert!(
        dom.contains("stale_quote (blocking)") && dom.contains("vendor_greeks_missing"),
        "the codes are the badge's tooltip"
    );
    assert_eq!(
        dom.matches("tier-withheld").count(),
        withheld,
        "withheld tiers are marked"
    );
    // The selected ticker's detail: the notes, blocking ones highlighted.
    let notes = attr_number(&dom, "<div id=\"detail-quality\" data-notes=\"")
        .expect("the detail panel has a data-quality list");
    assert!(notes >= 2, "stale_quote and vendor_greeks_missing at least");
    assert!(
        dom.contains("<li class=\"blocking\" data-code=\"stale_quote\"><span class=\"q q-blocking\">BLOCKING</span><code>stale_quote</code>"),
        "a highlighted blocking note"
    );
    assert!(dom.contains(
        "<li class=\"note\" data-code=\"vendor_greeks_missing\"><code>vendor_greeks_missing</code>"
    ));
    if withheld > 0 {
        assert!(dom.contains("withheld: data quality"));
    }
    // A screenshot for a person to look at (as the other browser test leaves one).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-quality.png");
    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000".to_string(),
            "--virtual-time-budget=10000".to_string(),
            "--hide-scrollbars".to_string(),
            s.url(&format!("/#key={KEY}")),
        ],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("dashboard screenshot with notes: {}", shot.display());
    s.stop().await;
    drop(mock);
}

/// The value of `attr="…"` on the page's `<body>` tag.
fn body_attr<'a>(dom: &'a str, attr: &str) -> Option<&'a str> {
    let body = &dom[dom.find("<body")?..];
    let body = &body[..body.find('>')?];
    let needle = format!("{attr}=\"");
    let start = body.find(&needle)? + needle.len();
    let rest = &body[start..];
    Some(&rest[..rest.find('"')?])
}

/// At 1,000 px the panels stack (the health table never squeezed beside the detail) and the
/// wide scan table scrolls inside its own box; at 1,400 px health sits beside the detail. The
/// page itself never scrolls sideways.
#[tokio::test]
async fn the_dashboard_stacks_below_1200_px_and_never_scrolls_the_page_sideways() {
    let Some((s, url)) = dashboard().await else {
        return;
    };
    for (width, layout) in [(1000, "stacked"), (1400, "columns")] {
        let profile = tempfile::tempdir().expect("profile dir");
        let out = chromium(
            profile.path(),
            &[
                format!("--window-size={width},1000"),
                "--hide-scrollbars".to_string(),
                "--virtual-time-budget=10000".to_string(),
                "--dump-dom".to_string(),
                url.clone(),
            ],
        )
        .await;
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        assert_eq!(body_attr(&dom, "data-state"), Some("ready"), "{width} px");
        assert_eq!(body_attr(&dom, "data-layout"), Some(layout), "{width} px");
        assert_eq!(
            body_attr(&dom, "data-page-scroll-x"),
            Some("no"),
            "{width} px: the page does not scroll sideways"
        );
        assert_eq!(
            body_attr(&dom, "data-health-scroll-x"),
            Some("no"),
            "{width} px: the dependency table fits its panel"
        );
        if width == 1000 {
            assert_eq!(
                body_attr(&dom, "data-scan-scroll-x"),
                Some("yes"),
                "1000 px: the scan table scrolls inside its own box"
            );
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn the_backtest_panel_draws_the_equity_curve_calibration_tiers_and_per_event_bars() {
    let Some((s, url)) = dashboard().await else {
        return;
    };
    // The API's own answer first (the server caches it, so the page gets the same report).
    let report = s.json("/api/v1/backtest").await;
    let trades = report["trades"].as_array().map_or(0, Vec::len);
    let events = report["per_event"].as_array().map_or(0, Vec::len);
    assert!(
        trades > 0 && events >= trades,
        "{trades} trades, {events} events"
    );
    let profile = tempfile::tempdir().expect("profile dir");
    let out = chromium(
        profile.path(),
        &[
            "--virtual-time-budget=20000".to_string(),
            "--dump-dom".to_string(),
            url,
        ],
    )
    .await;
    let dom = String::from_utf8_lossy(&out.stdout);
    let panel_start = dom
        .find("<section id=\"backtest-panel\"")
        .expect("the panel");
    let panel = &dom[panel_start..];
    let panel = &panel[..panel.find("</section>").unwrap_or(panel.len())];
    assert!(
        panel.contains("data-state=\"ready\""),
        "the backtest loaded: {panel:.400}"
    );
    assert_eq!(
        attr_number(panel, "data-trades=\""),
        Some(trades),
        "the page shows the API's trades"
    );
    assert_eq!(attr_number(panel, "data-events=\""), Some(events));
    assert!(
        panel.contains("<div id=\"chart-equity\"><svg class=\"chart\"")
            && panel.contains("<polyline class=\"line\""),
        "an equity curve"
    );
    assert!(panel.contains("class=\"diag\""), "the calibration diagonal");
    assert!(panel.contains("<circle class=\"pt\""), "calibration points");
    assert!(
        panel.contains("<div id=\"chart-tiers\"><svg class=\"chart\""),
        "P&L by tier"
    );
    assert_eq!(
        panel.matches("<svg class=\"mini\"").count(),
        events,
        "one implied-vs-realised bar pair per event"
    );
    s.stop().await;
}
